package annotations

import (
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"
)

// DefaultPrefix is ingress-nginx's annotation prefix.
const DefaultPrefix = "nginx.ingress.kubernetes.io"

// deniedError is ingress-nginx's LocationDeniedError: the location answers 503.
type deniedError struct{ reason error }

func (e deniedError) Error() string { return e.reason.Error() }

// configurationError is ingress-nginx's InvalidConfigurationError: the group is ignored.
func configurationError(annotation, reason string) error {
	return fmt.Errorf("the annotation %v does not contain a valid configuration: %v", annotation, reason)
}

// parser reads one Ingress's annotations.
type parser struct {
	// anns are the annotations under the prefix, by name without it.
	anns     map[string]string
	s        *Settings
	ns       string
	warnings []string
}

func (p *parser) full(name string) string { return p.s.Prefix + "/" + name }

// get finds an annotation as ingress-nginx's checkAnnotation does: its value or, when that is
// empty, the first alias with a value; the validator runs on non-empty values when validation
// is on; a name that is not set at all is errMissing.
func (p *parser) get(name string) (full, value string, err error) {
	f := fields[name]
	chosen := name
	value, ok := p.anns[name]
	if value == "" {
		for _, a := range f.aliases {
			if v := p.anns[a]; v != "" {
				chosen, value, ok = a, v, true
				break
			}
		}
	}
	full = p.full(chosen)
	if p.s.Validate && value != "" && f.validate != nil {
		if err := f.validate(value); err != nil {
			return full, "", ValidationError{Annotation: full}
		}
	}
	if !ok {
		return full, "", errMissing
	}
	return full, value, nil
}

// str reads a string annotation: each line trimmed, empty is invalid.
func (p *parser) str(name string) (string, error) {
	full, v, err := p.get(name)
	if err != nil {
		return "", err
	}
	lines := strings.Split(v, "\n")
	for i := range lines {
		lines[i] = strings.TrimSpace(lines[i])
	}
	s := strings.Join(lines, "\n")
	if s == "" {
		return "", invalidContentError{Annotation: full, Value: v}
	}
	return s, nil
}

func (p *parser) boolean(name string) (bool, error) {
	full, v, err := p.get(name)
	if err != nil {
		return false, err
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, invalidContentError{Annotation: full, Value: v}
	}
	return b, nil
}

func (p *parser) integer(name string) (int, error) {
	full, v, err := p.get(name)
	if err != nil {
		return 0, err
	}
	i, err := strconv.Atoi(v)
	if err != nil {
		return 0, invalidContentError{Annotation: full, Value: v}
	}
	return i, nil
}

// warn records a value that ingress-nginx logs and replaces with a default.
func (p *parser) warn(err error, def string) {
	if err == nil || isMissing(err) {
		return
	}
	p.warnings = append(p.warnings, fmt.Sprintf("%v; ingress-nginx uses %s instead", err, def))
}

// Extract reads the annotations of ing as ingress-nginx's annotation extractor does. The
// error, when not nil, means ingress-nginx does not serve the Ingress at all (a risky or
// invalid annotation); the warnings describe values that were replaced by defaults, ignored
// or not emulated, for Events.
func Extract(ing *networkingv1.Ingress, s *Settings) (*Ingress, []string, error) {
	p := &parser{anns: map[string]string{}, s: s, ns: ing.Namespace}
	for k, v := range ing.Annotations {
		if name, ok := strings.CutPrefix(k, s.Prefix+"/"); ok {
			p.anns[name] = v
		}
	}
	risky := p.riskyGroups()
	out := &Ingress{}
	for _, group := range groups {
		if risky[group] {
			return nil, nil, RiskyError{Group: group}
		}
		err := p.parseGroup(group, out)
		if err == nil || isMissing(err) {
			continue
		}
		if isValidation(err) {
			return nil, nil, err
		}
		var denied deniedError
		if errors.As(err, &denied) {
			if out.Denied == "" {
				out.Denied = denied.Error()
			}
			continue
		}
		// Any other error makes ingress-nginx ignore the group, as if it were not set.
		p.warnings = append(p.warnings, fmt.Sprintf("%v; ingress-nginx ignores the %s annotations of this Ingress", err, group))
	}
	if !s.AllowSnippets {
		for name, v := range map[string]*string{"configuration-snippet": &out.ConfigurationSnippet, "server-snippet": &out.ServerSnippet} {
			if *v != "" {
				*v = ""
				p.warnings = append(p.warnings, fmt.Sprintf("annotation %s is ignored: snippet directives are disabled by the Ingress administrator (allow-snippet-annotations)", p.full(name)))
			}
		}
	}
	p.warnings = append(p.warnings, p.report()...)
	return out, p.warnings, nil
}

// riskyGroups are the groups with an annotation above annotations-risk-level; ingress-nginx
// refuses the Ingress when it reaches such a group (aliases are not checked, as there).
func (p *parser) riskyGroups() map[string]bool {
	var out map[string]bool
	for name := range p.anns {
		if f, ok := fields[name]; ok && f.risk > p.s.MaxRisk {
			if out == nil {
				out = map[string]bool{}
			}
			out[f.group] = true
		}
	}
	return out
}

// report lists the annotations that have no effect here: known but not emulated, and unknown
// to ingress-nginx.
func (p *parser) report() []string {
	names := make([]string, 0, len(p.anns))
	for name := range p.anns {
		names = append(names, name)
	}
	sort.Strings(names)
	var out []string
	for _, name := range names {
		support, why, known := Lookup(name)
		switch {
		case !known:
			out = append(out, fmt.Sprintf("annotation %s is not an annotation of ingress-nginx v1.13 and is ignored", p.full(name)))
		case support == NotEmulated:
			out = append(out, fmt.Sprintf("annotation %s is not emulated by minaks: %s", p.full(name), why))
		case support == Inert && p.s.Validate:
			if f := fields[name]; f.validate != nil && p.anns[name] != "" {
				if err := f.validate(p.anns[name]); err != nil {
					out = append(out, ValidationError{Annotation: p.full(name)}.Error())
				}
			}
		}
	}
	return out
}

// parseGroup parses one group into out, with the error semantics of its ingress-nginx parser.
func (p *parser) parseGroup(group string, out *Ingress) error {
	d := p.s.Defaults
	switch group {
	case "Aliases":
		v, err := p.str("server-alias")
		if err != nil {
			return err
		}
		set := map[string]bool{}
		for _, a := range strings.Split(v, ",") {
			if a = strings.TrimSpace(a); a != "" {
				set[a] = true
			}
		}
		for a := range set {
			out.Aliases = append(out.Aliases, a)
		}
		sort.Strings(out.Aliases)
	case "Allowlist":
		cidrs, err := p.sourceRange("allowlist-source-range", d.AllowlistSourceRange)
		out.Allowlist = cidrs
		return err
	case "Denylist":
		cidrs, err := p.sourceRange("denylist-source-range", d.DenylistSourceRange)
		out.Denylist = cidrs
		return err
	case "BackendProtocol":
		out.BackendProtocol = "HTTP"
		v, err := p.str("backend-protocol")
		if err != nil {
			p.warn(err, "HTTP")
			return nil
		}
		v = strings.ToUpper(strings.TrimSpace(v))
		if !backendProtocols.MatchString(v) {
			p.warnings = append(p.warnings, fmt.Sprintf("Protocol %v is not a valid value for the backend-protocol annotation. Using HTTP as protocol", v))
			return nil
		}
		out.BackendProtocol = v
	case "Canary":
		return p.canary(out)
	case "ConfigurationSnippet":
		v, err := p.str("configuration-snippet")
		out.ConfigurationSnippet = v
		return err
	case "ServerSnippet":
		v, err := p.str("server-snippet")
		out.ServerSnippet = v
		return err
	case "CorsConfig":
		p.cors(out)
	case "CustomHTTPErrors":
		v, err := p.str("custom-http-errors")
		if err != nil {
			return err
		}
		for _, c := range strings.Split(v, ",") {
			n, err := strconv.Atoi(c)
			if err != nil {
				return fmt.Errorf("annotation %s: %w", p.full("custom-http-errors"), err)
			}
			out.CustomHTTPErrors = append(out.CustomHTTPErrors, n)
		}
	case "DefaultBackend":
		v, err := p.str("default-backend")
		if err != nil {
			return err
		}
		key := p.ns + "/" + v
		if p.s.Service != nil {
			out.DefaultBackend = p.s.Service(p.ns, v)
		}
		if out.DefaultBackend == nil {
			return fmt.Errorf("unexpected error reading service %s: no object matching key %q in local store", key, key)
		}
	case "DisableProxyInterceptErrors":
		v, err := p.boolean("disable-proxy-intercept-errors")
		p.warn(err, "false")
		out.DisableProxyInterceptErrors = v
	case "LoadBalancing":
		v, err := p.str("load-balance")
		p.warn(err, "the ConfigMap's load-balance")
		out.LoadBalance = v
	case "Mirror":
		p.mirror(out)
	case "Proxy":
		p.proxy(out)
	case "RateLimit":
		return p.rateLimit(out)
	case "Redirect":
		return p.redirect(out)
	case "Rewrite":
		p.rewrite(out)
	case "ServiceUpstream":
		v, err := p.boolean("service-upstream")
		if err != nil {
			p.warn(err, strconv.FormatBool(d.ServiceUpstream))
			v = d.ServiceUpstream
		}
		out.ServiceUpstream = v
	case "SessionAffinity":
		p.affinity(out)
	case "SSLPassthrough":
		v, err := p.boolean("ssl-passthrough")
		out.SSLPassthrough = v
		return err
	case "UpstreamHashBy":
		v, err := p.str("upstream-hash-by")
		if err != nil && !isMissing(err) {
			return err
		}
		out.UpstreamHashBy = v
	case "UpstreamVhost":
		v, err := p.str("upstream-vhost")
		out.UpstreamVhost = v
		return err
	case "XForwardedPrefix":
		v, err := p.str("x-forwarded-prefix")
		out.XForwardedPrefix = v
		return err
	}
	return nil
}

// sourceRange reads allowlist-source-range or denylist-source-range: a missing annotation
// takes the ConfigMap's list, an invalid one denies the location.
func (p *parser) sourceRange(name string, def []string) ([]string, error) {
	def = append([]string(nil), def...)
	sort.Strings(def)
	v, err := p.str(name)
	if err != nil {
		if isMissing(err) {
			return def, nil
		}
		return def, deniedError{reason: err}
	}
	cidrs, err := ParseCIDRs(v)
	if err != nil {
		return def, deniedError{reason: fmt.Errorf("the annotation does not contain a valid IP address or network: %w", err)}
	}
	return cidrs, nil
}

func (p *parser) canary(out *Ingress) error {
	c := Canary{}
	var err error
	if c.Enabled, err = p.boolean("canary"); err != nil {
		p.warn(err, "false")
		c.Enabled = false
	}
	if c.Weight, err = p.integer("canary-weight"); err != nil {
		p.warn(err, "0")
		c.Weight = 0
	}
	if c.WeightTotal, err = p.integer("canary-weight-total"); err != nil {
		p.warn(err, "100")
		c.WeightTotal = 100
	}
	for _, f := range []struct {
		name string
		dst  *string
	}{
		{"canary-by-header", &c.Header},
		{"canary-by-header-value", &c.HeaderValue},
		{"canary-by-header-pattern", &c.HeaderPattern},
		{"canary-by-cookie", &c.Cookie},
	} {
		if *f.dst, err = p.str(f.name); err != nil {
			p.warn(err, `""`)
			*f.dst = ""
		}
	}
	if !c.Enabled && (c.Weight > 0 || c.Header != "" || c.HeaderValue != "" || c.Cookie != "" || c.HeaderPattern != "") {
		return configurationError(p.full("canary"), "configured but not enabled")
	}
	out.Canary = c
	return nil
}

// The CORS defaults of ingress-nginx's cors parser.
const (
	defaultCORSMethods = "GET, PUT, POST, DELETE, PATCH, OPTIONS"
	defaultCORSHeaders = "DNT,Keep-Alive,User-Agent,X-Requested-With,If-Modified-Since,Cache-Control,Content-Type,Range,Authorization"
	defaultCORSMaxAge  = 1728000
)

func (p *parser) cors(out *Ingress) {
	c := CORS{}
	var err error
	if c.Enabled, err = p.boolean("enable-cors"); err != nil {
		p.warn(err, "false")
		c.Enabled = false
	}
	c.AllowOrigin = []string{}
	origins, err := p.str("cors-allow-origin")
	if err == nil {
		for _, o := range strings.Split(origins, ",") {
			o = strings.TrimSpace(o)
			if o == "*" {
				c.AllowOrigin = []string{"*"}
				break
			}
			if !corsOrigin.MatchString(o) {
				p.warnings = append(p.warnings, fmt.Sprintf("Error parsing cors-allow-origin parameters. Supplied incorrect origin: %s. Skipping.", o))
				continue
			}
			c.AllowOrigin = append(c.AllowOrigin, o)
		}
	} else {
		p.warn(err, `"*"`)
		c.AllowOrigin = []string{"*"}
	}
	if c.AllowHeaders, err = p.str("cors-allow-headers"); err != nil || !headersVariable.MatchString(c.AllowHeaders) {
		p.warn(err, "the default headers")
		c.AllowHeaders = defaultCORSHeaders
	}
	if c.AllowMethods, err = p.str("cors-allow-methods"); err != nil || !corsMethods.MatchString(c.AllowMethods) {
		p.warn(err, "the default methods")
		c.AllowMethods = defaultCORSMethods
	}
	if c.AllowCredentials, err = p.boolean("cors-allow-credentials"); err != nil {
		p.warn(err, "true")
		c.AllowCredentials = true
	}
	if c.ExposeHeaders, err = p.str("cors-expose-headers"); err != nil || !corsExposeHeaders.MatchString(c.ExposeHeaders) {
		p.warn(err, `""`)
		c.ExposeHeaders = ""
	}
	if c.MaxAge, err = p.integer("cors-max-age"); err != nil {
		p.warn(err, strconv.Itoa(defaultCORSMaxAge))
		c.MaxAge = defaultCORSMaxAge
	}
	out.CORS = c
}

func (p *parser) mirror(out *Ingress) {
	m := Mirror{RequestBody: "on"}
	var err error
	if m.RequestBody, err = p.str("mirror-request-body"); err != nil || m.RequestBody != "off" {
		p.warn(err, `"on"`)
		m.RequestBody = "on"
	}
	if m.Target, err = p.str("mirror-target"); err != nil {
		p.warn(err, "no mirror")
		m.Target = ""
	}
	if m.Host, err = p.str("mirror-host"); err != nil {
		p.warn(err, "the target's host")
		m.Host = ""
	}
	out.Mirror = m
}

func (p *parser) proxy(out *Ingress) {
	d := p.s.Defaults
	c := Proxy{}
	ints := []struct {
		name string
		dst  *int
		def  int
	}{
		{"proxy-connect-timeout", &c.ConnectTimeout, d.ProxyConnectTimeout},
		{"proxy-send-timeout", &c.SendTimeout, d.ProxySendTimeout},
		{"proxy-read-timeout", &c.ReadTimeout, d.ProxyReadTimeout},
		{"proxy-next-upstream-timeout", &c.NextUpstreamTimeout, d.ProxyNextUpstreamTimeout},
		{"proxy-next-upstream-tries", &c.NextUpstreamTries, d.ProxyNextUpstreamTries},
	}
	for _, f := range ints {
		v, err := p.integer(f.name)
		if err != nil {
			p.warn(err, strconv.Itoa(f.def))
			v = f.def
		}
		*f.dst = v
	}
	strs := []struct {
		name string
		dst  *string
		def  string
	}{
		{"proxy-body-size", &c.BodySize, d.ProxyBodySize},
		{"proxy-next-upstream", &c.NextUpstream, d.ProxyNextUpstream},
		{"proxy-request-buffering", &c.RequestBuffering, d.ProxyRequestBuffering},
		{"proxy-buffering", &c.Buffering, d.ProxyBuffering},
		{"proxy-http-version", &c.HTTPVersion, d.ProxyHTTPVersion},
	}
	for _, f := range strs {
		v, err := p.str(f.name)
		if err != nil {
			p.warn(err, strconv.Quote(f.def))
			v = f.def
		}
		*f.dst = v
	}
	out.Proxy = c
}

// defaultBurstMultiplier is limit-burst-multiplier's default.
const defaultBurstMultiplier = 5

func (p *parser) rateLimit(out *Ingress) error {
	var vals [3]int
	for i, name := range []string{"limit-rps", "limit-rpm", "limit-connections"} {
		v, err := p.integer(name)
		if err != nil && isValidation(err) {
			return err
		}
		p.warn(err, "no limit")
		vals[i] = v
	}
	mult, err := p.integer("limit-burst-multiplier")
	if err != nil {
		p.warn(err, strconv.Itoa(defaultBurstMultiplier))
		mult = defaultBurstMultiplier
	}
	allow, err := p.str("limit-allowlist")
	if err != nil && isValidation(err) {
		return err
	}
	cidrs, err := ParseCIDRs(allow)
	if err != nil {
		return fmt.Errorf("annotation %s: %w", p.full("limit-allowlist"), err)
	}
	rps, rpm, conn := vals[0], vals[1], vals[2]
	if rps == 0 && rpm == 0 && conn == 0 {
		return nil
	}
	out.RateLimit = RateLimit{
		RPS: rps, RPM: rpm, Connections: conn,
		RPSBurst: rps * mult, RPMBurst: rpm * mult, ConnectionsBurst: conn * mult,
		Allowlist: cidrs,
	}
	return nil
}

// validURL checks a redirect target as ingress-nginx's StringToURL does.
func validURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("%v is not a valid URL: %v", s, err)
	}
	switch {
	case u.Scheme == "":
		return errors.New("url scheme is empty")
	case u.Host == "":
		return errors.New("url host is empty")
	case strings.Contains(u.Host, ".."):
		return errors.New("invalid url host")
	}
	return nil
}

func (p *parser) redirect(out *Ingress) error {
	www, _ := p.boolean("from-to-www-redirect")
	tr, err := p.str("temporal-redirect")
	if err != nil && !isMissing(err) {
		return err
	}
	if tr != "" {
		if err := validURL(tr); err != nil {
			return err
		}
		code, err := p.integer("temporal-redirect-code")
		if err != nil && !isMissing(err) {
			return err
		}
		if code < 300 || code > 307 {
			code = 302
		}
		out.Redirect = Redirect{URL: tr, Code: code, FromToWWW: www}
		return nil
	}
	pr, err := p.str("permanent-redirect")
	if err != nil && !isMissing(err) {
		return err
	}
	code, err := p.integer("permanent-redirect-code")
	if err != nil && !isMissing(err) {
		return err
	}
	if code < 300 || code > 308 {
		code = 301
	}
	if pr == "" && !www {
		return nil
	}
	if pr != "" {
		if err := validURL(pr); err != nil {
			return err
		}
	}
	out.Redirect = Redirect{URL: pr, Code: code, FromToWWW: www}
	return nil
}

func (p *parser) rewrite(out *Ingress) {
	d := p.s.Defaults
	r := Rewrite{}
	var err error
	if r.Target, err = p.str("rewrite-target"); err != nil {
		p.warn(err, "no rewrite")
		r.Target = ""
	}
	bools := []struct {
		name string
		dst  *bool
		def  bool
	}{
		{"ssl-redirect", &r.SSLRedirect, d.SSLRedirect},
		{"preserve-trailing-slash", &r.PreserveTrailingSlash, d.PreserveTrailingSlash},
		{"force-ssl-redirect", &r.ForceSSLRedirect, d.ForceSSLRedirect},
		{"use-regex", &r.UseRegex, false},
	}
	for _, f := range bools {
		if *f.dst, err = p.boolean(f.name); err != nil {
			p.warn(err, strconv.FormatBool(f.def))
			*f.dst = f.def
		}
	}
	out.Rewrite = r
	root, err := p.str("app-root")
	if err != nil {
		if isValidation(err) {
			p.warnings = append(p.warnings, fmt.Sprintf("Annotation app-root contains an invalid value: %v", err))
		}
		return
	}
	u, err := url.ParseRequestURI(root)
	if err != nil {
		p.warnings = append(p.warnings, fmt.Sprintf("Annotation app-root contains an invalid value: %v", err))
		return
	}
	if u.IsAbs() {
		p.warnings = append(p.warnings, fmt.Sprintf("Annotation app-root only allows absolute paths (%v)", root))
		return
	}
	out.Rewrite.AppRoot = root
}

// The affinity defaults of ingress-nginx's sessionaffinity parser.
const defaultCookieName = "INGRESSCOOKIE"

func (p *parser) affinity(out *Ingress) {
	a := Affinity{}
	a.Type, _ = p.str("affinity")
	a.Mode, _ = p.str("affinity-mode")
	a.CanaryBehavior, _ = p.str("affinity-canary-behavior")
	if a.Type == "cookie" {
		c := Cookie{}
		var err error
		if c.Name, err = p.str("session-cookie-name"); err != nil {
			p.warn(err, defaultCookieName)
			c.Name = defaultCookieName
		}
		if c.Expires, err = p.str("session-cookie-expires"); err != nil || !affinityCookieExpires.MatchString(c.Expires) {
			p.warn(err, "no Expires")
			c.Expires = ""
		}
		if c.MaxAge, err = p.str("session-cookie-max-age"); err != nil || !affinityCookieExpires.MatchString(c.MaxAge) {
			p.warn(err, "no Max-Age")
			c.MaxAge = ""
		}
		c.Path, err = p.str("session-cookie-path")
		p.warn(err, "the location's path")
		c.Domain, err = p.str("session-cookie-domain")
		p.warn(err, "no Domain")
		c.SameSite, err = p.str("session-cookie-samesite")
		p.warn(err, "no SameSite")
		c.Secure, err = p.boolean("session-cookie-secure")
		p.warn(err, "false")
		c.ChangeOnFailure, err = p.boolean("session-cookie-change-on-failure")
		p.warn(err, "false")
		a.Cookie = c
	} else if a.Type != "" {
		p.warnings = append(p.warnings, fmt.Sprintf("annotation %s: affinity type %q is not supported, only \"cookie\"", p.full("affinity"), a.Type))
		a.Type = ""
	}
	out.Affinity = a
}

// CheckBlocklist refuses an Ingress one of whose annotations (under prefix) contains a word of
// annotation-value-word-blocklist, as ingress-nginx's store does before it reads them. The
// annotations are checked in name order, the words in the list's order.
func CheckBlocklist(anns map[string]string, prefix string, blocklist string) error {
	if blocklist == "" {
		return nil
	}
	words := strings.Split(strings.TrimSpace(blocklist), ",")
	keys := make([]string, 0, len(anns))
	for k := range anns {
		if strings.HasPrefix(k, prefix+"/") {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		for _, w := range words {
			if strings.Contains(anns[k], w) {
				return BlocklistError{Annotation: k, Word: w}
			}
		}
	}
	return nil
}
