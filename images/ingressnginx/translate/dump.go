package translate

import (
	"crypto/tls"
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"time"

	"github.com/minaks/minaks/images/internal/l7"
)

// Dump renders a configuration as a canonical, readable text: listeners, then each server
// (once, however many listeners share it) with its routes in order, then the upstreams with
// their endpoints. Route settings equal to ingress-nginx's defaults (timeouts 5s/60s/60s,
// retries "error timeout" 3 times, a 1m body limit, request buffering on, response
// buffering off) are left out, so that what a test or a reader sees is what differs.
func Dump(cfg *l7.Config) string { return dump(cfg, true) }

func dump(cfg *l7.Config, endpoints bool) string {
	if cfg == nil {
		return "<nil>\n"
	}
	var w strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&w, format+"\n", args...) }
	f := cfg.Forwarding
	p("forwarding use-forwarded-headers=%v compute-full-forwarded-for=%v header=%s real-ip-from=%s request-id=%v original-uri=%v",
		f.UseForwardedHeaders, f.ComputeFullForwardedFor, f.ForwardedForHeader, prefixList(f.RealIPFrom), f.GenerateRequestID, f.AddOriginalURIHeader)
	p("server-header %q", cfg.ServerHeader)

	var servers []*l7.Server
	seen := map[*l7.Server]bool{}
	add := func(s *l7.Server) {
		if s != nil && !seen[s] {
			seen[s] = true
			servers = append(servers, s)
		}
	}
	for _, l := range cfg.Listeners {
		var names []string
		for _, s := range l.Servers {
			names = append(names, serverName(s))
		}
		line := fmt.Sprintf("listener %s %s %s", l.Name, l.Addr, l.Protocol)
		if l.Protocol == l7.HTTPS {
			line += fmt.Sprintf(" tls=%s-%s default-cert=%s", tlsName(l.MinTLSVersion), tlsName(l.MaxTLSVersion), certName(l.DefaultCertificate))
		}
		if l.ProxyProtocol {
			line += " proxy-protocol"
		}
		if l.SingleLabelWildcards {
			line += " single-label-wildcards"
		}
		if l.Default != nil {
			line += " default=" + serverName(l.Default)
		}
		line += " servers=[" + strings.Join(names, " ") + "]"
		p("%s", line)
		var pt []string
		for host, ups := range l.Passthrough {
			pt = append(pt, host+"->"+ups)
		}
		sort.Strings(pt)
		if len(pt) > 0 {
			p("  passthrough %s", strings.Join(pt, " "))
		}
		add(l.Default)
		for _, s := range l.Servers {
			add(s)
		}
	}
	for _, s := range servers {
		p("")
		line := "server " + serverName(s)
		if s.Certificate != nil {
			line += " cert=" + certName(s.Certificate)
		}
		p("%s", line)
		for _, k := range sortedKeys(s.TLSResponseHeaders) {
			p("  tls-header %s: %s", k, s.TLSResponseHeaders[k])
		}
		for _, r := range s.Routes {
			dumpRoute(p, r)
		}
		if s.NotFound != nil {
			p("  not-found:")
			dumpRoute(p, s.NotFound)
		}
	}
	names := sortedKeys(cfg.Upstreams)
	for _, n := range names {
		u := cfg.Upstreams[n]
		p("")
		line := fmt.Sprintf("upstream %s %s %s", u.Name, u.Protocol, u.Balance)
		if u.HashBy != "" {
			line += " hash-by=" + u.HashBy
		}
		if u.Service != "" {
			line += fmt.Sprintf(" service=%s/%s:%s", u.Namespace, u.Service, u.Port)
		}
		p("%s", line)
		if endpoints {
			var eps []string
			for _, e := range u.Endpoints {
				eps = append(eps, e.String())
			}
			p("  endpoints [%s]", strings.Join(eps, " "))
		}
	}
	return w.String()
}

func dumpRoute(p func(string, ...any), r *l7.Route) {
	p("  route %s", matchString(r.Match))
	m := r.Meta
	if m.Kind != "" || m.Service != "" || m.Canary {
		line := "    from"
		if m.Kind != "" {
			line += fmt.Sprintf(" %s %s/%s", m.Kind, m.Namespace, m.Name)
		}
		if m.Path != "" {
			line += " path=" + m.Path
		}
		if m.Service != "" {
			line += fmt.Sprintf(" service=%s:%s", m.Service, m.ServicePort)
		}
		if m.Canary {
			line += " canary"
		}
		p("%s", line)
	}
	if len(r.AllowSources) > 0 {
		p("    allow %s", prefixList(r.AllowSources))
	}
	if len(r.DenySources) > 0 {
		p("    deny %s", prefixList(r.DenySources))
	}
	if r.HTTPSRedirect != nil {
		line := fmt.Sprintf("    https-redirect %d", r.HTTPSRedirect.Code)
		if !r.HTTPSRedirect.StripTrailingSlash {
			line += " keep-trailing-slash"
		}
		p("%s", line)
	}
	if rl := r.RateLimit; rl != nil {
		p("    rate-limit rps=%d rpm=%d burst=%d rpm-burst=%d connections=%d code=%d allow=%s", rl.RPS, rl.RPM, rl.Burst, rl.RPMBurst, rl.Connections, rl.Code, prefixList(rl.Allow))
	}
	if c := r.CORS; c != nil {
		p("    cors origins=%q methods=%q headers=%q expose=%q credentials=%v max-age=%d", c.AllowOrigins, c.AllowMethods, c.AllowHeaders, c.ExposeHeaders, c.AllowCredentials, c.MaxAge)
	}
	if r.MaxBodyBytes != 1<<20 && r.Respond == nil && r.Redirect == nil {
		p("    max-body %d", r.MaxBodyBytes)
	}
	switch {
	case r.Respond != nil:
		if r.Respond.Body != "" && !strings.HasPrefix(r.Respond.Body, "<html>") {
			p("    -> respond %d %q", r.Respond.Code, r.Respond.Body)
		} else {
			p("    -> respond %d", r.Respond.Code)
		}
	case r.Redirect != nil:
		p("    -> redirect %s", redirectString(r.Redirect))
	default:
		var bs []string
		for _, b := range r.Backends {
			s := fmt.Sprintf("%s*%d", b.Upstream, b.Weight)
			if b.Canary {
				s += "(canary)"
			}
			bs = append(bs, s)
		}
		p("    -> %s", strings.Join(bs, " "))
	}
	if rw := r.Rewrite; rw != nil {
		switch {
		case rw.Regex != nil:
			p("    rewrite %q -> %q", rw.Regex.String(), rw.Template)
		case rw.FullPath != nil:
			p("    rewrite path %q", *rw.FullPath)
		case rw.PrefixReplace != nil:
			p("    rewrite prefix %q", *rw.PrefixReplace)
		}
		if rw.Hostname != "" {
			p("    rewrite host %q", rw.Hostname)
		}
	}
	for _, h := range []struct {
		name string
		m    l7.HeaderModifier
	}{{"request-headers", r.RequestHeaders}, {"response-headers", r.ResponseHeaders}} {
		if len(h.m.Set)+len(h.m.Add)+len(h.m.Remove) == 0 {
			continue
		}
		line := "    " + h.name
		for _, k := range sortedKeys(h.m.Set) {
			line += fmt.Sprintf(" set[%s=%q]", k, h.m.Set[k])
		}
		for _, k := range sortedKeys(h.m.Add) {
			line += fmt.Sprintf(" add[%s=%q]", k, h.m.Add[k])
		}
		for _, k := range h.m.Remove {
			line += fmt.Sprintf(" remove[%s]", k)
		}
		p("%s", line)
	}
	if r.UpstreamHost != "" {
		p("    upstream-host %s", r.UpstreamHost)
	}
	if r.ForwardedPrefix != "" {
		p("    forwarded-prefix %s", r.ForwardedPrefix)
	}
	if len(r.Mirror) > 0 {
		p("    mirror %s", strings.Join(r.Mirror, " "))
	}
	if r.Respond != nil || r.Redirect != nil {
		return
	}
	t := r.Timeouts
	if t.Connect != 5*time.Second || t.Read != 60*time.Second || t.Send != 60*time.Second || t.Request != 0 || t.BackendRequest != 0 {
		p("    timeouts connect=%s read=%s send=%s", t.Connect, t.Read, t.Send)
	}
	if rt := r.Retry; !(len(rt.On) == 2 && rt.On[0] == l7.RetryError && rt.On[1] == l7.RetryTimeout && rt.Tries == 3 && rt.Timeout == 0) {
		p("    retry on=%v tries=%d timeout=%s", rt.On, rt.Tries, rt.Timeout)
	}
	if a := r.Affinity; a != nil {
		p("    affinity cookie=%s path=%s domain=%s max-age=%d expires=%d secure=%v samesite=%s change-on-failure=%v persistent=%v",
			a.Name, a.Path, a.Domain, a.MaxAge, a.Expires, a.Secure, a.SameSite, a.ChangeOnFailure, a.Persistent)
	}
	if e := r.Errors; e != nil {
		p("    errors %v -> %s", e.Codes, e.Upstream)
	}
	if !r.RequestBuffering || r.ResponseBuffering {
		p("    buffering request=%v response=%v", r.RequestBuffering, r.ResponseBuffering)
	}
	if r.DisableUpgrade {
		p("    no-upgrade")
	}
}

func matchString(m l7.Match) string {
	s := fmt.Sprintf("%s %q", m.PathType, m.Path)
	if m.PathType == l7.PathRegex && m.Regex != nil {
		s = fmt.Sprintf("Regex %q", m.Regex.String())
	}
	if m.Method != "" {
		s += " method=" + m.Method
	}
	for _, kind := range []struct {
		name string
		vs   []l7.ValueMatch
	}{{"header", m.Headers}, {"query", m.Query}, {"cookie", m.Cookies}} {
		for _, v := range kind.vs {
			op := "="
			val := v.Value
			if v.Regex != nil {
				op, val = "~", v.Regex.String()
			}
			if v.Absent {
				op = "!" + op
			}
			s += fmt.Sprintf(" %s[%s%s%q]", kind.name, v.Name, op, val)
		}
	}
	return s
}

func redirectString(r *l7.Redirect) string {
	s := fmt.Sprint(r.Code)
	if r.URL != "" {
		return s + " " + r.URL
	}
	if r.Scheme != "" {
		s += " scheme=" + r.Scheme
	}
	if r.Host != "" {
		s += " host=" + r.Host
	}
	if r.Port != 0 {
		s += fmt.Sprintf(" port=%d", r.Port)
	}
	if r.Path != "" {
		s += " path=" + r.Path
	}
	if r.PrefixReplace != nil {
		s += " prefix=" + *r.PrefixReplace
	}
	if r.DropQuery {
		s += " drop-query"
	}
	return s
}

func serverName(s *l7.Server) string {
	if len(s.Hostnames) == 0 {
		return "_"
	}
	return strings.Join(s.Hostnames, ",")
}

// certName names a certificate by its leaf's subject and DNS names.
func certName(c *tls.Certificate) string {
	if c == nil {
		return "none"
	}
	if c.Leaf == nil {
		return "(unparsed)"
	}
	s := fmt.Sprintf("%q", "CN="+c.Leaf.Subject.CommonName)
	if len(c.Leaf.DNSNames) > 0 {
		s += "[" + strings.Join(c.Leaf.DNSNames, ",") + "]"
	}
	return s
}

func tlsName(v uint16) string {
	switch v {
	case 0:
		return "default"
	case tls.VersionTLS10:
		return "1.0"
	case tls.VersionTLS11:
		return "1.1"
	case tls.VersionTLS12:
		return "1.2"
	case tls.VersionTLS13:
		return "1.3"
	}
	return fmt.Sprintf("%#x", v)
}

func prefixList(ps []netip.Prefix) string {
	var s []string
	for _, p := range ps {
		s = append(s, p.String())
	}
	return "[" + strings.Join(s, " ") + "]"
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
