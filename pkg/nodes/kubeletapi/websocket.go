package kubeletapi

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"sync"

	"k8s.io/apimachinery/pkg/util/proxy"
	translator "k8s.io/apiserver/pkg/util/proxy"
	"k8s.io/cri-streaming/pkg/streaming/remotecommand"
	"k8s.io/klog/v2"
)

// The kubelet takes kubectl's v5.channel.k8s.io WebSockets and SPDY-over-WebSocket port-forward
// tunnels itself (ExtendWebSocketsToKubelet, on since 1.36) by putting the API server's
// translators in front of its CRI streaming server: the translators speak SPDY to it. Here the
// streaming server is this server's own SPDY handlers, reached over in-memory connections.

// loopbackHost names the in-memory streaming server in translated requests.
const loopbackHost = "kubelet-streaming.invalid"

// translateRemoteCommand serves a v5 WebSocket exec or attach through the StreamTranslator.
func (s *Server) translateRemoteCommand(w http.ResponseWriter, req *http.Request, opts *remotecommand.Options) {
	h := translator.NewStreamTranslatorHandler(loopbackURL(req), s.loopback, 0, translator.Options{
		Stdin: opts.Stdin, Stdout: opts.Stdout, Stderr: opts.Stderr, Tty: opts.TTY,
	})
	h.ServeHTTP(w, req)
}

// tunnelPortForward serves a WebSocket-tunnelled port-forward: the tunnel carries SPDY, which the
// TunnelingHandler unwraps and proxies.
func (s *Server) tunnelPortForward(w http.ResponseWriter, req *http.Request) {
	upgrade := proxy.NewUpgradeAwareHandler(loopbackURL(req), s.loopback, false, true, loopbackResponder{})
	translator.NewTunnelingHandler(upgrade).ServeHTTP(w, req)
}

func loopbackURL(req *http.Request) *url.URL {
	return &url.URL{Scheme: "http", Host: loopbackHost, Path: req.URL.Path, RawQuery: req.URL.RawQuery}
}

type loopbackResponder struct{}

func (loopbackResponder) Error(w http.ResponseWriter, req *http.Request, err error) {
	klog.FromContext(req.Context()).Error(err, "Error while proxying request")
	http.Error(w, err.Error(), http.StatusInternalServerError)
}

// newLoopback is a transport whose every connection is served by mux, without authentication
// (the request was authorized before it was translated), until the connection closes.
func newLoopback(mux http.Handler) *http.Transport {
	return &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			client, server := net.Pipe()
			l := &oneConnListener{conn: &closeNotifyConn{Conn: server, closed: make(chan struct{})}}
			srv := &http.Server{
				Handler: mux,
				// Streams end with the outer request.
				BaseContext: func(net.Listener) context.Context { return ctx },
				ErrorLog:    klog.NewStandardLogger("INFO"),
			}
			go srv.Serve(l)
			return client, nil
		},
	}
}

// oneConnListener accepts one connection, then waits for it to close.
type oneConnListener struct {
	once sync.Once
	conn *closeNotifyConn
}

func (l *oneConnListener) Accept() (net.Conn, error) {
	var c net.Conn
	l.once.Do(func() { c = l.conn })
	if c != nil {
		return c, nil
	}
	<-l.conn.closed
	return nil, net.ErrClosed
}

func (l *oneConnListener) Close() error   { return nil }
func (l *oneConnListener) Addr() net.Addr { return pipeAddr{} }

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return loopbackHost }

// closeNotifyConn closes its channel when it is closed, also after it was hijacked.
type closeNotifyConn struct {
	net.Conn
	once   sync.Once
	closed chan struct{}
}

func (c *closeNotifyConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return c.Conn.Close()
}
