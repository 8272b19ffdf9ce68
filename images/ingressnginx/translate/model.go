package translate

import (
	"crypto/tls"
	"fmt"
	"net/netip"
	"regexp"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"

	"github.com/minaks/minaks/images/ingressnginx/translate/annotations"
	"github.com/minaks/minaks/images/internal/l7"
)

// The names ingress-nginx gives its defaults (internal/ingress/controller/controller.go).
const (
	defUpstreamName = "upstream-default-backend"
	defServerName   = "_"
	rootLocation    = "/"
)

// builder holds the indexed state of one translation.
type builder struct {
	opts     Options
	cfg      Config
	services map[string]*corev1.Service
	// slices are the EndpointSlices of each Service, by "namespace/service".
	slices  map[string][]*discoveryv1.EndpointSlice
	secrets map[string]*corev1.Secret
	// events are those of the Ingresses' preparation, kept across rebuilds.
	events []Event

	m *model
}

func newBuilder(opts Options, cfg Config, st *State) *builder {
	b := &builder{
		opts:     opts,
		cfg:      cfg,
		services: make(map[string]*corev1.Service, len(st.Services)),
		slices:   map[string][]*discoveryv1.EndpointSlice{},
		secrets:  make(map[string]*corev1.Secret, len(st.Secrets)),
	}
	for _, s := range st.Services {
		b.services[s.Namespace+"/"+s.Name] = s
	}
	for _, s := range st.EndpointSlices {
		if svc := s.Labels[discoveryv1.LabelServiceName]; svc != "" {
			key := s.Namespace + "/" + svc
			b.slices[key] = append(b.slices[key], s)
		}
	}
	for key := range b.slices {
		sort.Slice(b.slices[key], func(i, j int) bool { return b.slices[key][i].Name < b.slices[key][j].Name })
	}
	for _, s := range st.Secrets {
		b.secrets[s.Namespace+"/"+s.Name] = s
	}
	return b
}

func (b *builder) service(namespace, name string) *corev1.Service {
	return b.services[namespace+"/"+name]
}

func (b *builder) event(ing *networkingv1.Ingress, typ, reason, msg string) {
	b.events = append(b.events, Event{Object: ing, Type: typ, Reason: reason, Message: msg})
}

// model is ingress-nginx's view of the configuration (servers with locations, upstreams),
// from which the proxy's configuration is made.
type model struct {
	servers   map[string]*server
	upstreams map[string]*upstream
	// rejected are Ingresses whose paths cannot be served, with the reason.
	rejected map[*ingressInfo]string
	events   []Event
	// warnings concern the controller's flags and ConfigMap, not an Ingress.
	warnings []string
	config   *l7.Config
	// regexes caches compiled location regexes by source.
	regexes map[string]*regexp.Regexp
}

// server is an nginx server block: a host and its locations.
type server struct {
	hostname  string
	aliases   []string
	locations []*location
	// cert is the certificate of the host (nil when no Ingress gives it TLS); certName
	// names it in dumps.
	cert           *tls.Certificate
	certName       string
	sslPassthrough bool
	serverSnippet  string
	snippetFrom    *ingressInfo
}

// location is an nginx location block.
type location struct {
	path     string
	pathType networkingv1.PathType
	// ingressPath is the path as written in the Ingress.
	ingressPath  string
	backend      string
	isDefBackend bool
	// ing is the Ingress whose annotations apply (nil for the controller's own default).
	ing  *ingressInfo
	anns *annotations.Ingress
	// service and port name the backend, for route metadata.
	service, port string
	// defaultBackendUpstream receives custom errors: upstream-default-backend, or the
	// upstream made for the default-backend annotation.
	defaultBackendUpstream string
}

// upstream is an nginx upstream (a "backend" of ingress-nginx's Lua balancer).
type upstream struct {
	name                     string
	namespace, service, port string
	endpoints                []netip.AddrPort
	// noServer marks a canary upstream: it serves no location of its own.
	noServer bool
	// canary is the traffic shaping policy of a canary upstream.
	canary       *annotations.Canary
	alternatives []string
	loadBalance  string
	hashBy       string
	affinity     annotations.Affinity
	// svc is the Service, nil when it does not exist.
	svc *corev1.Service
	// protocol is the backend-protocol of the first location using the upstream.
	protocol string
	// builtin marks the controller's own 404 default backend (no endpoints).
	builtin bool
}

func (b *builder) resetModel() {
	b.m = &model{
		servers:   map[string]*server{},
		upstreams: map[string]*upstream{},
		rejected:  map[*ingressInfo]string{},
		regexes:   map[string]*regexp.Regexp{},
	}
}

func (b *builder) warn(info *ingressInfo, reason, msg string) {
	if info == nil {
		return
	}
	b.m.events = append(b.m.events, Event{Object: info.ing, Type: corev1.EventTypeWarning, Reason: reason, Message: msg})
}

// build makes the model and the proxy configuration from the served Ingresses, oldest first,
// following ingress-nginx's getBackendServers and getConfiguration.
func (b *builder) build(data []*ingressInfo) *model {
	du := b.defaultUpstream()
	b.createUpstreams(data)
	b.createServers(data, du)
	b.addLocations(data)

	var canaries []*ingressInfo
	for _, info := range data {
		if info.anns.Canary.Enabled {
			canaries = append(canaries, info)
		}
	}
	if len(data) > len(canaries) {
		for _, c := range canaries {
			b.mergeCanary(c)
		}
	} else {
		for _, c := range canaries {
			b.warn(c, ReasonCanary, "canary Ingress ignored: there is no main Ingress to merge it into")
		}
	}
	b.customDefaultBackends()

	for _, s := range b.m.servers {
		// ingress-nginx sorts by path (descending), then by path length (longest first).
		sort.SliceStable(s.locations, func(i, j int) bool { return s.locations[i].path > s.locations[j].path })
		sort.SliceStable(s.locations, func(i, j int) bool { return len(s.locations[i].path) > len(s.locations[j].path) })
		s.locations = b.updateServerLocations(s)
	}
	b.m.config = b.proxyConfig()
	return b.m
}

// upstreamName is ingress-nginx's "<namespace>-<service>-<port>".
func upstreamName(namespace string, svc *networkingv1.IngressServiceBackend) string {
	if svc != nil {
		if svc.Port.Number > 0 {
			return fmt.Sprintf("%s-%s-%d", namespace, svc.Name, svc.Port.Number)
		}
		if svc.Port.Name != "" {
			return fmt.Sprintf("%s-%s-%s", namespace, svc.Name, svc.Port.Name)
		}
	}
	return namespace + "-INVALID"
}

// backendPort is the backend's port as ingress-nginx compares it with Service ports.
func backendPort(svc *networkingv1.IngressServiceBackend) string {
	if svc.Port.Number > 0 {
		return fmt.Sprint(svc.Port.Number)
	}
	return svc.Port.Name
}

// defaultUpstream is upstream-default-backend: --default-backend-service's first port, or the
// controller's own 404 page when it is unset, missing or has no endpoint.
func (b *builder) defaultUpstream() *upstream {
	du := &upstream{name: defUpstreamName, loadBalance: b.cfg.LoadBalance}
	b.m.upstreams[du.name] = du
	key := b.opts.DefaultBackendService
	if key == "" {
		du.builtin = true
		return du
	}
	svc := b.services[key]
	if svc == nil || len(svc.Spec.Ports) == 0 {
		du.builtin = true
		return du
	}
	du.svc, du.namespace, du.service = svc, svc.Namespace, svc.Name
	du.port = fmt.Sprint(svc.Spec.Ports[0].Port)
	du.endpoints, _ = b.endpointsFromSlices(svc, &svc.Spec.Ports[0])
	if len(du.endpoints) == 0 {
		du.builtin = true
	}
	return du
}

// newUpstream makes the upstream of a backend with the annotations of the Ingress naming it.
func (b *builder) newUpstream(info *ingressInfo, name string, be *networkingv1.IngressServiceBackend) *upstream {
	u := &upstream{
		name:        name,
		namespace:   info.ing.Namespace,
		service:     be.Name,
		port:        backendPort(be),
		loadBalance: info.anns.LoadBalance,
		hashBy:      info.anns.UpstreamHashBy,
	}
	if u.loadBalance == "" {
		u.loadBalance = b.cfg.LoadBalance
	}
	if u.hashBy == "" {
		u.hashBy = b.cfg.UpstreamHashBy
	}
	svcKey := info.ing.Namespace + "/" + be.Name
	if info.anns.ServiceUpstream {
		ep, err := b.clusterEndpoint(svcKey, be)
		if err != nil {
			b.warn(info, ReasonBackend, fmt.Sprintf("Failed to determine a suitable ClusterIP Endpoint for Service %q: %v", svcKey, err))
		} else {
			u.endpoints = []netip.AddrPort{ep}
		}
	}
	if info.anns.Canary.Enabled {
		u.noServer = true
		c := info.anns.Canary
		u.canary = &c
	}
	u.svc = b.services[svcKey]
	if len(u.endpoints) == 0 {
		eps, err := b.serviceEndpoints(info, svcKey, backendPort(be))
		if err != nil {
			b.warn(info, ReasonBackend, fmt.Sprintf("Error obtaining Endpoints for Service %q: %v; requests to it get 503", svcKey, err))
		} else if len(eps) == 0 && (u.svc == nil || u.svc.Spec.Type != corev1.ServiceTypeExternalName) {
			msg := fmt.Sprintf("Service %q does not have any active Endpoint", svcKey)
			if info.anns.DefaultBackend == nil {
				msg += "; requests to it get 503"
			}
			b.warn(info, ReasonBackend, msg)
		}
		u.endpoints = eps
	}
	return u
}

// createUpstreams makes the upstreams of the Ingresses' backends (createUpstreams).
func (b *builder) createUpstreams(data []*ingressInfo) {
	for _, info := range data {
		if be := info.spec.DefaultBackend; be != nil && be.Service != nil {
			name := upstreamName(info.ing.Namespace, be.Service)
			// ingress-nginx makes it anew for every Ingress naming it.
			b.m.upstreams[name] = b.newUpstream(info, name, be.Service)
		}
		for _, rule := range info.spec.Rules {
			if rule.HTTP == nil {
				continue
			}
			for _, p := range rule.HTTP.Paths {
				if p.Backend.Service == nil {
					b.warn(info, ReasonIgnored, fmt.Sprintf("path %q has a resource backend, which ingress-nginx does not support; the default backend serves it", p.Path))
					continue
				}
				name := upstreamName(info.ing.Namespace, p.Backend.Service)
				if _, ok := b.m.upstreams[name]; ok {
					continue
				}
				b.m.upstreams[name] = b.newUpstream(info, name, p.Backend.Service)
			}
		}
	}
}

// applyAnnotations is ingress-nginx's locationApplyAnnotations.
func applyAnnotations(loc *location, info *ingressInfo) {
	loc.ing = info
	loc.anns = info.anns
	loc.defaultBackendUpstream = defUpstreamName
}

// defaultAnnotations are the annotations of a location no Ingress configures.
func (b *builder) defaultAnnotations() *annotations.Ingress {
	d := b.cfg.Backend
	// Like ingress-nginx's default location, it has no source ranges: the ConfigMap's
	// whitelist-source-range only applies to locations of Ingresses.
	return &annotations.Ingress{
		BackendProtocol: "HTTP",
		Proxy: annotations.Proxy{
			BodySize: d.ProxyBodySize, ConnectTimeout: d.ProxyConnectTimeout, SendTimeout: d.ProxySendTimeout,
			ReadTimeout: d.ProxyReadTimeout, NextUpstream: d.ProxyNextUpstream,
			NextUpstreamTimeout: d.ProxyNextUpstreamTimeout, NextUpstreamTries: d.ProxyNextUpstreamTries,
			RequestBuffering: d.ProxyRequestBuffering, Buffering: d.ProxyBuffering, HTTPVersion: d.ProxyHTTPVersion,
		},
	}
}

// createServers makes a server per host with its root location, and gives servers their
// aliases, snippets and certificates (createServers).
func (b *builder) createServers(data []*ingressInfo, du *upstream) {
	def := &server{hostname: defServerName, locations: []*location{{
		path: rootLocation, pathType: networkingv1.PathTypePrefix, ingressPath: rootLocation,
		isDefBackend: true, backend: du.name, anns: b.defaultAnnotations(), defaultBackendUpstream: defUpstreamName,
	}}}
	def.cert, def.certName = b.defaultCertificate()
	b.m.servers[defServerName] = def

	for _, info := range data {
		if info.anns.Canary.Enabled {
			continue
		}
		un := du.name
		if be := info.spec.DefaultBackend; be != nil && be.Service != nil {
			if u, ok := b.m.upstreams[upstreamName(info.ing.Namespace, be.Service)]; ok {
				un = u.name
				defLoc := def.locations[0]
				if defLoc.isDefBackend && len(info.spec.Rules) == 0 {
					// A catch-all Ingress (a backend and no rule) serves the default server's
					// root; its redirect and rewrite annotations are not applied there.
					defLoc.isDefBackend = false
					defLoc.backend = u.name
					defLoc.service, defLoc.port = u.service, u.port
					applyAnnotations(defLoc, info)
					// They keep the default location's (empty) ones, so not even the
					// ConfigMap's force-ssl-redirect applies there.
					anns := *info.anns
					anns.Redirect = annotations.Redirect{}
					anns.Rewrite = annotations.Rewrite{}
					defLoc.anns = &anns
				}
			}
		}
		for _, rule := range info.spec.Rules {
			host := rule.Host
			if host == "" {
				host = defServerName
			}
			if _, ok := b.m.servers[host]; ok {
				continue
			}
			loc := &location{path: rootLocation, pathType: networkingv1.PathTypePrefix, ingressPath: rootLocation, isDefBackend: true, backend: un}
			applyAnnotations(loc, info)
			if u := b.m.upstreams[un]; u != nil && un != defUpstreamName {
				loc.service, loc.port = u.service, u.port
			}
			b.m.servers[host] = &server{hostname: host, locations: []*location{loc}, sslPassthrough: info.anns.SSLPassthrough}
		}
	}

	allAliases := map[string][]string{}
	for _, info := range data {
		if info.anns.Canary.Enabled {
			continue
		}
		for _, rule := range info.spec.Rules {
			host := rule.Host
			if host == "" {
				host = defServerName
			}
			s := b.m.servers[host]
			if len(s.aliases) == 0 {
				s.aliases = info.anns.Aliases
				if len(allAliases[host]) == 0 {
					allAliases[host] = info.anns.Aliases
				}
			} else if len(info.anns.Aliases) > 0 {
				b.warn(info, ReasonConflict, fmt.Sprintf("Aliases already configured for server %q, skipping", host))
			}
			if info.anns.ServerSnippet != "" {
				if s.serverSnippet == "" {
					s.serverSnippet, s.snippetFrom = info.anns.ServerSnippet, info
				} else {
					b.warn(info, ReasonConflict, fmt.Sprintf("Server snippet already configured for server %q, skipping", host))
				}
			}
			if s.cert != nil || len(info.spec.TLS) == 0 {
				continue
			}
			s.cert, s.certName = b.serverCertificate(info, host)
		}
	}
	for host, aliases := range allAliases {
		s := b.m.servers[host]
		set := map[string]bool{}
		for _, a := range aliases {
			if a == host || b.m.servers[a] != nil {
				continue
			}
			set[a] = true
		}
		s.aliases = nil
		for a := range set {
			s.aliases = append(s.aliases, a)
		}
		sort.Strings(s.aliases)
	}
}

// addLocations adds the Ingresses' paths to their servers; the first Ingress (the oldest)
// to define a host and path serves it.
func (b *builder) addLocations(data []*ingressInfo) {
	for _, info := range data {
		for _, rule := range info.spec.Rules {
			host := rule.Host
			if host == "" {
				host = defServerName
			}
			s := b.m.servers[host]
			if s == nil {
				s = b.m.servers[defServerName]
			}
			if rule.HTTP == nil {
				continue
			}
			for _, p := range rule.HTTP.Paths {
				if p.Backend.Service == nil {
					continue
				}
				u := b.m.upstreams[upstreamName(info.ing.Namespace, p.Backend.Service)]
				if u.noServer {
					continue
				}
				add := true
				for _, loc := range s.locations {
					if loc.path != p.Path {
						continue
					}
					if loc.pathType != *p.PathType {
						break
					}
					add = false
					if !loc.isDefBackend {
						if loc.ing != nil && loc.ing != info {
							b.warn(info, ReasonConflict, fmt.Sprintf("host %q and path %q is already defined in ingress %s; this path is not served from this Ingress", host, p.Path, loc.ing.key))
						}
						break
					}
					loc.backend, loc.isDefBackend = u.name, false
					loc.service, loc.port = u.service, u.port
					applyAnnotations(loc, info)
					break
				}
				if add {
					loc := &location{path: p.Path, pathType: *p.PathType, ingressPath: p.Path, backend: u.name, service: u.service, port: u.port}
					applyAnnotations(loc, info)
					s.locations = append(s.locations, loc)
				}
				if u.affinity.Type == "" {
					u.affinity.Type = info.anns.Affinity.Type
				}
				if u.affinity.Mode == "" {
					u.affinity.Mode = info.anns.Affinity.Mode
				}
				if info.anns.Affinity.Type == "cookie" {
					u.affinity.Cookie = info.anns.Affinity.Cookie
				}
			}
		}
	}
}

// mergeCanary attaches a canary Ingress's upstreams to the upstreams serving the same host
// and path (mergeAlternativeBackends); a canary with no such match is dropped.
func (b *builder) mergeCanary(info *ingressInfo) {
	merge := func(pri, alt *upstream) bool {
		if pri.noServer {
			return false
		}
		for _, a := range pri.alternatives {
			if a == alt.name {
				return true
			}
		}
		pri.alternatives = append(pri.alternatives, alt.name)
		return true
	}
	canMerge := func(pri, alt *upstream) bool {
		return alt != nil && pri.name != alt.name && pri.name != defUpstreamName && !pri.noServer
	}
	try := func(s *server, alt *upstream, match func(*location) bool) {
		merged, altIsPri := false, false
		for _, loc := range s.locations {
			pri := b.m.upstreams[loc.backend]
			if pri == nil {
				continue
			}
			if altIsPri = alt.name == pri.name; altIsPri {
				b.warn(info, ReasonCanary, fmt.Sprintf("alternative upstream %s in Ingress %s is primary upstream in Other Ingress for location %s%s!", alt.name, info.key, s.hostname, loc.path))
				break
			}
			if canMerge(pri, alt) && match(loc) {
				merged = merge(pri, alt)
			}
		}
		if !altIsPri && !merged {
			b.warn(info, ReasonCanary, fmt.Sprintf("unable to find real backend for alternative backend %s; the canary is ignored", alt.name))
			delete(b.m.upstreams, alt.name)
		}
	}
	if be := info.spec.DefaultBackend; be != nil && be.Service != nil {
		if alt := b.m.upstreams[upstreamName(info.ing.Namespace, be.Service)]; alt != nil {
			try(b.m.servers[defServerName], alt, func(*location) bool { return true })
		}
	}
	for _, rule := range info.spec.Rules {
		host := rule.Host
		if host == "" {
			host = defServerName
		}
		if rule.HTTP == nil {
			continue
		}
		for _, p := range rule.HTTP.Paths {
			if p.Backend.Service == nil {
				continue
			}
			alt := b.m.upstreams[upstreamName(info.ing.Namespace, p.Backend.Service)]
			if alt == nil {
				continue
			}
			s := b.m.servers[host]
			if s == nil {
				b.warn(info, ReasonCanary, fmt.Sprintf("cannot merge alternative backend %s into hostname %s that does not exist; the canary is ignored", alt.name, host))
				continue
			}
			pathType := *p.PathType
			try(s, alt, func(loc *location) bool { return loc.path == p.Path && loc.pathType == pathType })
		}
	}
}

// customDefaultBackends makes the upstreams of the default-backend annotation: a location
// with it uses them for its custom errors, and instead of its own upstream when that has no
// endpoint.
func (b *builder) customDefaultBackends() {
	names := make([]string, 0, len(b.m.upstreams))
	for n := range b.m.upstreams {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		u := b.m.upstreams[n]
		if u.name == defUpstreamName {
			continue
		}
		for _, s := range b.sortedServers() {
			for _, loc := range s.locations {
				db := loc.anns.DefaultBackend
				if loc.backend != u.name || db == nil || (len(u.endpoints) > 0 && len(loc.anns.CustomHTTPErrors) == 0) {
					continue
				}
				if len(db.Spec.Ports) == 0 {
					b.warn(loc.ing, ReasonBackend, fmt.Sprintf("Custom default backend service %s/%s has no ports. Ignoring", db.Namespace, db.Name))
					continue
				}
				eps, _ := b.endpointsFromSlices(db, &db.Spec.Ports[0])
				if len(eps) == 0 {
					continue
				}
				name := fmt.Sprintf("custom-default-backend-%s-%s", db.Namespace, db.Name)
				b.m.upstreams[name] = &upstream{
					name: name, namespace: db.Namespace, service: db.Name, port: fmt.Sprint(db.Spec.Ports[0].Port),
					endpoints: eps, loadBalance: u.loadBalance, hashBy: u.hashBy, svc: db,
				}
				loc.defaultBackendUpstream = name
				if len(u.endpoints) == 0 {
					loc.backend = name
				}
			}
		}
	}
}

func (b *builder) sortedServers() []*server {
	out := make([]*server, 0, len(b.m.servers))
	for _, s := range b.m.servers {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].hostname < out[j].hostname })
	return out
}

// needsRewrite is ingress-nginx's: a rewrite-target other than the path itself.
func needsRewrite(loc *location) bool {
	return loc.anns.Rewrite.Target != "" && loc.anns.Rewrite.Target != loc.path
}

// updateServerLocations splits each Prefix location "/foo" into the prefix location "/foo/"
// and the exact location "/foo", which is how ingress-nginx gives Prefix its path-segment
// meaning with nginx's string-prefix locations. Locations with a rewrite or use-regex are
// left alone. Two Ingresses whose prefixes only differ by the trailing slash would give nginx
// a duplicate location; the later one is dropped with a warning.
func (b *builder) updateServerLocations(s *server) []*location {
	exact := map[string]bool{}
	for _, loc := range s.locations {
		if loc.pathType == networkingv1.PathTypeExact {
			exact[loc.path] = true
		}
	}
	prefixes := map[string]*location{}
	var out []*location
	for _, loc := range s.locations {
		if loc.path == rootLocation || loc.pathType != networkingv1.PathTypePrefix || needsRewrite(loc) || loc.anns.Rewrite.UseRegex {
			out = append(out, loc)
			if loc.pathType == networkingv1.PathTypePrefix {
				prefixes[loc.path] = loc
			}
			continue
		}
		el := *loc
		if !strings.HasSuffix(loc.path, "/") {
			loc.path += "/"
		}
		if other := prefixes[loc.path]; other != nil {
			if other.ing != nil && other.ing != loc.ing {
				b.warn(loc.ing, ReasonConflict, fmt.Sprintf("host %q and path %q is already defined in ingress %s; this path is not served from this Ingress", s.hostname, loc.path, other.ing.key))
			}
			continue
		}
		prefixes[loc.path] = loc
		out = append(out, loc)
		if !exact[el.path] {
			el.pathType = networkingv1.PathTypeExact
			exact[el.path] = true
			out = append(out, &el)
		}
	}
	return out
}

// The deep inspector's patterns (internal/ingress/inspector/rules.go): nginx directives and
// sensitive files that must not appear in a path.
var invalidPathPatterns = []*regexp.Regexp{
	regexp.MustCompile(`(?s)\s*alias\s*.*;`),
	regexp.MustCompile(`(?s)\s*root\s*.*;`),
	regexp.MustCompile(`/etc/(passwd|shadow|group|nginx|ingress-controller)`),
	regexp.MustCompile(`/var/run/secrets`),
	regexp.MustCompile(`.*_by_lua.*`),
}

// inspectPath refuses a path the deep inspector refuses.
func inspectPath(path string) error {
	for _, re := range invalidPathPatterns {
		if re.MatchString(path) {
			return fmt.Errorf("invalid value found: %s", path)
		}
	}
	return nil
}
