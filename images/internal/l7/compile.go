package l7

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Defaults of ingress-nginx's proxy settings, used where a Route leaves them zero.
const (
	defaultConnectTimeout = 5 * time.Second
	defaultReadTimeout    = 60 * time.Second
	defaultSendTimeout    = 60 * time.Second
	defaultRedirectCode   = http.StatusPermanentRedirect
	defaultLimitCode      = http.StatusServiceUnavailable
)

// state is one loaded configuration, with the indexes the request path uses. It is never
// changed once stored; requests keep the state they started with.
type state struct {
	cfg       *Config
	upstreams map[string]*upstreamView
}

// compiledListener is a Listener with its lookup tables.
type compiledListener struct {
	l  *Listener
	st *state

	exact map[string]*compiledServer
	wild  []wildServer
	def   *compiledServer

	tls       *tls.Config
	passExact map[string]string
	passWild  []wildName
}

type wildServer struct {
	suffix string
	srv    *compiledServer
}

type wildName struct {
	suffix, name string
}

// compiledServer is a Server with its compiled routes.
type compiledServer struct {
	s        *Server
	routes   []*compiledRoute
	notFound *compiledRoute
	// tlsHeaders are Server.TLSResponseHeaders with canonical names.
	tlsHeaders [][2]string
}

// compiledRoute is a Route with what the request path needs precomputed.
type compiledRoute struct {
	r *Route

	cors  *compiledCORS
	zone  *limitZone
	allow []netip.Prefix // RateLimit.Allow

	errCodes []int

	retryOn  retryMask
	timeouts Timeouts

	totalWeight int
	// primary is the upstream logged as $proxy_upstream_name: the first backend that is
	// not a canary.
	primary string

	redirectURL varExpr
	mirrors     []mirrorTarget
	limitCode   int
}

// retryMask is a set of RetryOn conditions.
type retryMask uint16

const (
	retryError retryMask = 1 << iota
	retryTimeout
	retryInvalidHeader
	retry500
	retry502
	retry503
	retry504
	retry403
	retry404
	retry429
	retryNonIdempotent
)

var retryBits = map[RetryOn]retryMask{
	RetryError: retryError, RetryTimeout: retryTimeout, RetryInvalidHeader: retryInvalidHeader,
	RetryHTTP500: retry500, RetryHTTP502: retry502, RetryHTTP503: retry503, RetryHTTP504: retry504,
	RetryHTTP403: retry403, RetryHTTP404: retry404, RetryHTTP429: retry429,
	RetryNonIdempotent: retryNonIdempotent,
}

// statusRetry is the condition a response status is, for proxy_next_upstream.
func statusRetry(code int) retryMask {
	switch code {
	case 500:
		return retry500
	case 502:
		return retry502
	case 503:
		return retry503
	case 504:
		return retry504
	case 403:
		return retry403
	case 404:
		return retry404
	case 429:
		return retry429
	}
	return 0
}

// mirrorTarget is one entry of Route.Mirror or Route.Mirrors.
type mirrorTarget struct {
	upstream string
	url      varExpr
	// percent is the share of requests mirrored (100 for Route.Mirror).
	percent float64
}

// compiledCORS is a CORS policy with its origin pattern compiled.
type compiledCORS struct {
	c      *CORS
	any    bool
	origin *regexp.Regexp
	maxAge string
}

// compiler builds a state; the Proxy gives it its long-lived parts (balancer state, rate-limit
// zones, transports).
type compiler struct {
	p       *Proxy
	st      *state
	servers map[*Server]*compiledServer
	routes  map[*Route]*compiledRoute
	zones   map[zoneKey]*limitZone
	errs    []error
}

func (c *compiler) listener(l *Listener) *compiledListener {
	cl := &compiledListener{l: l, st: c.st, exact: map[string]*compiledServer{}}
	for _, s := range l.Servers {
		cs := c.server(s)
		for _, h := range s.Hostnames {
			name := canonicalName(h)
			if suffix, ok := wildcardSuffix(name); ok {
				if !slices.ContainsFunc(cl.wild, func(w wildServer) bool { return w.suffix == suffix }) {
					cl.wild = append(cl.wild, wildServer{suffix, cs})
				}
			} else if _, dup := cl.exact[name]; !dup {
				cl.exact[name] = cs
			}
		}
	}
	slices.SortStableFunc(cl.wild, func(a, b wildServer) int { return len(b.suffix) - len(a.suffix) })
	if l.Default != nil {
		cl.def = c.server(l.Default)
	}
	if len(l.Passthrough) > 0 {
		cl.passExact = map[string]string{}
		for h, up := range l.Passthrough {
			name := canonicalName(h)
			if suffix, ok := wildcardSuffix(name); ok {
				cl.passWild = append(cl.passWild, wildName{suffix, up})
			} else {
				cl.passExact[name] = up
			}
		}
		slices.SortFunc(cl.passWild, func(a, b wildName) int {
			if d := len(b.suffix) - len(a.suffix); d != 0 {
				return d
			}
			return strings.Compare(a.suffix, b.suffix)
		})
	}
	if l.Protocol == HTTPS {
		minV, maxV := l.MinTLSVersion, l.MaxTLSVersion
		if minV == 0 {
			minV = tls.VersionTLS12
		}
		if maxV == 0 {
			maxV = tls.VersionTLS13
		}
		cl.tls = &tls.Config{
			MinVersion:     minV,
			MaxVersion:     maxV,
			NextProtos:     []string{"h2", "http/1.1"},
			GetCertificate: cl.certificate,
		}
	}
	return cl
}

// server finds the server for a canonical host: exact, longest wildcard, default.
func (cl *compiledListener) server(host string) *compiledServer {
	if s := cl.named(host); s != nil {
		return s
	}
	return cl.def
}

// named is server without the default.
func (cl *compiledListener) named(host string) *compiledServer {
	if s, ok := cl.exact[host]; ok {
		return s
	}
	for _, w := range cl.wild {
		if wildcardMatches(w.suffix, host, cl.l.SingleLabelWildcards) {
			return w.srv
		}
	}
	return nil
}

// certificate picks the certificate for a TLS handshake: the certificate of the server the
// SNI names, else the listener's default.
func (cl *compiledListener) certificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	if hello.ServerName != "" {
		if s := cl.named(canonicalName(hello.ServerName)); s != nil && s.s.Certificate != nil {
			return s.s.Certificate, nil
		}
	}
	if cl.l.DefaultCertificate != nil {
		return cl.l.DefaultCertificate, nil
	}
	return nil, fmt.Errorf("no certificate for server name %q on listener %s", hello.ServerName, cl.l.Name)
}

// passthrough returns the upstream that receives TLS connections for sni, or "".
func (cl *compiledListener) passthrough(sni string) string {
	if len(cl.passExact) == 0 && len(cl.passWild) == 0 {
		return ""
	}
	name := canonicalName(sni)
	if up, ok := cl.passExact[name]; ok {
		return up
	}
	for _, w := range cl.passWild {
		if wildcardMatches(w.suffix, name, cl.l.SingleLabelWildcards) {
			return w.name
		}
	}
	return ""
}

func (c *compiler) server(s *Server) *compiledServer {
	if cs, ok := c.servers[s]; ok {
		return cs
	}
	cs := &compiledServer{s: s}
	c.servers[s] = cs
	for _, rt := range s.Routes {
		cs.routes = append(cs.routes, c.route(rt))
	}
	if s.NotFound != nil {
		cs.notFound = c.route(s.NotFound)
	}
	for k, v := range s.TLSResponseHeaders {
		cs.tlsHeaders = append(cs.tlsHeaders, [2]string{http.CanonicalHeaderKey(k), v})
	}
	slices.SortFunc(cs.tlsHeaders, func(a, b [2]string) int { return strings.Compare(a[0], b[0]) })
	return cs
}

// match returns the first route matching the request.
func (cs *compiledServer) match(r *http.Request, path string) (*compiledRoute, []int) {
	for _, rt := range cs.routes {
		if ok, sub := matchRoute(rt.r, r, path); ok {
			return rt, sub
		}
	}
	return nil, nil
}

func (c *compiler) route(rt *Route) *compiledRoute {
	if cr, ok := c.routes[rt]; ok {
		return cr
	}
	cr := &compiledRoute{r: rt, limitCode: defaultLimitCode}
	c.routes[rt] = cr
	if rt.Match.PathType == PathRegex && rt.Match.Regex == nil {
		c.errs = append(c.errs, fmt.Errorf("route %s: path type Regex without a regular expression; it matches nothing", routeName(rt)))
	}
	if rt.CORS != nil {
		cr.cors = compileCORS(rt.CORS)
	}
	if rl := rt.RateLimit; rl != nil && (rl.RPS > 0 || rl.RPM > 0 || rl.Connections > 0) {
		key := zoneKeyOf(rt)
		z := c.p.zones[key]
		if z == nil {
			z = newLimitZone(rl)
		}
		c.zones[key] = z
		cr.zone = z
		cr.allow = rl.Allow
		if rl.Code != 0 {
			cr.limitCode = rl.Code
		}
	}
	if rt.Errors != nil {
		cr.errCodes = rt.Errors.Codes
	}
	for _, on := range rt.Retry.On {
		bit, ok := retryBits[on]
		if !ok {
			c.errs = append(c.errs, fmt.Errorf("route %s: unknown retry condition %q", routeName(rt), on))
			continue
		}
		cr.retryOn |= bit
	}
	cr.timeouts = rt.Timeouts
	if cr.timeouts.Connect <= 0 {
		cr.timeouts.Connect = defaultConnectTimeout
	}
	if cr.timeouts.Read <= 0 {
		cr.timeouts.Read = defaultReadTimeout
	}
	if cr.timeouts.Send <= 0 {
		cr.timeouts.Send = defaultSendTimeout
	}
	for _, b := range rt.Backends {
		if b.Weight > 0 {
			cr.totalWeight += b.Weight
		}
		if cr.primary == "" && !b.Canary && b.Status == 0 {
			cr.primary = b.Upstream
		}
	}
	if cr.primary == "" && len(rt.Backends) > 0 {
		cr.primary = rt.Backends[0].Upstream
	}
	if rt.Redirect != nil && rt.Redirect.URL != "" {
		cr.redirectURL = compileVars(rt.Redirect.URL)
	}
	for _, m := range rt.Mirror {
		cr.mirrors = append(cr.mirrors, newMirrorTarget(m, 100))
	}
	for _, m := range rt.Mirrors {
		if m.Percent < 0 || m.Percent > 100 {
			c.errs = append(c.errs, fmt.Errorf("route %s: mirror %s: percent %v is not between 0 and 100; it is mirrored at %v %%", routeName(rt), m.Target, m.Percent, min(max(m.Percent, 0), 100)))
		}
		cr.mirrors = append(cr.mirrors, newMirrorTarget(m.Target, min(max(m.Percent, 0), 100)))
	}
	return cr
}

// newMirrorTarget compiles a mirror: an upstream name, or a URL with nginx variables.
func newMirrorTarget(target string, percent float64) mirrorTarget {
	if strings.Contains(target, "://") {
		return mirrorTarget{url: compileVars(target), percent: percent}
	}
	return mirrorTarget{upstream: target, percent: percent}
}

func routeName(rt *Route) string {
	m := rt.Meta
	if m.Name != "" {
		return fmt.Sprintf("%s %s/%s path %q", m.Kind, m.Namespace, m.Name, rt.Match.Path)
	}
	return fmt.Sprintf("path %q", rt.Match.Path)
}

// hasErrorCode reports whether the route sends responses with code to its error upstream.
func (cr *compiledRoute) hasErrorCode(code int) bool {
	return cr != nil && slices.Contains(cr.errCodes, code)
}

func compileCORS(c *CORS) *compiledCORS {
	cc := &compiledCORS{c: c, maxAge: fmt.Sprint(c.MaxAge)}
	if len(c.AllowOrigins) == 0 || len(c.AllowOrigins) == 1 && strings.TrimSpace(c.AllowOrigins[0]) == "*" {
		cc.any = true
		return cc
	}
	// As ingress-nginx's buildCorsOriginRegex: each origin quoted, its first "*" standing for
	// one DNS label, all alternatives matched case-insensitively at the end of Origin.
	var alts []string
	for _, o := range c.AllowOrigins {
		o = strings.TrimSpace(o)
		if o == "" {
			continue
		}
		q := strings.Replace(regexp.QuoteMeta(o), `\*`, `[A-Za-z0-9\-]+`, 1)
		alts = append(alts, "("+q+")")
	}
	cc.origin = regexp.MustCompile(`(?i)(` + strings.Join(alts, "|") + `)$`)
	return cc
}

// allows reports whether a request with this Origin gets CORS headers.
func (cc *compiledCORS) allows(origin string) bool {
	if cc.any {
		return true
	}
	return origin != "" && cc.origin.MatchString(origin)
}

// headers sets the Access-Control headers of ingress-nginx's CORS template.
func (cc *compiledCORS) headers(h http.Header, origin string) {
	if cc.any {
		origin = "*"
	}
	h.Set("Access-Control-Allow-Origin", origin)
	if cc.c.AllowCredentials {
		h.Set("Access-Control-Allow-Credentials", "true")
	}
	if cc.c.AllowMethods != "" {
		h.Set("Access-Control-Allow-Methods", cc.c.AllowMethods)
	}
	if cc.c.AllowHeaders != "" {
		h.Set("Access-Control-Allow-Headers", cc.c.AllowHeaders)
	}
	if cc.c.ExposeHeaders != "" {
		h.Set("Access-Control-Expose-Headers", cc.c.ExposeHeaders)
	}
	h.Set("Access-Control-Max-Age", cc.maxAge)
}

// inPrefixes reports whether addr is in one of prefixes.
func inPrefixes(prefixes []netip.Prefix, addr netip.Addr) bool {
	addr = addr.Unmap()
	for _, p := range prefixes {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}
