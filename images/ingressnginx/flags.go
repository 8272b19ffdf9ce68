package ingressnginx

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/labels"
)

// Flags are the controller's command line: ingress-nginx's flags, with its names and defaults
// (pkg/flags/flags.go). Those marked "not emulated" are accepted, so that a Deployment written
// for ingress-nginx starts, and logged at start when given.
type Flags struct {
	APIServerHost, CertificateAuthority, Kubeconfig string

	DefaultBackendService      string
	IngressClass               string
	ControllerClass            string
	WatchIngressWithoutClass   bool
	IngressClassByName         bool
	ConfigMap                  string
	PublishService             string
	PublishStatusAddress       string
	WatchNamespace             string
	WatchNamespaceSelector     labels.Selector
	DefaultSSLCertificate      string
	HealthCheckPath            string
	UpdateStatus               bool
	UpdateStatusOnShutdown     bool
	ElectionID                 string
	ElectionTTL                time.Duration
	DisableLeaderElection      bool
	ShowVersion                bool
	EnableSSLPassthrough       bool
	AnnotationsPrefix          string
	EnableAnnotationValidation bool
	EnableMetrics              bool
	MetricsPerHost             bool
	MetricsPerUndefinedHost    bool
	ReportStatusClasses        bool
	TimeBuckets                []float64
	LengthBuckets              []float64
	SizeBuckets                []float64
	HTTPPort, HTTPSPort        int
	HealthzPort                int
	HealthzHost                string
	DisableCatchAll            bool
	StatusUpdateInterval       time.Duration
	ShutdownGracePeriod        time.Duration
	PostShutdownGracePeriod    time.Duration
	DisableSyncEvents          bool
	DisableServiceExternalName bool
	SyncPeriod                 time.Duration
	ReportNodeInternalIP       bool
	// Profiling serves Go's profiles on ProfilerAddress:ProfilerPort (loopback by default).
	Profiling       bool
	ProfilerPort    int
	ProfilerAddress net.IP

	// NotEmulated are the flags given that this controller accepts but does nothing with.
	NotEmulated []string
}

// notEmulated are ingress-nginx flags that concern nginx's own machinery (Lua endpoints,
// syslog, GeoIP, the admission webhook, profiling ports): accepted, and said to be inert.
var notEmulated = map[string]string{
	"tcp-services-configmap":         "TCP services are not emulated",
	"udp-services-configmap":         "UDP services are not emulated",
	"validating-webhook":             "the admission webhook is not emulated",
	"validating-webhook-certificate": "the admission webhook is not emulated",
	"validating-webhook-key":         "the admission webhook is not emulated",
	"disable-full-test":              "the admission webhook is not emulated",
	"enable-ssl-chain-completion":    "certificate chains are served as given",
	"enable-topology-aware-routing":  "endpoints are used regardless of zone",
	"maxmind-mirror":                 "GeoIP is not emulated",
	"maxmind-license-key":            "GeoIP is not emulated",
	"maxmind-edition-ids":            "GeoIP is not emulated",
	"maxmind-retries-count":          "GeoIP is not emulated",
	"maxmind-retries-timeout":        "GeoIP is not emulated",
	"exclude-socket-metrics":         "every metric is exported",
	"bucket-factor":                  "native histograms are not exported",
	"max-buckets":                    "native histograms are not exported",
}

// parseFlags reads args (without the program name) as ingress-nginx does, with its validation
// and error texts.
func parseFlags(args []string) (*Flags, error) {
	f := &Flags{}
	fs := pflag.NewFlagSet("nginx-ingress-controller", pflag.ContinueOnError)
	fs.SortFlags = false
	fs.StringVar(&f.APIServerHost, "apiserver-host", "", "Address of the Kubernetes API server (protocol://address:port); in-cluster discovery when empty.")
	fs.StringVar(&f.CertificateAuthority, "certificate-authority", "", "Path to a cert file for the certificate authority, with --apiserver-host.")
	fs.StringVar(&f.Kubeconfig, "kubeconfig", "", "Path to a kubeconfig file containing authorization and API server information.")
	fs.StringVar(&f.DefaultBackendService, "default-backend-service", "", `Service used to serve HTTP requests not matching any known server name (catch-all), "namespace/name".`)
	fs.StringVar(&f.IngressClass, "ingress-class", "nginx", "Name of the ingress class this controller satisfies (the kubernetes.io/ingress.class annotation).")
	fs.StringVar(&f.ControllerClass, "controller-class", "k8s.io/ingress-nginx", "IngressClass .spec.controller value this controller satisfies.")
	fs.BoolVar(&f.WatchIngressWithoutClass, "watch-ingress-without-class", false, "Also watch Ingresses without an IngressClass or the annotation.")
	fs.BoolVar(&f.IngressClassByName, "ingress-class-by-name", false, "Watch IngressClasses by name together with the controller class.")
	fs.StringVar(&f.ConfigMap, "configmap", "", "Name of the ConfigMap containing custom global configurations for the controller.")
	fs.StringVar(&f.PublishService, "publish-service", "", `Service fronting the Ingress controller, "namespace/name": its address goes to the Ingresses' status.`)
	fs.StringVar(&f.PublishStatusAddress, "publish-status-address", "", "Address(es), comma-separated, to set as the load-balancer status of Ingresses.")
	fs.StringVar(&f.WatchNamespace, "watch-namespace", "", "Namespace the controller watches; all when empty.")
	selector := fs.String("watch-namespace-selector", "", "Selector of the namespaces the controller watches.")
	fs.StringVar(&f.DefaultSSLCertificate, "default-ssl-certificate", "", `Secret of the default HTTPS server's certificate (catch-all), "namespace/name".`)
	fs.StringVar(&f.HealthCheckPath, "health-check-path", "/healthz", "URL path of the health check endpoint.")
	fs.Int("health-check-timeout", 10, "Time limit, in seconds, for a probe to health-check-path to succeed.")
	fs.BoolVar(&f.UpdateStatus, "update-status", true, "Update the load-balancer status of Ingress objects this controller satisfies.")
	fs.StringVar(&f.ElectionID, "election-id", "ingress-controller-leader", "Election id to use for Ingress status updates.")
	fs.DurationVar(&f.ElectionTTL, "election-ttl", 30*time.Second, "Duration a leader election is valid before it's getting re-elected.")
	fs.BoolVar(&f.UpdateStatusOnShutdown, "update-status-on-shutdown", true, "Update the load-balancer status of Ingress objects when the controller shuts down.")
	fs.BoolVar(&f.ReportNodeInternalIP, "report-node-internal-ip-address", false, "Set the load-balancer status of Ingress objects to internal Node addresses instead of external.")
	fs.BoolVar(&f.ShowVersion, "version", false, "Show release information about the NGINX Ingress controller and exit.")
	fs.BoolVar(&f.EnableSSLPassthrough, "enable-ssl-passthrough", false, "Enable SSL Passthrough.")
	fs.BoolVar(&f.DisableLeaderElection, "disable-leader-election", false, "Disable Leader Election on NGINX Controller.")
	fs.BoolVar(&f.DisableServiceExternalName, "disable-svc-external-name", false, "Disable support for Services of type ExternalName.")
	fs.StringVar(&f.AnnotationsPrefix, "annotations-prefix", "nginx.ingress.kubernetes.io", "Prefix of the Ingress annotations specific to the NGINX controller.")
	fs.BoolVar(&f.EnableAnnotationValidation, "enable-annotation-validation", true, "Enable the annotation validation feature.")
	fs.Float32("sync-rate-limit", 0.3, "Define the sync frequency upper limit (nginx reloads; this controller does not reload).")
	fs.BoolVar(&f.EnableMetrics, "enable-metrics", true, "Enables the collection of NGINX metrics.")
	fs.BoolVar(&f.MetricsPerHost, "metrics-per-host", true, "Export metrics per-host.")
	fs.BoolVar(&f.MetricsPerUndefinedHost, "metrics-per-undefined-host", false, "Export metrics per-host even if the host is not defined in an ingress.")
	fs.BoolVar(&f.ReportStatusClasses, "report-status-classes", false, "Use status classes (2xx, 3xx, 4xx and 5xx) instead of status codes in metrics.")
	fs.Float64SliceVar(&f.TimeBuckets, "time-buckets", prometheus.DefBuckets, "Buckets of the time histograms.")
	fs.Float64SliceVar(&f.LengthBuckets, "length-buckets", prometheus.LinearBuckets(10, 10, 10), "Buckets of the length histograms.")
	fs.Float64SliceVar(&f.SizeBuckets, "size-buckets", prometheus.ExponentialBuckets(10, 10, 7), "Buckets of the size histograms.")
	fs.Int("monitor-max-batch-size", 10000, "Max batch size of NGINX metrics.")
	fs.IntVar(&f.HTTPPort, "http-port", 80, "Port to use for servicing HTTP traffic.")
	fs.IntVar(&f.HTTPSPort, "https-port", 443, "Port to use for servicing HTTPS traffic.")
	fs.Int("ssl-passthrough-proxy-port", 442, "Port to use internally for SSL Passthrough.")
	fs.Int("default-server-port", 8181, "Port to use for exposing the default server (catch-all).")
	fs.IntVar(&f.HealthzPort, "healthz-port", 10254, "Port to use for the healthz endpoint.")
	fs.StringVar(&f.HealthzHost, "healthz-host", "", "Address to bind the healthz endpoint.")
	fs.BoolVar(&f.DisableCatchAll, "disable-catch-all", false, "Disable support for catch-all Ingresses.")
	fs.Int("status-port", 10246, "Port to use for the lua HTTP endpoint configuration.")
	fs.Int("stream-port", 10247, "Port to use for the lua TCP/UDP endpoint configuration.")
	fs.String("internal-logger-address", "127.0.0.1:11514", "Address to be used when binding internal syslogger.")
	fs.BoolVar(&f.Profiling, "profiling", true, "Enable profiling via web interface host:port/debug/pprof/.")
	fs.IntVar(&f.ProfilerPort, "profiler-port", 10245, "Port to use for expose the ingress controller Go profiler when it is enabled.")
	fs.IPVar(&f.ProfilerAddress, "profiler-address", net.ParseIP("127.0.0.1"), "IP address used by the ingress controller to expose the Go Profiler when it is enabled.")
	interval := fs.Int("status-update-interval", 60, "Time interval in seconds in which the status should check if an update is required.")
	grace := fs.Int("shutdown-grace-period", 0, "Seconds to wait after receiving the shutdown signal, before stopping the nginx process.")
	postGrace := fs.Int("post-shutdown-grace-period", 10, "Seconds to wait after the nginx process has stopped before controller exits.")
	fs.Bool("deep-inspect", true, "Enables ingress object security deep inspector.")
	fs.Int("dynamic-configuration-retries", 15, "Number of times to retry failed dynamic configuration before failing to sync an ingress.")
	fs.BoolVar(&f.DisableSyncEvents, "disable-sync-events", false, "Disables the creation of 'Sync' event resources.")
	fs.DurationVar(&f.SyncPeriod, "sync-period", 0, "Period at which the controller forces the repopulation of its local object stores.")
	for name, why := range notEmulated {
		if fs.Lookup(name) != nil {
			continue
		}
		switch name {
		case "enable-ssl-chain-completion", "enable-topology-aware-routing", "disable-full-test":
			fs.Bool(name, false, "Not emulated: "+why+".")
		case "maxmind-retries-count":
			fs.Int(name, 1, "Not emulated: "+why+".")
		case "maxmind-retries-timeout":
			fs.Duration(name, 0, "Not emulated: "+why+".")
		case "exclude-socket-metrics":
			fs.StringSlice(name, nil, "Not emulated: "+why+".")
		case "bucket-factor":
			fs.Float64(name, 0, "Not emulated: "+why+".")
		case "max-buckets":
			fs.Uint32(name, 100, "Not emulated: "+why+".")
		default:
			fs.String(name, "", "Not emulated: "+why+".")
		}
	}
	// klog's flags, which ingress-nginx adds from the Go flag set.
	v := fs.IntP("v", "v", 0, "number for the log level verbosity")
	fs.Bool("logtostderr", true, "log to standard error instead of files")
	fs.Bool("alsologtostderr", false, "log to standard error as well as files")
	fs.String("stderrthreshold", "", "logs at or above this threshold go to stderr")
	_ = v

	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	fs.Visit(func(fl *pflag.Flag) {
		if why, ok := notEmulated[fl.Name]; ok {
			f.NotEmulated = append(f.NotEmulated, fmt.Sprintf("--%s (%s)", fl.Name, why))
		}
	})

	f.StatusUpdateInterval = time.Duration(max(*interval, 5)) * time.Second
	f.ShutdownGracePeriod = time.Duration(*grace) * time.Second
	f.PostShutdownGracePeriod = time.Duration(*postGrace) * time.Second
	if f.PublishService != "" && f.PublishStatusAddress != "" {
		return nil, errors.New("flags --publish-service and --publish-status-address are mutually exclusive")
	}
	if f.WatchNamespace != "" && *selector != "" {
		return nil, errors.New("flags --watch-namespace and --watch-namespace-selector are mutually exclusive")
	}
	if *selector != "" {
		sel, err := labels.Parse(*selector)
		if err != nil {
			return nil, fmt.Errorf("failed to parse --watch-namespace-selector=%s, error: %v", *selector, err)
		}
		f.WatchNamespaceSelector = sel
	}
	if f.MetricsPerUndefinedHost && !f.MetricsPerHost {
		return nil, errors.New("--metrics-per-undefined-host=true must be passed with --metrics-per-host=true")
	}
	if f.ElectionTTL <= 0 {
		f.ElectionTTL = 30 * time.Second
	}
	for _, ref := range []struct{ flag, value string }{
		{"publish-service", f.PublishService}, {"configmap", f.ConfigMap},
		{"default-backend-service", f.DefaultBackendService}, {"default-ssl-certificate", f.DefaultSSLCertificate},
	} {
		if ref.value != "" && strings.Count(ref.value, "/") != 1 {
			return nil, fmt.Errorf("invalid format for --%s %q: expected namespace/name", ref.flag, ref.value)
		}
	}
	return f, nil
}
