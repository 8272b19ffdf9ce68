package kubeletapi

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/apiserver/pkg/server/healthz"
	"k8s.io/client-go/kubernetes"
	compbasemetrics "k8s.io/component-base/metrics"
	"k8s.io/cri-streaming/pkg/streaming/remotecommand"
	"k8s.io/klog/v2"
	statsapi "k8s.io/kubelet/pkg/apis/stats/v1alpha1"
)

// Port is the kubelet's API port.
const Port = 10250

// Streaming timeouts, as the kubelet's defaults (streamingConnectionIdleTimeout and the CRI
// streaming server's stream creation timeout).
const (
	streamIdleTimeout     = 4 * time.Hour
	streamCreationTimeout = remotecommand.DefaultStreamCreationTimeout
)

// Runtime is what the kubelet API needs from the node's pod runtime.
//
// The server looks pods and containers up in Pods before it calls the other methods, and answers
// 404 itself when they are missing. Streams that the client did not ask for may be nil.
type Runtime interface {
	// Pods returns the pods bound to this node, as last seen (for /pods).
	Pods() []*v1.Pod
	// ContainerLogs writes a container's log as the kubelet does for /containerLogs: opts carries
	// follow, tailLines, sinceSeconds/sinceTime, timestamps, previous and limitBytes; the stream
	// selection has been applied already (a stream that is not wanted is io.Discard). With follow
	// it returns when ctx is done.
	ContainerLogs(ctx context.Context, namespace, pod, container string, opts *v1.PodLogOptions, stdout, stderr io.Writer) error
	// Exec runs cmd in a container. A command that ran and exited non-zero must be reported as
	// an error wrapping *os/exec.ExitError or a k8s.io/utils/exec.ExitError (such as
	// CodeExitError), so that the client sees its exit code.
	Exec(ctx context.Context, namespace, pod string, uid types.UID, container string, cmd []string, stdin io.Reader, stdout, stderr io.WriteCloser, tty bool, resize <-chan remotecommand.TerminalSize) error
	// Attach connects the streams to a running container's main process.
	Attach(ctx context.Context, namespace, pod string, uid types.UID, container string, stdin io.Reader, stdout, stderr io.WriteCloser, tty bool, resize <-chan remotecommand.TerminalSize) error
	// PortForward copies data between stream and a TCP port of the pod, until either side
	// closes.
	PortForward(ctx context.Context, namespace, pod string, uid types.UID, port int32, stream io.ReadWriteCloser) error
	// Summary is the node's /stats/summary: the CPU and memory of the node, its pods and their
	// containers (it backs /metrics/resource too).
	Summary(ctx context.Context) (*statsapi.Summary, error)
}

// Config configures a node's kubelet API.
type Config struct {
	// NodeName is the Node the server answers for: the name in its authorization checks.
	NodeName string
	// Cert is the serving certificate.
	Cert tls.Certificate
	// ClientCA is the PEM bundle client certificates are verified against (the cluster CA, as
	// the kubelet's authentication.x509.clientCAFile). Without it client certificates are ignored.
	ClientCA []byte
	// Client is the node's own client (system:node:<name>): it creates the TokenReviews and
	// SubjectAccessReviews.
	Client kubernetes.Interface
	// Metrics is served at /metrics, ProbeMetrics at /metrics/probes: the node's own registries
	// (empty without them).
	Metrics, ProbeMetrics compbasemetrics.KubeRegistry
	// LogDir is the directory of the pods' logs, laid out as the kubelet's /var/log
	// (pods/<namespace>_<name>_<uid>/...): /logs/ serves the node's part of it.
	LogDir string
	// DisableAuth serves every request unauthenticated (tests only).
	DisableAuth bool
}

// Server is a node's kubelet API.
type Server struct {
	nodeName string
	cert     tls.Certificate
	rt       Runtime
	authn    authenticator.Request
	authz    authorizer.Authorizer
	handler  http.Handler
	loopback *http.Transport // to the SPDY handlers, for translated WebSockets

	metrics, probeMetrics compbasemetrics.KubeRegistry
	logDir                string
}

// New makes the kubelet API of a node whose pods rt runs.
func New(cfg Config, rt Runtime) (*Server, error) {
	if cfg.NodeName == "" {
		return nil, errors.New("kubelet API: no node name")
	}
	s := &Server{nodeName: cfg.NodeName, cert: cfg.Cert, rt: rt, metrics: cfg.Metrics, probeMetrics: cfg.ProbeMetrics, logDir: cfg.LogDir}
	if !cfg.DisableAuth {
		var err error
		if s.authn, s.authz, err = buildAuth(cfg); err != nil {
			return nil, fmt.Errorf("kubelet API of %s: %w", cfg.NodeName, err)
		}
	}
	mux := s.routes()
	s.loopback = newLoopback(mux)
	s.handler = s.withAuth(mux)
	return s, nil
}

func (s *Server) routes() *http.ServeMux {
	mux := http.NewServeMux()
	healthz.InstallHandler(mux, healthz.PingHealthz, healthz.LogHealthz)
	mux.HandleFunc("GET /pods", s.getPods)
	mux.HandleFunc("GET /pods/{$}", s.getPods)
	mux.HandleFunc("GET /containerLogs/{namespace}/{pod}/{container}", s.getContainerLogs)
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		for _, p := range []string{"/{namespace}/{pod}/{container}", "/{namespace}/{pod}/{uid}/{container}"} {
			mux.HandleFunc(method+" /exec"+p, s.getExec)
			mux.HandleFunc(method+" /attach"+p, s.getAttach)
		}
		mux.HandleFunc(method+" /portForward/{namespace}/{pod}", s.getPortForward)
		mux.HandleFunc(method+" /portForward/{namespace}/{pod}/{uid}", s.getPortForward)
	}
	mux.HandleFunc("GET /stats/summary", s.getSummary)
	mux.HandleFunc("GET /logs/", s.getLogs)
	mux.Handle("GET /metrics", registryHandler(s.metrics))
	mux.Handle("GET /metrics/probes", registryHandler(s.probeMetrics))
	mux.Handle("GET /metrics/resource", s.resourceMetrics())
	mux.HandleFunc("POST /run/{namespace}/{pod}/{container}", s.getRun)
	mux.HandleFunc("POST /run/{namespace}/{pod}/{uid}/{container}", s.getRun)
	return mux
}

// Handler serves the API over any transport; authentication by client certificate needs the
// request's TLS state.
func (s *Server) Handler() http.Handler { return s.handler }

// Serve serves the API with TLS on l until ctx is done, then closes every connection (streams
// end as their requests' contexts are cancelled).
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	logger := klog.FromContext(ctx).WithValues("node", s.nodeName)
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 30 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return ctx },
		ErrorLog:          klog.NewStandardLogger("INFO"),
	}
	tlsConfig := &tls.Config{
		Certificates: []tls.Certificate{s.cert},
		MinVersion:   tls.VersionTLS12,
		// Client certificates are verified by the authenticator, against the client CA.
		ClientAuth: tls.RequestClientCert,
		// SPDY and WebSocket upgrades need HTTP/1.1.
		NextProtos: []string{"http/1.1"},
	}
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-ctx.Done():
			srv.Close()
		case <-done:
		}
	}()
	logger.V(2).Info("Serving kubelet API", "address", l.Addr().String())
	err := srv.Serve(tls.NewListener(l, tlsConfig))
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return fmt.Errorf("kubelet API of %s: %w", s.nodeName, err)
}
