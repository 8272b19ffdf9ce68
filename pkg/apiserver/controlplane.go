package apiserver

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"time"

	utilfeature "k8s.io/apiserver/pkg/util/feature"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/component-base/featuregate"
	"k8s.io/component-base/logs"
	logsapi "k8s.io/component-base/logs/api/v1"
	"k8s.io/klog/v2"

	"go.etcd.io/etcd/server/v3/embed"

	"github.com/minaks/minaks/pkg/apiserver/config"
	"github.com/minaks/minaks/pkg/apiserver/kubeconfig"
	"github.com/minaks/minaks/pkg/apiserver/pki"
)

// ConfigureLogging applies one logging configuration to the whole process, at the given klog
// verbosity. Every embedded component shares it: the logging configuration may be applied only
// once per process, so components are told to accept an unchanged one.
func ConfigureLogging(verbosity int) (*logs.Options, error) {
	logsapi.ReapplyHandling = logsapi.ReapplyHandlingIgnoreUnchanged
	opts := logs.NewOptions()
	opts.Verbosity = logsapi.VerbosityLevel(verbosity)
	fg, ok := utilfeature.DefaultMutableFeatureGate.(featuregate.MutableFeatureGate)
	if !ok {
		return nil, errors.New("feature gate is not mutable")
	}
	if err := logsapi.ValidateAndApply(opts, fg); err != nil {
		return nil, err
	}
	return opts, nil
}

// ControlPlane is the embedded control plane of one cluster: etcd, kube-apiserver,
// kube-controller-manager and kube-scheduler in this process.
type ControlPlane struct {
	cluster *config.Cluster
	paths   Paths
	logs    *logs.Options

	apiReady         chan struct{}
	controllersReady chan struct{}

	// bare runs etcd and kube-apiserver alone: the lower bound `make bench` measures against.
	bare bool

	mu     sync.Mutex
	states map[string]string
}

// Bare makes the control plane run etcd and kube-apiserver only, with nothing around them. It is
// the lower bound that `make bench` compares a full `minaks up` with.
func (cp *ControlPlane) Bare() *ControlPlane {
	cp.bare = true
	return cp
}

// ComponentStatus is the state of one embedded component.
type ComponentStatus struct {
	Name  string `json:"name"`
	State string `json:"state"`
}

// Components lists the embedded components and their states, in start order.
func (cp *ControlPlane) Components() []ComponentStatus {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	var out []ComponentStatus
	for _, n := range []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"} {
		st := cp.states[n]
		if st == "" {
			st = "not started"
		}
		out = append(out, ComponentStatus{Name: n, State: st})
	}
	return out
}

func (cp *ControlPlane) setState(name, state string) {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	cp.states[name] = state
}

// New returns the control plane of a cluster. logOpts is the process's logging configuration.
func New(c *config.Cluster, logOpts *logs.Options) *ControlPlane {
	return &ControlPlane{
		cluster:          c,
		paths:            NewPaths(c),
		logs:             logOpts,
		apiReady:         make(chan struct{}),
		controllersReady: make(chan struct{}),
		states:           map[string]string{},
	}
}

// APIReady is closed when kube-apiserver answers /readyz.
func (cp *ControlPlane) APIReady() <-chan struct{} { return cp.apiReady }

// ControllersReady is closed when kube-controller-manager and kube-scheduler are running.
func (cp *ControlPlane) ControllersReady() <-chan struct{} { return cp.controllersReady }

// AdminKubeconfigPath is the cluster-admin kubeconfig in the state directory.
func AdminKubeconfigPath(c *config.Cluster) string { return c.Path("kubeconfig") }

// ServingNames are the names and addresses on the API server's certificate.
func ServingNames(c *config.Cluster) pki.ServingNames {
	return pki.ServingNames{
		DNSNames: []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"},
		IPs:      []net.IP{net.IPv4(127, 0, 0, 1), net.IP(c.Network.FirstServiceIP().AsSlice()), net.IP(c.Network.APIServerIP().AsSlice())},
	}
}

// Prepare creates or reuses the certificates and writes the kubeconfigs of the admin, the
// controller-manager and the scheduler. It is cheap when nothing changed.
func (cp *ControlPlane) Prepare() error {
	written, err := cp.paths.PKI.Ensure(pki.Leaves(ServingNames(cp.cluster)), time.Now())
	if err != nil {
		return fmt.Errorf("certificates: %w", err)
	}
	if len(written) > 0 {
		klog.Background().Info("Issued certificates", "names", written)
	}
	for path, name := range map[string]string{
		AdminKubeconfigPath(cp.cluster):      pki.Admin,
		cp.paths.ControllerManagerKubeconfig: pki.ControllerManager,
		cp.paths.SchedulerKubeconfig:         pki.Scheduler,
	} {
		cfg, err := ClientKubeconfig(cp.cluster, cp.paths.PKI, name)
		if err != nil {
			return err
		}
		if err := kubeconfig.Write(path, cfg); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
	}
	egress := fmt.Sprintf(`apiVersion: apiserver.k8s.io/v1beta1
kind: EgressSelectorConfiguration
egressSelections:
- name: cluster
  connection:
    proxyProtocol: HTTPConnect
    transport:
      uds:
        udsName: %s
`, cp.paths.ClusterEgressSocket)
	return os.WriteFile(cp.paths.EgressSelectorConfig, []byte(egress), 0o600)
}

// ClientKubeconfig returns a kubeconfig for the named client certificate, with entries named
// minaks-<cluster>.
func ClientKubeconfig(c *config.Cluster, dir pki.Dir, name string) (*clientcmdapi.Config, error) {
	ca, err := os.ReadFile(dir.CertPath(pki.CA))
	if err != nil {
		return nil, err
	}
	cert, err := os.ReadFile(dir.CertPath(name))
	if err != nil {
		return nil, err
	}
	key, err := os.ReadFile(dir.KeyPath(name))
	if err != nil {
		return nil, err
	}
	return kubeconfig.New(kubeconfig.ContextName(c.Name), APIServerURL(c), ca, cert, key), nil
}

// APIServerURL is the loopback URL of the API server.
func APIServerURL(c *config.Cluster) string { return fmt.Sprintf("https://127.0.0.1:%d", c.APIPort) }

// Run starts etcd, then kube-apiserver, then (once the API is ready) the controller-manager and
// the scheduler, and blocks until ctx is cancelled or one of them fails. Either way it stops
// them all before returning; the error is the first failure, or nil after a requested stop.
func (cp *ControlPlane) Run(ctx context.Context) error {
	logger := klog.FromContext(ctx)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	// etcd and kube-apiserver start side by side: the API server spends its first few hundred
	// milliseconds building its configuration and connects to etcd lazily.
	cp.setState("etcd", "starting")
	type etcdResult struct {
		e   *embed.Etcd
		err error
	}
	etcdStarted := make(chan etcdResult, 1)
	go func() {
		e, err := startEtcd(ctx, cp.cluster.StateDir, cp.paths.EtcdSocket, cp.logs.Verbosity > 1)
		etcdStarted <- etcdResult{e, err}
	}()

	done := make(chan error, 3)
	running := 0
	start := func(name string, args Args, fn func(context.Context, Args, *logs.Options) error) {
		running++
		cp.setState(name, "running")
		component(ctx, name, args, done, func(ctx context.Context) error {
			err := fn(ctx, args, cp.logs)
			if err != nil && ctx.Err() == nil {
				cp.setState(name, "failed: "+err.Error())
			} else {
				cp.setState(name, "stopped")
			}
			return err
		})
	}
	start("kube-apiserver", APIServerArgs(cp.cluster, cp.paths), runAPIServer)

	var failure error
	stop := func(err error) {
		if failure == nil && err != nil {
			failure = err
		}
		cancel()
	}

	r := <-etcdStarted
	if r.err != nil {
		cp.setState("etcd", "failed: "+r.err.Error())
		stop(r.err)
		waitStopped(logger, done, running)
		return failure
	}
	etcd := r.e
	cp.setState("etcd", "running")
	defer func() {
		etcd.Close()
		cp.setState("etcd", "stopped")
		logger.V(1).Info("Stopped", "component", "etcd")
	}()
	logger.Info("Started", "component", "etcd", "socket", cp.paths.EtcdSocket)
	restConfig, err := clientcmd.BuildConfigFromFlags("", AdminKubeconfigPath(cp.cluster))
	if err != nil {
		stop(err)
	} else {
		readyErr := make(chan error, 1)
		go func() { readyErr <- waitReady(ctx, restConfig) }()
		select {
		case err := <-readyErr:
			if err != nil && ctx.Err() == nil {
				stop(fmt.Errorf("kube-apiserver: %w", err))
			}
		case err := <-done:
			running--
			stop(err)
		case <-etcd.Err():
			stop(errors.New("etcd stopped"))
		}
	}
	if ctx.Err() == nil {
		cp.setState("kube-apiserver", "ready")
		close(cp.apiReady)
		logger.Info("API server ready", "url", APIServerURL(cp.cluster))
	}
	if ctx.Err() == nil && !cp.bare {
		start("kube-controller-manager", ControllerManagerArgs(cp.cluster, cp.paths), runControllerManager)
		start("kube-scheduler", SchedulerArgs(cp.paths), runScheduler)
		close(cp.controllersReady)
	}

	for running > 0 {
		select {
		case err := <-done:
			running--
			stop(err)
		case err := <-etcd.Err():
			stop(fmt.Errorf("etcd: %w", err))
		case <-ctx.Done():
			waitStopped(logger, done, running)
			return failure
		}
	}
	return failure
}

// waitStopped gives the running components time to shut down cleanly (etcd stays up meanwhile).
func waitStopped(logger klog.Logger, done <-chan error, running int) {
	timeout := time.After(30 * time.Second)
	for ; running > 0; running-- {
		select {
		case <-done:
		case <-timeout:
			logger.Info("Components did not stop within 30s", "running", running)
			return
		}
	}
}

// waitReady polls /readyz until it answers ok.
func waitReady(ctx context.Context, cfg *rest.Config) error {
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		body, err := cs.Discovery().RESTClient().Get().AbsPath("/readyz").Timeout(time.Second).DoRaw(ctx)
		if err == nil && string(body) == "ok" {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// NodeCredentials are what a node agent acts and serves with.
type NodeCredentials struct {
	// Client acts as the node: system:node:<name> in system:nodes, so that the Node authorizer
	// and NodeRestriction apply as to a kubelet. Events is the same identity with a rate limit of
	// its own, as the kubelet's event client (eventRecordQPS).
	Client, Events kubernetes.Interface
	// Serving is the kubelet API's serving certificate (the node's name and addresses), and CA
	// the cluster CA that its clients' certificates are checked against.
	Serving tls.Certificate
	CA      []byte
}

// NodeCredentialsFactory returns a factory of node credentials, issued by the cluster CA on
// the spot: the admin kubeconfig and the CA are read once.
func NodeCredentialsFactory(c *config.Cluster) (func(node string, ips []net.IP) (*NodeCredentials, error), error) {
	base, err := clientcmd.BuildConfigFromFlags("", AdminKubeconfigPath(c))
	if err != nil {
		return nil, err
	}
	issuer, err := NewPaths(c).PKI.Issuer()
	if err != nil {
		return nil, err
	}
	return func(node string, ips []net.IP) (*NodeCredentials, error) {
		now := time.Now()
		cert, key, err := issuer.Client("system:node:"+node, []string{"system:nodes"}, now)
		if err != nil {
			return nil, err
		}
		cfg := rest.CopyConfig(base)
		cfg.CertData, cfg.KeyData = cert, key
		cfg.UserAgent = "minaks-node/" + node
		// Four times the kubelet's default rate limit (kubeAPIQPS 50, burst 100): these agents
		// read configMaps and secrets with GETs where the kubelet watches, and with 50 a node
		// taking 10 pods a second queued its own requests for seconds (make bench, podbench).
		cfg.QPS, cfg.Burst = 200, 400
		client, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			return nil, err
		}
		events, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			return nil, err
		}
		scert, skey, ca, err := issuer.Serving(node, []string{node}, ips, now)
		if err != nil {
			return nil, err
		}
		serving, err := tls.X509KeyPair(scert, skey)
		if err != nil {
			return nil, err
		}
		return &NodeCredentials{Client: client, Events: events, Serving: serving, CA: ca}, nil
	}, nil
}

// AdminClient returns a cluster-admin client, for the daemon's own controllers. Its rate limit
// is a controller-manager's, not client-go's default of 5 requests a second, which would take
// the cloud node controller half a minute to initialize 100 nodes.
func AdminClient(c *config.Cluster) (kubernetes.Interface, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", AdminKubeconfigPath(c))
	if err != nil {
		return nil, err
	}
	cfg.QPS, cfg.Burst = 200, 400
	return kubernetes.NewForConfig(cfg)
}
