package l7

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// errBodyTooLarge ends a request body that grew past the route's MaxBodyBytes.
var errBodyTooLarge = errors.New("request body larger than the route allows")

// body is a request body as the upstream attempts get it: fully buffered (and then
// replayable), or a buffered prefix followed by the rest of the client's stream.
type body struct {
	present  bool
	buf      []byte
	full     bool // buf is the whole body
	rest     io.Reader
	started  bool // the stream has been handed to an attempt
	tooLarge atomic.Bool
	read     int64 // bytes read from the client
	limit    int64
}

// proxy sends the request to the route's backends.
func (rq *request) proxy() {
	rt := rq.rt
	route := rt.r
	wb := rq.chooseBackend()
	if wb.Canary && wb.Upstream != rt.primary {
		rq.entry.AlternativeUpstreamName = wb.Upstream
	} else {
		rq.entry.UpstreamName = wb.Upstream
	}
	if wb.Status != 0 {
		// A backend that stands for an invalid reference answers for its share.
		rq.generate(wb.Status)
		return
	}
	rq.backend = wb
	up := rq.st.upstreams[wb.Upstream]
	if up == nil || len(up.eps) == 0 {
		rq.generate(http.StatusServiceUnavailable)
		return
	}
	rq.up = up
	if route.Affinity != nil {
		if c, err := rq.r.Cookie(affinityCookieName(route.Affinity)); err == nil {
			rq.affinityKey, _, _ = strings.Cut(c.Value, "|")
		}
	}
	if err := rq.readBody(); err != nil {
		switch {
		case rq.body.tooLarge.Load():
			rq.generate(http.StatusRequestEntityTooLarge)
		case rq.r.Context().Err() != nil:
			// The client went away: nothing to answer, nginx logs 499.
			rq.w.status = 499
		default:
			// The client's body broke off.
			rq.generate(http.StatusBadRequest)
		}
		return
	}
	rq.startMirrors()
	if d := route.Timeouts.Request; d > 0 {
		ctx, cancel := context.WithTimeoutCause(rq.ctx, d, errTimeout)
		defer cancel()
		rq.ctx = ctx
	}
	in := rq.r.WithContext(rq.ctx)
	in.Body, in.ContentLength = http.NoBody, 0
	if route.DisableUpgrade {
		in.Header.Del("Upgrade")
	}
	// Without response buffering (ingress-nginx's default proxy-buffering off) every chunk
	// the backend sends is flushed to the client at once. The writer flushes, not
	// ReverseProxy: its flush interval would also flush the headers of an empty response,
	// and a gRPC "trailers-only" answer must leave in one HEADERS frame.
	rq.w.flushEach = !route.ResponseBuffering
	rq.p.rp.ServeHTTP(rq.w, in)
}

// chooseBackend picks one of the route's backends by weight, or the one the client's
// affinity cookie names (ingress-nginx keeps an affinitized client on the canary).
func (rq *request) chooseBackend() *WeightedBackend {
	rt := rq.rt
	bs := rt.r.Backends
	if len(bs) == 1 {
		return &bs[0]
	}
	if aff := rt.r.Affinity; aff != nil {
		if c, err := rq.r.Cookie(affinityCookieName(aff)); err == nil {
			if _, key, ok := strings.Cut(c.Value, "|"); ok {
				for i := range bs {
					if up := rq.st.upstreams[bs[i].Upstream]; up != nil && up.backendKey == key {
						return &bs[i]
					}
				}
			}
		}
	}
	if rt.totalWeight == 0 {
		return &bs[rand.IntN(len(bs))]
	}
	n := rand.IntN(rt.totalWeight)
	for i := range bs {
		if bs[i].Weight <= 0 {
			continue
		}
		if n < bs[i].Weight {
			return &bs[i]
		}
		n -= bs[i].Weight
	}
	return &bs[len(bs)-1]
}

// readBody buffers the request body as nginx's request buffering does, up to the proxy's
// buffer size, enforcing MaxBodyBytes; a longer body is streamed after the buffered part.
func (rq *request) readBody() error {
	r := rq.r
	b := &rq.body
	b.limit = rq.rt.r.MaxBodyBytes
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
		return nil
	}
	b.present = true
	capacity := rq.p.opts.BodyBufferBytes
	if b.limit > 0 && b.limit < capacity {
		capacity = b.limit
	}
	if r.ContentLength > 0 && r.ContentLength <= capacity {
		b.buf = make([]byte, 0, r.ContentLength)
	}
	buf := bytes.NewBuffer(b.buf)
	n, err := buf.ReadFrom(io.LimitReader(r.Body, capacity+1))
	b.read = n
	b.buf = buf.Bytes()
	if err != nil {
		return err
	}
	if int64(len(b.buf)) <= capacity {
		b.full = true
		return nil
	}
	if b.limit > 0 && int64(len(b.buf)) > b.limit {
		b.tooLarge.Store(true)
		return errBodyTooLarge
	}
	b.rest = &countingReader{r: r.Body, b: b}
	return nil
}

// countingReader reads the rest of a streamed body, counting it against the limit.
type countingReader struct {
	r io.Reader
	b *body
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.b.read += int64(n)
	if c.b.limit > 0 && c.b.read > c.b.limit {
		c.b.tooLarge.Store(true)
		return n, errBodyTooLarge
	}
	return n, err
}

// replayable reports whether another attempt can send the body again.
func (b *body) replayable() bool { return !b.present || b.full || !b.started }

// inMemory reports whether the whole body (if any) is in buf.
func (b *body) inMemory() bool { return !b.present || b.full }

// reader returns the body for an attempt and its length (-1 when unknown).
func (b *body) reader(clientLength int64) (io.ReadCloser, int64) {
	switch {
	case !b.present:
		return http.NoBody, 0
	case b.full:
		return io.NopCloser(bytes.NewReader(b.buf)), int64(len(b.buf))
	}
	b.started = true
	return io.NopCloser(io.MultiReader(bytes.NewReader(b.buf), b.rest)), clientLength
}

// newReverseProxy builds the httputil.ReverseProxy that copies responses to clients (it deals
// with 1xx, upgrades, trailers and flushing); the request's own logic runs in its hooks.
func (p *Proxy) newReverseProxy() *httputil.ReverseProxy {
	return &httputil.ReverseProxy{
		Rewrite:        func(pr *httputil.ProxyRequest) { requestFrom(pr.In.Context()).outgoing(pr.Out, pr.In) },
		Transport:      roundTripper{},
		BufferPool:     copyBuffers,
		ModifyResponse: func(resp *http.Response) error { return requestFrom(resp.Request.Context()).response(resp) },
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			requestFrom(r.Context()).failed(err)
		},
		ErrorLog: log.New(logWriter{p, "component", "reverse proxy"}, "", 0),
	}
}

// copyBufferBytes is the size of the buffers responses are copied with.
const copyBufferBytes = 32 << 10

// bufferPool recycles the buffers responses are copied with. It keeps pointers to arrays,
// which a sync.Pool holds without an allocation (a pointer to a slice would need one per Put).
type bufferPool struct{ pool sync.Pool }

func (b *bufferPool) Get() []byte {
	if v := b.pool.Get(); v != nil {
		return v.(*[copyBufferBytes]byte)[:]
	}
	return make([]byte, copyBufferBytes)
}

func (b *bufferPool) Put(buf []byte) {
	if cap(buf) >= copyBufferBytes {
		b.pool.Put((*[copyBufferBytes]byte)(buf[:copyBufferBytes]))
	}
}

var copyBuffers = &bufferPool{}

// hopHeaders are the headers of one connection, not passed on (RFC 9110 7.6.1).
var hopHeaders = []string{
	"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
	"Te", "Trailer", "Transfer-Encoding", "Upgrade",
}

func isHopHeader(k string) bool { return slices.Contains(hopHeaders, k) }

// outgoing sets the request line and headers sent to the backend as ingress-nginx's
// nginx.tmpl does (proxy_set_header …). ReverseProxy has already removed the hop-by-hop and
// X-Forwarded-* headers, which are all set again here.
func (rq *request) outgoing(out, in *http.Request) {
	route := rq.rt.r
	fw := &rq.st.cfg.Forwarding
	out.URL.Scheme = rq.up.scheme
	out.URL.Host = "upstream"
	// ReverseProxy re-encodes queries with ";"; nginx passes the query as it came.
	out.URL.RawQuery = in.URL.RawQuery
	if rw := route.Rewrite; rw != nil {
		rq.rewrite(out.URL, rw)
	}
	h := out.Header
	switch {
	case route.UpstreamHost != "":
		out.Host = route.UpstreamHost
	case route.Rewrite != nil && route.Rewrite.Hostname != "":
		out.Host = route.Rewrite.Hostname
	default:
		out.Host = rq.bestHost
	}
	if fw.Envoy {
		rq.envoyHeaders(h, in)
		applyHeaders(h, &route.RequestHeaders)
		if rq.backend != nil {
			applyHeaders(h, &rq.backend.RequestHeaders)
		}
		return
	}
	// The keys below are in canonical form and set directly; their values share one array.
	hs := headerSetter{h: h, vals: make([]string, 0, 11)}
	if rq.reqID != "" {
		hs.set("X-Request-Id", rq.reqID)
	} else {
		delete(h, "X-Request-Id")
	}
	client := rq.clientString()
	hs.set("X-Real-Ip", client)
	forHeader := fw.ForwardedForHeader
	if forHeader == "" {
		forHeader = "X-Forwarded-For"
	}
	original := strings.Join(in.Header.Values(forHeader), ", ")
	if fw.UseForwardedHeaders && fw.ComputeFullForwardedFor {
		peer := rq.peer.Addr().Unmap().String()
		if xff := strings.Join(in.Header.Values("X-Forwarded-For"), ", "); xff != "" {
			hs.set("X-Forwarded-For", xff+", "+peer)
		} else {
			hs.set("X-Forwarded-For", peer)
		}
	} else {
		hs.set("X-Forwarded-For", client)
	}
	hs.set("X-Forwarded-Host", rq.bestHost)
	hs.set("X-Forwarded-Port", rq.passPort)
	hs.set("X-Forwarded-Proto", rq.passScheme)
	hs.set("X-Forwarded-Scheme", rq.passScheme)
	if fw.AddOriginalURIHeader {
		hs.set("X-Original-Uri", in.RequestURI)
	}
	hs.set("X-Scheme", rq.passScheme)
	if original != "" {
		hs.set("X-Original-Forwarded-For", original)
	} else {
		delete(h, "X-Original-Forwarded-For")
	}
	// HTTPoxy, and the headers nginx's proxy module never passes.
	delete(h, "Proxy")
	delete(h, "Expect")
	// ReverseProxy drops Forwarded; nginx passes the client's.
	if v := in.Header.Values("Forwarded"); len(v) > 0 {
		h["Forwarded"] = v
	}
	if route.ForwardedPrefix != "" {
		hs.set("X-Forwarded-Prefix", route.ForwardedPrefix)
	}
	applyHeaders(h, &route.RequestHeaders)
	if rq.backend != nil {
		applyHeaders(h, &rq.backend.RequestHeaders)
	}
}

// envoyHeaders sets the headers an Istio gateway's Envoy sends to a backend
// (use_remote_address: true, no trusted hops): the client's X-Forwarded-For with the peer
// appended, X-Forwarded-Proto from the connection, the peer as X-Envoy-External-Address, and
// a new X-Request-Id. ReverseProxy has already dropped the client's X-Forwarded-* headers;
// the X-Envoy-* headers of an external client are not trusted and are removed.
func (rq *request) envoyHeaders(h http.Header, in *http.Request) {
	for k := range h {
		if strings.HasPrefix(k, "X-Envoy-") {
			delete(h, k)
		}
	}
	peer := rq.clientString()
	hs := headerSetter{h: h, vals: make([]string, 0, 5)}
	if xff := strings.Join(in.Header.Values("X-Forwarded-For"), ", "); xff != "" {
		hs.set("X-Forwarded-For", xff+", "+peer)
	} else {
		hs.set("X-Forwarded-For", peer)
	}
	hs.set("X-Forwarded-Proto", rq.scheme)
	hs.set("X-Envoy-External-Address", peer)
	hs.set("X-Request-Id", rq.reqID)
	hs.set("X-Envoy-Attempt-Count", "1")
	// ReverseProxy drops Forwarded; Envoy passes the client's.
	if v := in.Header.Values("Forwarded"); len(v) > 0 {
		h["Forwarded"] = v
	}
}

// headerSetter sets headers whose keys are already canonical, giving each value a
// one-element slice of a shared array (one allocation for all of them instead of one each).
type headerSetter struct {
	h    http.Header
	vals []string
}

func (s *headerSetter) set(key, value string) {
	s.vals = append(s.vals, value)
	n := len(s.vals)
	// The capacity is cut to 1 so that an Add to this header cannot overwrite the next one.
	s.h[key] = s.vals[n-1 : n : n]
}

// applyHeaders applies a HeaderModifier: Remove, then Set, then Add.
func applyHeaders(h http.Header, m *HeaderModifier) {
	for _, k := range m.Remove {
		h.Del(k)
	}
	for k, v := range m.Set {
		h.Set(k, v)
	}
	for k, v := range m.Add {
		h.Add(k, v)
	}
}

// rewrite changes the URL sent to the backend as the route's Rewrite says.
func (rq *request) rewrite(u *url.URL, rw *Rewrite) {
	var path, args string
	hasArgs := false
	switch {
	case rw.Regex != nil:
		m := rw.Regex.FindStringSubmatchIndex(rq.path)
		if m == nil {
			return
		}
		res := string(rw.Regex.ExpandString(nil, rw.Template, rq.path, m))
		if p, a, ok := strings.Cut(res, "?"); ok {
			path, hasArgs = p, true
			// nginx appends the request's own arguments unless the replacement ends with "?".
			switch {
			case a == "" || strings.HasSuffix(res, "?"):
				args = strings.TrimSuffix(a, "?")
			case u.RawQuery != "":
				args = a + "&" + u.RawQuery
			default:
				args = a
			}
		} else {
			path = res
		}
	case rw.FullPath != nil:
		path = *rw.FullPath
	case rw.PrefixReplace != nil:
		path = replacePrefix(rq.path, rq.rt.r, *rw.PrefixReplace)
	default:
		return
	}
	if path == "" || path[0] != '/' {
		path = "/" + path
	}
	u.Path = path
	u.RawPath = nginxEscapeURI(path)
	if u.RawPath == path {
		u.RawPath = ""
	}
	if hasArgs {
		u.RawQuery = args
	}
}

// nginxEscapeURI escapes a rewritten path as nginx does before sending it (NGX_ESCAPE_URI:
// space, "#", "%", "?", controls and bytes above 0x7e).
func nginxEscapeURI(s string) string {
	const hexDigits = "0123456789ABCDEF"
	n := 0
	for i := 0; i < len(s); i++ {
		if escapeURIByte(s[i]) {
			n++
		}
	}
	if n == 0 {
		return s
	}
	b := make([]byte, 0, len(s)+2*n)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if escapeURIByte(c) {
			b = append(b, '%', hexDigits[c>>4], hexDigits[c&15])
		} else {
			b = append(b, c)
		}
	}
	return string(b)
}

func escapeURIByte(c byte) bool {
	return c <= 0x20 || c >= 0x7f || c == '#' || c == '%' || c == '?'
}

// roundTripper runs a request's attempts; the request travels in the context.
type roundTripper struct{}

func (roundTripper) RoundTrip(out *http.Request) (*http.Response, error) {
	rq := requestFrom(out.Context())
	return rq.attempts(out, rq.up, 0)
}

// attemptError is a failed attempt, classified as nginx's proxy_next_upstream does.
type attemptError struct {
	cond   retryMask
	status int // 502, or 504 for a timeout
	sent   bool
	err    error
}

func (e *attemptError) Error() string { return e.err.Error() }
func (e *attemptError) Unwrap() error { return e.err }

// attempts sends out to up's endpoints until one answers in a way that is not to be retried
// or the tries are used up (proxy_next_upstream, _tries, _timeout). group numbers the
// upstream request in the Entry.
func (rq *request) attempts(out *http.Request, up *upstreamView, group int) (*http.Response, error) {
	rt := rq.rt
	retryOn := rt.retryOn
	tries := rt.r.Retry.Tries
	if group > 0 {
		// The error page location has nginx's defaults: "error timeout", every endpoint.
		retryOn, tries = retryError|retryTimeout, 0
	}
	if tries <= 0 {
		tries = len(up.eps)
	}
	var deadline time.Time
	if d := rt.r.Retry.Timeout; d > 0 {
		deadline = rq.start.Add(d)
	}
	var triedBuf [4]int
	tried := triedBuf[:0]
	first := 0
	for attempt := 0; ; attempt++ {
		i := rq.pickEndpoint(up, attempt, first, tried, group)
		if attempt == 0 {
			first = i
		}
		tried = append(tried, i)
		if attempt > 0 && group == 0 && rq.st.cfg.Forwarding.Envoy {
			out.Header["X-Envoy-Attempt-Count"] = []string{strconv.Itoa(attempt + 1)}
		}
		more := attempt+1 < tries && (deadline.IsZero() || time.Now().Before(deadline)) && rq.r.Context().Err() == nil
		resp, fail := rq.try(out, up, i, group)
		if fail != nil {
			if more && retryOn&fail.cond != 0 && rq.mayResend(fail.sent, retryOn) {
				continue
			}
			return nil, fail
		}
		if cond := statusRetry(resp.StatusCode); cond != 0 && more && retryOn&cond != 0 && rq.mayResend(true, retryOn) {
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
			resp.Body.Close()
			continue
		}
		return resp, nil
	}
}

// mayResend reports whether a request may go to another endpoint: always if it was not sent;
// once sent, only if its body can be sent again and it is idempotent (or non_idempotent is
// listed).
func (rq *request) mayResend(sent bool, on retryMask) bool {
	if !sent {
		return rq.body.replayable()
	}
	if !rq.body.replayable() {
		return false
	}
	switch rq.r.Method {
	case http.MethodPost, "LOCK", http.MethodPatch:
		return on&retryNonIdempotent != 0
	}
	return true
}

// pickEndpoint chooses the endpoint of an attempt, honouring cookie affinity.
func (rq *request) pickEndpoint(up *upstreamView, attempt, first int, tried []int, group int) int {
	aff := rq.rt.r.Affinity
	if aff == nil || group > 0 {
		return up.pick(&rq.vars, attempt, first, tried)
	}
	if attempt == 0 {
		if i := up.stickyFind(rq.affinityKey, aff.Persistent); i >= 0 && i < len(up.eps) {
			return i
		}
		rq.affinityNew = true
		i, key := up.stickyNew(aff.Persistent, nil)
		rq.setCookie = rq.affinityCookie(aff, key, up)
		return i
	}
	if aff.ChangeOnFailure || rq.affinityNew {
		i, key := up.stickyNew(aff.Persistent, tried)
		rq.setCookie = rq.affinityCookie(aff, key, up)
		return i
	}
	return first
}

// attemptWatch enforces an attempt's read and send timeouts (nginx's proxy_read_timeout and
// proxy_send_timeout: the longest wait between two reads or two writes) and notes what
// happened.
type attemptWatch struct {
	cancel   context.CancelCauseFunc
	stop     context.CancelFunc // of the BackendRequest timeout, if any
	timer    *time.Timer
	read     time.Duration
	send     time.Duration
	timedOut atomic.Bool
}

var errTimeout = errors.New("upstream timed out")

func (w *attemptWatch) fire() {
	w.timedOut.Store(true)
	w.cancel(errTimeout)
}

// release ends the attempt's contexts once its response is done with.
func (w *attemptWatch) release() {
	w.cancel(nil)
	if w.stop != nil {
		w.stop()
	}
}

// try makes one attempt.
func (rq *request) try(out *http.Request, up *upstreamView, i, group int) (*http.Response, *attemptError) {
	start := time.Now()
	rq.entryMu.Lock()
	e := rq.entry
	e.Upstreams = append(e.Upstreams, UpstreamAttempt{Upstream: up.name, Group: group, Addr: up.addrs[i]})
	slot := len(e.Upstreams) - 1
	rq.entryMu.Unlock()

	if h1, ok := up.transport.(*h1Transport); ok && (group > 0 || rq.body.inMemory()) {
		return rq.tryH1(h1, out, up, i, group, start, slot)
	}

	ctx, cancel := context.WithCancelCause(out.Context())
	w := &attemptWatch{cancel: cancel, read: rq.rt.timeouts.Read, send: rq.rt.timeouts.Send}
	if d := rq.rt.r.Timeouts.BackendRequest; d > 0 {
		ctx, w.stop = context.WithTimeoutCause(ctx, d, errTimeout)
	}
	w.timer = time.AfterFunc(math.MaxInt64, w.fire)

	req := out.WithContext(ctx)
	u := *out.URL
	u.Scheme, u.Host = up.scheme, up.addrs[i]
	req.URL = &u
	if group == 0 {
		var n int64
		req.Body, n = rq.body.reader(rq.r.ContentLength)
		req.ContentLength = n
		if n >= 0 {
			// A buffered body goes with a Content-Length, as nginx sends it.
			req.TransferEncoding = nil
		}
		if req.Body != http.NoBody {
			req.Body = &sendWatch{rc: req.Body, w: w}
		}
		if rq.body.full {
			buf := rq.body.buf
			req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf)), nil }
		} else {
			req.GetBody = nil
		}
	}
	if req.Body == nil || req.Body == http.NoBody {
		// No body to send: the wait for the answer starts now.
		w.timer.Reset(w.read)
	}
	resp, err := up.transport.RoundTrip(req)
	w.timer.Stop()
	if err != nil {
		w.release()
	}
	return rq.tried(resp, err, w, up, i, start, slot)
}

// tryH1 makes one attempt with the HTTP/1.1 transport, which applies the route's timeouts as
// deadlines of the connection and aborts when the request's context ends, so none of the
// attempt context and timer of the generic path is needed. out is the request ReverseProxy
// made for this request alone (or the error page request): it is pointed at the endpoint
// in place.
func (rq *request) tryH1(t *h1Transport, out *http.Request, up *upstreamView, i, group int, start time.Time, slot int) (*http.Response, *attemptError) {
	out.URL.Scheme, out.URL.Host = up.scheme, up.addrs[i]
	if group == 0 {
		out.Body, out.ContentLength = http.NoBody, 0
		if rq.body.present {
			// A buffered body goes with a Content-Length, as nginx sends it.
			out.Body, out.ContentLength = newMemBody(rq.body.buf), int64(len(rq.body.buf))
		}
		out.TransferEncoding, out.GetBody = nil, nil
	}
	resp, err := t.RoundTrip(out)
	return rq.tried(resp, err, nil, up, i, start, slot)
}

// tried records the outcome of an attempt in the Entry and the balancer, and wraps the
// response body to time and count it. w is the attempt's watch on the generic path.
func (rq *request) tried(resp *http.Response, err error, w *attemptWatch, up *upstreamView, i int, start time.Time, slot int) (*http.Response, *attemptError) {
	elapsed := time.Since(start)
	up.observe(i, elapsed)
	e := rq.entry
	if err != nil {
		fail := rq.classify(err, w)
		rq.entryMu.Lock()
		e.Upstreams[slot].Status = fail.status
		e.Upstreams[slot].ResponseTime = elapsed
		rq.entryMu.Unlock()
		return nil, fail
	}
	rq.entryMu.Lock()
	e.Upstreams[slot].Status = resp.StatusCode
	rq.entryMu.Unlock()
	rb := &responseBody{rc: resp.Body, rq: rq, slot: slot, start: start, w: w, read: rq.rt.timeouts.Read, trailer: &resp.Trailer}
	if resp.StatusCode == http.StatusSwitchingProtocols {
		if rwc, ok := resp.Body.(io.ReadWriteCloser); ok {
			resp.Body = &upgradedBody{responseBody: rb, rwc: rwc}
			return resp, nil
		}
	}
	resp.Body = rb
	return resp, nil
}

// classify turns a transport error into nginx's failure kinds. w is the attempt's watch on
// the generic path, nil with the HTTP/1.1 transport (whose errors say what happened).
func (rq *request) classify(err error, w *attemptWatch) *attemptError {
	// Once connected, the request counts as sent (nginx's request_sent): a request that
	// failed on an established connection is only retried if it may be sent twice.
	fail := &attemptError{cond: retryError, status: http.StatusBadGateway, sent: true, err: err}
	var de *dialError
	var he *h1Error
	isH1 := errors.As(err, &he)
	switch {
	case errors.As(err, &de):
		fail.sent = false
		if de.Timeout() {
			fail.cond, fail.status = retryTimeout, http.StatusGatewayTimeout
		}
	case w != nil && w.timedOut.Load() || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, errTimeout):
		fail.cond, fail.status = retryTimeout, http.StatusGatewayTimeout
	case isH1 && he.invalid || !isH1 && strings.Contains(err.Error(), "malformed HTTP"):
		fail.cond = retryInvalidHeader
	}
	if isH1 && he.nothingWritten {
		fail.sent = false
	}
	return fail
}

// sendWatch times the writes of the request body: the time between two reads by the
// transport is the time it took to write the previous chunk. Once the body is all read, the
// wait for the answer starts.
type sendWatch struct {
	rc io.ReadCloser
	w  *attemptWatch
}

func (s *sendWatch) Read(p []byte) (int, error) {
	s.w.timer.Stop()
	n, err := s.rc.Read(p)
	switch {
	case err == io.EOF:
		s.w.timer.Reset(s.w.read)
	case n > 0 && err == nil:
		s.w.timer.Reset(s.w.send)
	}
	return n, err
}

func (s *sendWatch) Close() error { return s.rc.Close() }

// responseBody times and counts an attempt's response. On the generic path (w set) it also
// applies the read timeout between reads; the HTTP/1.1 transport's bodies do it themselves.
type responseBody struct {
	rc    io.ReadCloser
	rq    *request
	slot  int
	start time.Time
	w     *attemptWatch
	// read is the route's read timeout, which also closes an idle upgraded connection.
	read time.Duration
	// trailer is the response's Trailer, filled in at the end of a chunked body.
	trailer *http.Header
	n       int64
	done    bool
	mu      sync.Mutex
}

func (b *responseBody) Read(p []byte) (int, error) {
	if b.w != nil {
		b.w.timer.Reset(b.w.read)
	}
	n, err := b.rc.Read(p)
	if b.w != nil {
		b.w.timer.Stop()
	}
	b.mu.Lock()
	b.n += int64(n)
	if err != nil {
		b.end()
	}
	b.mu.Unlock()
	if err != nil && b.w != nil && b.w.timedOut.Load() {
		err = errTimeout
	}
	return n, err
}

func (b *responseBody) Close() error {
	err := b.rc.Close()
	if b.w != nil {
		b.w.timer.Stop()
	}
	b.mu.Lock()
	b.end()
	b.mu.Unlock()
	if b.w != nil {
		b.w.release()
	}
	return err
}

// complete reports whether the whole response is in hand: the body was read to its end and
// no trailer is to follow it (ReverseProxy flushes to make room for trailers). Until then a
// flush may be needed to pass on what arrived.
func (b *responseBody) complete() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.done && len(*b.trailer) == 0
}

// end records the attempt's length and time once. Called with b.mu held.
func (b *responseBody) end() {
	if b.done {
		return
	}
	b.done = true
	rq := b.rq
	rq.entryMu.Lock()
	defer rq.entryMu.Unlock()
	// An upgraded connection can close after the request is logged; its entry is gone.
	if e := rq.entry; !rq.finished && b.slot < len(e.Upstreams) {
		a := &e.Upstreams[b.slot]
		a.ResponseLength = b.n
		a.ResponseTime = time.Since(b.start)
	}
}

// upgradedBody is the connection of a 101 response: ReverseProxy copies both ways over it.
// The read timeout still applies, as nginx closes a WebSocket idle for proxy_read_timeout.
type upgradedBody struct {
	*responseBody
	rwc io.ReadWriteCloser
}

func (u *upgradedBody) Read(p []byte) (int, error) {
	t := time.AfterFunc(u.read, func() { u.rwc.Close() })
	n, err := u.rwc.Read(p)
	t.Stop()
	u.mu.Lock()
	u.n += int64(n)
	u.mu.Unlock()
	return n, err
}

func (u *upgradedBody) Write(p []byte) (int, error) { return u.rwc.Write(p) }

func (u *upgradedBody) Close() error {
	err := u.rwc.Close()
	u.mu.Lock()
	u.end()
	u.mu.Unlock()
	if u.w != nil {
		u.w.release()
	}
	return err
}

// response adjusts the backend's response before ReverseProxy copies it: error pages,
// headers nginx replaces or hides, the route's response headers, CORS, HSTS, affinity.
func (rq *request) response(resp *http.Response) error {
	if resp.StatusCode != http.StatusSwitchingProtocols && !rq.inErrorPage && rq.rt.hasErrorCode(resp.StatusCode) {
		ep := rq.errorPage(resp.StatusCode)
		resp.Body.Close()
		resp.StatusCode, resp.Status = ep.StatusCode, ep.Status
		resp.Header, resp.Body, resp.ContentLength = ep.Header, ep.Body, ep.ContentLength
		resp.Trailer = ep.Trailer
		resp.TransferEncoding = ep.TransferEncoding
	}
	if rb, ok := resp.Body.(*responseBody); ok {
		rq.w.src = rb
	}
	h := resp.Header
	cleanUpstreamHeaders(h, rq.st.cfg.ServerHeader)
	if rq.st.cfg.Forwarding.Envoy {
		h["X-Envoy-Upstream-Service-Time"] = []string{strconv.FormatInt(time.Since(rq.start).Milliseconds(), 10)}
	}
	applyHeaders(h, &rq.rt.r.ResponseHeaders)
	if rq.backend != nil {
		applyHeaders(h, &rq.backend.ResponseHeaders)
	}
	if _, ok := h["Content-Type"]; !ok {
		// nginx sends no Content-Type the backend did not send; a nil value stops net/http
		// from sniffing one.
		rq.w.Header()["Content-Type"] = nil
	}
	rq.decorate(h)
	if rq.setCookie != "" {
		h.Add("Set-Cookie", rq.setCookie)
	}
	return nil
}

// cleanUpstreamHeaders removes what nginx's proxy module does not pass from a backend's
// response (Date, X-Pad, X-Accel-*) and its Server header when the proxy sends its own.
func cleanUpstreamHeaders(h http.Header, server string) {
	h.Del("Date")
	h.Del("X-Pad")
	for k := range h {
		if strings.HasPrefix(k, "X-Accel-") {
			delete(h, k)
		}
	}
	if server != "" {
		h.Del("Server")
	}
}

// failed answers a request whose attempts all failed.
func (rq *request) failed(err error) {
	if rq.w.status != 0 {
		return
	}
	if rq.body.tooLarge.Load() {
		rq.generate(http.StatusRequestEntityTooLarge)
		return
	}
	if rq.r.Context().Err() != nil {
		// The client went away: nothing to send, nginx logs 499.
		rq.w.status = 499
		return
	}
	code := http.StatusBadGateway
	var ae *attemptError
	if errors.As(err, &ae) {
		code = ae.status
	}
	rq.p.log.V(2).Info("Upstream request failed", "upstream", rq.up.name, "uri", rq.r.RequestURI, "status", code, "err", err)
	rq.generate(code)
}

// errorPage asks the route's error upstream for the page of code, as ingress-nginx's
// @custom_<upstream>_<code> location: the client's method and headers, URI "/" with the
// client's query, X-Code and the other X- headers. When that fails, it returns nginx's own
// page for the failure.
func (rq *request) errorPage(code int) *http.Response {
	rq.inErrorPage = true
	ep := rq.rt.r.Errors
	up := rq.st.upstreams[ep.Upstream]
	rq.entry.UpstreamName = ep.Upstream
	if up == nil || len(up.eps) == 0 {
		return rq.pageResponse(http.StatusServiceUnavailable)
	}
	r := rq.r
	h := make(http.Header, len(r.Header)+10)
	for k, v := range r.Header {
		if !isHopHeader(k) {
			h[k] = v
		}
	}
	h.Del("Content-Length")
	h.Del("Expect")
	meta := rq.rt.r.Meta
	h.Set("X-Code", strconv.Itoa(code))
	h.Set("X-Format", r.Header.Get("Accept"))
	h.Set("X-Original-Uri", r.RequestURI)
	h.Set("X-Namespace", meta.Namespace)
	h.Set("X-Ingress-Name", meta.Name)
	h.Set("X-Service-Name", meta.Service)
	h.Set("X-Service-Port", meta.ServicePort)
	if rq.reqID != "" {
		h.Set("X-Request-Id", rq.reqID)
	}
	h.Set("X-Forwarded-For", rq.clientString())
	if _, ok := h["User-Agent"]; !ok {
		h["User-Agent"] = []string{""}
	}
	req := (&http.Request{
		Method:     r.Method,
		URL:        &url.URL{Scheme: up.scheme, Host: "upstream", Path: "/", RawQuery: r.URL.RawQuery},
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     h,
		Host:       rq.bestHost,
		Body:       http.NoBody,
	}).WithContext(rq.ctx)
	resp, err := rq.attempts(req, up, 1)
	if err != nil {
		code := http.StatusBadGateway
		var ae *attemptError
		if errors.As(err, &ae) {
			code = ae.status
		}
		return rq.pageResponse(code)
	}
	for _, k := range hopHeaders {
		resp.Header.Del(k)
	}
	return resp
}

// pageResponse is nginx's own page as a response.
func (rq *request) pageResponse(code int) *http.Response {
	h := http.Header{}
	var body []byte
	if rq.st.cfg.ErrorPage != nil {
		var ct string
		ct, body = rq.st.cfg.ErrorPage(code)
		if ct != "" {
			h.Set("Content-Type", ct)
		}
	}
	return &http.Response{
		StatusCode: code, Status: strconv.Itoa(code) + " " + http.StatusText(code),
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: h, Body: io.NopCloser(bytes.NewReader(body)), ContentLength: int64(len(body)),
	}
}

// startMirrors sends copies of the request to the route's mirrors, without waiting.
func (rq *request) startMirrors() {
	if len(rq.rt.mirrors) == 0 {
		return
	}
	r := rq.r
	var bodyBuf []byte
	if rq.body.full {
		bodyBuf = rq.body.buf
	}
	for _, m := range rq.rt.mirrors {
		if m.percent < 100 && rand.Float64()*100 >= m.percent {
			continue
		}
		req := r.Clone(context.Background())
		req.RequestURI = ""
		for _, k := range hopHeaders {
			req.Header.Del(k)
		}
		req.Header.Set("X-Original-Uri", r.RequestURI)
		var transport http.RoundTripper
		if m.upstream != "" {
			up := rq.st.upstreams[m.upstream]
			if up == nil || len(up.eps) == 0 {
				continue
			}
			i := int((up.bal.rr.Add(1) - 1) % uint64(len(up.eps)))
			req.URL.Scheme, req.URL.Host = up.scheme, up.addrs[i]
			req.Host = rq.bestHost
			transport = up.transport
		} else {
			target, err := url.Parse(m.url.expand(&rq.vars))
			if err != nil || target.Host == "" {
				rq.p.log.V(2).Info("Ignoring an invalid mirror URL", "url", m.url.expand(&rq.vars), "err", err)
				continue
			}
			req.URL = target
			req.Host = target.Host
			transport = rq.p.mirrorHTTP
			if target.Scheme == "https" {
				transport = rq.p.mirrorTLS
			}
		}
		req.Body, req.ContentLength = http.NoBody, 0
		if len(bodyBuf) > 0 {
			req.Body, req.ContentLength = newMemBody(bodyBuf), int64(len(bodyBuf))
		}
		timeout := rq.rt.timeouts.Read + rq.rt.timeouts.Connect
		go rq.p.mirror(transport, req, timeout)
	}
}

// mirror sends one mirrored request and discards the answer.
func (p *Proxy) mirror(t http.RoundTripper, req *http.Request, timeout time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	resp, err := t.RoundTrip(req.WithContext(ctx))
	if err != nil {
		p.log.V(3).Info("Mirror request failed", "url", req.URL.String(), "err", err)
		return
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
}

// affinityCookieName is the cookie's name, "route" by default as in ingress-nginx.
func affinityCookieName(a *CookieAffinity) string {
	if a.Name != "" {
		return a.Name
	}
	return "route"
}

// affinityCookie renders the Set-Cookie of ingress-nginx's sticky balancer:
// "<key>|<backend key>" with the attributes in lua-resty-cookie's order.
func (rq *request) affinityCookie(a *CookieAffinity, key string, up *upstreamView) string {
	var b strings.Builder
	b.WriteString(affinityCookieName(a))
	b.WriteByte('=')
	b.WriteString(key)
	b.WriteByte('|')
	b.WriteString(up.backendKey)
	if a.Expires > 0 {
		b.WriteString("; Expires=")
		b.WriteString(cookieTime(time.Now().Add(time.Duration(a.Expires) * time.Second)))
	}
	if a.MaxAge > 0 {
		b.WriteString("; Max-Age=")
		b.WriteString(strconv.Itoa(a.MaxAge))
	}
	if a.Domain != "" {
		b.WriteString("; Domain=")
		b.WriteString(a.Domain)
	}
	path := a.Path
	if path == "" {
		path = rq.rt.r.Meta.Path
	}
	if path == "" {
		path = rq.rt.r.Match.Path
	}
	if path == "" {
		path = "/"
	}
	b.WriteString("; Path=")
	b.WriteString(path)
	if a.Secure || rq.r.TLS != nil {
		b.WriteString("; Secure")
	}
	b.WriteString("; HttpOnly")
	if a.SameSite != "" {
		b.WriteString("; SameSite=")
		b.WriteString(a.SameSite)
	}
	return b.String()
}

// cookieTime formats an expiry as nginx's ngx_cookie_time: two-digit years up to 2037.
func cookieTime(t time.Time) string {
	t = t.UTC()
	if t.Year() > 2037 {
		return t.Format("Mon, 02-Jan-2006 15:04:05 GMT")
	}
	return t.Format("Mon, 02-Jan-06 15:04:05 GMT")
}
