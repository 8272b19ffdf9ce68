package istio

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"k8s.io/klog/v2"

	"github.com/minaks/minaks/images/internal/l7"
	"github.com/minaks/minaks/images/internal/serve"
	"github.com/minaks/minaks/images/istio/translate"
)

// Where Istio's gateway pod template puts what the proxy needs to reach istiod.
const (
	rootCertFile = "/var/run/secrets/istio/root-cert.pem"
	tokenFile    = "/var/run/secrets/tokens/istio-token"
	// defaultDiscovery is istiod's address when neither PROXY_CONFIG nor CA_ADDR says.
	defaultDiscovery = "istiod.aks-istio-system.svc:15012"
)

// agentMain is `pilot-agent proxy router [flags]`: the gateway's proxy. It gets its Gateway's
// state from istiod, translates it and serves it; /healthz/ready on 15021 answers once it
// serves its first configuration, and the Prometheus metrics are on 15020 and 15090.
func agentMain(args []string) int {
	if len(args) < 2 || args[0] != "proxy" || args[1] != "router" {
		fmt.Fprintln(os.Stderr, "Usage: pilot-agent proxy router [flags]: minaks's Istio proxy runs gateways only")
		return 2
	}
	logger := klog.Background().WithName("istio-proxy")
	ctx, _ := serve.SignalContext()
	ctx = klog.NewContext(ctx, logger)
	if err := runAgent(ctx); err != nil {
		logger.Error(err, "istio-proxy stopped")
		return 1
	}
	return 0
}

// discoveryAddress is istiod's address from PROXY_CONFIG's discoveryAddress, else CA_ADDR.
func discoveryAddress() string {
	var pc struct {
		DiscoveryAddress string `json:"discoveryAddress"`
	}
	if err := json.Unmarshal([]byte(os.Getenv("PROXY_CONFIG")), &pc); err == nil && pc.DiscoveryAddress != "" {
		return pc.DiscoveryAddress
	}
	if a := os.Getenv("CA_ADDR"); a != "" {
		return a
	}
	return defaultDiscovery
}

func readFile(path string) ([]byte, error) { return os.ReadFile(path) }

func runAgent(ctx context.Context) error {
	logger := klog.FromContext(ctx)
	addr := discoveryAddress()
	client, err := newStateClient(addr, rootCertFile, tokenFile)
	if err != nil {
		return err
	}
	m := newAgentMetrics(os.Getenv("ISTIO_META_WORKLOAD_NAME"), os.Getenv("POD_NAMESPACE"))
	log := &jsonAccessLog{w: bufio.NewWriterSize(os.Stdout, 64<<10)}
	go log.flushEvery(ctx, 100*time.Millisecond)
	proxy := l7.New(l7.Options{Logger: logger, Observer: l7.ObserverFunc(func(e *l7.Entry) {
		log.observe(e)
		m.observe(e)
	})})
	var ready atomic.Bool
	status := http.NewServeMux()
	status.HandleFunc("/healthz/ready", func(w http.ResponseWriter, _ *http.Request) {
		if !ready.Load() {
			http.Error(w, "no configuration from istiod yet", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("\n"))
	})
	status.Handle("/stats/prometheus", m.handler())
	for _, a := range []string{":15021", ":15020", ":15090"} {
		srv := &http.Server{Addr: a, Handler: status, ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = srv.ListenAndServe() }()
		defer srv.Close()
	}

	logger.Info("Connecting to istiod", "address", addr)
	var version uint64
	backoff := time.Second
	for ctx.Err() == nil {
		resp, err := client.next(ctx, version)
		if err != nil {
			if ctx.Err() == nil {
				logger.Info("Waiting for istiod", "err", err)
				select {
				case <-ctx.Done():
				case <-time.After(backoff):
				}
				backoff = min(2*backoff, 10*time.Second)
			}
			continue
		}
		backoff = time.Second
		if resp == nil {
			continue
		}
		version = resp.Version
		log.enabled.Store(resp.AccessLog)
		res := translate.Translate(translate.Options{}, resp.State, nil)
		cfg := res.Configs[resp.Gateway]
		if cfg == nil {
			cfg = &l7.Config{}
		}
		if err := proxy.Update(cfg); err != nil {
			logger.Error(err, "Applying the configuration", "version", version)
		}
		if !ready.Swap(true) {
			logger.Info("Serving the Gateway", "gateway", resp.Gateway, "listeners", len(cfg.Listeners))
		}
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = log.flush()
	return proxy.Shutdown(sctx)
}

// jsonAccessLog writes Envoy's JSON access log lines, as AKS's mesh configuration
// (accessLogFile /dev/stdout, accessLogEncoding JSON) has the gateways do.
type jsonAccessLog struct {
	enabled atomic.Bool
	mu      sync.Mutex
	w       *bufio.Writer
}

func (l *jsonAccessLog) observe(e *l7.Entry) {
	if !l.enabled.Load() {
		return
	}
	var upstreamHost, upstreamCluster any
	if n := len(e.Upstreams); n > 0 {
		upstreamHost, upstreamCluster = e.Upstreams[n-1].Addr, e.UpstreamName
	}
	line, err := json.Marshal(map[string]any{
		"start_time":                e.Start.UTC().Format("2006-01-02T15:04:05.000Z"),
		"method":                    e.Method,
		"path":                      e.URI,
		"protocol":                  e.Proto,
		"response_code":             e.Status,
		"response_flags":            "-",
		"bytes_received":            e.BytesReceived,
		"bytes_sent":                e.BodyBytesSent,
		"duration":                  e.RequestTime.Milliseconds(),
		"user_agent":                nullIfEmpty(e.UserAgent),
		"request_id":                nullIfEmpty(e.RequestID),
		"authority":                 nullIfEmpty(e.Host),
		"upstream_host":             upstreamHost,
		"upstream_cluster":          upstreamCluster,
		"downstream_remote_address": nullIfEmpty(e.PeerAddr),
		"route_name":                nullIfEmpty(e.Route.Name),
	})
	if err != nil {
		return
	}
	l.mu.Lock()
	_, _ = l.w.Write(line)
	_ = l.w.WriteByte('\n')
	l.mu.Unlock()
}

func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func (l *jsonAccessLog) flush() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Flush()
}

func (l *jsonAccessLog) flushEvery(ctx context.Context, d time.Duration) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			_ = l.flush()
		}
	}
}

// agentMetrics are Istio's standard request metrics as a gateway reports them.
type agentMetrics struct {
	reg       *prometheus.Registry
	requests  *prometheus.CounterVec
	duration  *prometheus.HistogramVec
	observeFn func(*l7.Entry)
}

func newAgentMetrics(workload, namespace string) *agentMetrics {
	labels := []string{"reporter", "source_workload", "source_workload_namespace", "destination_service",
		"destination_service_name", "destination_service_namespace", "request_protocol", "response_code"}
	m := &agentMetrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "istio_requests_total",
			Help: "requests total", ConstLabels: prometheus.Labels{}}, labels),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "istio_request_duration_milliseconds",
			Help: "request duration", Buckets: []float64{0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000}}, labels),
	}
	m.reg.MustRegister(m.requests, m.duration, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	source := func(e *l7.Entry) []string {
		proto := "http"
		if strings.HasPrefix(e.Proto, "HTTP/2") && strings.HasPrefix(e.Route.Kind, "GRPC") {
			proto = "grpc"
		}
		svc := e.Route.Service
		return []string{"source", workload, namespace, svc + "." + e.Route.Namespace + ".svc.cluster.local", svc, e.Route.Namespace, proto, strconv.Itoa(e.Status)}
	}
	m.observeFn = func(e *l7.Entry) {
		v := source(e)
		m.requests.WithLabelValues(v...).Inc()
		m.duration.WithLabelValues(v...).Observe(float64(e.RequestTime.Microseconds()) / 1000)
	}
	return m
}

func (m *agentMetrics) observe(e *l7.Entry) { m.observeFn(e) }

func (m *agentMetrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}
