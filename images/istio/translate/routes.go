package translate

import (
	"fmt"
	"net/http"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/minaks/minaks/images/internal/l7"
)

// routeInfo is an HTTPRoute or GRPCRoute, its rules compiled.
type routeInfo struct {
	kind       string
	ns, name   string
	created    metav1.Time
	generation int64
	hostnames  []string
	parentRefs []gatewayv1.ParentReference

	rules []*ruleInfo
	// dropped describe the rules that are invalid and not served.
	dropped []string
	// acceptReason is the reason of Accepted=False when no rule is valid ("" otherwise).
	acceptReason, acceptMessage string
	// refsReason is the reason of ResolvedRefs=False ("" when every reference resolved);
	// refsProblems describe each unresolved reference.
	refsReason   string
	refsProblems []string

	// parents are the route's parentRefs to Gateways of the implemented classes, in order.
	parents []*parentInfo
}

// key is "namespace/name", the last tie-breaker of route precedence.
func (ri *routeInfo) key() string { return ri.ns + "/" + ri.name }

// unresolved records a reference that could not be resolved; the first reason is the one
// the ResolvedRefs condition carries.
func (ri *routeInfo) unresolved(reason gatewayv1.RouteConditionReason, msg string) {
	if ri.refsReason == "" {
		ri.refsReason = string(reason)
	}
	for _, p := range ri.refsProblems {
		if p == msg {
			return
		}
	}
	ri.refsProblems = append(ri.refsProblems, msg)
}

// ruleInfo is a valid rule of a route.
type ruleInfo struct {
	index int
	// name is the rule's name, else "rule <index>".
	name    string
	matches []matchInfo

	// The action: a redirect, a fixed status, or backends.
	redirect *gatewayv1.HTTPRequestRedirectFilter
	// respond, if not 0, answers every request with this status (500 for an ExtensionRef
	// filter that cannot be resolved, for a rule whose backends are all invalid or all of
	// weight 0).
	respond  int
	backends []l7.WeightedBackend

	requestHeaders, responseHeaders l7.HeaderModifier
	rewrite                         *l7.Rewrite
	mirrors                         []l7.MirrorPolicy
	timeouts                        l7.Timeouts
	retry                           l7.Retry
	cors                            *l7.CORS
	// upstreams are the names of the upstreams the rule uses (backends and mirrors).
	upstreams []string
}

// matchInfo is one match of a rule, as the proxy's Match, with what decides its precedence.
type matchInfo struct {
	match l7.Match
	// HTTPRoute: pathKind is 3 for Exact, 2 for RegularExpression, 1 for PathPrefix;
	// pathLen the length of the path value; method whether a method is matched.
	pathKind, pathLen int
	method            bool
	// GRPCRoute: the lengths of the service and method matched.
	service, grpcMethod int
	headers, query      int
}

// routes collects every route and compiles its rules. Routes with no parentRef to a Gateway
// of an implemented class are compiled too: it is cheap and keeps the code simple, and their
// status is never reported.
func (b *builder) routes() {
	// Upstream names and messages depend on the order routes are read in: read them sorted.
	httpRoutes := slices.Clone(b.st.HTTPRoutes)
	slices.SortFunc(httpRoutes, func(a, c *gatewayv1.HTTPRoute) int {
		return strings.Compare(objectKey(a), objectKey(c))
	})
	grpcRoutes := slices.Clone(b.st.GRPCRoutes)
	slices.SortFunc(grpcRoutes, func(a, c *gatewayv1.GRPCRoute) int {
		return strings.Compare(objectKey(a), objectKey(c))
	})
	for _, r := range httpRoutes {
		if r == nil {
			continue
		}
		ri := &routeInfo{kind: kindHTTPRoute, ns: r.Namespace, name: r.Name, created: r.CreationTimestamp,
			generation: r.Generation, parentRefs: r.Spec.ParentRefs, hostnames: canonicalHostnames(r.Spec.Hostnames)}
		for i := range r.Spec.Rules {
			b.addRule(ri, i, r.Spec.Rules[i].Name, func() (*ruleInfo, string, gatewayv1.RouteConditionReason) {
				return b.httpRule(ri, &r.Spec.Rules[i], i)
			})
		}
		b.finishRoute(ri)
	}
	for _, r := range grpcRoutes {
		if r == nil {
			continue
		}
		ri := &routeInfo{kind: kindGRPCRoute, ns: r.Namespace, name: r.Name, created: r.CreationTimestamp,
			generation: r.Generation, parentRefs: r.Spec.ParentRefs, hostnames: canonicalHostnames(r.Spec.Hostnames)}
		for i := range r.Spec.Rules {
			b.addRule(ri, i, r.Spec.Rules[i].Name, func() (*ruleInfo, string, gatewayv1.RouteConditionReason) {
				return b.grpcRule(ri, &r.Spec.Rules[i], i)
			})
		}
		b.finishRoute(ri)
	}
	sort.SliceStable(b.routeList, func(i, j int) bool {
		a, c := b.routeList[i], b.routeList[j]
		if a.kind != c.kind {
			return a.kind > c.kind // HTTPRoute before GRPCRoute
		}
		return a.key() < c.key()
	})
}

// addRule compiles one rule, or records why it is dropped.
func (b *builder) addRule(ri *routeInfo, i int, name *gatewayv1.SectionName, compile func() (*ruleInfo, string, gatewayv1.RouteConditionReason)) {
	label := fmt.Sprintf("rule %d", i)
	if name != nil && *name != "" {
		label = fmt.Sprintf("rule %d (%s)", i, *name)
	}
	rule, problem, reason := compile()
	if problem != "" {
		ri.dropped = append(ri.dropped, label+": "+problem)
		if ri.acceptReason == "" || reason == gatewayv1.RouteReasonIncompatibleFilters {
			ri.acceptReason = string(reason)
		}
		return
	}
	rule.name = fmt.Sprintf("rule %d", i)
	if name != nil && *name != "" {
		rule.name = string(*name)
	}
	ri.rules = append(ri.rules, rule)
}

// finishRoute decides Accepted for the rules: a route whose rules are all dropped is not
// accepted; one with some valid rules is, and is PartiallyInvalid.
func (b *builder) finishRoute(ri *routeInfo) {
	if len(ri.rules) > 0 || len(ri.dropped) == 0 {
		ri.acceptReason = ""
	} else {
		ri.acceptMessage = "no valid rule: " + strings.Join(ri.dropped, "; ")
	}
	b.routeList = append(b.routeList, ri)
}

// objectKey is "namespace/name" of an object ("" for nil).
func objectKey(o metav1.Object) string {
	if o == nil || reflect.ValueOf(o).IsNil() {
		return ""
	}
	return o.GetNamespace() + "/" + o.GetName()
}

func canonicalHostnames(hs []gatewayv1.Hostname) []string {
	var out []string
	for _, h := range hs {
		out = append(out, canonicalHostname(string(h)))
	}
	return out
}

// httpRule compiles an HTTPRoute rule. It returns a problem (and the Accepted reason) when
// the rule uses something unknown or unsupported, in which case it is dropped.
func (b *builder) httpRule(ri *routeInfo, r *gatewayv1.HTTPRouteRule, index int) (*ruleInfo, string, gatewayv1.RouteConditionReason) {
	rule := &ruleInfo{index: index}
	matches := r.Matches
	if len(matches) == 0 {
		matches = []gatewayv1.HTTPRouteMatch{{}}
	}
	for i := range matches {
		m, problem := httpMatch(&matches[i])
		if problem != "" {
			return nil, fmt.Sprintf("match %d: %s", i, problem), gatewayv1.RouteReasonUnsupportedValue
		}
		rule.matches = append(rule.matches, m)
	}
	hasRedirect, hasRewrite := false, false
	for i := range r.Filters {
		f := &r.Filters[i]
		switch f.Type {
		case gatewayv1.HTTPRouteFilterRequestRedirect:
			hasRedirect = true
		case gatewayv1.HTTPRouteFilterURLRewrite:
			hasRewrite = true
		}
	}
	if hasRedirect && hasRewrite {
		return nil, "the RequestRedirect and URLRewrite filters cannot be combined", gatewayv1.RouteReasonIncompatibleFilters
	}
	for i := range r.Filters {
		if problem := b.httpFilter(ri, rule, &r.Filters[i]); problem != "" {
			return nil, fmt.Sprintf("filter %d (%s): %s", i, r.Filters[i].Type, problem), gatewayv1.RouteReasonUnsupportedValue
		}
	}
	if rule.redirect != nil && len(r.BackendRefs) > 0 {
		return nil, "a RequestRedirect filter cannot be used with backendRefs", gatewayv1.RouteReasonIncompatibleFilters
	}
	if p := prefixModifier(rule); p && !onlyPrefixMatches(rule) {
		return nil, "ReplacePrefixMatch needs exactly one PathPrefix match", gatewayv1.RouteReasonUnsupportedValue
	}
	if t := r.Timeouts; t != nil {
		if problem := timeouts(rule, t); problem != "" {
			return nil, problem, gatewayv1.RouteReasonUnsupportedValue
		}
	}
	if rt := r.Retry; rt != nil {
		retry(rule, rt)
	}
	if rule.redirect != nil || rule.respond != 0 {
		return rule, "", ""
	}
	var refs []backendRef
	for i := range r.BackendRefs {
		br := &r.BackendRefs[i]
		ref := backendRef{ref: br.BackendObjectReference, weight: br.Weight}
		for j := range br.Filters {
			f := &br.Filters[j]
			switch f.Type {
			case gatewayv1.HTTPRouteFilterRequestHeaderModifier:
				if f.RequestHeaderModifier == nil {
					return nil, fmt.Sprintf("backendRef %d filter %d: requestHeaderModifier is missing", i, j), gatewayv1.RouteReasonUnsupportedValue
				}
				ref.requestHeaders = headerModifier(f.RequestHeaderModifier)
			case gatewayv1.HTTPRouteFilterResponseHeaderModifier:
				if f.ResponseHeaderModifier == nil {
					return nil, fmt.Sprintf("backendRef %d filter %d: responseHeaderModifier is missing", i, j), gatewayv1.RouteReasonUnsupportedValue
				}
				ref.responseHeaders = headerModifier(f.ResponseHeaderModifier)
			default:
				return nil, fmt.Sprintf("backendRef %d filter %d: %s filters are not supported on a backendRef, only RequestHeaderModifier and ResponseHeaderModifier", i, j, f.Type), gatewayv1.RouteReasonUnsupportedValue
			}
		}
		refs = append(refs, ref)
	}
	b.backends(ri, rule, refs, http.StatusInternalServerError)
	return rule, "", ""
}

// prefixModifier reports whether the rule rewrites or redirects with ReplacePrefixMatch.
func prefixModifier(rule *ruleInfo) bool {
	if rule.rewrite != nil && rule.rewrite.PrefixReplace != nil {
		return true
	}
	return rule.redirect != nil && rule.redirect.Path != nil && rule.redirect.Path.Type == gatewayv1.PrefixMatchHTTPPathModifier
}

func onlyPrefixMatches(rule *ruleInfo) bool {
	return len(rule.matches) == 1 && rule.matches[0].match.PathType == l7.PathPrefix
}

// httpMatch compiles one HTTPRouteMatch.
func httpMatch(m *gatewayv1.HTTPRouteMatch) (matchInfo, string) {
	var mi matchInfo
	pathType, path := gatewayv1.PathMatchPathPrefix, "/"
	if m.Path != nil {
		if m.Path.Type != nil {
			pathType = *m.Path.Type
		}
		if m.Path.Value != nil {
			path = *m.Path.Value
		}
	}
	switch pathType {
	case gatewayv1.PathMatchExact, gatewayv1.PathMatchPathPrefix:
		if !strings.HasPrefix(path, "/") {
			return mi, fmt.Sprintf("path %q does not start with /", path)
		}
		if strings.Contains(path, "//") {
			return mi, fmt.Sprintf("path %q has consecutive slashes", path)
		}
		if pathType == gatewayv1.PathMatchExact {
			mi.match = l7.Match{PathType: l7.PathExact, Path: path}
			mi.pathKind = 3
		} else {
			mi.match = l7.Match{PathType: l7.PathPrefix, Path: path}
			mi.pathKind = 1
		}
	case gatewayv1.PathMatchRegularExpression:
		re, err := fullRegexp(path)
		if err != nil {
			return mi, fmt.Sprintf("path regular expression %q: %v", path, err)
		}
		mi.match = l7.Match{PathType: l7.PathRegex, Path: path, Regex: re}
		mi.pathKind = 2
	default:
		return mi, fmt.Sprintf("path match type %q is not supported", pathType)
	}
	mi.pathLen = len(path)
	if m.Method != nil {
		if !knownMethod(string(*m.Method)) {
			return mi, fmt.Sprintf("method %q is not supported", *m.Method)
		}
		mi.match.Method = string(*m.Method)
		mi.method = true
	}
	seen := map[string]bool{}
	for _, h := range m.Headers {
		name := http.CanonicalHeaderKey(string(h.Name))
		if seen[name] {
			// Only the first of equivalent names counts.
			continue
		}
		seen[name] = true
		t := gatewayv1.HeaderMatchExact
		if h.Type != nil {
			t = *h.Type
		}
		v, problem := valueMatch(string(h.Name), string(t), h.Value)
		if problem != "" {
			return mi, "header " + string(h.Name) + ": " + problem
		}
		mi.match.Headers = append(mi.match.Headers, v)
	}
	seenQuery := map[string]bool{}
	for _, q := range m.QueryParams {
		if seenQuery[string(q.Name)] {
			continue
		}
		seenQuery[string(q.Name)] = true
		t := gatewayv1.QueryParamMatchExact
		if q.Type != nil {
			t = *q.Type
		}
		v, problem := valueMatch(string(q.Name), string(t), q.Value)
		if problem != "" {
			return mi, "query parameter " + string(q.Name) + ": " + problem
		}
		mi.match.Query = append(mi.match.Query, v)
	}
	mi.headers, mi.query = len(mi.match.Headers), len(mi.match.Query)
	return mi, ""
}

// valueMatch compiles a header or query parameter match, Exact or RegularExpression (RE2,
// matching the whole value).
func valueMatch(name, typ, value string) (l7.ValueMatch, string) {
	switch typ {
	case "Exact":
		if value == "" {
			// The proxy reads an empty Value as "absent"; an empty value is matched this way.
			return l7.ValueMatch{Name: name, Regex: regexp.MustCompile(`^$`)}, ""
		}
		return l7.ValueMatch{Name: name, Value: value}, ""
	case "RegularExpression":
		re, err := fullRegexp(value)
		if err != nil {
			return l7.ValueMatch{}, fmt.Sprintf("regular expression %q: %v", value, err)
		}
		return l7.ValueMatch{Name: name, Regex: re}, ""
	}
	return l7.ValueMatch{}, fmt.Sprintf("match type %q is not supported", typ)
}

// fullRegexp compiles an RE2 expression that must match a whole value, as Envoy's safe_regex.
func fullRegexp(expr string) (*regexp.Regexp, error) {
	return regexp.Compile("^(?:" + expr + ")$")
}

func knownMethod(m string) bool {
	switch gatewayv1.HTTPMethod(m) {
	case gatewayv1.HTTPMethodGet, gatewayv1.HTTPMethodHead, gatewayv1.HTTPMethodPost, gatewayv1.HTTPMethodPut,
		gatewayv1.HTTPMethodDelete, gatewayv1.HTTPMethodConnect, gatewayv1.HTTPMethodOptions,
		gatewayv1.HTTPMethodTrace, gatewayv1.HTTPMethodPatch:
		return true
	}
	return false
}

// httpFilter applies one rule filter to the rule; it returns a problem for what cannot be
// served.
func (b *builder) httpFilter(ri *routeInfo, rule *ruleInfo, f *gatewayv1.HTTPRouteFilter) string {
	switch f.Type {
	case gatewayv1.HTTPRouteFilterRequestHeaderModifier:
		if f.RequestHeaderModifier == nil {
			return "requestHeaderModifier is missing"
		}
		rule.requestHeaders = headerModifier(f.RequestHeaderModifier)
	case gatewayv1.HTTPRouteFilterResponseHeaderModifier:
		if f.ResponseHeaderModifier == nil {
			return "responseHeaderModifier is missing"
		}
		rule.responseHeaders = headerModifier(f.ResponseHeaderModifier)
	case gatewayv1.HTTPRouteFilterRequestRedirect:
		rd := f.RequestRedirect
		if rd == nil {
			return "requestRedirect is missing"
		}
		if rd.Scheme != nil && *rd.Scheme != "http" && *rd.Scheme != "https" {
			return fmt.Sprintf("scheme %q is not supported", *rd.Scheme)
		}
		if rd.StatusCode != nil {
			switch *rd.StatusCode {
			case 301, 302, 303, 307, 308:
			default:
				return fmt.Sprintf("status code %d is not supported", *rd.StatusCode)
			}
		}
		if problem := pathModifier(rd.Path); problem != "" {
			return problem
		}
		rule.redirect = rd
	case gatewayv1.HTTPRouteFilterURLRewrite:
		rw := f.URLRewrite
		if rw == nil {
			return "urlRewrite is missing"
		}
		if problem := pathModifier(rw.Path); problem != "" {
			return problem
		}
		rule.rewrite = &l7.Rewrite{}
		if rw.Hostname != nil {
			rule.rewrite.Hostname = string(*rw.Hostname)
		}
		if p := rw.Path; p != nil {
			if p.Type == gatewayv1.FullPathHTTPPathModifier {
				rule.rewrite.FullPath = p.ReplaceFullPath
			} else {
				rule.rewrite.PrefixReplace = p.ReplacePrefixMatch
			}
		}
	case gatewayv1.HTTPRouteFilterRequestMirror:
		if f.RequestMirror == nil {
			return "requestMirror is missing"
		}
		return b.mirror(ri, rule, f.RequestMirror)
	case gatewayv1.HTTPRouteFilterCORS:
		if f.CORS == nil {
			return "cors is missing"
		}
		rule.cors = corsPolicy(f.CORS)
	case gatewayv1.HTTPRouteFilterExtensionRef:
		ref := f.ExtensionRef
		name := "(missing)"
		if ref != nil {
			name = fmt.Sprintf("%s/%s %s", groupOrCore(string(ref.Group)), ref.Kind, ref.Name)
		}
		// An unresolved custom filter must not be skipped: its requests get an error.
		ri.unresolved(gatewayv1.RouteReasonInvalidKind, fmt.Sprintf("ExtensionRef filter %s is not supported", name))
		rule.respond = http.StatusInternalServerError
	default:
		// ExternalAuth, and types this version does not know.
		return "not supported"
	}
	return ""
}

// pathModifier checks a redirect's or rewrite's path modifier.
func pathModifier(p *gatewayv1.HTTPPathModifier) string {
	if p == nil {
		return ""
	}
	switch p.Type {
	case gatewayv1.FullPathHTTPPathModifier:
		if p.ReplaceFullPath == nil {
			return "replaceFullPath is missing"
		}
	case gatewayv1.PrefixMatchHTTPPathModifier:
		if p.ReplacePrefixMatch == nil {
			return "replacePrefixMatch is missing"
		}
	default:
		return fmt.Sprintf("path modifier type %q is not supported", p.Type)
	}
	return ""
}

// headerModifier converts a header filter; the first of equivalent names counts.
func headerModifier(f *gatewayv1.HTTPHeaderFilter) l7.HeaderModifier {
	var m l7.HeaderModifier
	seen := map[string]bool{}
	for _, h := range f.Set {
		k := http.CanonicalHeaderKey(string(h.Name))
		if seen[k] {
			continue
		}
		seen[k] = true
		if m.Set == nil {
			m.Set = map[string]string{}
		}
		m.Set[k] = h.Value
	}
	for _, h := range f.Add {
		k := http.CanonicalHeaderKey(string(h.Name))
		if seen[k] {
			continue
		}
		seen[k] = true
		if m.Add == nil {
			m.Add = map[string]string{}
		}
		m.Add[k] = h.Value
	}
	for _, name := range f.Remove {
		m.Remove = append(m.Remove, http.CanonicalHeaderKey(name))
	}
	return m
}

// corsPolicy maps the CORS filter on the proxy's CORS policy (see the package documentation
// for how it differs).
func corsPolicy(c *gatewayv1.HTTPCORSFilter) *l7.CORS {
	p := &l7.CORS{MaxAge: 5}
	for _, o := range c.AllowOrigins {
		p.AllowOrigins = append(p.AllowOrigins, string(o))
	}
	if len(p.AllowOrigins) == 0 {
		p.AllowOrigins = []string{"*"}
	}
	var methods, headers, expose []string
	for _, m := range c.AllowMethods {
		methods = append(methods, string(m))
	}
	for _, h := range c.AllowHeaders {
		headers = append(headers, string(h))
	}
	for _, h := range c.ExposeHeaders {
		expose = append(expose, string(h))
	}
	p.AllowMethods = strings.Join(methods, ", ")
	p.AllowHeaders = strings.Join(headers, ", ")
	p.ExposeHeaders = strings.Join(expose, ", ")
	p.AllowCredentials = c.AllowCredentials != nil && *c.AllowCredentials
	if c.MaxAge > 0 {
		p.MaxAge = int(c.MaxAge)
	}
	return p
}

// timeouts reads a rule's timeouts (GEP-2257 durations; 0s disables).
func timeouts(rule *ruleInfo, t *gatewayv1.HTTPRouteTimeouts) string {
	parse := func(name string, d *gatewayv1.Duration) (time.Duration, string) {
		if d == nil {
			return 0, ""
		}
		v, err := parseDuration(string(*d))
		if err != nil {
			return 0, fmt.Sprintf("timeouts.%s %q: %v", name, *d, err)
		}
		return v, ""
	}
	req, problem := parse("request", t.Request)
	if problem != "" {
		return problem
	}
	backend, problem := parse("backendRequest", t.BackendRequest)
	if problem != "" {
		return problem
	}
	if req > 0 && backend > req {
		return fmt.Sprintf("timeouts.backendRequest %s is longer than timeouts.request %s", backend, req)
	}
	rule.timeouts.Request, rule.timeouts.BackendRequest = req, backend
	return ""
}

// durationRE is the syntax of a GEP-2257 duration: one to four numbers of at most five
// digits, each with a unit among h, m, s and ms.
var durationRE = regexp.MustCompile(`^([0-9]{1,5}(h|m|s|ms)){1,4}$`)

// parseDuration reads a GEP-2257 duration ("1h30m", "500ms", "0s").
func parseDuration(s string) (time.Duration, error) {
	if !durationRE.MatchString(s) {
		return 0, fmt.Errorf("not a Gateway API duration (up to four numbers, each with a unit h, m, s or ms)")
	}
	return time.ParseDuration(s)
}

// retry reads a rule's retry policy: the status codes the proxy can retry on, and the number
// of attempts. Backoff is not emulated.
func retry(rule *ruleInfo, r *gatewayv1.HTTPRouteRetry) {
	on := []l7.RetryOn{l7.RetryError, l7.RetryTimeout}
	for _, c := range r.Codes {
		switch c {
		case 500:
			on = append(on, l7.RetryHTTP500)
		case 502:
			on = append(on, l7.RetryHTTP502)
		case 503:
			on = append(on, l7.RetryHTTP503)
		case 504:
			on = append(on, l7.RetryHTTP504)
		case 403:
			on = append(on, l7.RetryHTTP403)
		case 404:
			on = append(on, l7.RetryHTTP404)
		case 429:
			on = append(on, l7.RetryHTTP429)
		}
	}
	rule.retry = l7.Retry{On: on}
	if r.Attempts != nil {
		rule.retry.Tries = *r.Attempts + 1
		if *r.Attempts == 0 {
			rule.retry = l7.Retry{}
		}
	}
}

// grpcRule compiles a GRPCRoute rule.
func (b *builder) grpcRule(ri *routeInfo, r *gatewayv1.GRPCRouteRule, index int) (*ruleInfo, string, gatewayv1.RouteConditionReason) {
	rule := &ruleInfo{index: index}
	matches := r.Matches
	if len(matches) == 0 {
		matches = []gatewayv1.GRPCRouteMatch{{}}
	}
	for i := range matches {
		m, problem := grpcMatch(&matches[i])
		if problem != "" {
			return nil, fmt.Sprintf("match %d: %s", i, problem), gatewayv1.RouteReasonUnsupportedValue
		}
		rule.matches = append(rule.matches, m)
	}
	for i := range r.Filters {
		f := &r.Filters[i]
		var problem string
		switch f.Type {
		case gatewayv1.GRPCRouteFilterRequestHeaderModifier:
			if f.RequestHeaderModifier == nil {
				problem = "requestHeaderModifier is missing"
				break
			}
			rule.requestHeaders = headerModifier(f.RequestHeaderModifier)
		case gatewayv1.GRPCRouteFilterResponseHeaderModifier:
			if f.ResponseHeaderModifier == nil {
				problem = "responseHeaderModifier is missing"
				break
			}
			rule.responseHeaders = headerModifier(f.ResponseHeaderModifier)
		case gatewayv1.GRPCRouteFilterRequestMirror:
			if f.RequestMirror == nil {
				problem = "requestMirror is missing"
				break
			}
			problem = b.mirror(ri, rule, f.RequestMirror)
		case gatewayv1.GRPCRouteFilterExtensionRef:
			name := "(missing)"
			if ref := f.ExtensionRef; ref != nil {
				name = fmt.Sprintf("%s/%s %s", groupOrCore(string(ref.Group)), ref.Kind, ref.Name)
			}
			ri.unresolved(gatewayv1.RouteReasonInvalidKind, fmt.Sprintf("ExtensionRef filter %s is not supported", name))
			rule.respond = http.StatusInternalServerError
		default:
			problem = "not supported"
		}
		if problem != "" {
			return nil, fmt.Sprintf("filter %d (%s): %s", i, f.Type, problem), gatewayv1.RouteReasonUnsupportedValue
		}
	}
	if rule.respond != 0 {
		return rule, "", ""
	}
	var refs []backendRef
	for i := range r.BackendRefs {
		br := &r.BackendRefs[i]
		ref := backendRef{ref: br.BackendObjectReference, weight: br.Weight, grpc: true}
		for j := range br.Filters {
			f := &br.Filters[j]
			switch f.Type {
			case gatewayv1.GRPCRouteFilterRequestHeaderModifier:
				if f.RequestHeaderModifier != nil {
					ref.requestHeaders = headerModifier(f.RequestHeaderModifier)
				}
			case gatewayv1.GRPCRouteFilterResponseHeaderModifier:
				if f.ResponseHeaderModifier != nil {
					ref.responseHeaders = headerModifier(f.ResponseHeaderModifier)
				}
			default:
				return nil, fmt.Sprintf("backendRef %d filter %d: %s filters are not supported on a backendRef, only RequestHeaderModifier and ResponseHeaderModifier", i, j, f.Type), gatewayv1.RouteReasonUnsupportedValue
			}
		}
		refs = append(refs, ref)
	}
	// gRPC's UNAVAILABLE for invalid backends is HTTP 503 to a gRPC client.
	b.backends(ri, rule, refs, http.StatusServiceUnavailable)
	return rule, "", ""
}

// grpcMatch compiles a GRPCRouteMatch into a match on the request path "/<service>/<method>".
func grpcMatch(m *gatewayv1.GRPCRouteMatch) (matchInfo, string) {
	var mi matchInfo
	mi.match = l7.Match{PathType: l7.PathPrefix, Path: "/"}
	if mm := m.Method; mm != nil {
		service, method := "", ""
		if mm.Service != nil {
			service = *mm.Service
		}
		if mm.Method != nil {
			method = *mm.Method
		}
		if service == "" && method == "" {
			return mi, "a method match needs a service or a method"
		}
		t := gatewayv1.GRPCMethodMatchExact
		if mm.Type != nil {
			t = *mm.Type
		}
		switch t {
		case gatewayv1.GRPCMethodMatchExact:
			if strings.Contains(service, "/") || strings.Contains(method, "/") {
				return mi, "an exact service or method cannot contain /"
			}
			switch {
			case service != "" && method != "":
				mi.match = l7.Match{PathType: l7.PathExact, Path: "/" + service + "/" + method}
			case service != "":
				mi.match = l7.Match{PathType: l7.PathStringPrefix, Path: "/" + service + "/"}
			default:
				re := regexp.MustCompile(`^/[^/]+/` + regexp.QuoteMeta(method) + `$`)
				mi.match = l7.Match{PathType: l7.PathRegex, Path: "/*/" + method, Regex: re}
			}
		case gatewayv1.GRPCMethodMatchRegularExpression:
			s, me := `[^/]+`, `[^/]+`
			if service != "" {
				s = service
			}
			if method != "" {
				me = method
			}
			expr := "/(?:" + s + ")/(?:" + me + ")"
			re, err := fullRegexp(expr)
			if err != nil {
				return mi, fmt.Sprintf("regular expression %q: %v", expr, err)
			}
			mi.match = l7.Match{PathType: l7.PathRegex, Path: expr, Regex: re}
		default:
			return mi, fmt.Sprintf("method match type %q is not supported", t)
		}
		mi.service, mi.grpcMethod = len(service), len(method)
	}
	seen := map[string]bool{}
	for _, h := range m.Headers {
		name := http.CanonicalHeaderKey(string(h.Name))
		if seen[name] {
			continue
		}
		seen[name] = true
		t := gatewayv1.GRPCHeaderMatchExact
		if h.Type != nil {
			t = *h.Type
		}
		v, problem := valueMatch(string(h.Name), string(t), h.Value)
		if problem != "" {
			return mi, "header " + string(h.Name) + ": " + problem
		}
		mi.match.Headers = append(mi.match.Headers, v)
	}
	mi.headers = len(mi.match.Headers)
	return mi, ""
}
