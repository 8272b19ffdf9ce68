package l7

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/klog/v2"
)

// Options configure a Proxy.
type Options struct {
	// Observer gets one Entry per request (access log, metrics); nil observes nothing.
	Observer Observer
	// Logger receives the proxy's own messages (listener errors, failed mirrors); the zero
	// value logs to klog.Background(). It is a logr.Logger, as klog.FromContext returns.
	Logger klog.Logger
	// Listen opens a listener's socket (network "tcp"); nil uses net.ListenConfig. The
	// ingress controller passes one that listens inside its pod's network namespace.
	Listen func(ctx context.Context, network, address string) (net.Listener, error)
	// DrainTimeout is how long a listener removed by Update lets its requests finish before
	// its connections are closed (240 s, ingress-nginx's worker-shutdown-timeout).
	DrainTimeout time.Duration
	// BodyBufferBytes is how much of a request body the proxy keeps in memory to retry or
	// mirror the request (1 MiB); a larger body is streamed and not retried once sent.
	BodyBufferBytes int64
}

// Proxy serves a Config: HTTP and HTTPS listeners, routes, and upstreams. Create it with New,
// give it configurations with Update, stop it with Shutdown.
type Proxy struct {
	opts Options
	log  klog.Logger

	state atomic.Pointer[state]

	// mu guards everything below; only Update, Shutdown and Addr take it, never a request.
	mu         sync.Mutex
	closed     bool
	listeners  map[string]*servingListener
	balancers  map[string]*balancerState
	zones      map[zoneKey]*limitZone
	transports map[transportKey]upstreamTransport
	draining   sync.WaitGroup
	retiring   map[*servingListener]struct{}

	// h1 and h2c are the transports of plain upstreams; mirrorHTTP and mirrorTLS those of
	// mirrors to http and https URLs (not verified, as nginx's proxy_ssl_verify off), whose
	// hosts are not endpoints.
	h1                         *h1Transport
	h2c, mirrorHTTP, mirrorTLS *http.Transport
	// rp copies responses to clients; the request's hooks do the rest.
	rp *httputil.ReverseProxy

	stopSweep chan struct{}
	sweepDone chan struct{}
}

// upstreamTransport is a transport to endpoints: an h1Transport for HTTP/1.1, an
// http.Transport for HTTP/2.
type upstreamTransport interface {
	http.RoundTripper
	CloseIdleConnections()
}

type transportKey struct {
	h2         bool
	serverName string
	caSum      [32]byte
}

// New returns a Proxy with no configuration; it serves nothing until Update.
func New(opts Options) *Proxy {
	if opts.Listen == nil {
		var lc net.ListenConfig
		opts.Listen = lc.Listen
	}
	if opts.DrainTimeout <= 0 {
		opts.DrainTimeout = 240 * time.Second
	}
	if opts.BodyBufferBytes <= 0 {
		opts.BodyBufferBytes = 1 << 20
	}
	log := opts.Logger
	if log.GetSink() == nil {
		log = klog.Background()
	}
	p := &Proxy{
		opts:       opts,
		log:        log.WithName("l7"),
		listeners:  map[string]*servingListener{},
		balancers:  map[string]*balancerState{},
		zones:      map[zoneKey]*limitZone{},
		transports: map[transportKey]upstreamTransport{},
		retiring:   map[*servingListener]struct{}{},
		stopSweep:  make(chan struct{}),
		sweepDone:  make(chan struct{}),
	}
	p.h1 = p.newH1Transport(nil)
	p.h2c = p.newTransport(nil, true)
	p.mirrorHTTP = p.newTransport(nil, false)
	p.mirrorTLS = p.newTransport(&tls.Config{InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}}, false)
	p.rp = p.newReverseProxy()
	p.state.Store(&state{cfg: &Config{}, upstreams: map[string]*upstreamView{}})
	go p.sweep()
	return p
}

// Update loads cfg: it opens the listeners that are new (or whose address changed), closes
// those that are gone after letting their requests finish, keeps the sockets of the others,
// and swaps the routes and upstreams atomically; requests in flight finish with the
// configuration they started with. It returns an error naming each listener that could not
// be opened and each part of cfg that was ignored as invalid; the rest of cfg applies anyway.
// The proxy keeps cfg and reads it until the next Update; the caller must not change it.
func (p *Proxy) Update(cfg *Config) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return errors.New("update proxy: it is shut down")
	}
	if cfg == nil {
		cfg = &Config{}
	}
	st := &state{cfg: cfg, upstreams: make(map[string]*upstreamView, len(cfg.Upstreams))}
	c := &compiler{p: p, st: st, servers: map[*Server]*compiledServer{}, routes: map[*Route]*compiledRoute{}, zones: map[zoneKey]*limitZone{}}

	// Upstreams first: their balancer state lives on by name.
	balancers := make(map[string]*balancerState, len(cfg.Upstreams))
	usedTransports := map[transportKey]bool{}
	for name, up := range cfg.Upstreams {
		if up == nil {
			continue
		}
		if up.Name == "" {
			cp := *up
			cp.Name = name
			up = &cp
		}
		bal := p.balancers[name]
		if bal == nil {
			bal = &balancerState{}
		}
		balancers[name] = bal
		v := newUpstreamView(up, bal)
		var err error
		v.transport, v.scheme, err = p.transportFor(up, usedTransports)
		if err != nil {
			c.errs = append(c.errs, fmt.Errorf("upstream %s: %w", name, err))
			continue
		}
		if up.Balance == EWMA {
			bal.forgetEndpoints(up.Endpoints)
		}
		st.upstreams[name] = v
	}
	p.balancers = balancers

	compiled := make(map[string]*compiledListener, len(cfg.Listeners))
	var order []string
	for _, l := range cfg.Listeners {
		if l == nil {
			continue
		}
		if _, dup := compiled[l.Name]; dup {
			c.errs = append(c.errs, fmt.Errorf("listener %q: defined twice; the second is ignored", l.Name))
			continue
		}
		compiled[l.Name] = c.listener(l)
		order = append(order, l.Name)
	}
	p.zones = c.zones

	// Listeners: keep, open, or retire.
	var started []*servingListener
	for _, name := range order {
		cl := compiled[name]
		sl := p.listeners[name]
		if sl != nil && sl.addr != cl.l.Addr {
			p.retire(sl)
			sl = nil
			delete(p.listeners, name)
		}
		if sl != nil && sl.h2c != (cl.l.H2C && cl.l.Protocol == HTTP) {
			// The server's protocols are fixed: the socket is closed at once, so that its
			// address can be bound again, and its requests drain in the background.
			sl.Close()
			p.retire(sl)
			sl = nil
			delete(p.listeners, name)
		}
		if sl == nil {
			ln, err := p.opts.Listen(context.Background(), "tcp", cl.l.Addr)
			if err != nil {
				c.errs = append(c.errs, fmt.Errorf("open listener %q on %s: %w", name, cl.l.Addr, err))
				continue
			}
			sl = newServingListener(p, name, cl.l.Addr, cl.l.H2C && cl.l.Protocol == HTTP, ln)
			p.listeners[name] = sl
			started = append(started, sl)
		}
		sl.cfg.Store(cl)
	}
	for name, sl := range p.listeners {
		if _, ok := compiled[name]; !ok {
			p.retire(sl)
			delete(p.listeners, name)
		}
	}
	p.state.Store(st)
	for _, sl := range started {
		sl.start()
	}

	// Transports no configuration uses any more lose their idle connections, and the
	// HTTP/1.1 transports those of endpoints that left.
	for k, t := range p.transports {
		if !usedTransports[k] {
			t.CloseIdleConnections()
			delete(p.transports, k)
		}
	}
	live := map[string]bool{}
	for _, v := range st.upstreams {
		for _, a := range v.addrs {
			live[a] = true
		}
	}
	p.h1.retain(live)
	for _, t := range p.transports {
		if h1, ok := t.(*h1Transport); ok {
			h1.retain(live)
		}
	}
	return errors.Join(c.errs...)
}

// retire stops a listener in the background, giving its requests DrainTimeout.
func (p *Proxy) retire(sl *servingListener) {
	p.draining.Add(1)
	p.retiring[sl] = struct{}{}
	go func() {
		defer p.draining.Done()
		defer func() {
			p.mu.Lock()
			delete(p.retiring, sl)
			p.mu.Unlock()
		}()
		ctx, cancel := context.WithTimeout(context.Background(), p.opts.DrainTimeout)
		defer cancel()
		if err := sl.shutdown(ctx); err != nil {
			p.log.V(2).Info("Closed a removed listener before its requests finished", "listener", sl.name, "err", err)
		}
	}()
}

// Addr returns the address a listener is bound to (useful when its Addr has port 0), or nil
// when no listener of that name is open.
func (p *Proxy) Addr(listener string) net.Addr {
	p.mu.Lock()
	defer p.mu.Unlock()
	if sl := p.listeners[listener]; sl != nil {
		return sl.ln.Addr()
	}
	return nil
}

// Shutdown stops accepting connections, lets the requests (and passthrough connections) in
// flight finish until ctx is done, then closes every connection. It returns ctx's error if it
// had to cut requests short. The proxy cannot be used afterwards.
func (p *Proxy) Shutdown(ctx context.Context) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	listeners := make([]*servingListener, 0, len(p.listeners))
	for _, sl := range p.listeners {
		listeners = append(listeners, sl)
	}
	p.listeners = map[string]*servingListener{}
	p.mu.Unlock()

	errs := make(chan error, len(listeners))
	for _, sl := range listeners {
		go func() { errs <- sl.shutdown(ctx) }()
	}
	var err error
	for range listeners {
		if e := <-errs; e != nil && err == nil {
			err = e
		}
	}
	// Listeners retired by earlier Updates get the same deadline.
	done := make(chan struct{})
	go func() { p.draining.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		if err == nil {
			err = ctx.Err()
		}
		p.mu.Lock()
		for sl := range p.retiring {
			sl.forceClose()
		}
		p.mu.Unlock()
		<-done
	}
	close(p.stopSweep)
	<-p.sweepDone
	p.mu.Lock()
	for _, t := range p.transports {
		if h1, ok := t.(*h1Transport); ok {
			h1.close()
		} else {
			t.CloseIdleConnections()
		}
	}
	p.mu.Unlock()
	p.h1.close()
	p.h2c.CloseIdleConnections()
	p.mirrorHTTP.CloseIdleConnections()
	p.mirrorTLS.CloseIdleConnections()
	return err
}

// sweep forgets idle rate-limit clients once a minute.
func (p *Proxy) sweep() {
	defer close(p.sweepDone)
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-p.stopSweep:
			return
		case now := <-t.C:
			p.mu.Lock()
			zones := make([]*limitZone, 0, len(p.zones))
			for _, z := range p.zones {
				zones = append(zones, z)
			}
			p.mu.Unlock()
			for _, z := range zones {
				z.sweep(now)
			}
		}
	}
}

// transportFor returns the transport and URL scheme of an upstream's protocol, creating TLS
// transports on first use. Called with p.mu held.
func (p *Proxy) transportFor(up *Upstream, used map[transportKey]bool) (http.RoundTripper, string, error) {
	switch up.Protocol {
	case "", UpstreamHTTP:
		return p.h1, "http", nil
	case UpstreamGRPC, UpstreamH2C:
		return p.h2c, "http", nil
	case UpstreamHTTPS, UpstreamGRPCS:
	default:
		return nil, "", fmt.Errorf("unknown protocol %q", up.Protocol)
	}
	key := transportKey{h2: up.Protocol == UpstreamGRPCS, serverName: up.ServerName}
	if len(up.RootCAs) > 0 {
		key.caSum = sha256.Sum256(up.RootCAs)
	}
	used[key] = true
	if t := p.transports[key]; t != nil {
		return t, "https", nil
	}
	tc := &tls.Config{ServerName: up.ServerName, InsecureSkipVerify: len(up.RootCAs) == 0}
	if len(up.RootCAs) > 0 {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(up.RootCAs) {
			return nil, "", errors.New("read root CAs: no PEM certificate found")
		}
		tc.RootCAs = pool
	}
	var t upstreamTransport
	if key.h2 {
		tc.NextProtos = []string{"h2"}
		t = p.newTransport(tc, true)
	} else {
		tc.NextProtos = []string{"http/1.1"}
		t = p.newH1Transport(tc)
	}
	p.transports[key] = t
	return t, "https", nil
}

// newH1Transport makes the HTTP/1.1 transport to endpoints (over TLS when tc is set), with an
// http.Transport of the same settings for streamed request bodies.
func (p *Proxy) newH1Transport(tc *tls.Config) *h1Transport {
	dial := p.dial
	if tc != nil {
		dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
			return p.dialTLS(ctx, network, addr, tc)
		}
	}
	return newH1Transport(dial, tc != nil, p.newTransport(tc, false))
}

// newTransport makes an http.Transport to endpoints: keep-alive pools as nginx's upstream
// keepalive (320 idle connections per endpoint, 60 s), no compression of its own, HTTP/1.1
// unless h2 (cleartext when tc is nil). Plain HTTP/1.1 requests go to an h1Transport, which
// uses one of these only for streamed request bodies.
func (p *Proxy) newTransport(tc *tls.Config, h2 bool) *http.Transport {
	t := &http.Transport{
		DialContext:         p.dial,
		MaxIdleConns:        0,
		MaxIdleConnsPerHost: upstreamKeepaliveConns,
		IdleConnTimeout:     upstreamKeepaliveTimeout,
		DisableCompression:  true,
		WriteBufferSize:     16 << 10,
		ReadBufferSize:      16 << 10,
	}
	t.Protocols = new(http.Protocols)
	switch {
	case tc == nil && h2:
		t.Protocols.SetUnencryptedHTTP2(true)
	case tc == nil:
		t.Protocols.SetHTTP1(true)
	default:
		t.DialTLSContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			return p.dialTLS(ctx, network, addr, tc)
		}
		if h2 {
			t.Protocols.SetHTTP2(true)
		} else {
			t.Protocols.SetHTTP1(true)
		}
	}
	return t
}

// dialError marks a failure to connect to an endpoint (nginx's "error" or "timeout" while
// connecting): the request was not sent, so it can always go to the next endpoint.
type dialError struct{ err error }

func (e *dialError) Error() string { return "connect to upstream: " + e.err.Error() }
func (e *dialError) Unwrap() error { return e.err }
func (e *dialError) Timeout() bool {
	var ne net.Error
	return errors.As(e.err, &ne) && ne.Timeout() || errors.Is(e.err, context.DeadlineExceeded)
}

// dial connects to an endpoint within the connect timeout of the request's route.
func (p *Proxy) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	d := net.Dialer{Timeout: connectTimeout(ctx), KeepAlive: 30 * time.Second}
	c, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, &dialError{err}
	}
	return c, nil
}

// dialTLS connects and completes the TLS handshake within the connect timeout, as nginx's
// proxy_connect_timeout covers the handshake too.
func (p *Proxy) dialTLS(ctx context.Context, network, addr string, tc *tls.Config) (net.Conn, error) {
	timeout := connectTimeout(ctx)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	d := net.Dialer{KeepAlive: 30 * time.Second}
	c, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, &dialError{err}
	}
	cfg := tc
	if !tc.InsecureSkipVerify && tc.ServerName == "" {
		// Verify the endpoint's certificate against its IP address.
		cfg = tc.Clone()
		if host, _, err := net.SplitHostPort(addr); err == nil {
			cfg.ServerName = host
		}
	}
	conn := tls.Client(c, cfg)
	if err := conn.HandshakeContext(ctx); err != nil {
		c.Close()
		return nil, &dialError{fmt.Errorf("TLS handshake with %s: %w", addr, err)}
	}
	return conn, nil
}

func connectTimeout(ctx context.Context) time.Duration {
	if rq := requestFrom(ctx); rq != nil && rq.rt != nil {
		return rq.rt.timeouts.Connect
	}
	return defaultConnectTimeout
}

// upstream returns the state's view of an upstream, or nil.
func (st *state) upstream(name string) *upstreamView {
	return st.upstreams[name]
}

// clientAddr parses a RemoteAddr ("1.2.3.4:5678").
func clientAddr(s string) netip.AddrPort {
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		if a, err := netip.ParseAddr(s); err == nil {
			return netip.AddrPortFrom(a, 0)
		}
	}
	return ap
}
