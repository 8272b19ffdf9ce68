package translate

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/minaks/minaks/images/ingressnginx/translate/annotations"
)

// Config is the controller's ConfigMap as ingress-nginx reads it, for the keys that change
// what minaks serves (internal/ingress/controller/config: NewDefault and ReadConfig).
type Config struct {
	// Backend are the defaults of the location annotations: proxy-*, ssl-redirect,
	// force-ssl-redirect, preserve-trailing-slash, whitelist-source-range,
	// denylist-source-range, service-upstream.
	Backend annotations.Defaults

	UseForwardedHeaders     bool
	ComputeFullForwardedFor bool
	ForwardedForHeader      string
	EnableRealIP            bool
	ProxyRealIPCIDR         []string
	UseProxyProtocol        bool
	GenerateRequestID       bool
	AddOriginalURIHeader    bool
	ShowServerTokens        bool

	HSTS                  bool
	HSTSMaxAge            string
	HSTSIncludeSubdomains bool
	HSTSPreload           bool
	HTTPRedirectCode      int
	// NoTLSRedirectLocations are path prefixes never redirected to HTTPS (ACME challenges).
	NoTLSRedirectLocations string
	SSLProtocols           string
	UseHTTP2               bool

	CustomHTTPErrors            []int
	DisableProxyInterceptErrors bool
	LoadBalance                 string
	UpstreamHashBy              string
	BlockCIDRs                  []string
	LimitReqStatusCode          int
	LimitConnStatusCode         int

	AllowSnippetAnnotations      bool
	AnnotationsRiskLevel         string
	AnnotationValueWordBlocklist string
	AllowCrossNamespaceResources bool
}

// DefaultConfig is ingress-nginx's configuration with an empty ConfigMap.
func DefaultConfig() Config {
	return Config{
		Backend:                annotations.NewDefaults(),
		ForwardedForHeader:     "X-Forwarded-For",
		ProxyRealIPCIDR:        []string{"0.0.0.0/0"},
		GenerateRequestID:      true,
		HSTS:                   true,
		HSTSMaxAge:             "31536000",
		HSTSIncludeSubdomains:  true,
		HTTPRedirectCode:       308,
		NoTLSRedirectLocations: "/.well-known/acme-challenge",
		SSLProtocols:           "TLSv1.2 TLSv1.3",
		UseHTTP2:               true,
		LoadBalance:            "round_robin",
		LimitReqStatusCode:     503,
		LimitConnStatusCode:    503,
		AnnotationsRiskLevel:   "High",
	}
}

// notEmulatedKeys are ConfigMap keys that change what ingress-nginx serves but have no effect
// here; a ConfigMap setting one gets a warning. Keys that only tune nginx itself (worker
// processes, buffer sizes, hash sizes …) are ignored silently, as are unknown keys.
var notEmulatedKeys = map[string]string{
	"add-headers":                   "response headers from a ConfigMap are not added",
	"proxy-set-headers":             "request headers from a ConfigMap are not added",
	"hide-headers":                  "backend headers are not hidden",
	"global-auth-url":               "external authentication is not emulated",
	"enable-modsecurity":            "ModSecurity is not emulated",
	"enable-owasp-modsecurity-crs":  "ModSecurity is not emulated",
	"enable-opentelemetry":          "OpenTelemetry tracing is not emulated",
	"use-gzip":                      "responses are not compressed",
	"enable-brotli":                 "responses are not compressed",
	"ssl-ciphers":                   "the TLS ciphers offered are Go's",
	"ssl-ecdh-curve":                "the TLS curves offered are Go's",
	"ssl-session-tickets":           "TLS sessions are Go's",
	"large-client-header-buffers":   "request headers are limited by Go's defaults",
	"client-header-buffer-size":     "request headers are limited by Go's defaults",
	"http-snippet":                  "snippets are not emulated",
	"server-snippet":                "snippets are not emulated",
	"location-snippet":              "snippets are not emulated",
	"main-snippet":                  "snippets are not emulated",
	"stream-snippet":                "snippets are not emulated",
	"limit-rate":                    "bandwidth limits are not emulated",
	"limit-rate-after":              "bandwidth limits are not emulated",
	"proxy-cookie-path":             "Set-Cookie paths are not rewritten",
	"proxy-cookie-domain":           "Set-Cookie domains are not rewritten",
	"proxy-redirect-from":           "Location headers are not rewritten",
	"proxy-redirect-to":             "Location headers are not rewritten",
	"enable-underscores-in-headers": "headers with underscores are passed as Go passes them",
	"use-geoip2":                    "GeoIP is not emulated",
	"whitelist-source-range-header": "the allowlist uses the client address",
	"block-user-agents":             "user agents are not blocked",
	"block-referers":                "referers are not blocked",
	"enable-ocsp":                   "OCSP stapling is not emulated",
	"upstream-keepalive-requests":   "connections to backends are kept as Go keeps them",
}

// ParseConfigMap reads the controller's ConfigMap with ingress-nginx's defaults and checks;
// the warnings name values that were refused (and replaced by the default) and keys that are
// not emulated.
func ParseConfigMap(data map[string]string) (Config, []string) {
	c := DefaultConfig()
	var warnings []string
	warn := func(format string, args ...any) { warnings = append(warnings, fmt.Sprintf(format, args...)) }

	keys := make([]string, 0, len(data))
	for k := range data {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := data[k]
		boolean := func(dst *bool) {
			b, err := strconv.ParseBool(v)
			if err != nil {
				warn("ConfigMap key %s: %q is not a boolean; using the default %v", k, v, *dst)
				return
			}
			*dst = b
		}
		integer := func(dst *int) {
			i, err := strconv.Atoi(v)
			if err != nil {
				warn("ConfigMap key %s: %q is not an integer; using the default %v", k, v, *dst)
				return
			}
			*dst = i
		}
		onOff := func(dst *string) {
			if v != "on" && v != "off" {
				warn("ConfigMap key %s: %q is neither on nor off; using the default %s", k, v, *dst)
				return
			}
			*dst = v
		}
		switch k {
		case "use-forwarded-headers":
			boolean(&c.UseForwardedHeaders)
		case "compute-full-forwarded-for":
			boolean(&c.ComputeFullForwardedFor)
		case "forwarded-for-header":
			c.ForwardedForHeader = v
		case "enable-real-ip":
			boolean(&c.EnableRealIP)
		case "proxy-real-ip-cidr":
			c.ProxyRealIPCIDR = splitTrim(v)
		case "use-proxy-protocol":
			boolean(&c.UseProxyProtocol)
		case "generate-request-id":
			boolean(&c.GenerateRequestID)
		case "proxy-add-original-uri-header":
			boolean(&c.AddOriginalURIHeader)
		case "server-tokens":
			boolean(&c.ShowServerTokens)
		case "hsts":
			boolean(&c.HSTS)
		case "hsts-max-age":
			c.HSTSMaxAge = v
		case "hsts-include-subdomains":
			boolean(&c.HSTSIncludeSubdomains)
		case "hsts-preload":
			boolean(&c.HSTSPreload)
		case "http-redirect-code":
			code, err := strconv.Atoi(v)
			switch {
			case err != nil:
				warn("%v is not a valid HTTP code: %v", v, err)
			case code != 301 && code != 302 && code != 307 && code != 308:
				warn("The code %v is not a valid as HTTP redirect code. Using the default.", v)
			default:
				c.HTTPRedirectCode = code
			}
		case "no-tls-redirect-locations":
			c.NoTLSRedirectLocations = v
		case "ssl-protocols":
			c.SSLProtocols = v
		case "use-http2":
			boolean(&c.UseHTTP2)
		case "ssl-redirect":
			boolean(&c.Backend.SSLRedirect)
		case "force-ssl-redirect":
			boolean(&c.Backend.ForceSSLRedirect)
		case "preserve-trailing-slash":
			boolean(&c.Backend.PreserveTrailingSlash)
		case "proxy-body-size":
			if _, err := annotations.ParseSize(v); err != nil {
				warn("ConfigMap key %s: %v; using the default %s", k, err, c.Backend.ProxyBodySize)
				continue
			}
			c.Backend.ProxyBodySize = v
		case "proxy-connect-timeout":
			integer(&c.Backend.ProxyConnectTimeout)
		case "proxy-read-timeout":
			integer(&c.Backend.ProxyReadTimeout)
		case "proxy-send-timeout":
			integer(&c.Backend.ProxySendTimeout)
		case "proxy-next-upstream":
			c.Backend.ProxyNextUpstream = v
		case "proxy-next-upstream-timeout":
			integer(&c.Backend.ProxyNextUpstreamTimeout)
		case "proxy-next-upstream-tries":
			integer(&c.Backend.ProxyNextUpstreamTries)
		case "proxy-request-buffering":
			onOff(&c.Backend.ProxyRequestBuffering)
		case "proxy-buffering":
			onOff(&c.Backend.ProxyBuffering)
		case "proxy-http-version":
			c.Backend.ProxyHTTPVersion = v
		case "whitelist-source-range":
			c.Backend.AllowlistSourceRange = splitTrim(v)
		case "denylist-source-range":
			c.Backend.DenylistSourceRange = splitTrim(v)
		case "service-upstream":
			boolean(&c.Backend.ServiceUpstream)
		case "custom-http-errors":
			c.CustomHTTPErrors = nil
			for _, s := range splitTrim(v) {
				code, err := strconv.Atoi(s)
				if err != nil {
					warn("%v is not a valid http code: %v", s, err)
					continue
				}
				c.CustomHTTPErrors = append(c.CustomHTTPErrors, code)
			}
		case "disable-proxy-intercept-errors":
			boolean(&c.DisableProxyInterceptErrors)
		case "load-balance":
			c.LoadBalance = v
		case "upstream-hash-by":
			c.UpstreamHashBy = v
		case "block-cidrs":
			c.BlockCIDRs = splitTrim(v)
		case "limit-req-status-code":
			integer(&c.LimitReqStatusCode)
		case "limit-conn-status-code":
			integer(&c.LimitConnStatusCode)
		case "allow-snippet-annotations":
			boolean(&c.AllowSnippetAnnotations)
		case "annotations-risk-level":
			c.AnnotationsRiskLevel = v
		case "annotation-value-word-blocklist":
			c.AnnotationValueWordBlocklist = v
		case "allow-cross-namespace-resources":
			boolean(&c.AllowCrossNamespaceResources)
		default:
			if why, ok := notEmulatedKeys[k]; ok {
				warn("ConfigMap key %s is not emulated by minaks: %s", k, why)
			}
		}
	}
	if c.LimitConnStatusCode != c.LimitReqStatusCode {
		warn("ConfigMap key limit-conn-status-code is not emulated apart from limit-req-status-code: refused connections get %d", c.LimitReqStatusCode)
	}
	if c.EnableRealIP && !c.UseForwardedHeaders {
		warn("ConfigMap key enable-real-ip is not emulated without use-forwarded-headers: the client address is the connection's, not %s", c.ForwardedForHeader)
	}
	return c, warnings
}

// splitTrim splits a comma-separated list, trimming spaces and dropping empty entries.
func splitTrim(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
