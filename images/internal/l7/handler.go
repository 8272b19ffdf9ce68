package l7

import (
	"context"
	"encoding/hex"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"
)

// request is one request on its way through the proxy: what was decided about it so far and
// what its Entry will say.
type request struct {
	p  *Proxy
	sl *servingListener
	cl *compiledListener
	st *state
	w  *responseWriter
	r  *http.Request
	// ctx is r's context with the request attached, for the upstream requests.
	ctx context.Context

	start time.Time
	entry *Entry
	vars  varSource

	peer   netip.AddrPort // the connection's peer
	client netip.Addr     // $remote_addr: the peer, or the real IP from forwarded headers
	scheme string         // $scheme
	// passScheme, bestHost and passPort are ingress-nginx's $pass_access_scheme,
	// $best_http_host and $pass_port.
	passScheme, bestHost, passPort string
	reqID                          string
	path                           string // $uri
	// localPort is $server_port; clientStr is client as text, once made.
	localPort, clientStr string

	srv *compiledServer
	rt  *compiledRoute
	sub []int

	corsOK bool
	up     *upstreamView
	// backend is the route's backend chosen for the request, once proxied.
	backend *WeightedBackend

	// The request body, as upstream attempts get it.
	body body

	// Affinity: the cookie's key, whether the first pick was new, the Set-Cookie to send.
	affinityKey string
	affinityNew bool
	setCookie   string

	inErrorPage bool

	// entryMu guards entry against attempts that end after finish (upgraded connections
	// closed by another goroutine); finished tells them the entry is gone.
	entryMu  sync.Mutex
	finished bool
}

type ctxKey struct{}

// requestFrom returns the request a context belongs to, if any.
func requestFrom(ctx context.Context) *request {
	rq, _ := ctx.Value(ctxKey{}).(*request)
	return rq
}

// ServeHTTP serves one request with the listener's current configuration.
func (sl *servingListener) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	cl := sl.cfg.Load()
	rq := &request{
		p: sl.p, sl: sl, cl: cl, st: cl.st, r: r,
		w:     &responseWriter{ResponseWriter: w},
		start: time.Now(),
		entry: getEntry(),
	}
	rq.ctx = context.WithValue(r.Context(), ctxKey{}, rq)
	defer rq.finish()
	rq.serve()
}

// serve runs the route's checks in nginx's phase order, then its action.
func (rq *request) serve() {
	r := rq.r
	rq.forwarding()
	host := canonicalHost(r.Host)
	rq.srv = rq.cl.server(host)
	if host == "" && rq.srv != nil && len(rq.srv.s.Hostnames) > 0 {
		host = canonicalName(rq.srv.s.Hostnames[0])
	}
	rq.vars = varSource{r: r, remoteAddr: rq.client, host: host, scheme: rq.scheme, serverPort: rq.localPort, requestID: rq.reqID}
	path, ok := normalizePath(requestPath(r))
	if !ok {
		rq.generate(http.StatusBadRequest)
		return
	}
	rq.path, rq.vars.uri = path, path
	if rq.srv == nil {
		rq.generate(http.StatusNotFound)
		return
	}
	rt, sub := rq.srv.match(r, path)
	if rt == nil {
		rt = rq.srv.notFound
	}
	if rt == nil {
		rq.generate(http.StatusNotFound)
		return
	}
	rq.rt, rq.sub = rt, sub
	route := rt.r
	rq.entry.Route = route.Meta
	rq.entry.Path = route.Match.Path
	rq.entry.UpstreamName = rt.primary

	// 1. nginx checks Content-Length against client_max_body_size when it picks the location.
	if route.MaxBodyBytes > 0 && r.ContentLength > route.MaxBodyBytes {
		rq.generate(http.StatusRequestEntityTooLarge)
		return
	}
	// 2. CORS: the template's "if" blocks run first in the rewrite phase.
	if rt.cors != nil {
		rq.corsOK = rt.cors.allows(r.Header.Get("Origin"))
		if rq.corsOK && r.Method == http.MethodOptions {
			rq.preflight()
			return
		}
	}
	// 3. Fixed answers: nginx's "return".
	if route.Respond != nil {
		rq.respond(route.Respond)
		return
	}
	if route.Redirect != nil {
		rq.redirect(route.Redirect)
		return
	}
	// 4. ingress-nginx's Lua rewrite handler: ssl-redirect and force-ssl-redirect.
	if route.HTTPSRedirect != nil && rq.passScheme == "http" {
		rq.httpsRedirect(route.HTTPSRedirect)
		return
	}
	// 5. limit_req and limit_conn.
	if rt.zone != nil && !inPrefixes(rt.allow, rq.client) {
		c, ok := rt.zone.admit(rq.client.Unmap(), time.Now())
		if !ok {
			rq.generate(rt.limitCode)
			return
		}
		defer c.done()
	}
	// 6. deny, then allow.
	if inPrefixes(route.DenySources, rq.client) || len(route.AllowSources) > 0 && !inPrefixes(route.AllowSources, rq.client) {
		rq.generate(http.StatusForbidden)
		return
	}
	// 7. The backend.
	if len(route.Backends) == 0 {
		// A route without action is ingress-nginx's denied location: "return 503".
		rq.generate(http.StatusServiceUnavailable)
		return
	}
	rq.proxy()
}

// forwarding works out who the client is and ingress-nginx's forwarding variables (or
// Envoy's, with Forwarding.Envoy).
func (rq *request) forwarding() {
	r := rq.r
	fw := &rq.st.cfg.Forwarding
	rq.peer = clientAddr(r.RemoteAddr)
	rq.client = rq.peer.Addr().Unmap()
	rq.scheme = "http"
	if r.TLS != nil {
		rq.scheme = "https"
	}
	rq.passScheme = rq.scheme
	rq.bestHost = r.Host
	rq.localPort = rq.sl.localPort(r)
	rq.passPort = rq.localPort
	if fw.Envoy {
		// Envoy at the edge neither trusts forwarded headers nor keeps an external request
		// id.
		rq.reqID = newUUID()
		return
	}
	if rq.cl.l.Protocol == HTTPS {
		// ingress-nginx reports its HTTPS port as 443.
		rq.passPort = "443"
	}
	if fw.UseForwardedHeaders {
		header := fw.ForwardedForHeader
		if header == "" {
			header = "X-Forwarded-For"
		}
		if xff := r.Header.Values(header); len(xff) > 0 && trusted(fw.RealIPFrom, rq.client) {
			rq.client = realIP(strings.Join(xff, ","), fw.RealIPFrom, rq.client)
		}
		if v := r.Header.Get("X-Forwarded-Proto"); v != "" {
			rq.passScheme = v
		}
		if v := r.Header.Get("X-Forwarded-Port"); v != "" {
			rq.passPort = v
		}
		if v := r.Header.Get("X-Forwarded-Host"); v != "" {
			first, _, _ := strings.Cut(v, ",")
			rq.bestHost = first
		}
	}
	rq.reqID = r.Header.Get("X-Request-Id")
	if rq.reqID == "" && fw.GenerateRequestID {
		rq.reqID = newRequestID()
	}
}

// trusted reports whether addr may set the real-IP header (any address when none are listed).
func trusted(from []netip.Prefix, addr netip.Addr) bool {
	return len(from) == 0 || inPrefixes(from, addr)
}

// realIP is nginx's real_ip_recursive: the last address of the header that is not a trusted
// proxy, or the first one if all are.
func realIP(header string, from []netip.Prefix, peer netip.Addr) netip.Addr {
	parts := strings.Split(header, ",")
	var first netip.Addr
	for i := len(parts) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(parts[i]))
		if err != nil {
			// nginx stops at an address it cannot parse and keeps what it had.
			if first.IsValid() {
				return first
			}
			return peer
		}
		a = a.Unmap()
		first = a
		if !trusted(from, a) {
			return a
		}
	}
	if first.IsValid() {
		return first
	}
	return peer
}

// newRequestID returns 32 random hex digits, as nginx's $request_id.
func newRequestID() string {
	var b [16]byte
	lo, hi := rand.Uint64(), rand.Uint64()
	for i := 0; i < 8; i++ {
		b[i] = byte(lo >> (8 * i))
		b[8+i] = byte(hi >> (8 * i))
	}
	return hex.EncodeToString(b[:])
}

// newUUID returns a random (version 4) UUID, as Envoy's x-request-id.
func newUUID() string {
	var b [16]byte
	lo, hi := rand.Uint64(), rand.Uint64()
	for i := 0; i < 8; i++ {
		b[i] = byte(lo >> (8 * i))
		b[8+i] = byte(hi >> (8 * i))
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var out [36]byte
	hex.Encode(out[0:8], b[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], b[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], b[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], b[8:10])
	out[23] = '-'
	hex.Encode(out[24:], b[10:])
	return string(out[:])
}

// clientString is the client's address as text ($remote_addr), made once per request.
func (rq *request) clientString() string {
	if rq.clientStr == "" && rq.client.IsValid() {
		rq.clientStr = rq.client.String()
	}
	return rq.clientStr
}

// localPort is the port the request came in on ($server_port). The listener remembers the
// text of the last one, which is nearly always the next one too.
func (sl *servingListener) localPort(r *http.Request) string {
	var port int
	switch a := r.Context().Value(http.LocalAddrContextKey).(type) {
	case *net.TCPAddr:
		port = a.Port
	case net.Addr:
		ap, err := netip.ParseAddrPort(a.String())
		if err != nil {
			return ""
		}
		port = int(ap.Port())
	default:
		return ""
	}
	if last := sl.port.Load(); last != nil && last.port == port {
		return last.text
	}
	p := &portText{port: port, text: strconv.Itoa(port)}
	sl.port.Store(p)
	return p.text
}

// portText is a port number with its text.
type portText struct {
	port int
	text string
}

// decorate adds the headers every response of the route gets: Server, the server's TLS
// headers (HSTS) over TLS, and CORS.
func (rq *request) decorate(h http.Header) {
	if s := rq.st.cfg.ServerHeader; s != "" {
		h.Set("Server", s)
	}
	if rq.r.TLS != nil && rq.srv != nil {
		for _, kv := range rq.srv.tlsHeaders {
			h.Set(kv[0], kv[1])
		}
	}
	if rq.corsOK {
		rq.rt.cors.headers(h, rq.r.Header.Get("Origin"))
	}
}

// generate sends a response the proxy makes itself: its error page, or the route's error
// upstream's answer for codes it intercepts.
func (rq *request) generate(code int) {
	if !rq.inErrorPage && rq.rt.hasErrorCode(code) {
		rq.writeResponse(rq.errorPage(code))
		return
	}
	h := rq.w.Header()
	rq.decorate(h)
	var body []byte
	if code >= 300 && rq.st.cfg.ErrorPage != nil {
		var ct string
		ct, body = rq.st.cfg.ErrorPage(code)
		if ct != "" {
			h.Set("Content-Type", ct)
		}
	}
	if code != http.StatusNoContent && code != http.StatusNotModified {
		h.Set("Content-Length", strconv.Itoa(len(body)))
	}
	switch code {
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusRequestURITooLong,
		http.StatusInternalServerError, http.StatusNotImplemented:
		// nginx does not keep the connection after these.
		if rq.r.ProtoMajor == 1 {
			h.Set("Connection", "close")
		}
	}
	rq.w.WriteHeader(code)
	if rq.r.Method != http.MethodHead && len(body) > 0 {
		_, _ = rq.w.Write(body)
	}
}

// writeResponse copies a response (from an error upstream) to the client.
func (rq *request) writeResponse(resp *http.Response) {
	defer resp.Body.Close()
	h := rq.w.Header()
	for k, v := range resp.Header {
		if isHopHeader(k) {
			continue
		}
		h[k] = v
	}
	cleanUpstreamHeaders(h, rq.st.cfg.ServerHeader)
	rq.decorate(h)
	if resp.ContentLength >= 0 {
		h.Set("Content-Length", strconv.FormatInt(resp.ContentLength, 10))
	}
	rq.w.WriteHeader(resp.StatusCode)
	if rq.r.Method != http.MethodHead {
		_, _ = io.Copy(rq.w, resp.Body)
	}
}

// preflight answers a CORS preflight request as ingress-nginx's template: 204, no body.
func (rq *request) preflight() {
	h := rq.w.Header()
	rq.decorate(h)
	h.Set("Content-Type", "text/plain charset=UTF-8")
	h.Set("Content-Length", "0")
	rq.w.WriteHeader(http.StatusNoContent)
}

// respond sends a Respond action.
func (rq *request) respond(resp *Respond) {
	code := resp.Code
	if code == 0 {
		code = http.StatusOK
	}
	if resp.Body == "" && resp.ContentType == "" && code >= 300 {
		rq.generate(code)
		return
	}
	h := rq.w.Header()
	rq.decorate(h)
	if resp.ContentType != "" {
		h.Set("Content-Type", resp.ContentType)
	}
	h.Set("Content-Length", strconv.Itoa(len(resp.Body)))
	rq.w.WriteHeader(code)
	if rq.r.Method != http.MethodHead {
		_, _ = io.WriteString(rq.w, resp.Body)
	}
}

// redirect sends a Redirect action.
func (rq *request) redirect(rd *Redirect) {
	code := rd.Code
	if code == 0 {
		code = http.StatusFound
	}
	rq.w.Header().Set("Location", rq.location(rd))
	rq.generate(code)
}

// location builds a Redirect's Location from the request.
func (rq *request) location(rd *Redirect) string {
	r := rq.r
	if rd.URL != "" {
		return rq.rt.redirectURL.expand(&rq.vars)
	}
	scheme := rq.scheme
	if rd.Scheme != "" {
		scheme = rd.Scheme
	}
	host := rq.vars.host
	if rd.Host != "" {
		host = rd.Host
	}
	port := ""
	if rd.Port != 0 {
		port = strconv.Itoa(rd.Port)
	} else if _, p, err := net.SplitHostPort(r.Host); err == nil {
		port = p
	}
	if scheme == "http" && port == "80" || scheme == "https" && port == "443" {
		port = ""
	}
	path := requestPath(r)
	switch {
	case rd.Path != "":
		path = rd.Path
	case rd.PrefixReplace != nil:
		path = replacePrefix(rq.path, rq.rt.r, *rd.PrefixReplace)
	}
	var b strings.Builder
	b.WriteString(scheme)
	b.WriteString("://")
	if strings.Contains(host, ":") && !strings.HasPrefix(host, "[") {
		host = "[" + host + "]"
	}
	b.WriteString(host)
	if port != "" {
		b.WriteByte(':')
		b.WriteString(port)
	}
	b.WriteString(path)
	if !rd.DropQuery && r.URL.RawQuery != "" {
		b.WriteByte('?')
		b.WriteString(r.URL.RawQuery)
	}
	return b.String()
}

// httpsRedirect sends ingress-nginx's ssl-redirect.
func (rq *request) httpsRedirect(rd *Redirect) {
	code := rd.Code
	if code == 0 {
		code = defaultRedirectCode
	}
	host := rq.bestHost
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
		if strings.Contains(host, ":") {
			host = "[" + host + "]"
		}
	}
	if host == "" {
		host = rq.vars.host
	}
	uri := rq.r.RequestURI
	if rd.StripTrailingSlash && len(uri) > 0 && uri[len(uri)-1] == '/' {
		uri = uri[:len(uri)-1]
	}
	loc := "https://" + host
	if rd.Port != 0 && rd.Port != 443 {
		loc += ":" + strconv.Itoa(rd.Port)
	}
	rq.w.Header().Set("Location", loc+uri)
	rq.generate(code)
}

// replacePrefix replaces the part of path the route's match matched with repl (Gateway's
// ReplacePrefixMatch), keeping one slash between them.
func replacePrefix(path string, rt *Route, repl string) string {
	matched := ""
	switch rt.Match.PathType {
	case PathPrefix:
		matched = strings.TrimRight(rt.Match.Path, "/")
	case PathStringPrefix, "":
		matched = rt.Match.Path
	case PathExact:
		matched = path
	}
	if !strings.HasPrefix(path, matched) {
		return path
	}
	rest := path[len(matched):]
	switch {
	case rest == "":
		if repl == "" {
			return "/"
		}
		return repl
	case strings.HasSuffix(repl, "/") && strings.HasPrefix(rest, "/"):
		return repl + rest[1:]
	case !strings.HasSuffix(repl, "/") && !strings.HasPrefix(rest, "/"):
		return repl + "/" + rest
	}
	if repl == "" && !strings.HasPrefix(rest, "/") {
		return "/" + rest
	}
	return repl + rest
}

// finish completes the Entry and hands it to the observer.
func (rq *request) finish() {
	rq.entryMu.Lock()
	defer rq.entryMu.Unlock()
	rq.finished = true
	e := rq.entry
	r := rq.r
	now := time.Now()
	e.Time, e.Start = now, rq.start
	e.RequestTime = now.Sub(rq.start)
	e.RemoteAddr = rq.clientString()
	if rq.peer.IsValid() {
		e.PeerAddr = rq.peer.String()
	}
	e.RemoteUser, _, _ = r.BasicAuth()
	e.Method, e.URI, e.Proto = r.Method, r.RequestURI, r.Proto
	e.Status = rq.w.status
	if e.Status == 0 {
		if r.Context().Err() != nil {
			e.Status = 499
		} else {
			e.Status = http.StatusOK
		}
	}
	e.BodyBytesSent = rq.w.bytes
	e.BytesReceived = rq.body.read
	e.RequestLength = requestLength(r) + rq.body.read
	e.Referer, e.UserAgent = r.Header.Get("Referer"), r.UserAgent()
	e.RequestID = rq.reqID
	e.Host = rq.vars.host
	e.Scheme = rq.scheme
	e.Listener = rq.sl.name
	if o := rq.p.opts.Observer; o != nil {
		o.Observe(e)
	}
	putEntry(e)
	rq.entry = nil
}

// requestLength estimates the size of the request line and headers as the client sent them.
func requestLength(r *http.Request) int64 {
	n := len(r.Method) + 1 + len(r.RequestURI) + 1 + len(r.Proto) + 2
	n += len("Host: ") + len(r.Host) + 2
	for k, vs := range r.Header {
		for _, v := range vs {
			n += len(k) + 2 + len(v) + 2
		}
	}
	return int64(n + 2)
}

// responseWriter counts what is sent to the client, and flushes every write when the route
// does not buffer responses, as nginx's proxy_buffering off sends what it has as soon as it
// has it: unless the whole response is already in hand (src complete), when the server's
// final flush sends headers and body in one write, as nginx does for a small response.
type responseWriter struct {
	http.ResponseWriter
	status    int
	bytes     int64
	flushEach bool
	// src is the backend response being copied, if it comes from an attempt.
	src *responseBody
}

func (w *responseWriter) WriteHeader(code int) {
	if w.status == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *responseWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	if w.flushEach && err == nil && (w.src == nil || !w.src.complete()) {
		if f, ok := w.ResponseWriter.(http.Flusher); ok {
			f.Flush()
		}
	}
	return n, err
}

// Unwrap lets http.ResponseController reach Flush and Hijack.
func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush passes flushes on (httputil.ReverseProxy flushes streaming responses: unknown length,
// text/event-stream), but not once the whole response is in hand: the end of the request
// sends what is left in one write.
func (w *responseWriter) Flush() {
	if w.src != nil && w.src.complete() {
		return
	}
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
		return
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}
