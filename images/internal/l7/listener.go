package l7

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	proxyproto "github.com/pires/go-proxyproto"
)

// Timeouts of the client side, ingress-nginx's defaults.
const (
	clientHeaderTimeout = 60 * time.Second // client-header-timeout
	keepAliveTimeout    = 75 * time.Second // keep-alive
	// handshakePeekTimeout bounds the wait for a PROXY header or a ClientHello.
	handshakePeekTimeout = 60 * time.Second
)

// servingListener is one open socket. Its accept loop hands each connection, after the PROXY
// header, the passthrough decision and the TLS wrapper, to an http.Server that lives as long
// as the socket; the listener's configuration (cfg) changes under it at each Update.
type servingListener struct {
	p    *Proxy
	name string
	addr string
	// h2c is whether the server accepts HTTP/2 with prior knowledge (Listener.H2C); it is
	// fixed for the life of the socket.
	h2c bool
	ln  net.Listener
	srv *http.Server
	cfg atomic.Pointer[compiledListener]
	// tlsBase hands each handshake to the configuration current at that moment.
	tlsBase *tls.Config
	// port is the last local port a request came in on, as text ($server_port).
	port atomic.Pointer[portText]

	queue  chan net.Conn
	closed chan struct{}
	once   sync.Once

	mu    sync.Mutex
	conns map[*trackedConn]struct{}
	wg    sync.WaitGroup // accept loop, connection setup, passthrough copies
}

func newServingListener(p *Proxy, name, addr string, h2c bool, ln net.Listener) *servingListener {
	sl := &servingListener{
		p: p, name: name, addr: addr, h2c: h2c, ln: ln,
		queue:  make(chan net.Conn),
		closed: make(chan struct{}),
		conns:  map[*trackedConn]struct{}{},
	}
	sl.tlsBase = &tls.Config{
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			return sl.cfg.Load().tls, nil
		},
		NextProtos: []string{"h2", "http/1.1"},
	}
	sl.srv = &http.Server{
		Handler:           sl,
		ReadHeaderTimeout: clientHeaderTimeout,
		IdleTimeout:       keepAliveTimeout,
		ErrorLog:          log.New(logWriter{p, "listener", name}, "", 0),
		// TLSConfig stays nil: the connections arrive already wrapped in TLS, and a nil
		// TLSConfig is what makes Serve offer HTTP/2 to those that negotiate "h2".
	}
	if h2c {
		sl.srv.Protocols = new(http.Protocols)
		sl.srv.Protocols.SetHTTP1(true)
		sl.srv.Protocols.SetHTTP2(true)
		sl.srv.Protocols.SetUnencryptedHTTP2(true)
	}
	return sl
}

// logWriter sends the complaints of net/http (bad requests, TLS handshake errors, broken
// copies) to the proxy's logger at a verbosity where they do not drown the rest.
type logWriter struct {
	p        *Proxy
	key, val string
}

func (w logWriter) Write(b []byte) (int, error) {
	w.p.log.V(4).Info(string(bytes.TrimSpace(b)), w.key, w.val)
	return len(b), nil
}

// start serves the listener.
func (sl *servingListener) start() {
	sl.wg.Add(1)
	go sl.acceptLoop()
	go func() {
		if err := sl.srv.Serve(sl); err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
			sl.p.log.Error(err, "Serving HTTP stopped", "listener", sl.name)
		}
	}()
}

func (sl *servingListener) acceptLoop() {
	defer sl.wg.Done()
	var delay time.Duration
	for {
		c, err := sl.ln.Accept()
		if err != nil {
			select {
			case <-sl.closed:
				return
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors and the like: wait and try again, as net/http does.
			if delay == 0 {
				delay = 5 * time.Millisecond
			} else if delay *= 2; delay > time.Second {
				delay = time.Second
			}
			sl.p.log.V(2).Info("Accept failed, retrying", "listener", sl.name, "err", err, "delay", delay)
			time.Sleep(delay)
			continue
		}
		delay = 0
		tc := sl.track(c)
		sl.wg.Add(1)
		go sl.setup(tc)
	}
}

// setup reads the PROXY header, peeks at the ClientHello for passthrough, wraps TLS, and
// hands the connection to the HTTP server.
func (sl *servingListener) setup(tc *trackedConn) {
	defer sl.wg.Done()
	cl := sl.cfg.Load()
	var conn net.Conn = tc
	if cl.l.ProxyProtocol {
		pc := proxyproto.NewConn(tc, proxyproto.WithPolicy(proxyproto.REQUIRE), proxyproto.SetReadHeaderTimeout(handshakePeekTimeout))
		if pc.ProxyHeader() == nil {
			sl.p.log.V(4).Info("Closing a connection without a valid PROXY header", "listener", sl.name, "client", tc.RemoteAddr())
			tc.Close()
			return
		}
		conn = pc
	}
	if cl.l.Protocol == HTTPS {
		if len(cl.passExact) > 0 || len(cl.passWild) > 0 {
			_ = conn.SetReadDeadline(time.Now().Add(handshakePeekTimeout))
			sni, hello, err := peekClientHello(conn)
			_ = conn.SetReadDeadline(time.Time{})
			if err != nil {
				sl.p.log.V(4).Info("Closing a connection without a TLS ClientHello", "listener", sl.name, "client", conn.RemoteAddr(), "err", err)
				conn.Close()
				return
			}
			conn = &prefixConn{Conn: conn, prefix: hello}
			if up := cl.passthrough(sni); up != "" {
				tc.handed.Store(true)
				sl.passthrough(conn, cl.st, up, sni)
				return
			}
		}
		conn = tls.Server(conn, sl.tlsBase)
	}
	select {
	case sl.queue <- conn:
		tc.handed.Store(true)
	case <-sl.closed:
		conn.Close()
	}
}

// Accept, Close and Addr make the listener the net.Listener of its http.Server.
func (sl *servingListener) Accept() (net.Conn, error) {
	select {
	case c := <-sl.queue:
		return c, nil
	case <-sl.closed:
		return nil, net.ErrClosed
	}
}

func (sl *servingListener) Close() error {
	var err error
	sl.once.Do(func() {
		close(sl.closed)
		err = sl.ln.Close()
	})
	return err
}

func (sl *servingListener) Addr() net.Addr { return sl.ln.Addr() }

// shutdown stops accepting, waits for requests and passthrough connections until ctx is done,
// then closes what is left.
func (sl *servingListener) shutdown(ctx context.Context) error {
	// Shutdown closes the listener (sl.Close) and waits for the HTTP requests.
	err := sl.srv.Shutdown(ctx)
	sl.Close()
	// Connections still waiting for a PROXY header or a ClientHello have no request yet.
	sl.closeAll(func(c *trackedConn) bool { return !c.handed.Load() })
	// Hijacked (WebSocket) and passthrough connections are not the http.Server's to wait for.
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for err == nil && sl.openConns() > 0 {
		select {
		case <-ctx.Done():
			err = ctx.Err()
		case <-tick.C:
		}
	}
	if err != nil {
		sl.forceClose()
	}
	sl.wg.Wait()
	return err
}

// forceClose closes every connection of the listener at once.
func (sl *servingListener) forceClose() {
	sl.srv.Close()
	sl.closeAll(func(*trackedConn) bool { return true })
}

// trackedConn is an accepted connection the listener can close at shutdown. handed is set
// once setup gives it to the HTTP server or a passthrough copy.
type trackedConn struct {
	net.Conn
	sl     *servingListener
	once   sync.Once
	handed atomic.Bool
}

func (sl *servingListener) track(c net.Conn) *trackedConn {
	tc := &trackedConn{Conn: c, sl: sl}
	sl.mu.Lock()
	sl.conns[tc] = struct{}{}
	sl.mu.Unlock()
	return tc
}

func (tc *trackedConn) Close() error {
	tc.once.Do(func() {
		tc.sl.mu.Lock()
		delete(tc.sl.conns, tc)
		tc.sl.mu.Unlock()
	})
	return tc.Conn.Close()
}

func (sl *servingListener) openConns() int {
	sl.mu.Lock()
	defer sl.mu.Unlock()
	return len(sl.conns)
}

// closeAll closes the connections for which which returns true.
func (sl *servingListener) closeAll(which func(*trackedConn) bool) {
	sl.mu.Lock()
	conns := make([]*trackedConn, 0, len(sl.conns))
	for c := range sl.conns {
		if which(c) {
			conns = append(conns, c)
		}
	}
	sl.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
}

// prefixConn replays bytes already read from a connection before reading on.
type prefixConn struct {
	net.Conn
	prefix []byte
}

func (c *prefixConn) Read(b []byte) (int, error) {
	if len(c.prefix) > 0 {
		n := copy(b, c.prefix)
		c.prefix = c.prefix[n:]
		return n, nil
	}
	return c.Conn.Read(b)
}

// errHelloRead stops the handshake peekClientHello starts once it has the ClientHello.
var errHelloRead = errors.New("client hello read")

// peekClientHello reads a TLS ClientHello with crypto/tls's own parser and returns its server
// name and every byte read, for the caller to replay.
func peekClientHello(conn net.Conn) (string, []byte, error) {
	var buf bytes.Buffer
	var sni string
	var seen bool
	err := tls.Server(readOnlyConn{r: io.TeeReader(conn, &buf), c: conn}, &tls.Config{
		GetConfigForClient: func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
			sni, seen = hello.ServerName, true
			return nil, errHelloRead
		},
	}).Handshake()
	if !seen {
		return "", buf.Bytes(), fmt.Errorf("read TLS ClientHello: %w", err)
	}
	return sni, buf.Bytes(), nil
}

// readOnlyConn lets a TLS server read a ClientHello but never write to the client.
type readOnlyConn struct {
	r io.Reader
	c net.Conn
}

func (c readOnlyConn) Read(b []byte) (int, error)         { return c.r.Read(b) }
func (c readOnlyConn) Write([]byte) (int, error)          { return 0, io.ErrClosedPipe }
func (c readOnlyConn) Close() error                       { return nil }
func (c readOnlyConn) LocalAddr() net.Addr                { return c.c.LocalAddr() }
func (c readOnlyConn) RemoteAddr() net.Addr               { return c.c.RemoteAddr() }
func (c readOnlyConn) SetDeadline(t time.Time) error      { return nil }
func (c readOnlyConn) SetReadDeadline(t time.Time) error  { return nil }
func (c readOnlyConn) SetWriteDeadline(t time.Time) error { return nil }

// passthrough splices a TLS connection, ClientHello included, to one of the upstream's
// endpoints (round robin, the next one if connecting fails), as ingress-nginx's
// ssl-passthrough proxy does.
func (sl *servingListener) passthrough(conn net.Conn, st *state, upstream, sni string) {
	defer conn.Close()
	up := st.upstream(upstream)
	if up == nil || len(up.eps) == 0 {
		sl.p.log.V(2).Info("No endpoint for a passthrough connection", "listener", sl.name, "sni", sni, "upstream", upstream)
		return
	}
	first := int((up.bal.rr.Add(1) - 1) % uint64(len(up.eps)))
	var back net.Conn
	for k := 0; k < len(up.eps); k++ {
		addr := up.addrs[(first+k)%len(up.eps)]
		d := net.Dialer{Timeout: defaultConnectTimeout, KeepAlive: 30 * time.Second}
		c, err := d.Dial("tcp", addr)
		if err == nil {
			back = c
			break
		}
		sl.p.log.V(2).Info("Passthrough endpoint unreachable", "upstream", upstream, "endpoint", addr, "err", err)
	}
	if back == nil {
		return
	}
	defer back.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = io.Copy(back, conn)
		closeWrite(back)
	}()
	_, _ = io.Copy(conn, back)
	closeWrite(conn)
	<-done
}

// closeWrite half-closes a connection so the other side sees the end of the stream.
func closeWrite(c net.Conn) {
	for {
		switch v := c.(type) {
		case interface{ CloseWrite() error }:
			_ = v.CloseWrite()
			return
		case *trackedConn:
			c = v.Conn
		case *prefixConn:
			c = v.Conn
		case *proxyproto.Conn:
			c = v.Raw()
		default:
			return
		}
	}
}
