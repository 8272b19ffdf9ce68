package translate

import (
	"fmt"
	"net/netip"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"crypto/tls"

	networkingv1 "k8s.io/api/networking/v1"

	"github.com/minaks/minaks/images/ingressnginx/translate/annotations"
	"github.com/minaks/minaks/images/internal/l7"
)

// nginxVersion is the nginx of ingress-nginx v1.13, shown with server-tokens.
const nginxVersion = "nginx/1.27.1"

// healthzPath is the default server's health check location (the template's HealthzURI).
const healthzPath = "/healthz"

// proxyConfig turns the model into the proxy's configuration.
func (b *builder) proxyConfig() *l7.Config {
	cfg := &l7.Config{
		Upstreams:    map[string]*l7.Upstream{},
		ServerHeader: "nginx",
		ErrorPage:    l7.NginxErrorPage,
		Forwarding: l7.Forwarding{
			UseForwardedHeaders:     b.cfg.UseForwardedHeaders,
			ComputeFullForwardedFor: b.cfg.ComputeFullForwardedFor,
			ForwardedForHeader:      b.cfg.ForwardedForHeader,
			GenerateRequestID:       b.cfg.GenerateRequestID,
			AddOriginalURIHeader:    b.cfg.AddOriginalURIHeader,
		},
	}
	if b.cfg.ShowServerTokens {
		cfg.ServerHeader = nginxVersion
	}
	if b.cfg.UseForwardedHeaders {
		cfg.Forwarding.RealIPFrom = b.prefixes(nil, b.cfg.ProxyRealIPCIDR)
	}

	var def *l7.Server
	var hosts []*l7.Server
	for _, s := range b.sortedServers() {
		ls := b.l7Server(s)
		if s.hostname == defServerName {
			def = ls
		} else {
			hosts = append(hosts, ls)
		}
	}
	defCert, _ := b.defaultCertificate()
	minTLS, maxTLS := tlsVersions(b.cfg.SSLProtocols)
	// ingress-nginx writes a wildcard host as the server name ~^(?<subdomain>[\w-]+)\.example\.com$
	// and looks certificates up the same way: one label.
	httpL := &l7.Listener{Name: "http", Addr: fmt.Sprintf(":%d", b.opts.HTTPPort), Protocol: l7.HTTP,
		Servers: hosts, Default: def, ProxyProtocol: b.cfg.UseProxyProtocol, SingleLabelWildcards: true}
	httpsL := &l7.Listener{Name: "https", Addr: fmt.Sprintf(":%d", b.opts.HTTPSPort), Protocol: l7.HTTPS,
		Servers: hosts, Default: def, DefaultCertificate: defCert, MinTLSVersion: minTLS, MaxTLSVersion: maxTLS,
		ProxyProtocol: b.cfg.UseProxyProtocol, Passthrough: b.passthrough(), SingleLabelWildcards: true}
	cfg.Listeners = []*l7.Listener{httpL, httpsL}

	for name, u := range b.m.upstreams {
		if u.builtin {
			continue
		}
		cfg.Upstreams[name] = b.l7Upstream(u)
	}
	return cfg
}

// passthrough maps the hosts with ssl-passthrough to the upstream of their root location.
func (b *builder) passthrough() map[string]string {
	var out map[string]string
	for _, s := range b.sortedServers() {
		if !s.sslPassthrough {
			continue
		}
		var from *ingressInfo
		for _, loc := range s.locations {
			if loc.ing != nil {
				from = loc.ing
				break
			}
		}
		if !b.opts.EnableSSLPassthrough {
			b.warn(from, ReasonIgnored, fmt.Sprintf("annotation ssl-passthrough of host %q has no effect: the controller runs without --enable-ssl-passthrough", s.hostname))
			continue
		}
		for _, loc := range s.locations {
			if loc.path != rootLocation {
				continue
			}
			if loc.backend == defUpstreamName {
				b.warn(from, ReasonIgnored, fmt.Sprintf("Server %q has no default backend, ignoring SSL Passthrough.", s.hostname))
				break
			}
			if out == nil {
				out = map[string]string{}
			}
			out[s.hostname] = loc.backend
			break
		}
	}
	return out
}

// enforceRegex tells whether nginx matches all locations of a server as regexes: when one of
// them has use-regex or a rewrite-target.
func enforceRegex(s *server) bool {
	for _, loc := range s.locations {
		if needsRewrite(loc) || loc.anns.Rewrite.UseRegex {
			return true
		}
	}
	return false
}

// l7Server makes a server's routes in the order nginx picks a location: with regexes, the
// locations in order (the first match wins); otherwise exact locations first, then the
// longest prefix.
func (b *builder) l7Server(s *server) *l7.Server {
	ls := &l7.Server{Certificate: s.cert}
	if s.hostname != defServerName {
		ls.Hostnames = append([]string{strings.ToLower(s.hostname)}, s.aliases...)
	}
	if b.cfg.HSTS {
		// ingress-nginx's Lua header filter adds HSTS to every response over TLS, whether the
		// host has a certificate of its own or not.
		v := "max-age=" + b.cfg.HSTSMaxAge
		if b.cfg.HSTSIncludeSubdomains {
			v += "; includeSubDomains"
		}
		if b.cfg.HSTSPreload {
			v += "; preload"
		}
		ls.TLSResponseHeaders = map[string]string{"Strict-Transport-Security": v}
	}
	regex := enforceRegex(s)
	type group struct {
		loc    *location
		routes []*l7.Route
	}
	var groups []group
	for _, loc := range s.locations {
		groups = append(groups, group{loc, b.locationRoutes(s, loc, regex)})
	}
	if s.hostname == defServerName {
		healthz := &l7.Route{Match: l7.Match{PathType: l7.PathStringPrefix, Path: healthzPath}, Respond: &l7.Respond{Code: 200}}
		status := &l7.Route{Match: l7.Match{PathType: l7.PathStringPrefix, Path: "/nginx_status"},
			AllowSources: b.prefixes(nil, []string{"127.0.0.1", "::1"}),
			Respond:      &l7.Respond{Code: 200, ContentType: "text/plain", Body: "Active connections: 1 \nserver accepts handled requests\n 1 1 1 \nReading: 0 Writing: 1 Waiting: 0 \n"}}
		for _, r := range []*l7.Route{healthz, status} {
			if regex {
				groups = append(groups, group{routes: []*l7.Route{r}})
			} else {
				groups = append(groups, group{loc: &location{path: r.Match.Path, pathType: networkingv1.PathTypePrefix}, routes: []*l7.Route{r}})
			}
		}
	}
	if !regex {
		sort.SliceStable(groups, func(i, j int) bool {
			ei, ej := groups[i].loc.pathType == networkingv1.PathTypeExact, groups[j].loc.pathType == networkingv1.PathTypeExact
			if ei != ej {
				return ei
			}
			if ei {
				return false
			}
			return len(groups[i].loc.path) > len(groups[j].loc.path)
		})
	}
	// app-root is an "if ($uri = /) { return 302 … }" at the server level of nginx.tmpl, before
	// any location is picked: the first location that has it redirects "/" for the host.
	for _, loc := range s.locations {
		if root := loc.anns.Rewrite.AppRoot; root != "" {
			ls.Routes = append(ls.Routes, &l7.Route{
				Meta:     meta(loc),
				Match:    l7.Match{PathType: l7.PathExact, Path: "/"},
				Redirect: &l7.Redirect{Code: 302, Path: root, DropQuery: true},
			})
			break
		}
	}
	for _, g := range groups {
		ls.Routes = append(ls.Routes, g.routes...)
	}
	return ls
}

// regexCache keeps compiled location regexes; compiling is pure, the cache only saves time.
var regexCache = struct {
	sync.Mutex
	m map[string]regexResult
}{m: map[string]regexResult{}}

type regexResult struct {
	re  *regexp.Regexp
	err error
}

func (b *builder) regex(src string) (*regexp.Regexp, error) {
	regexCache.Lock()
	defer regexCache.Unlock()
	if r, ok := regexCache.m[src]; ok {
		return r.re, r.err
	}
	re, err := regexp.Compile(src)
	if len(regexCache.m) >= 4096 {
		regexCache.m = map[string]regexResult{}
	}
	regexCache.m[src] = regexResult{re, err}
	return re, err
}

func meta(loc *location) l7.RouteMeta {
	m := l7.RouteMeta{Path: loc.ingressPath, Service: loc.service, ServicePort: loc.port}
	if loc.ing != nil {
		m.Kind, m.Namespace, m.Name = "Ingress", loc.ing.ing.Namespace, loc.ing.ing.Name
	}
	return m
}

// locationRoutes makes the routes of one location: its canary rules, if its upstream has a
// canary, then the location itself.
func (b *builder) locationRoutes(s *server, loc *location, regex bool) []*l7.Route {
	a := loc.anns
	r := &l7.Route{Meta: meta(loc)}
	switch {
	case regex:
		re, err := b.regex("(?i)^" + loc.path)
		if err != nil {
			b.reject(loc.ing, fmt.Sprintf("path %q of host %q is used as a regular expression (use-regex or rewrite-target on this host) and is not a valid RE2 regular expression: %v", loc.ingressPath, s.hostname, err))
			return nil
		}
		r.Match = l7.Match{PathType: l7.PathRegex, Path: loc.path, Regex: re}
	case loc.pathType == networkingv1.PathTypeExact:
		r.Match = l7.Match{PathType: l7.PathExact, Path: loc.path}
	default:
		r.Match = l7.Match{PathType: l7.PathStringPrefix, Path: loc.path}
	}

	// nginx checks the body size when it picks the location, before anything else.
	if n, err := annotations.ParseSize(a.Proxy.BodySize); err == nil {
		r.MaxBodyBytes = n
	} else if n, err := annotations.ParseSize(b.cfg.Backend.ProxyBodySize); err == nil {
		r.MaxBodyBytes = n
	}

	// "return" directives run in nginx's rewrite phase, before the allowlist, the HTTPS
	// redirect and the rate limits: a denied location or a redirect answers at once.
	if a.Denied != "" {
		b.warn(loc.ing, ReasonAnnotation, fmt.Sprintf("location %s%s is denied: %s; ingress-nginx answers 503", s.hostname, loc.ingressPath, a.Denied))
		r.Respond = &l7.Respond{Code: 503}
		return []*l7.Route{r}
	}
	if a.Redirect.URL != "" {
		r.Redirect = b.redirect(loc, a.Redirect.URL, a.Redirect.Code)
		return []*l7.Route{r}
	}

	r.AllowSources = b.prefixes(loc.ing, a.Allowlist)
	r.DenySources = b.prefixes(loc.ing, a.Denylist)
	if len(a.Allowlist) == 0 && len(a.Denylist) == 0 {
		r.DenySources = b.prefixes(nil, b.cfg.BlockCIDRs)
	}
	if !inLocationList(loc.path, b.cfg.NoTLSRedirectLocations) &&
		(a.Rewrite.ForceSSLRedirect || (a.Rewrite.SSLRedirect && s.cert != nil && s.hostname != defServerName)) {
		r.HTTPSRedirect = &l7.Redirect{Code: b.cfg.HTTPRedirectCode, Scheme: "https", StripTrailingSlash: !a.Rewrite.PreserveTrailingSlash}
	}
	if rl := a.RateLimit; rl.RPS > 0 || rl.RPM > 0 || rl.Connections > 0 {
		r.RateLimit = &l7.RateLimit{RPS: rl.RPS, RPM: rl.RPM, Burst: rl.RPSBurst, Connections: rl.Connections,
			Code: b.cfg.LimitReqStatusCode, Allow: b.prefixes(loc.ing, rl.Allowlist)}
		if rl.RPS == 0 {
			r.RateLimit.Burst = rl.RPMBurst
		} else if rl.RPM > 0 {
			r.RateLimit.RPMBurst = rl.RPMBurst
		}
	}
	if c := a.CORS; c.Enabled {
		r.CORS = &l7.CORS{AllowOrigins: c.AllowOrigin, AllowMethods: c.AllowMethods, AllowHeaders: c.AllowHeaders,
			ExposeHeaders: c.ExposeHeaders, AllowCredentials: c.AllowCredentials, MaxAge: c.MaxAge}
	}
	u := b.m.upstreams[loc.backend]
	if u == nil || u.builtin {
		// The controller's own default backend answers 404 (nginx's page) to everything.
		r.Respond = &l7.Respond{Code: 404}
		return []*l7.Route{r}
	}
	r.Backends = []l7.WeightedBackend{{Upstream: u.name, Weight: 1}}
	b.setProtocol(loc, u)

	r.Timeouts = l7.Timeouts{
		Connect: time.Duration(a.Proxy.ConnectTimeout) * time.Second,
		Read:    time.Duration(a.Proxy.ReadTimeout) * time.Second,
		Send:    time.Duration(a.Proxy.SendTimeout) * time.Second,
	}
	r.Retry = l7.Retry{On: retryOn(a.Proxy.NextUpstream), Tries: a.Proxy.NextUpstreamTries,
		Timeout: time.Duration(a.Proxy.NextUpstreamTimeout) * time.Second}
	r.RequestBuffering = a.Proxy.RequestBuffering == "on"
	r.ResponseBuffering = a.Proxy.Buffering == "on"
	if a.Proxy.HTTPVersion == "1.0" {
		b.warn(loc.ing, ReasonNotEmulated, "proxy-http-version 1.0 is not emulated: requests to the backend use HTTP/1.1")
	}
	if needsRewrite(loc) {
		re, err := b.regex("(?i)" + loc.path)
		if err != nil {
			b.reject(loc.ing, fmt.Sprintf("path %q of host %q is the regular expression of rewrite-target and is not a valid RE2 regular expression: %v", loc.ingressPath, s.hostname, err))
			return nil
		}
		r.Rewrite = &l7.Rewrite{Regex: re, Template: rewriteTemplate(a.Rewrite.Target)}
		// ingress-nginx only sends X-Forwarded-Prefix along with a rewrite.
		r.ForwardedPrefix = a.XForwardedPrefix
	}
	r.UpstreamHost = a.UpstreamVhost
	if m := a.Mirror; m.Target != "" {
		r.Mirror = []string{m.Target}
		if m.RequestBody == "off" {
			b.warn(loc.ing, ReasonNotEmulated, "mirror-request-body off is not emulated: the mirror gets the request body")
		}
		if m.Host != "" {
			b.warn(loc.ing, ReasonNotEmulated, "mirror-host is not emulated: the mirror gets the request's Host")
		}
	}
	if u.affinity.Type == "cookie" {
		c := u.affinity.Cookie
		ca := &l7.CookieAffinity{Name: c.Name, Path: c.Path, Domain: c.Domain, Secure: c.Secure, SameSite: c.SameSite,
			ChangeOnFailure: c.ChangeOnFailure, Persistent: u.affinity.Mode == "persistent"}
		if ca.Path == "" {
			ca.Path = loc.ingressPath
		}
		ca.MaxAge, _ = strconv.Atoi(c.MaxAge)
		ca.Expires, _ = strconv.Atoi(c.Expires)
		r.Affinity = ca
	}
	b.customErrors(loc, r)
	b.snippets(s, loc, r)

	if len(u.alternatives) > 0 {
		if alt := b.m.upstreams[u.alternatives[0]]; alt != nil && alt.canary != nil {
			return b.canaryRoutes(loc, r, u, alt)
		}
	}
	return []*l7.Route{r}
}

func (b *builder) reject(info *ingressInfo, msg string) {
	if info == nil {
		return
	}
	if _, ok := b.m.rejected[info]; !ok {
		b.m.rejected[info] = msg
	}
}

// setProtocol gives an upstream (and its canaries) the backend-protocol of the first location
// using it; nginx sets it per location, the proxy per upstream.
func (b *builder) setProtocol(loc *location, u *upstream) {
	p := loc.anns.BackendProtocol
	switch p {
	case "":
		p = "HTTP"
	case "AUTO_HTTP":
		b.warn(loc.ing, ReasonNotEmulated, "backend-protocol AUTO_HTTP is not emulated: the backend is spoken to in HTTP whatever the client's scheme")
	case "FCGI":
		b.warn(loc.ing, ReasonNotEmulated, "backend-protocol FCGI is not emulated: FastCGI backends are spoken to in HTTP and will not answer")
	}
	for _, name := range append([]string{u.name}, u.alternatives...) {
		x := b.m.upstreams[name]
		if x == nil {
			continue
		}
		if x.protocol == "" {
			x.protocol = p
		} else if x.protocol != p {
			b.warn(loc.ing, ReasonNotEmulated, fmt.Sprintf("upstream %s is used with backend-protocol %s and %s: minaks speaks %s to it everywhere", x.name, x.protocol, p, x.protocol))
		}
	}
}

// customErrors sends backend errors with the custom-http-errors codes to the default backend.
func (b *builder) customErrors(loc *location, r *l7.Route) {
	a := loc.anns
	codes := a.CustomHTTPErrors
	if len(codes) == 0 {
		codes = b.cfg.CustomHTTPErrors
	}
	if len(codes) == 0 || a.DisableProxyInterceptErrors || b.cfg.DisableProxyInterceptErrors {
		return
	}
	u := b.m.upstreams[loc.defaultBackendUpstream]
	if u == nil || u.builtin {
		b.warn(loc.ing, ReasonNotEmulated, "custom-http-errors without a default backend Service (--default-backend-service or the default-backend annotation) is not emulated: the backend's error responses are sent as they are")
		return
	}
	r.Errors = &l7.ErrorPages{Codes: append([]int(nil), codes...), Upstream: u.name}
}

// snippets applies the header directives of the server and configuration snippets.
func (b *builder) snippets(s *server, loc *location, r *l7.Route) {
	var req, resp l7.HeaderModifier
	if s.serverSnippet != "" {
		sn := parseSnippet(s.serverSnippet)
		if len(sn.unsupported) > 0 {
			b.warn(s.snippetFrom, ReasonNotEmulated, snippetWarning(b.opts.AnnotationsPrefix+"/server-snippet", sn))
		}
		req, resp = sn.request, sn.response
	}
	if text := loc.anns.ConfigurationSnippet; text != "" {
		sn := parseSnippet(text)
		if len(sn.unsupported) > 0 {
			b.warn(loc.ing, ReasonNotEmulated, snippetWarning(b.opts.AnnotationsPrefix+"/configuration-snippet", sn))
		}
		req, resp = mergeHeaders(req, sn.request), mergeHeaders(resp, sn.response)
	}
	r.RequestHeaders, r.ResponseHeaders = req, resp
}

// canaryRoutes expresses ingress-nginx's canary decision (its Lua balancer's
// route_to_alternative_balancer) as ordered routes. With canary-by-header: the header equal
// to canary-by-header-value, or matching canary-by-header-pattern, goes to the canary (other
// values fall through); without either, "always" goes to the canary and "never" stops at the
// main backend. Then canary-by-cookie, "always" and "never" alike. Then canary-weight out of
// canary-weight-total (100 unless greater).
func (b *builder) canaryRoutes(loc *location, base *l7.Route, pri, alt *upstream) []*l7.Route {
	p := alt.canary
	clone := func(canary bool, add func(*l7.Match)) *l7.Route {
		r := *base
		r.Match.Headers = append([]l7.ValueMatch(nil), base.Match.Headers...)
		r.Match.Cookies = append([]l7.ValueMatch(nil), base.Match.Cookies...)
		add(&r.Match)
		if canary {
			r.Backends = []l7.WeightedBackend{{Upstream: alt.name, Weight: 1, Canary: true}}
			r.Meta.Canary = true
		}
		return &r
	}
	header := func(v l7.ValueMatch) func(*l7.Match) {
		return func(m *l7.Match) { m.Headers = append(m.Headers, v) }
	}
	cookie := func(v l7.ValueMatch) func(*l7.Match) {
		return func(m *l7.Match) { m.Cookies = append(m.Cookies, v) }
	}
	var out []*l7.Route
	if p.Header != "" {
		switch {
		case p.HeaderValue != "":
			out = append(out, clone(true, header(l7.ValueMatch{Name: p.Header, Value: p.HeaderValue})))
		case p.HeaderPattern != "":
			re, err := b.regex("(?s).*(?:" + p.HeaderPattern + ").*")
			if err != nil {
				b.warn(loc.ing, ReasonCanary, fmt.Sprintf("canary-by-header-pattern %q of upstream %s is not a valid RE2 regular expression (%v): requests never match it", p.HeaderPattern, alt.name, err))
				break
			}
			out = append(out, clone(true, header(l7.ValueMatch{Name: p.Header, Regex: re})))
		default:
			out = append(out,
				clone(true, header(l7.ValueMatch{Name: p.Header, Value: "always"})),
				clone(false, header(l7.ValueMatch{Name: p.Header, Value: "never"})))
		}
	}
	if p.Cookie != "" {
		out = append(out,
			clone(true, cookie(l7.ValueMatch{Name: p.Cookie, Value: "always"})),
			clone(false, cookie(l7.ValueMatch{Name: p.Cookie, Value: "never"})))
	}
	last := clone(false, func(*l7.Match) {})
	total := 100
	if p.WeightTotal > 100 {
		total = p.WeightTotal
	}
	switch {
	case p.Weight >= total:
		last.Backends = []l7.WeightedBackend{{Upstream: alt.name, Weight: 1, Canary: true}}
		last.Meta.Canary = true
	case p.Weight > 0:
		last.Backends = []l7.WeightedBackend{{Upstream: pri.name, Weight: total - p.Weight}, {Upstream: alt.name, Weight: p.Weight, Canary: true}}
	}
	return append(out, last)
}

// redirect is permanent-redirect or temporal-redirect: nginx's "return <code> <url>". A URL
// ending in $request_uri keeps the request's path and query.
func (b *builder) redirect(loc *location, target string, code int) *l7.Redirect {
	if base, ok := strings.CutSuffix(target, "$request_uri"); ok && !strings.Contains(base, "$") {
		if u, err := url.Parse(base); err == nil && u.Scheme != "" && u.Host != "" && (u.Path == "" || u.Path == "/") {
			r := &l7.Redirect{Code: code, Scheme: u.Scheme, Host: u.Hostname()}
			if p := u.Port(); p != "" {
				r.Port, _ = strconv.Atoi(p)
			}
			return r
		}
	}
	if strings.Contains(target, "$") {
		b.warn(loc.ing, ReasonNotEmulated, fmt.Sprintf("redirect target %q: nginx variables are not expanded", target))
	}
	return &l7.Redirect{Code: code, URL: target}
}

// rewriteTemplate turns nginx's "$1" capture references into Go's "${1}".
var captureRef = regexp.MustCompile(`\$(\d+)`)

func rewriteTemplate(target string) string {
	return captureRef.ReplaceAllString(target, "$${$1}")
}

// retryOn reads proxy-next-upstream.
func retryOn(s string) []l7.RetryOn {
	var out []l7.RetryOn
	for _, f := range strings.Fields(s) {
		if f == "off" {
			return nil
		}
		out = append(out, l7.RetryOn(f))
	}
	return out
}

// inLocationList is ingress-nginx's isLocationInLocationList: the path starts with one of the
// comma-separated prefixes.
func inLocationList(path, list string) bool {
	for _, p := range strings.Split(list, ",") {
		if p = strings.TrimSpace(p); p != "" && strings.HasPrefix(path, p) {
			return true
		}
	}
	return false
}

// prefixes parses CIDRs and addresses (already validated by the annotations).
func (b *builder) prefixes(info *ingressInfo, cidrs []string) []netip.Prefix {
	var out []netip.Prefix
	for _, c := range cidrs {
		if p, err := netip.ParsePrefix(c); err == nil {
			out = append(out, p.Masked())
			continue
		}
		if a, err := netip.ParseAddr(c); err == nil {
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		b.warn(info, ReasonAnnotation, fmt.Sprintf("%q is not an IP address or network and is ignored", c))
	}
	return out
}

// tlsVersions reads ssl-protocols ("TLSv1.2 TLSv1.3") into the lowest and highest version.
func tlsVersions(s string) (min, max uint16) {
	versions := map[string]uint16{"TLSv1": tls.VersionTLS10, "TLSv1.1": tls.VersionTLS11, "TLSv1.2": tls.VersionTLS12, "TLSv1.3": tls.VersionTLS13}
	for _, f := range strings.Fields(s) {
		v, ok := versions[f]
		if !ok {
			continue
		}
		if min == 0 || v < min {
			min = v
		}
		if v > max {
			max = v
		}
	}
	return min, max
}

// l7Upstream makes the proxy's upstream.
func (b *builder) l7Upstream(u *upstream) *l7.Upstream {
	out := &l7.Upstream{Name: u.name, Endpoints: u.endpoints, Namespace: u.namespace, Service: u.service, Port: u.port,
		Balance: l7.RoundRobin, Protocol: l7.UpstreamHTTP}
	switch {
	case u.hashBy != "":
		out.Balance, out.HashBy = l7.ConsistentHash, u.hashBy
	case u.loadBalance == "ewma":
		out.Balance = l7.EWMA
	}
	switch u.protocol {
	case "HTTPS":
		out.Protocol = l7.UpstreamHTTPS
	case "GRPC":
		out.Protocol = l7.UpstreamGRPC
	case "GRPCS":
		out.Protocol = l7.UpstreamGRPCS
	}
	return out
}
