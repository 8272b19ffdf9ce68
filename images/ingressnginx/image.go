package ingressnginx

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/pprof"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/pflag"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"

	"github.com/minaks/minaks/images"
	"github.com/minaks/minaks/images/internal/l7"
	"github.com/minaks/minaks/images/internal/serve"
)

const (
	// Release is the ingress-nginx release whose behaviour the controller reproduces, and
	// NginxVersion the nginx it reports.
	Release      = "v1.13.9"
	NginxVersion = "1.27.1"
	// program is the controller's path in the image.
	program = "/nginx-ingress-controller"
)

func init() {
	images.Register(&images.Image{
		Name: "ingress-nginx",
		References: []string{
			"mcr.microsoft.com/oss/kubernetes/ingress/nginx-ingress-controller", // AKS app routing
			"mcr.microsoft.com/oss/v2/kubernetes/ingress/nginx-ingress-controller",
			"registry.k8s.io/ingress-nginx/controller", // the community chart
			"k8s.gcr.io/ingress-nginx/controller",
		},
		Program: "nginx-ingress-controller",
		Binary:  images.KubeBinary,
		// dumb-init runs the controller as upstream's image does; wait-shutdown is the preStop
		// hook of the community chart.
		Aliases:     []string{"dumb-init", "wait-shutdown"},
		Entrypoint:  []string{"/usr/bin/dumb-init", "--"},
		Cmd:         []string{program},
		WorkingDir:  "/etc/nginx",
		Env:         []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
		Ports:       []int{80, 443},
		Paths:       []string{program, "/usr/bin/dumb-init", "/wait-shutdown"},
		Main:        Main,
		Description: "ingress-nginx " + Release + " controller: Ingresses served by a built-in Go proxy (app routing's NGINX)",
	})
}

// Main is the image's program, by the name it runs as: the controller, dumb-init, or
// wait-shutdown.
func Main(args []string) int {
	switch filepath.Base(os.Args[0]) {
	case "dumb-init":
		return dumbInit(args)
	case "wait-shutdown":
		// The chart's preStop hook: the controller drains on SIGTERM by itself.
		return 0
	}
	f, err := parseFlags(args)
	if err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	if f.ShowVersion {
		fmt.Print(banner())
		return 0
	}
	fmt.Print(banner())
	if err := run(f); err != nil {
		klog.ErrorS(err, "NGINX Ingress controller stopped")
		klog.Flush()
		return 1
	}
	klog.Flush()
	return 0
}

func banner() string {
	return "-------------------------------------------------------------------------------\n" +
		"NGINX Ingress controller\n" +
		"  Release:       " + Release + "\n" +
		"  Build:         minaks built-in (a Go proxy in nginx's place)\n" +
		"  nginx version: nginx/" + NginxVersion + "\n" +
		"-------------------------------------------------------------------------------\n\n"
}

// dumbInit stands for the image's entrypoint, /usr/bin/dumb-init: it takes dumb-init's options
// and then execs the command (a controller started as "/nginx-ingress-controller" becomes this
// program again), so signals reach it directly.
func dumbInit(args []string) int {
	cmd := dumbInitCommand(args)
	if len(cmd) == 0 {
		fmt.Fprintln(os.Stderr, "Usage: dumb-init [option] command [[arg] ...]")
		return 1
	}
	path, err := exec.LookPath(cmd[0])
	if err != nil {
		fmt.Fprintf(os.Stderr, "[dumb-init] %s: No such file or directory\n", cmd[0])
		return 2
	}
	err = syscall.Exec(path, cmd, os.Environ())
	fmt.Fprintf(os.Stderr, "[dumb-init] %s: %v\n", cmd[0], err)
	return 2
}

// dumbInitCommand is the command in dumb-init's arguments: what follows its options (-c,
// --single-child, -r s:r, -v, …) and an optional "--".
func dumbInitCommand(args []string) []string {
	for len(args) > 0 && strings.HasPrefix(args[0], "-") {
		a := args[0]
		args = args[1:]
		switch a {
		case "--":
			return args
		case "-r", "--rewrite":
			if len(args) > 0 {
				args = args[1:]
			}
		}
	}
	return args
}

// run is the controller: the proxy on --http-port and --https-port, health and metrics on
// --healthz-port, and the sync loop, until SIGTERM; then it drains as ingress-nginx does.
func run(f *Flags) error {
	ctx, signalled := serve.SignalContext()
	logger := klog.Background()
	ctx = klog.NewContext(ctx, logger)

	cfg, err := clientConfig(f)
	if err != nil {
		return fmt.Errorf("error while initiating a connection to the Kubernetes API server: %w", err)
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	for _, fl := range f.NotEmulated {
		logger.Info("Flag not emulated by minaks's built-in controller", "flag", fl)
	}
	podNS, podName := os.Getenv("POD_NAMESPACE"), os.Getenv("POD_NAME")
	if podNS == "" || podName == "" {
		return errors.New("unexpected error obtaining pod information: please check the POD_NAME and POD_NAMESPACE environment variables")
	}
	fake, err := fakeCertificate()
	if err != nil {
		return err
	}
	m := newMetrics(f, podNS, podName)
	obs := newObserver(os.Stdout, m)
	defer obs.Close()
	proxy := l7.New(l7.Options{Observer: obs, Logger: logger})
	c := newController(f, client, podNS, podName, proxy, fake)
	c.onSync, c.onConfigMap = m.configured, obs.configure

	mux := http.NewServeMux()
	mux.HandleFunc(f.HealthCheckPath, func(w http.ResponseWriter, _ *http.Request) {
		if !c.synced.Load() {
			http.Error(w, "the controller has not served its first configuration yet", http.StatusInternalServerError)
			return
		}
		_, _ = w.Write([]byte("ok"))
	})
	if f.EnableMetrics {
		mux.Handle("/metrics", m.handler())
	}
	health := &http.Server{Addr: listenAddr(f.HealthzHost, f.HealthzPort), Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := health.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error(err, "Health and metrics server")
		}
	}()

	if f.Profiling {
		go serveProfiler(logger, listenAddr(f.ProfilerAddress.String(), f.ProfilerPort))
	}

	runCtx, stopRun := context.WithCancel(klog.NewContext(context.Background(), logger))
	done := make(chan error, 1)
	go func() { done <- c.run(runCtx) }()
	select {
	case err := <-done:
		stopRun()
		return err
	case <-ctx.Done():
	}
	logger.Info("Received signal, shutting down", "signal", signalled())
	// As ingress-nginx: keep serving while the endpoints of this pod disappear from the load
	// balancer, then let requests in flight finish.
	time.Sleep(f.ShutdownGracePeriod)
	logger.Info("Shutting down controller queues")
	stopRun()
	<-done
	sctx, cancel := context.WithTimeout(context.Background(), 300*time.Second)
	defer cancel()
	if err := proxy.Shutdown(sctx); err != nil {
		logger.Error(err, "Stopping the proxy")
	}
	_ = health.Close()
	logger.Info("Handled quit, delaying controller exit", "delay in seconds", f.PostShutdownGracePeriod.Seconds())
	time.Sleep(min(f.PostShutdownGracePeriod, 10*time.Second))
	logger.Info("Exiting", "code", 0)
	return nil
}

// serveProfiler serves Go's profiles at /debug/pprof/, as ingress-nginx does with --profiling.
func serveProfiler(logger klog.Logger, addr string) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	if err := srv.ListenAndServe(); err != nil {
		logger.Error(err, "Profiler")
	}
}

// clientConfig is ingress-nginx's: --kubeconfig, else --apiserver-host, else in-cluster.
func clientConfig(f *Flags) (*rest.Config, error) {
	var cfg *rest.Config
	var err error
	switch {
	case f.Kubeconfig != "" || f.APIServerHost != "":
		cfg, err = clientcmd.BuildConfigFromFlags(f.APIServerHost, f.Kubeconfig)
		if err == nil && f.CertificateAuthority != "" {
			cfg.TLSClientConfig.CAFile = f.CertificateAuthority
		}
	default:
		cfg, err = rest.InClusterConfig()
	}
	if err != nil {
		return nil, err
	}
	cfg.UserAgent = "nginx-ingress-controller/" + Release
	cfg.QPS, cfg.Burst = 1e6, 1e6
	return cfg, nil
}
