package translate

import (
	"fmt"
	"sort"
	"strings"
	"time"

	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/minaks/minaks/images/internal/l7"
)

// Timeouts an Istio gateway has where routes leave them: Istio's 10 s connect timeout, and
// Envoy's 5 min stream idle timeout as the longest wait between two reads or two writes.
const (
	connectTimeout = 10 * time.Second
	idleTimeout    = 5 * time.Minute
)

// serverHeader is the Server header an Istio gateway sends.
const serverHeader = "istio-envoy"

// config builds the proxy configuration of a Gateway: one l7 listener per port of its
// programmable listeners.
//
// On a port, a request's host selects the listener whose hostname matches it most
// specifically (listener isolation), and among the routes attached to that listener those
// whose hostnames match the host. The proxy selects a server by host alone, so a port gets
// one server per hostname that can decide: the listeners' hostnames and the hostnames routes
// apply on (the intersection of theirs and their listener's). Each server holds the routes
// of the listener that owns the hostname — its most specific listener — whose hostnames
// cover it, ordered by the specification's precedence.
func (b *builder) config(gi *gatewayInfo) *l7.Config {
	cfg := &l7.Config{
		Upstreams:    map[string]*l7.Upstream{},
		Forwarding:   l7.Forwarding{Envoy: true},
		ServerHeader: serverHeader,
		ErrorPage:    EnvoyErrorPage,
	}
	byPort := map[int32][]*listenerInfo{}
	var ports []int32
	for _, li := range gi.listeners {
		if !li.programmable() {
			continue
		}
		if _, ok := byPort[li.port]; !ok {
			ports = append(ports, li.port)
		}
		byPort[li.port] = append(byPort[li.port], li)
	}
	sort.Slice(ports, func(i, j int) bool { return ports[i] < ports[j] })
	used := map[string]bool{}
	for _, port := range ports {
		cfg.Listeners = append(cfg.Listeners, b.portListener(port, byPort[port], used))
	}
	for name := range used {
		if up := b.upstreams[name]; up != nil {
			cfg.Upstreams[name] = up
		}
	}
	return cfg
}

// portListener builds the l7 listener of one port.
func (b *builder) portListener(port int32, ls []*listenerInfo, used map[string]bool) *l7.Listener {
	protocol := ls[0].protocol
	l := &l7.Listener{
		Name:     fmt.Sprintf("%s-%d", strings.ToLower(string(protocol)), port),
		Addr:     fmt.Sprintf(":%d", port),
		Protocol: l7.HTTP,
		H2C:      true,
	}
	if protocol == gatewayv1.HTTPSProtocolType {
		l.Protocol, l.H2C = l7.HTTPS, false
		l.DefaultCertificate = b.opts.FakeCertificate
	}
	// The hostnames that need a server.
	names := map[string]bool{}
	for _, li := range ls {
		names[li.hostname] = true
		for _, a := range li.attached {
			if a.rejected != "" {
				continue
			}
			for _, h := range a.hostnames {
				names[h.Effective] = true
			}
		}
	}
	var sorted []string
	for n := range names {
		sorted = append(sorted, n)
	}
	sort.Slice(sorted, func(i, j int) bool { return moreSpecific(sorted[i], sorted[j]) < 0 })
	for _, name := range sorted {
		owner := ownerOf(ls, name)
		if owner == nil {
			continue
		}
		srv := &l7.Server{Certificate: owner.cert, Routes: b.serverRoutes(owner, name, port, used)}
		if name == "" {
			l.Default = srv
			if owner.cert != nil {
				l.DefaultCertificate = owner.cert
			}
			continue
		}
		srv.Hostnames = []string{name}
		l.Servers = append(l.Servers, srv)
	}
	return l
}

// ownerOf is the listener that requests for hostname name go to: the most specific of those
// whose hostname covers it.
func ownerOf(ls []*listenerInfo, name string) *listenerInfo {
	var best *listenerInfo
	for _, li := range ls {
		if !covers(li.hostname, name) {
			continue
		}
		if best == nil || moreSpecific(li.hostname, best.hostname) < 0 {
			best = li
		}
	}
	return best
}

// candidate is one match of one rule of a route, with its precedence.
type candidate struct {
	route *routeInfo
	rule  *ruleInfo
	match int
	// exactHost and host are the lengths of the route's hostname that matches the server:
	// exactHost when it is not a wildcard.
	exactHost, host int
}

// serverRoutes are the routes of the server for hostname name on listener li, in the order
// of the specification's precedence.
func (b *builder) serverRoutes(li *listenerInfo, name string, port int32, used map[string]bool) []*l7.Route {
	var cands []candidate
	seen := map[*routeInfo]bool{}
	for _, a := range li.attached {
		if a.rejected != "" || a.route.acceptReason != "" || seen[a.route] {
			continue
		}
		seen[a.route] = true
		// The route's most specific hostname that covers the server's, over all the
		// route's attachments to this listener.
		best, found := "", false
		for _, other := range li.attached {
			if other.route != a.route || other.rejected != "" {
				continue
			}
			for _, h := range other.hostnames {
				if covers(h.Effective, name) && (!found || moreSpecific(h.Route, best) < 0) {
					best, found = h.Route, true
				}
			}
		}
		if !found {
			continue
		}
		exact, host := 0, len(best)
		if best != "" && !isWildcard(best) {
			exact = len(best)
		}
		for _, rule := range a.route.rules {
			for i := range rule.matches {
				cands = append(cands, candidate{route: a.route, rule: rule, match: i, exactHost: exact, host: host})
			}
		}
	}
	sort.SliceStable(cands, func(i, j int) bool { return precedes(&cands[i], &cands[j]) })
	out := make([]*l7.Route, 0, len(cands))
	for _, c := range cands {
		out = append(out, b.l7Route(c, port))
		for _, u := range c.rule.upstreams {
			used[u] = true
		}
	}
	return out
}

// precedes orders two candidates by the specification's precedence: the route's matching
// hostname (exact characters, then characters); for HTTPRoutes an Exact path, a regular
// expression (implementation-specific: after Exact, before prefixes), the longest prefix, a
// method, the most headers, the most query parameters; for GRPCRoutes the longest service,
// the longest method, the most headers; then the oldest route, the first by
// namespace/name, the first rule, the first match.
func precedes(a, c *candidate) bool {
	if a.exactHost != c.exactHost {
		return a.exactHost > c.exactHost
	}
	if a.host != c.host {
		return a.host > c.host
	}
	ma, mc := &a.rule.matches[a.match], &c.rule.matches[c.match]
	if a.route.kind == c.route.kind {
		if a.route.kind == kindHTTPRoute {
			if ma.pathKind != mc.pathKind {
				return ma.pathKind > mc.pathKind
			}
			if ma.pathLen != mc.pathLen {
				return ma.pathLen > mc.pathLen
			}
			if ma.method != mc.method {
				return ma.method
			}
			if ma.headers != mc.headers {
				return ma.headers > mc.headers
			}
			if ma.query != mc.query {
				return ma.query > mc.query
			}
		} else {
			if ma.service != mc.service {
				return ma.service > mc.service
			}
			if ma.grpcMethod != mc.grpcMethod {
				return ma.grpcMethod > mc.grpcMethod
			}
			if ma.headers != mc.headers {
				return ma.headers > mc.headers
			}
		}
	}
	if a.route != c.route {
		return older(a.route, c.route)
	}
	if a.rule.index != c.rule.index {
		return a.rule.index < c.rule.index
	}
	return a.match < c.match
}

// l7Route is the proxy's route for one match of a rule on a port.
func (b *builder) l7Route(c candidate, port int32) *l7.Route {
	rule := c.rule
	m := c.rule.matches[c.match]
	r := &l7.Route{
		Meta: l7.RouteMeta{
			Kind: c.route.kind, Namespace: c.route.ns, Name: c.route.name,
			Path: m.match.Path,
			Rule: fmt.Sprintf("%s match %d", rule.name, c.match),
		},
		Match:           m.match,
		RequestHeaders:  rule.requestHeaders,
		ResponseHeaders: rule.responseHeaders,
		CORS:            rule.cors,
	}
	switch {
	case rule.redirect != nil:
		r.Redirect = redirect(rule.redirect, port)
		return r
	case rule.respond != 0:
		r.Respond = &l7.Respond{Code: rule.respond}
		return r
	}
	r.Backends = rule.backends
	for _, wb := range rule.backends {
		if wb.Status == 0 {
			if up := b.upstreams[wb.Upstream]; up != nil && r.Meta.Service == "" {
				r.Meta.Service, r.Meta.ServicePort = up.Service, up.Port
			}
		}
	}
	r.Rewrite = rule.rewrite
	r.Mirrors = rule.mirrors
	r.Timeouts = l7.Timeouts{
		Connect:        connectTimeout,
		Read:           idleTimeout,
		Send:           idleTimeout,
		Request:        rule.timeouts.Request,
		BackendRequest: rule.timeouts.BackendRequest,
	}
	r.Retry = rule.retry
	if r.Retry.On == nil {
		// Istio's default retry policy: connection failures and 503, two retries.
		r.Retry = l7.Retry{On: []l7.RetryOn{l7.RetryError, l7.RetryHTTP503}, Tries: 3}
	}
	return r
}

// redirect is the proxy's redirect for a RequestRedirect filter on a listener port. Without
// a port, the redirect goes to the scheme's well-known port when it changes the scheme, else
// to the listener's port; the proxy leaves out 80 for http and 443 for https.
func redirect(rd *gatewayv1.HTTPRequestRedirectFilter, port int32) *l7.Redirect {
	out := &l7.Redirect{Code: 302}
	if rd.StatusCode != nil {
		out.Code = *rd.StatusCode
	}
	if rd.Hostname != nil {
		out.Host = string(*rd.Hostname)
	}
	switch {
	case rd.Port != nil:
		out.Port = int(*rd.Port)
	case rd.Scheme != nil && *rd.Scheme == "https":
		out.Port = 443
	case rd.Scheme != nil && *rd.Scheme == "http":
		out.Port = 80
	default:
		out.Port = int(port)
	}
	if rd.Scheme != nil {
		out.Scheme = *rd.Scheme
	}
	if p := rd.Path; p != nil {
		if p.Type == gatewayv1.FullPathHTTPPathModifier {
			out.Path = *p.ReplaceFullPath
		} else {
			repl := *p.ReplacePrefixMatch
			out.PrefixReplace = &repl
		}
	}
	return out
}
