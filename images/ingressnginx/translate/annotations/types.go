package annotations

import corev1 "k8s.io/api/core/v1"

// Defaults are the values the controller's ConfigMap gives to annotations that are not set
// (ingress-nginx's defaults.Backend).
type Defaults struct {
	SSLRedirect           bool
	ForceSSLRedirect      bool
	PreserveTrailingSlash bool

	ProxyBodySize            string
	ProxyConnectTimeout      int
	ProxyReadTimeout         int
	ProxySendTimeout         int
	ProxyNextUpstream        string
	ProxyNextUpstreamTimeout int
	ProxyNextUpstreamTries   int
	ProxyRequestBuffering    string
	ProxyBuffering           string
	ProxyHTTPVersion         string

	// AllowlistSourceRange and DenylistSourceRange are the ConfigMap's whitelist-source-range
	// and denylist-source-range, used by locations without the annotation.
	AllowlistSourceRange []string
	DenylistSourceRange  []string

	ServiceUpstream bool
}

// NewDefaults returns ingress-nginx's defaults, those of an empty ConfigMap.
func NewDefaults() Defaults {
	return Defaults{
		SSLRedirect:              true,
		ProxyBodySize:            "1m",
		ProxyConnectTimeout:      5,
		ProxyReadTimeout:         60,
		ProxySendTimeout:         60,
		ProxyNextUpstream:        "error timeout",
		ProxyNextUpstreamTries:   3,
		ProxyRequestBuffering:    "on",
		ProxyBuffering:           "off",
		ProxyHTTPVersion:         "1.1",
		AllowlistSourceRange:     []string{},
		DenylistSourceRange:      []string{},
		ProxyNextUpstreamTimeout: 0,
	}
}

// Settings are what the controller's flags and ConfigMap decide about annotations.
type Settings struct {
	// Prefix is --annotations-prefix ("nginx.ingress.kubernetes.io").
	Prefix string
	// Validate is --enable-annotation-validation.
	Validate bool
	// MaxRisk is annotations-risk-level.
	MaxRisk Risk
	// AllowSnippets is allow-snippet-annotations; when false snippets are dropped.
	AllowSnippets bool
	Defaults      Defaults
	// Service finds a Service by namespace and name (the default-backend annotation names one);
	// nil when there is none.
	Service func(namespace, name string) *corev1.Service
}

// Ingress is what the annotations of one Ingress say, with defaults filled in.
type Ingress struct {
	Aliases []string
	// Allowlist and Denylist are client CIDRs (allowlist-source-range, denylist-source-range).
	Allowlist, Denylist []string
	// BackendProtocol is HTTP, HTTPS, GRPC, GRPCS, AUTO_HTTP or FCGI.
	BackendProtocol string
	Canary          Canary
	// ConfigurationSnippet and ServerSnippet are nginx directives, emulated in part.
	ConfigurationSnippet, ServerSnippet string
	CORS                                CORS
	CustomHTTPErrors                    []int
	// DefaultBackend is the Service of the default-backend annotation.
	DefaultBackend              *corev1.Service
	DisableProxyInterceptErrors bool
	LoadBalance                 string
	Mirror                      Mirror
	Proxy                       Proxy
	RateLimit                   RateLimit
	Redirect                    Redirect
	Rewrite                     Rewrite
	ServiceUpstream             bool
	Affinity                    Affinity
	SSLPassthrough              bool
	UpstreamHashBy              string
	UpstreamVhost               string
	XForwardedPrefix            string
	// Denied is set when a location of this Ingress must refuse every request (503): the
	// first error of an annotation that denies rather than being ignored (source ranges).
	Denied string
}

// Canary is the traffic shaping of a canary Ingress.
type Canary struct {
	Enabled       bool
	Weight        int
	WeightTotal   int
	Header        string
	HeaderValue   string
	HeaderPattern string
	Cookie        string
}

// CORS is enable-cors and its cors-* settings.
type CORS struct {
	Enabled          bool
	AllowOrigin      []string
	AllowMethods     string
	AllowHeaders     string
	AllowCredentials bool
	ExposeHeaders    string
	MaxAge           int
}

// Mirror is mirror-target and its settings.
type Mirror struct {
	Target      string
	RequestBody string
	Host        string
}

// Proxy are the proxy-* settings of a location.
type Proxy struct {
	BodySize            string
	ConnectTimeout      int
	SendTimeout         int
	ReadTimeout         int
	NextUpstream        string
	NextUpstreamTimeout int
	NextUpstreamTries   int
	RequestBuffering    string
	Buffering           string
	HTTPVersion         string
}

// RateLimit is limit-rps, limit-rpm and limit-connections with their burst and allowlist.
type RateLimit struct {
	RPS, RPM, Connections int
	// The bursts are the limits times limit-burst-multiplier.
	RPSBurst, RPMBurst, ConnectionsBurst int
	Allowlist                            []string
}

// Redirect is permanent-redirect or temporal-redirect.
type Redirect struct {
	URL       string
	Code      int
	FromToWWW bool
}

// Rewrite is the rewrite group: rewrite-target, use-regex, the SSL redirects and app-root.
type Rewrite struct {
	Target                string
	SSLRedirect           bool
	ForceSSLRedirect      bool
	PreserveTrailingSlash bool
	UseRegex              bool
	AppRoot               string
}

// Affinity is cookie session affinity.
type Affinity struct {
	// Type is "cookie" or empty.
	Type           string
	Mode           string
	CanaryBehavior string
	Cookie         Cookie
}

// Cookie is the affinity cookie's settings.
type Cookie struct {
	Name            string
	Expires         string
	MaxAge          string
	Path            string
	Domain          string
	SameSite        string
	Secure          bool
	ChangeOnFailure bool
}
