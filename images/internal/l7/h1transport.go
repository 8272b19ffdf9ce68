package l7

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The keep-alive pool of the HTTP/1.1 upstream transport, as ingress-nginx configures nginx's
// upstream keepalive.
const (
	// upstreamKeepaliveConns is how many idle connections are kept per endpoint
	// (upstream-keepalive-connections).
	upstreamKeepaliveConns = 320
	// upstreamKeepaliveTimeout closes connections idle for longer
	// (upstream-keepalive-timeout).
	upstreamKeepaliveTimeout = 60 * time.Second
	// staleCheckAfter is how long a connection may sit idle before it is checked (a
	// non-blocking peek) when it is taken again: backends close idle connections on their
	// own (Node.js after 5 s), and a request sent on such a connection fails.
	staleCheckAfter = time.Second
	// maxResponseHeadBytes bounds the status line and headers of a response; more is an
	// invalid header, as nginx's "upstream sent too big header" (nginx stops at
	// proxy_buffer_size, 4 KiB by default; this is lenient).
	maxResponseHeadBytes = 1 << 20
	// max1xxResponses bounds the informational responses before the final one, as
	// http.Transport does.
	max1xxResponses = 5
	// sendChunkBytes is how much of a request body is written per send deadline: the send
	// timeout is the longest wait between two writes, not the time to send the whole body.
	sendChunkBytes = 64 << 10
	// earlyResponseWait is how long a failed write waits for the answer the endpoint may
	// already have sent (a 413 or 401 before it read the body) before giving up.
	earlyResponseWait = 100 * time.Millisecond
	// h1BufferBytes is the size of each connection's read and write buffers.
	h1BufferBytes = 16 << 10
)

// aLongTimeAgo is a deadline in the past: setting it makes blocked reads and writes return.
var aLongTimeAgo = time.Unix(1, 0)

// errHeadTooLarge ends a response head longer than maxResponseHeadBytes.
var errHeadTooLarge = errors.New("response head larger than 1 MiB")

// h1Transport speaks HTTP/1.1 (over TCP or TLS) to endpoints. Unlike http.Transport, whose
// every request crosses from the caller's goroutine to a connection's write goroutine and
// back from its read goroutine, it makes the whole exchange in the calling goroutine: take an
// idle connection of the endpoint (or dial one), write the request head and body with one
// flush, read the response head, and hand back a body that returns the connection to the
// pool when it is read to its end. That is what nginx does with its upstream keepalive, and
// it saves two goroutine hand-offs (scheduler work and futex wake-ups) per request.
//
// It takes its timeouts from the request's route (requestFrom the context): connect (by the
// dial function), send and read as deadlines on the connection, BackendRequest as a deadline
// for the whole attempt; the end of the request's context (client gone, Request timeout)
// aborts the exchange. A request whose body is not in memory (a streamed upload larger than
// the proxy's body buffer) goes to fallback, an http.Transport, which sends and receives at
// the same time.
type h1Transport struct {
	// dial connects to an endpoint ("ip:port") within the request's connect timeout; for
	// HTTPS it also makes the TLS handshake. Its errors are *dialError.
	dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// tls tells the liveness check that bytes waiting on an idle connection may be TLS
	// records (session tickets) rather than a broken response.
	tls bool
	// fallback serves requests whose body is streamed.
	fallback *http.Transport

	maxIdle     int
	idleTimeout time.Duration
	staleAfter  time.Duration

	// mu guards everything below.
	mu    sync.Mutex
	pools map[string]*h1Pool
	// reaper closes connections idle for idleTimeout; armed while any connection is idle.
	reaper      *time.Timer
	reaperArmed bool
	closed      bool
}

// h1Pool is the idle connections of one endpoint, the most recently used last.
type h1Pool struct {
	addr string
	idle []*h1Conn
	// gone is set when the endpoint left the configuration: connections that come back are
	// closed.
	gone bool
}

// newH1Transport makes an HTTP/1.1 transport with nginx's upstream keepalive settings.
func newH1Transport(dial func(ctx context.Context, network, addr string) (net.Conn, error), isTLS bool, fallback *http.Transport) *h1Transport {
	return &h1Transport{
		dial:        dial,
		tls:         isTLS,
		fallback:    fallback,
		maxIdle:     upstreamKeepaliveConns,
		idleTimeout: upstreamKeepaliveTimeout,
		staleAfter:  staleCheckAfter,
		pools:       map[string]*h1Pool{},
	}
}

// memBody is a request body held in memory. The HTTP/1.1 transport writes its bytes right
// after the request head, in the same write, and again when it retries on another
// connection; other transports read it as any body.
type memBody struct {
	bytes.Reader
	buf []byte
}

func newMemBody(b []byte) *memBody {
	m := &memBody{buf: b}
	m.Reset(b)
	return m
}

func (*memBody) Close() error { return nil }

// RoundTrip sends req to the endpoint req.URL.Host names and returns its response. A failure
// on a connection taken from the pool that shows the endpoint had closed it (nothing could
// be written, or the connection ended before any byte of a response) is retried once on a
// new connection, when the request may be sent twice (not POST, LOCK or PATCH, as nginx's
// non_idempotent) or was not sent at all; the caller sees one attempt.
func (t *h1Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	switch b := req.Body.(type) {
	case nil:
	case *memBody:
		body = b.buf
	default:
		if req.Body != http.NoBody {
			return t.fallback.RoundTrip(req)
		}
	}
	head, err := checkRequest(req)
	if err != nil {
		return nil, err
	}
	ctx := req.Context()
	to := timeoutsFrom(ctx, time.Now())
	addr := req.URL.Host
	idempotent := resendable(req.Method)
	for fresh := false; ; fresh = true {
		// A request that cannot be sent twice checks every idle connection before using it.
		c, err := t.get(ctx, addr, fresh, !idempotent)
		if err != nil {
			return nil, err
		}
		resp, err := c.roundTrip(req, head, body, &to)
		if err == nil {
			return resp, nil
		}
		var he *h1Error
		if fresh || !c.reused || ctx.Err() != nil || !errors.As(err, &he) || !(he.nothingWritten || he.noResponse && idempotent) {
			return nil, err
		}
	}
}

// resendable reports whether a request with this method may reach an endpoint twice: all
// but nginx's non-idempotent methods.
func resendable(method string) bool {
	switch method {
	case http.MethodPost, "LOCK", http.MethodPatch:
		return false
	}
	return true
}

// exchangeTimeouts are the deadlines of one attempt.
type exchangeTimeouts struct {
	// read and send are the longest waits between two reads and two writes.
	read, send time.Duration
	// end bounds the whole attempt (the route's BackendRequest timeout); zero: no bound.
	end time.Time
}

// timeoutsFrom returns the timeouts of the route of the request in ctx, or the defaults
// (mirrors carry no request).
func timeoutsFrom(ctx context.Context, start time.Time) exchangeTimeouts {
	to := exchangeTimeouts{read: defaultReadTimeout, send: defaultSendTimeout}
	if rq := requestFrom(ctx); rq != nil && rq.rt != nil {
		to.read, to.send = rq.rt.timeouts.Read, rq.rt.timeouts.Send
		if d := rq.rt.r.Timeouts.BackendRequest; d > 0 {
			to.end = start.Add(d)
		}
	}
	return to
}

// deadline is now+d, or the end of the attempt if that comes first.
func (to *exchangeTimeouts) deadline(now time.Time, d time.Duration) time.Time {
	t := now.Add(d)
	if !to.end.IsZero() && to.end.Before(t) {
		return to.end
	}
	return t
}

// get returns an idle connection to addr, checked if it sat idle for staleAfter or if check
// is set, or a new one when there is none or fresh is set.
func (t *h1Transport) get(ctx context.Context, addr string, fresh, check bool) (*h1Conn, error) {
	var now time.Time
	for {
		t.mu.Lock()
		p := t.pools[addr]
		if p == nil {
			p = &h1Pool{addr: addr}
			t.pools[addr] = p
		}
		var c *h1Conn
		if n := len(p.idle); n > 0 && !fresh {
			c = p.idle[n-1]
			p.idle[n-1] = nil
			p.idle = p.idle[:n-1]
		}
		t.mu.Unlock()
		if c == nil {
			conn, err := t.dial(ctx, "tcp", addr)
			if err != nil {
				return nil, err
			}
			return t.newConn(p, conn), nil
		}
		if now.IsZero() {
			now = time.Now()
		}
		if (check || now.Sub(c.idleSince) >= t.staleAfter) && !c.alive() {
			c.conn.Close()
			continue
		}
		c.reused = true
		return c, nil
	}
}

// put makes c idle in its pool, or closes it when the pool is full, its endpoint gone or the
// transport closed.
func (t *h1Transport) put(c *h1Conn) {
	t.mu.Lock()
	p := c.pool
	if t.closed || p.gone || len(p.idle) >= t.maxIdle {
		t.mu.Unlock()
		c.conn.Close()
		return
	}
	c.idleSince = time.Now()
	p.idle = append(p.idle, c)
	if !t.reaperArmed {
		t.reaperArmed = true
		if t.reaper == nil {
			t.reaper = time.AfterFunc(t.idleTimeout, t.reap)
		} else {
			t.reaper.Reset(t.idleTimeout)
		}
	}
	t.mu.Unlock()
}

// reap closes the connections idle for idleTimeout and arms itself for the next one to
// expire. Pools are ordered by idleSince, oldest first.
func (t *h1Transport) reap() {
	now := time.Now()
	var expired []*h1Conn
	var next time.Duration
	t.mu.Lock()
	for _, p := range t.pools {
		i := 0
		for i < len(p.idle) && now.Sub(p.idle[i].idleSince) >= t.idleTimeout {
			i++
		}
		expired = append(expired, p.idle[:i]...)
		p.idle = slices.Delete(p.idle, 0, i)
		if len(p.idle) > 0 {
			if wait := t.idleTimeout - now.Sub(p.idle[0].idleSince); next == 0 || wait < next {
				next = wait
			}
		}
	}
	t.reaperArmed = next > 0 && !t.closed
	if t.reaperArmed {
		t.reaper.Reset(next)
	}
	t.mu.Unlock()
	for _, c := range expired {
		c.conn.Close()
	}
}

// CloseIdleConnections closes the idle connections; those in use are pooled again
// afterwards, as with http.Transport.
func (t *h1Transport) CloseIdleConnections() {
	t.closeIdle(func(*h1Pool) bool { return true })
	t.fallback.CloseIdleConnections()
}

// retain forgets the pools of endpoints not in live (they left the configuration): their
// idle connections are closed now, those in use when their response ends.
func (t *h1Transport) retain(live map[string]bool) {
	t.closeIdle(func(p *h1Pool) bool { return !live[p.addr] })
}

// close closes the idle connections and makes the transport close every connection given
// back afterwards (Proxy.Shutdown).
func (t *h1Transport) close() {
	t.mu.Lock()
	t.closed = true
	if t.reaper != nil {
		t.reaper.Stop()
	}
	t.mu.Unlock()
	t.CloseIdleConnections()
}

// closeIdle closes the idle connections of the pools for which drop returns true and
// forgets those pools.
func (t *h1Transport) closeIdle(drop func(*h1Pool) bool) {
	var conns []*h1Conn
	t.mu.Lock()
	for addr, p := range t.pools {
		if drop(p) {
			conns = append(conns, p.idle...)
			p.idle = nil
			p.gone = true
			delete(t.pools, addr)
		}
	}
	t.mu.Unlock()
	for _, c := range conns {
		c.conn.Close()
	}
}

// h1Conn is a connection to an endpoint with its buffers. One request uses it at a time;
// the fields below the buffers belong to that request's exchange.
type h1Conn struct {
	t    *h1Transport
	pool *h1Pool
	conn net.Conn
	// raw is the TCP connection under TLS, for the liveness check.
	raw net.Conn
	br  *bufio.Reader
	bw  *bufio.Writer

	idleSince time.Time
	reused    bool

	// stop unregisters abort from the request's context; nil when that context cannot end.
	// cause is the context's cause once aborted is set.
	stop    func() bool
	aborted atomic.Bool
	cause   error
	// written counts the bytes the connection accepted in this exchange; headLeft is what a
	// response head may still read (-1 outside of one); readErr is the connection's first
	// read error, which tells I/O failures from malformed responses.
	written  int64
	headLeft int64
	readErr  error
}

func (t *h1Transport) newConn(p *h1Pool, conn net.Conn) *h1Conn {
	c := &h1Conn{t: t, pool: p, conn: conn, raw: conn, headLeft: -1}
	if tc, ok := conn.(*tls.Conn); ok {
		c.raw = tc.NetConn()
	}
	c.br = bufio.NewReaderSize(c, h1BufferBytes)
	c.bw = bufio.NewWriterSize(c, h1BufferBytes)
	return c
}

// Read is what the connection's bufio.Reader reads from: it bounds response heads and keeps
// the first error.
func (c *h1Conn) Read(p []byte) (int, error) {
	if c.headLeft >= 0 {
		if c.headLeft == 0 {
			return 0, errHeadTooLarge
		}
		if int64(len(p)) > c.headLeft {
			p = p[:c.headLeft]
		}
	}
	n, err := c.conn.Read(p)
	if c.headLeft >= 0 {
		c.headLeft -= int64(n)
	}
	if err != nil && c.readErr == nil {
		c.readErr = err
	}
	return n, err
}

// Write is what the connection's bufio.Writer writes to: it counts what was written.
func (c *h1Conn) Write(p []byte) (int, error) {
	n, err := c.conn.Write(p)
	c.written += int64(n)
	return n, err
}

// abort ends the exchange when the request's context ends: blocked reads and writes return
// at once.
func (c *h1Conn) abort(ctx context.Context) {
	c.cause = context.Cause(ctx)
	c.aborted.Store(true)
	_ = c.conn.SetDeadline(aLongTimeAgo)
}

// h1Error is a failed exchange on a connection.
type h1Error struct {
	op   string // what was being done: "write request to", "read response from" …
	addr string
	err  error
	// nothingWritten: the endpoint got no byte of the request. noResponse: the connection
	// ended (not timed out) before any byte of a response. invalid: the endpoint's answer is
	// not HTTP/1.x (nginx's invalid_header).
	nothingWritten, noResponse, invalid bool
}

func (e *h1Error) Error() string { return e.op + " " + e.addr + ": " + e.err.Error() }
func (e *h1Error) Unwrap() error { return e.err }

// fail describes a failed exchange: the end of the request's context as its cause, a
// deadline as a timeout.
func (c *h1Conn) fail(op string, err error) *h1Error {
	switch {
	case c.aborted.Load():
		err = c.cause
	case errors.Is(err, os.ErrDeadlineExceeded):
		err = errTimeout
	}
	return &h1Error{op: op, addr: c.pool.addr, err: err}
}

// roundTrip makes one exchange on c. On error the connection is closed.
func (c *h1Conn) roundTrip(req *http.Request, head requestHead, body []byte, to *exchangeTimeouts) (*http.Response, error) {
	ctx := req.Context()
	c.aborted.Store(false)
	c.cause = nil
	if ctx.Done() != nil {
		c.stop = context.AfterFunc(ctx, func() { c.abort(ctx) })
	}
	c.written = 0

	keep := !req.Close
	werr := c.writeRequest(req, head, body, to)
	if werr != nil {
		if werr.err == errTimeout || c.aborted.Load() {
			c.release(false)
			return nil, werr
		}
		// The endpoint may have answered before reading the whole request (and closed):
		// that answer is the response, as with http.Transport.
		keep = false
		_ = c.conn.SetReadDeadline(to.deadline(time.Now(), earlyResponseWait))
		if _, err := c.br.Peek(1); err != nil {
			c.release(false)
			return nil, werr
		}
	} else if err := c.conn.SetReadDeadline(to.deadline(time.Now(), to.read)); err != nil {
		c.release(false)
		return nil, c.fail("read response from", err)
	}

	resp, rerr := c.readResponse(req)
	if rerr != nil {
		c.release(false)
		if werr != nil {
			return nil, werr
		}
		return nil, rerr
	}
	if resp.StatusCode == http.StatusSwitchingProtocols {
		// The connection now belongs to the upgraded protocol; the request's end no longer
		// aborts it (ReverseProxy closes it then).
		if c.stop != nil && !c.stop() {
			c.conn.Close()
			return nil, c.fail("switch protocols with", context.Canceled)
		}
		c.stop = nil
		_ = c.conn.SetDeadline(time.Time{})
		resp.Body = &h1Upgraded{c: c}
		return resp, nil
	}
	keep = keep && !resp.Close
	if resp.Body == http.NoBody {
		c.release(keep)
		return resp, nil
	}
	resp.Body = &h1Body{c: c, body: resp.Body, to: *to, keep: keep, sized: resp.ContentLength >= 0}
	return resp, nil
}

// writeRequest writes the request head and body and flushes them, the body in pieces of
// sendChunkBytes, each within the send timeout.
func (c *h1Conn) writeRequest(req *http.Request, head requestHead, body []byte, to *exchangeTimeouts) *h1Error {
	if err := c.conn.SetWriteDeadline(to.deadline(time.Now(), to.send)); err != nil {
		return c.fail("write request to", err)
	}
	if err := writeRequestHead(c.bw, req, head, len(body)); err != nil {
		e := c.fail("write request to", err)
		e.nothingWritten = c.written == 0
		return e
	}
	for len(body) > 0 {
		n := min(len(body), sendChunkBytes)
		if _, err := c.bw.Write(body[:n]); err != nil {
			e := c.fail("write request body to", err)
			e.nothingWritten = c.written == 0
			return e
		}
		body = body[n:]
		if len(body) > 0 {
			if err := c.conn.SetWriteDeadline(to.deadline(time.Now(), to.send)); err != nil {
				return c.fail("write request body to", err)
			}
		}
	}
	if err := c.bw.Flush(); err != nil {
		e := c.fail("write request to", err)
		e.nothingWritten = c.written == 0
		return e
	}
	return nil
}

// readResponse reads the response head, passing informational (1xx) responses but 101 to the
// request's httptrace.ClientTrace (ReverseProxy sends them on to the client).
func (c *h1Conn) readResponse(req *http.Request) (*http.Response, *h1Error) {
	c.headLeft = maxResponseHeadBytes
	defer func() { c.headLeft = -1 }()
	if _, err := c.br.Peek(1); err != nil {
		e := c.fail("read response from", err)
		e.noResponse = e.err != errTimeout && !c.aborted.Load()
		return nil, e
	}
	for n1xx := 0; ; {
		resp, err := http.ReadResponse(c.br, req)
		if err != nil {
			e := c.fail("read response from", err)
			// Without an error of the connection, the bytes themselves were wrong.
			e.invalid = c.readErr == nil || errors.Is(err, errHeadTooLarge)
			return nil, e
		}
		code := resp.StatusCode
		if code < 100 || code > 199 || code == http.StatusSwitchingProtocols {
			return resp, nil
		}
		if n1xx++; n1xx > max1xxResponses {
			e := c.fail("read response from", errors.New("too many 1xx informational responses"))
			e.invalid = true
			return nil, e
		}
		if trace := httptrace.ContextClientTrace(req.Context()); trace != nil && trace.Got1xxResponse != nil {
			if err := trace.Got1xxResponse(code, textproto.MIMEHeader(resp.Header)); err != nil {
				return nil, c.fail("pass on an informational response from", err)
			}
		}
	}
}

// release ends the exchange: the connection goes back to its pool if keep is set, the
// request's context did not abort it and nothing unexpected follows the response; else it is
// closed.
func (c *h1Conn) release(keep bool) {
	if c.stop != nil && !c.stop() {
		// abort ran or is running: its past deadline may land after the connection is pooled.
		keep = false
	}
	c.stop = nil
	if keep && c.br.Buffered() == 0 && c.readErr == nil {
		c.t.put(c)
		return
	}
	c.conn.Close()
}

// The states of an h1Body.
const (
	bodyOpen   int32 = iota
	bodyDone         // read to its end or failed; the connection was released
	bodyClosed       // closed before its end; the connection was closed
)

// h1Body is a response body on a pooled connection. Read applies the read timeout; the end of
// the body gives the connection back, Close before the end closes it (the rest of the body
// would have to be read first).
type h1Body struct {
	c     *h1Conn
	body  io.ReadCloser
	to    exchangeTimeouts
	keep  bool
	sized bool // a Content-Length body: a read that finds buffered bytes does not block
	state atomic.Int32
}

var errBodyClosed = errors.New("read on a closed response body")

func (b *h1Body) Read(p []byte) (int, error) {
	switch b.state.Load() {
	case bodyDone:
		return 0, io.EOF
	case bodyClosed:
		return 0, errBodyClosed
	}
	c := b.c
	if !b.sized || c.br.Buffered() == 0 {
		if err := c.conn.SetReadDeadline(b.to.deadline(time.Now(), b.to.read)); err != nil {
			b.finish(false)
			return 0, c.fail("read response body from", err)
		}
	}
	n, err := b.body.Read(p)
	switch {
	case err == io.EOF:
		b.finish(b.keep)
	case err != nil:
		err = c.fail("read response body from", err)
		b.finish(false)
	}
	return n, err
}

// finish releases the connection once, unless Close got there first.
func (b *h1Body) finish(keep bool) {
	if b.state.CompareAndSwap(bodyOpen, bodyDone) {
		b.c.release(keep)
	}
}

// Close closes the connection unless the body was read to its end. It may be called while a
// Read is blocked, which then fails.
func (b *h1Body) Close() error {
	if b.state.CompareAndSwap(bodyOpen, bodyClosed) {
		b.c.release(false)
	}
	return nil
}

// h1Upgraded is the connection of a 101 response, as ReverseProxy wants it: reads see what
// followed the response head first.
type h1Upgraded struct{ c *h1Conn }

func (u *h1Upgraded) Read(p []byte) (int, error)  { return u.c.br.Read(p) }
func (u *h1Upgraded) Write(p []byte) (int, error) { return u.c.conn.Write(p) }
func (u *h1Upgraded) Close() error                { return u.c.conn.Close() }

// requestHead is what checkRequest worked out of a request for its head.
type requestHead struct {
	method, uri, host string
}

// checkRequest works out the request line and Host as net/http's Request.Write does (an
// invalid Host is sent empty, an IPv6 zone is dropped) and checks the method, URI and
// header fields as http.Transport does, so that nothing can start a header or request of its
// own.
func checkRequest(req *http.Request) (requestHead, error) {
	h := requestHead{method: req.Method, host: req.Host}
	if h.method == "" {
		h.method = http.MethodGet
	}
	if h.host == "" {
		h.host = req.URL.Host
	}
	if !validHost(h.host) {
		h.host = ""
	}
	h.host = removeZone(h.host)
	h.uri = req.URL.RequestURI()
	if h.method == http.MethodConnect && req.URL.Path == "" {
		h.uri = h.host
		if req.URL.Opaque != "" {
			h.uri = req.URL.Opaque
		}
	}
	if hasCTL(h.uri) {
		return h, errors.New("upstream request: the URI contains a control character")
	}
	if !validToken(h.method) {
		return h, errors.New("upstream request: invalid method " + strconv.Quote(h.method))
	}
	for k, vs := range req.Header {
		if !validToken(k) {
			return h, errors.New("upstream request: invalid header field name " + strconv.Quote(k))
		}
		for _, v := range vs {
			if !validHeaderValue(v) {
				return h, errors.New("upstream request: invalid value of header field " + strconv.Quote(k))
			}
		}
	}
	return h, nil
}

// writeRequestHead writes the request line and headers as Request.Write does for a body of
// bodyLen bytes held in memory (so: a Content-Length, never chunked), without its fmt calls
// and without sorting the header fields. A User-Agent header that is present but empty is not
// sent; none at all sends Go's. checkRequest has made sure no value holds a line break.
func writeRequestHead(w *bufio.Writer, req *http.Request, h requestHead, bodyLen int) error {
	w.WriteString(h.method)
	w.WriteByte(' ')
	w.WriteString(h.uri)
	w.WriteString(" HTTP/1.1\r\nHost: ")
	w.WriteString(h.host)
	w.WriteString("\r\n")
	if ua, ok := req.Header["User-Agent"]; !ok {
		w.WriteString("User-Agent: Go-http-client/1.1\r\n")
	} else if len(ua) > 0 && ua[0] != "" {
		w.WriteString("User-Agent: ")
		w.WriteString(textproto.TrimString(ua[0]))
		w.WriteString("\r\n")
	}
	if req.Close {
		w.WriteString("Connection: close\r\n")
	}
	if sendContentLength(h.method, bodyLen) {
		var num [20]byte
		w.WriteString("Content-Length: ")
		w.Write(strconv.AppendInt(num[:0], int64(bodyLen), 10))
		w.WriteString("\r\n")
	}
	for k, vs := range req.Header {
		switch k {
		case "Host", "User-Agent", "Content-Length", "Transfer-Encoding", "Trailer":
			// Written above from the request's fields, or not at all.
			continue
		}
		for _, v := range vs {
			w.WriteString(k)
			w.WriteString(": ")
			w.WriteString(textproto.TrimString(v))
			w.WriteString("\r\n")
		}
	}
	_, err := w.WriteString("\r\n")
	return err
}

// sendContentLength reports whether a request with a body of n bytes carries a
// Content-Length, as net/http decides: always with a body, and for an empty one unless the
// method is GET or HEAD (servers expect one for POST, PUT, PATCH).
func sendContentLength(method string, n int) bool {
	return n > 0 || method != http.MethodGet && method != http.MethodHead
}

// byteClass marks the bytes allowed in tokens and in hosts.
var byteClass = func() (t [256]uint8) {
	for c := range 256 {
		alnum := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
		if alnum || strings.IndexByte("!#$%&'*+-.^_`|~", byte(c)) >= 0 {
			t[c] |= tokenByte
		}
		if alnum || strings.IndexByte("!$%&'()*+,-.:;=[]_~", byte(c)) >= 0 {
			t[c] |= hostByte
		}
	}
	return t
}()

const (
	tokenByte = 1 << iota
	hostByte
)

// validToken reports whether s is an HTTP token (a method or a header name, RFC 9110 5.6.2).
func validToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if byteClass[s[i]]&tokenByte == 0 {
			return false
		}
	}
	return true
}

// validHeaderValue reports whether v holds no control character but tab (newlines would
// start a header of their own).
func validHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// validHost reports whether h holds only bytes that may appear in a host and port (the
// lenient check of net/http, which keeps headers from being smuggled through Host).
func validHost(h string) bool {
	for i := 0; i < len(h); i++ {
		if byteClass[h[i]]&hostByte == 0 {
			return false
		}
	}
	return true
}

// hasCTL reports whether s holds a control byte.
func hasCTL(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' || s[i] == 0x7f {
			return true
		}
	}
	return false
}

// removeZone drops the zone of an IPv6 literal host ("[fe80::1%en0]:80"), as RFC 6874 asks
// of a client.
func removeZone(host string) string {
	if len(host) == 0 || host[0] != '[' {
		return host
	}
	i := strings.LastIndexByte(host, ']')
	if i < 0 {
		return host
	}
	j := strings.LastIndexByte(host[:i], '%')
	if j < 0 {
		return host
	}
	return host[:j] + host[i:]
}
