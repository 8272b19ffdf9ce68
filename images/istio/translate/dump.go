package translate

import (
	"crypto/tls"
	"fmt"
	"sort"
	"strings"

	"github.com/minaks/minaks/images/internal/l7"
)

// Dump renders a Gateway's proxy configuration as a canonical, readable text: each listener
// with its servers and their routes in order, then the upstreams with their endpoints.
// Settings every route has (Istio's connect and idle timeouts, Istio's default retries) are
// left out, so that what a test or a reader sees is what differs.
func Dump(cfg *l7.Config) string {
	if cfg == nil {
		return "<nil>\n"
	}
	var w strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&w, format+"\n", args...) }
	p("server-header %q envoy-forwarding=%v", cfg.ServerHeader, cfg.Forwarding.Envoy)
	for _, l := range cfg.Listeners {
		p("")
		line := fmt.Sprintf("listener %s %s %s", l.Name, l.Addr, l.Protocol)
		if l.H2C && l.Protocol == l7.HTTP {
			line += " h2c"
		}
		if l.Protocol == l7.HTTPS {
			line += " default-cert=" + certName(l.DefaultCertificate)
		}
		if l.SingleLabelWildcards {
			line += " single-label-wildcards"
		}
		p("%s", line)
		servers := l.Servers
		if l.Default != nil {
			servers = append([]*l7.Server{l.Default}, servers...)
		}
		for _, s := range servers {
			line := "  server " + serverName(s)
			if s == l.Default {
				line += " (default)"
			}
			if s.Certificate != nil {
				line += " cert=" + certName(s.Certificate)
			}
			p("%s", line)
			for _, r := range s.Routes {
				dumpRoute(p, r)
			}
		}
	}
	names := make([]string, 0, len(cfg.Upstreams))
	for n := range cfg.Upstreams {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		u := cfg.Upstreams[n]
		p("")
		p("upstream %s %s %s service=%s/%s:%s", u.Name, u.Protocol, u.Balance, u.Namespace, u.Service, u.Port)
		var eps []string
		for _, e := range u.Endpoints {
			eps = append(eps, e.String())
		}
		p("  endpoints [%s]", strings.Join(eps, " "))
	}
	return w.String()
}

func dumpRoute(p func(string, ...any), r *l7.Route) {
	p("    route %s", matchString(r.Match))
	if m := r.Meta; m.Kind != "" {
		p("      from %s %s/%s %s", m.Kind, m.Namespace, m.Name, m.Rule)
	}
	switch {
	case r.Redirect != nil:
		p("      -> redirect %s", redirectString(r.Redirect))
	case r.Respond != nil:
		p("      -> respond %d", r.Respond.Code)
	default:
		var bs []string
		for _, b := range r.Backends {
			s := fmt.Sprintf("%s*%d", b.Upstream, b.Weight)
			if b.Status != 0 {
				s += fmt.Sprintf("=%d", b.Status)
			}
			bs = append(bs, s)
		}
		p("      -> %s", strings.Join(bs, " "))
		for _, b := range r.Backends {
			dumpHeaders(p, "backend "+b.Upstream+" request-headers", b.RequestHeaders)
			dumpHeaders(p, "backend "+b.Upstream+" response-headers", b.ResponseHeaders)
		}
	}
	dumpHeaders(p, "request-headers", r.RequestHeaders)
	dumpHeaders(p, "response-headers", r.ResponseHeaders)
	if rw := r.Rewrite; rw != nil {
		switch {
		case rw.FullPath != nil:
			p("      rewrite path %q", *rw.FullPath)
		case rw.PrefixReplace != nil:
			p("      rewrite prefix %q", *rw.PrefixReplace)
		}
		if rw.Hostname != "" {
			p("      rewrite host %q", rw.Hostname)
		}
	}
	for _, m := range r.Mirrors {
		p("      mirror %s %v%%", m.Target, m.Percent)
	}
	if c := r.CORS; c != nil {
		p("      cors origins=%q methods=%q headers=%q expose=%q credentials=%v max-age=%d", c.AllowOrigins, c.AllowMethods, c.AllowHeaders, c.ExposeHeaders, c.AllowCredentials, c.MaxAge)
	}
	if r.Redirect != nil || r.Respond != nil {
		return
	}
	if t := r.Timeouts; t.Request != 0 || t.BackendRequest != 0 {
		p("      timeouts request=%s backend-request=%s", t.Request, t.BackendRequest)
	}
	if rt := r.Retry; !(len(rt.On) == 2 && rt.On[0] == l7.RetryError && rt.On[1] == l7.RetryHTTP503 && rt.Tries == 3) {
		p("      retry on=%v tries=%d", rt.On, rt.Tries)
	}
}

func dumpHeaders(p func(string, ...any), name string, m l7.HeaderModifier) {
	if len(m.Set)+len(m.Add)+len(m.Remove) == 0 {
		return
	}
	line := "      " + name
	for _, k := range sortedKeys(m.Set) {
		line += fmt.Sprintf(" set[%s=%q]", k, m.Set[k])
	}
	for _, k := range sortedKeys(m.Add) {
		line += fmt.Sprintf(" add[%s=%q]", k, m.Add[k])
	}
	for _, k := range m.Remove {
		line += fmt.Sprintf(" remove[%s]", k)
	}
	p("%s", line)
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
	}{{"header", m.Headers}, {"query", m.Query}} {
		for _, v := range kind.vs {
			op, val := "=", v.Value
			if v.Regex != nil {
				op, val = "~", v.Regex.String()
			}
			s += fmt.Sprintf(" %s[%s%s%q]", kind.name, v.Name, op, val)
		}
	}
	return s
}

func redirectString(r *l7.Redirect) string {
	s := fmt.Sprint(r.Code)
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

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
