package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	apiextensionsclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"

	"github.com/minaks/minaks/pkg/apiserver"
	"github.com/minaks/minaks/pkg/apiserver/config"
	"github.com/minaks/minaks/pkg/azlb"
	"github.com/minaks/minaks/pkg/netstack"
	"github.com/minaks/minaks/pkg/nodes"
	"github.com/minaks/minaks/pkg/nodes/container"
	"github.com/minaks/minaks/pkg/nodes/imagestore"
	"github.com/minaks/minaks/pkg/nodes/resident"
	"github.com/minaks/minaks/pkg/nodes/toolroot"
)

// Files of the daemon inside the cluster's state directory.
const (
	LogFile       = "minaks.log"
	pidFile       = "daemon.pid"
	controlSocket = "daemon.sock"
	// progressFDEnv tells a daemon that fd 3 is the progress pipe of the `up` that started it.
	progressFDEnv = "MINAKS_PROGRESS_FD"
)

// Bring-up steps, as printed.
const (
	stepPrepare         = "Preparing certificates 🔐"
	stepControlPlane    = "Starting control plane (etcd, kube-apiserver) 🕹️"
	stepControllers     = "Starting controllers (kube-controller-manager, kube-scheduler) ⚙️"
	stepFabric          = "Creating the VNet fabric 🌐"
	stepNodes           = "Creating %d nodes 🖥️"
	stepNodesReady      = "Waiting for nodes to be Ready ⏳"
	stepAddons          = "Starting kube-proxy and cluster DNS 🧭"
	stepAppRouting      = "Starting app routing (NGINX ingress) 🚦"
	stepGatewayAPI      = "Installing the managed Gateway API (CRDs " + config.GatewayAPIBundleVersion + ") 🚪"
	stepGatewayAPIIstio = "Installing the managed Gateway API (CRDs " + config.GatewayAPIBundleVersion + ") and app routing Istio 🚪"
	stepKubeconfig      = "Writing kubeconfig 📜"
)

var errDaemonExited = errors.New("the daemon exited; see its log")

// DaemonStatus is what a daemon reports about itself on its control socket.
type DaemonStatus struct {
	PID        int                         `json:"pid"`
	Started    time.Time                   `json:"started"`
	APIServer  string                      `json:"apiServer"`
	Ready      bool                        `json:"ready"`
	Components []apiserver.ComponentStatus `json:"components"`
}

// daemonGCPercent is the daemon's GOGC unless the environment sets one: the heap may grow by
// half its live size between collections, not by all of it, for about 40 MiB less at a
// little more GC work.
const daemonGCPercent = 50

// RunDaemon runs the named cluster until SIGTERM or SIGINT, or until a component fails. It
// reports the bring-up steps to the `up` that started it (over fd 3), if any.
func RunDaemon(name, stateDir string, verbosity int) error {
	c, err := config.Load(stateDir + "/" + name)
	if err != nil {
		return fmt.Errorf("load cluster %s: %w", name, err)
	}
	// etcd's peer socket is relative to the working directory.
	if err := os.Chdir(c.StateDir); err != nil {
		return err
	}
	logFile, err := os.OpenFile(c.Path(LogFile), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logFile.Close()
	klog.LogToStderr(false)
	klog.SetOutput(logFile)
	defer klog.Flush()
	if os.Getenv("GOGC") == "" {
		// The heap holds about 110 MiB live in an idle 3-node cluster (mostly the API server's
		// OpenAPI and handlers); Go's default lets it grow to twice that before collecting.
		debug.SetGCPercent(daemonGCPercent)
	}

	var progress Progress = nopProgress{}
	var pipe *pipeProgress
	if os.Getenv(progressFDEnv) == "3" {
		pipe = newPipeProgress(os.NewFile(3, "progress"))
		progress = pipe
		os.Unsetenv(progressFDEnv)
	}

	logOpts, err := apiserver.ConfigureLogging(verbosity)
	if err != nil {
		return err
	}
	logger := klog.Background().WithValues("cluster", c.Name)
	logger.Info("Starting minaks daemon", "pid", os.Getpid(), "stateDir", c.StateDir)

	// The one signal handler of the process.
	ctx, stop := signal.NotifyContext(klog.NewContext(context.Background(), logger), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	if err := os.WriteFile(c.Path(pidFile), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o600); err != nil {
		return err
	}
	defer os.Remove(c.Path(pidFile))

	progress.Start(stepPrepare)
	cp := apiserver.New(c, logOpts)
	err = cp.Prepare()
	progress.End(err)
	if err != nil {
		return err
	}

	var ready atomic.Bool
	var routing atomic.Pointer[appRouting]
	var gateways atomic.Pointer[gatewayAPI]
	status := &DaemonStatus{PID: os.Getpid(), Started: time.Now(), APIServer: apiserver.APIServerURL(c)}
	stopControl, err := serveControl(c.Path(controlSocket), func() DaemonStatus {
		s := *status
		s.Components = cp.Components()
		s.Ready = ready.Load()
		return s
	}, map[string]http.HandlerFunc{
		"POST /approuting": func(w http.ResponseWriter, r *http.Request) {
			serveRequest(w, r, ready.Load() && routing.Load() != nil, func(req AppRoutingRequest) error { return routing.Load().set(req) })
		},
		"POST /gatewayapi": func(w http.ResponseWriter, r *http.Request) {
			serveRequest(w, r, ready.Load() && gateways.Load() != nil, func(req GatewayAPIRequest) error { return gateways.Load().set(req) })
		},
	})
	if err != nil {
		return err
	}
	defer stopControl()

	// The cluster's kernel objects live as long as the daemon: a stopped cluster is a
	// deallocated one, and `up` builds them again.
	defer func() {
		if err := netstack.RemoveCluster(c.Name); err != nil {
			logger.Error(err, "Removing the cluster's network")
		}
	}()

	var services []netip.Prefix
	for _, cidr := range c.Network.ServiceCIDRs {
		services = append(services, netip.MustParsePrefix(cidr)) // validated when the cluster was made
	}
	if err := serveClusterEgress(ctx, apiserver.NewPaths(c).ClusterEgressSocket, c.Name, services); err != nil {
		return fmt.Errorf("cluster egress: %w", err)
	}
	runErr := make(chan error, 1)
	go func() { runErr <- cp.Run(ctx) }()
	// step runs one bring-up step, failing it if the control plane stops meanwhile.
	step := func(name string, fn func() error) error {
		progress.Start(name)
		done := make(chan error, 1)
		go func() { done <- fn() }()
		var err error
		select {
		case err = <-done:
		case err = <-runErr:
			if err == nil {
				err = errors.New("stopped before it was ready")
			}
			runErr <- err
		}
		progress.End(err)
		return err
	}
	waitFor := func(ch <-chan struct{}) func() error {
		return func() error { <-ch; return nil }
	}

	fabric := &netstack.Fabric{Cluster: c.Name, Subnet: netip.MustParsePrefix(c.Network.SubnetCIDR), PublicIPRange: c.Network.PublicRange()}
	if c.Network.DualStack() {
		fabric.SubnetV6 = netip.MustParsePrefix(c.Network.SubnetCIDRv6)
	}
	if c.Network.PodSubnetCIDR != "" {
		fabric.PodSubnet = netip.MustParsePrefix(c.Network.PodSubnetCIDR)
	}
	for _, r := range c.Network.ServiceCIDRs {
		fabric.ServiceCIDRs = append(fabric.ServiceCIDRs, netip.MustParsePrefix(r))
	}
	cloud := azlb.NewCloud(c, fabric)
	store, err := imagestore.Open(c.ImageStoreDir())
	if err != nil {
		return fmt.Errorf("image store: %w", err)
	}
	pool := &nodes.Pool{Cluster: c, Cloud: cloud, Fabric: fabric, Images: store}
	var admin kubernetes.Interface
	var ext apiextensionsclient.Interface
	steps := []bringUpStep{
		{stepControlPlane, waitFor(cp.APIReady())},
		{stepControllers, waitFor(cp.ControllersReady())},
		{stepFabric, func() error {
			fabric.TakeHostRoute = true // the cluster started last is the one the host reaches
			err := fabric.Ensure()
			fabric.TakeHostRoute = false
			if err != nil {
				return err
			}
			if fabric.HostRouteTakenFrom != "" {
				logger.Info("The host now routes the node subnet to this cluster; the other cluster takes it back when this one stops", "subnet", fabric.Subnet, "from", fabric.HostRouteTakenFrom)
			}
			if !fabric.HostRoute {
				logger.Info("The host does not route the node subnet to this cluster: something else holds it", "subnet", fabric.Subnet, "route", fabric.HostRouteConflict)
			}
			if err := isolatePods(c, cloud, fabric); err != nil {
				return err
			}
			if err := serveDNS(ctx, c, fabric, cloud); err != nil {
				return err
			}
			if err := serveAPIEndpoint(ctx, fabric, netip.AddrPortFrom(c.Network.APIServerIP(), uint16(c.APIPort))); err != nil {
				return err
			}
			return serveIMDS(ctx, fabric, cloud)
		}},
		{fmt.Sprintf(stepNodes, c.NodeCount), func() (err error) {
			if admin, err = apiserver.AdminClient(c); err != nil {
				return err
			}
			cfg, err := clientcmd.BuildConfigFromFlags("", apiserver.AdminKubeconfigPath(c))
			if err != nil {
				return err
			}
			cfg.QPS, cfg.Burst = 200, 400
			if ext, err = apiextensionsclient.NewForConfig(cfg); err != nil {
				return err
			}
			ar, err := newAppRouting(ctx, c, cfg)
			if err != nil {
				return err
			}
			routing.Store(ar)
			ga, err := newGatewayAPI(ctx, c, cfg)
			if err != nil {
				return err
			}
			gateways.Store(ga)
			if pool.Credentials, err = apiserver.NodeCredentialsFactory(c); err != nil {
				return err
			}
			if err := container.Install(c.Path("bin")); err != nil {
				return fmt.Errorf("install the container binary: %w", err)
			}
			run, err := container.Binary("")
			if err != nil {
				return err
			}
			if pool.ToolsRoot, err = toolroot.Ensure(filepath.Join(c.ImageStoreDir(), toolroot.DirName), run); err != nil {
				if container.Embedded() {
					return err
				}
				// A development build (go build ./cmd/minaks): its containers run minaks
				// itself, which is not static.
				logger.Info("Built-in images run on the host's root", "reason", err)
			}
			if err := pool.Start(ctx); err != nil {
				return err
			}
			return azlb.RunControllers(ctx, admin, cloud)
		}},
		{stepNodesReady, func() error { return nodes.WaitReady(ctx, admin, c) }},
		{stepAddons, func() error { return startAddons(ctx, admin, ext, c) }},
	}
	if c.EnableAppRouting {
		steps = append(steps, bringUpStep{stepAppRouting, func() error { return routing.Load().start(c.AppRoutingDefaultNginxController) }})
	}
	if c.EnableGatewayAPI {
		name := stepGatewayAPI
		if c.EnableAppRoutingIstio {
			name = stepGatewayAPIIstio
		}
		steps = append(steps, bringUpStep{name, func() error { return gateways.Load().ensure() }})
	}
	for _, s := range steps {
		if err := step(s.name, s.fn); err != nil {
			stop()
			<-runErr
			return err
		}
	}
	if pipe != nil {
		pipe.Ready()
	}
	ready.Store(true)
	logger.Info("Cluster ready")
	// Bring-up ran code that an idle daemon does not run again, and so do the add-ons' first
	// reconciles and the first pods: give those pages back now, and again once the add-ons
	// have settled.
	trim := func() {
		if n, err := resident.Code(); err != nil {
			logger.Error(err, "Trimming the resident executable")
		} else {
			logger.V(2).Info("Trimmed the resident executable", "mappedMiB", n>>20)
		}
	}
	trim()
	time.AfterFunc(resident.Settle, trim)
	go reconcileFabric(ctx, fabric)

	err = <-runErr
	logger.Info("minaks daemon stopped", "err", err)
	return err
}

// serveRequest decodes a request of the control socket and carries it out with do; ok false
// means the daemon cannot take requests yet.
func serveRequest[T any](w http.ResponseWriter, r *http.Request, ok bool, do func(T) error) {
	if !ok {
		http.Error(w, "the cluster is still starting; try again when 'minaks up' has returned", http.StatusServiceUnavailable)
		return
	}
	var req T
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if err := do(req); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	_, _ = w.Write([]byte("ok\n"))
}

// bringUpStep is one step of the daemon's bring-up, as `up` prints it.
type bringUpStep struct {
	name string
	fn   func() error
}

type nopProgress struct{}

func (nopProgress) Start(string) {}
func (nopProgress) End(error)    {}

// serveControl serves the daemon's status as JSON, and the other routes given, on a unix
// socket only root can reach.
func serveControl(path string, status func() DaemonStatus, routes map[string]http.HandlerFunc) (stop func(), err error) {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		l.Close()
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(status())
	})
	for pattern, h := range routes {
		mux.HandleFunc(pattern, h)
	}
	// Go's profiles of the daemon, for `curl --unix-socket <state>/<name>/daemon.sock
	// http://daemon/debug/pprof/profile`.
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(l) }()
	return func() {
		_ = srv.Close()
		_ = os.Remove(path)
	}, nil
}

// controlClient talks to the daemon of the cluster in dir, giving up after timeout.
func controlClient(dir string, timeout time.Duration) *http.Client {
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", dir+"/"+controlSocket)
		}},
	}
}

// QueryDaemon asks the daemon of the cluster in dir for its status.
func QueryDaemon(dir string) (*DaemonStatus, error) {
	resp, err := controlClient(dir, 2*time.Second).Get("http://daemon/status")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	s := &DaemonStatus{}
	return s, json.NewDecoder(resp.Body).Decode(s)
}

// isolatePods keeps overlay and kubenet pod addresses out of the VNet's reach, as on AKS: only
// the cluster's nodes and pods reach them.
func isolatePods(c *config.Cluster, cloud *azlb.Cloud, fabric *netstack.Fabric) error {
	if cni := c.Network.CNI(); cni != config.CNIOverlay && cni != config.CNIKubenet {
		return nil
	}
	instances, err := cloud.ScaleSet().Instances()
	if err != nil {
		return err
	}
	var v4, v6 []netip.Addr
	for _, in := range instances {
		v4 = append(v4, in.IP)
		if in.IPv6.IsValid() {
			v6 = append(v6, in.IPv6)
		}
	}
	if err := netstack.VNetIsolationChain(c.Network.PodCIDRs[0], v4).Ensure(netstack.FabricNS(c.Name)); err != nil {
		return err
	}
	if c.Network.DualStack() {
		return netstack.VNetIsolationChain(c.Network.PodCIDRs[1], v6).Ensure(netstack.FabricNS(c.Name))
	}
	return nil
}

// serveIMDS serves the instance metadata service on 169.254.169.254:80 in the fabric until ctx
// is done.
func serveIMDS(ctx context.Context, fabric *netstack.Fabric, cloud *azlb.Cloud) error {
	l, err := fabric.Listen(netip.AddrPortFrom(netstack.IMDS, 80))
	if err != nil {
		return fmt.Errorf("instance metadata service: %w", err)
	}
	srv := &http.Server{Handler: azlb.NewIMDS(cloud), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(l) }()
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	return nil
}

// serveDNS serves Azure DNS on 168.63.129.16:53 (UDP and TCP) in the fabric until ctx is done.
func serveDNS(ctx context.Context, c *config.Cluster, fabric *netstack.Fabric, cloud *azlb.Cloud) error {
	upstreams := c.Network.UpstreamDNS
	if len(upstreams) == 0 {
		var err error
		if upstreams, err = azlb.HostResolvers("/etc/resolv.conf"); err != nil {
			klog.FromContext(ctx).Info("Azure DNS has no upstream: names outside the cluster will not resolve", "err", err)
		}
	}
	dns := &azlb.DNS{Upstreams: upstreams, Local: cloud.Resolve}
	addr := netip.AddrPortFrom(netstack.WireServer, 53)
	pc, err := fabric.ListenPacket(addr)
	if err != nil {
		return fmt.Errorf("Azure DNS: %w", err)
	}
	l, err := fabric.Listen(addr)
	if err != nil {
		pc.Close()
		return fmt.Errorf("Azure DNS: %w", err)
	}
	go dns.ServeUDP(ctx, pc)
	go dns.ServeTCP(ctx, l)
	return nil
}

// fabricResync is how often the daemon re-applies the fabric: it repairs what was removed behind
// its back, and takes the host route of its subnet back once the cluster that took it is gone.
const fabricResync = 10 * time.Second

func reconcileFabric(ctx context.Context, fabric *netstack.Fabric) {
	logger := klog.FromContext(ctx)
	t := time.NewTicker(fabricResync)
	defer t.Stop()
	hadRoute := fabric.HostRoute
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := fabric.Ensure(); err != nil {
			if ctx.Err() == nil {
				logger.Error(err, "Reconciling the fabric")
			}
			continue
		}
		if fabric.HostRoute && !hadRoute {
			logger.Info("The host now routes the node subnet to this cluster", "subnet", fabric.Subnet)
		}
		hadRoute = fabric.HostRoute
	}
}
