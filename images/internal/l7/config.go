package l7

import (
	"crypto/tls"
	"net/netip"
	"regexp"
	"time"
)

// Config is everything a Proxy serves. A translator (the ingress-nginx controller's, later the
// Gateway API's) builds a whole new Config at every change and hands it to Proxy.Update; the
// proxy never changes a Config it was given, and the translator must not change it afterwards.
// Requests in flight finish on the Config they started with.
type Config struct {
	// Listeners are the ports the proxy serves. Update opens listeners that are new, closes
	// those that are gone, and keeps the others' sockets (no connection is dropped).
	Listeners []*Listener
	// Upstreams are the backends that routes name, by Upstream.Name.
	Upstreams map[string]*Upstream
	// Forwarding is how the proxy tells a backend who the client was.
	Forwarding Forwarding
	// ServerHeader is the Server response header the proxy sends ("nginx" for ingress-nginx);
	// the backend's own Server and Date headers are replaced, as nginx's proxy_pass does.
	// Empty keeps the backend's.
	ServerHeader string
	// ErrorPage renders the body of a response the proxy generates itself (404 of the
	// default backend, 413, 502, 503, 504, redirects …); nil means an empty body.
	ErrorPage func(code int) (contentType string, body []byte)
}

// Protocol is what a listener speaks.
type Protocol string

const (
	// HTTP is plain HTTP/1.1 (and h2c prior knowledge when the listener allows it).
	HTTP Protocol = "HTTP"
	// HTTPS is TLS with SNI, offering h2 and http/1.1 by ALPN.
	HTTPS Protocol = "HTTPS"
)

// Listener is one port of the proxy.
type Listener struct {
	// Name names the listener in logs and metrics, e.g. "http", "https".
	Name string
	// Addr is where to listen, e.g. ":80" or "[::]:443".
	Addr     string
	Protocol Protocol
	// Servers are the virtual hosts served on this listener (several listeners may share the
	// same *Server). A request goes to the server one of whose Hostnames matches its Host
	// (port and trailing dot removed, compared case-insensitively): an exact name first, then
	// the longest wildcard ("*.example.com" matches "a.example.com" and "a.b.example.com",
	// not "example.com"), else Default.
	Servers []*Server
	// Default serves requests that no server's hostname matches. nil answers 404.
	Default *Server
	// DefaultCertificate is offered (HTTPS) when no server of this listener matching the
	// client's SNI has a certificate, or when the client sends no SNI.
	DefaultCertificate *tls.Certificate
	// MinTLSVersion and MaxTLSVersion bound the TLS versions (0: TLS 1.2 and TLS 1.3).
	MinTLSVersion, MaxTLSVersion uint16
	// Passthrough maps SNI hostnames (exact or wildcard, matched as Servers' hostnames) to the
	// upstream that receives the raw TLS connection (ingress-nginx's ssl-passthrough). A TLS
	// connection whose SNI matches none is terminated here as usual.
	Passthrough map[string]string
	// ProxyProtocol: the listener's clients send a PROXY protocol (v1 or v2) header first.
	ProxyProtocol bool
	// SingleLabelWildcards makes a wildcard hostname ("*.example.com") match exactly one
	// label ("a.example.com", not "a.b.example.com"), for servers and for SNI, as the Ingress
	// API and ingress-nginx do (it turns "*.example.com" into ~^[\w-]+\.example\.com$).
	// False matches one or more labels, as the Gateway API does.
	SingleLabelWildcards bool
	// H2C accepts HTTP/2 over cleartext with prior knowledge on an HTTP listener, as an
	// Envoy listener with the automatic codec does (gRPC clients without TLS speak it). A
	// change of H2C on an open listener reopens its socket.
	H2C bool
}

// Server is a virtual host.
type Server struct {
	// Hostnames this server answers to; empty for a listener's default server.
	Hostnames []string
	// Certificate is offered when the client's SNI matches Hostnames; nil uses the
	// listener's DefaultCertificate.
	Certificate *tls.Certificate
	// Routes are tried in order; the first whose Match matches the request serves it. The
	// translator puts them in its precedence order.
	Routes []*Route
	// NotFound serves requests that no route matches; nil answers 404 with Config.ErrorPage.
	NotFound *Route
	// ResponseHeaders are added to every response of this server sent over TLS (HSTS).
	TLSResponseHeaders map[string]string
}

// Route is one way of handling requests: a match, then checks, then either a fixed answer or
// a proxied backend.
//
// The checks run in the order nginx's request phases give them in an ingress-nginx location,
// which is not the order of the fields below:
//
//  1. MaxBodyBytes against Content-Length (nginx checks it when it picks the location);
//  2. CORS (a preflight is answered here, before any other check);
//  3. Respond and Redirect (nginx's "return" in the rewrite phase);
//  4. HTTPSRedirect (ingress-nginx's Lua rewrite handler);
//  5. RateLimit (preaccess phase);
//  6. DenySources, then AllowSources (access phase);
//  7. the proxied request, where a chunked body is cut at MaxBodyBytes.
//
// So a client outside AllowSources that comes over plain HTTP to a route with
// HTTPSRedirect gets the redirect, as with ingress-nginx, and a preflight request is
// answered even when the client is rate limited.
type Route struct {
	// Meta describes where the route comes from, for logs, metrics and error pages.
	Meta RouteMeta
	// Match selects the requests of this route.
	Match Match

	// Policies, in the order they are applied.

	// AllowSources, if not empty, are the only client addresses served; others get 403.
	AllowSources []netip.Prefix
	// DenySources get 403.
	DenySources []netip.Prefix
	// HTTPSRedirect, on a request that arrived over plain HTTP, redirects to the same URL
	// over HTTPS (port 443 omitted) with Code (308 if 0). Its Port is the HTTPS port to put
	// in the Location (0 or 443: none), its other fields but StripTrailingSlash are ignored.
	// With Forwarding.UseForwardedHeaders, the scheme is X-Forwarded-Proto's when present
	// (ingress-nginx's $pass_access_scheme).
	HTTPSRedirect *Redirect
	// RateLimit limits requests and connections per client address.
	RateLimit *RateLimit
	// CORS answers preflight requests and adds CORS headers to responses.
	CORS *CORS
	// MaxBodyBytes > 0 refuses larger request bodies with 413 (by Content-Length at once,
	// else when the body grows past it). 0 means unlimited.
	MaxBodyBytes int64

	// The action: Respond, Redirect, or proxy to Backends (exactly one is set).

	// Respond answers with a fixed status (and body), e.g. 200 for /healthz. An empty Body
	// and ContentType with a Code of 300 or more use Config.ErrorPage, as nginx's "return
	// <code>" sends its own page.
	Respond *Respond
	// Redirect answers with a redirect built from the request.
	Redirect *Redirect
	// Backends receive the request, one chosen per request by weight (a weight of 0 never
	// serves unless all are 0). An upstream that does not exist, or has no endpoints, answers
	// 503.
	Backends []WeightedBackend

	// Settings of a proxied request.

	// Rewrite changes the request's path (and host) before it goes to the backend.
	Rewrite *Rewrite
	// RequestHeaders and ResponseHeaders modify the headers sent to the backend and to the
	// client.
	RequestHeaders, ResponseHeaders HeaderModifier
	// UpstreamHost, if set, replaces the Host header sent to the backend (upstream-vhost).
	UpstreamHost string
	// ForwardedPrefix, if set, is sent as X-Forwarded-Prefix.
	ForwardedPrefix string
	// Mirror gets a copy of each request (its response is discarded). An entry is either
	// the name of an Upstream or a URL in which nginx variables are expanded
	// (ingress-nginx's mirror-target, "https://mirror.example.com$request_uri"); the copy
	// carries the request body when it fits the proxy's body buffer.
	Mirror []string
	// Mirrors are mirrors of a share of the requests (Gateway API's RequestMirror with a
	// percent or fraction); they are sent as Mirror's, after them.
	Mirrors  []MirrorPolicy
	Timeouts Timeouts
	Retry    Retry
	// Affinity pins a client to an endpoint with a cookie.
	Affinity *CookieAffinity
	// Errors sends backend responses with one of these codes, and the proxy's own answers
	// with them (404, 503 …), to another upstream instead (ingress-nginx's
	// custom-http-errors).
	Errors *ErrorPages
	// WebSocket connections (Upgrade) are proxied unless this is set.
	DisableUpgrade bool
	// RequestBuffering and ResponseBuffering are nginx's proxy_request_buffering and
	// proxy_buffering; they only change timing, not content.
	RequestBuffering, ResponseBuffering bool
}

// RouteMeta names what a route was made from.
type RouteMeta struct {
	// Kind is "Ingress", "HTTPRoute", … ; Namespace and Name the object's.
	Kind, Namespace, Name string
	// Service and ServicePort name the main backend Service, if any.
	Service, ServicePort string
	// Path is the path as the user wrote it.
	Path string
	// Rule names the rule of a Gateway API route the route comes from: its name, else its
	// index ("rule 2"), with the index of the match ("rule 2 match 0").
	Rule string
	// Canary marks the backend chosen by a canary rule.
	Canary bool
}

// PathMatchType is how a path is compared.
type PathMatchType string

const (
	// PathExact matches the path exactly.
	PathExact PathMatchType = "Exact"
	// PathPrefix matches by path segment: "/foo" matches "/foo" and "/foo/bar", not "/foobar";
	// "/" matches everything.
	PathPrefix PathMatchType = "Prefix"
	// PathStringPrefix is a plain string prefix: "/foo" matches "/foobar".
	PathStringPrefix PathMatchType = "StringPrefix"
	// PathRegex matches when Regex finds a match in the path (the translator anchors it).
	PathRegex PathMatchType = "Regex"
)

// Match selects requests. Every set part must match.
type Match struct {
	// Path is compared with the request's path after normalization ("//" merged, "." and
	// ".." resolved, percent-decoded as nginx compares locations).
	PathType PathMatchType
	Path     string
	// Regex is the compiled pattern for PathRegex.
	Regex *regexp.Regexp
	// Method, if set, must equal the request's method.
	Method string
	// Headers, Query and Cookies must all match.
	Headers []ValueMatch
	Query   []ValueMatch
	Cookies []ValueMatch
}

// ValueMatch compares one named value (header names are case-insensitive).
type ValueMatch struct {
	Name string
	// Exactly one of Value and Regex is set; Regex must match the whole value unless the
	// translator made it partial. Absent means the name must be missing, for Value "".
	Value string
	Regex *regexp.Regexp
	// Absent inverts the match: the name must be missing or its value must not match.
	Absent bool
}

// Respond is a fixed answer.
type Respond struct {
	Code        int
	ContentType string
	Body        string
}

// Redirect builds a Location from the request: unset parts keep the request's.
type Redirect struct {
	Code   int
	Scheme string
	Host   string
	// Port 0 keeps the request's port (none for the scheme's default).
	Port int
	// Exactly one of URL, Path and PrefixReplace may be set. URL is a whole fixed location
	// (ingress-nginx's permanent-redirect: the request's path is not appended); Path replaces
	// the path; PrefixReplace replaces the part Match.Path matched (Gateway's
	// ReplacePrefixMatch).
	URL, Path     string
	PrefixReplace *string
	// DropQuery leaves the query string out.
	DropQuery bool
	// StripTrailingSlash removes a final "/" from the request URI of an HTTPSRedirect, as
	// ingress-nginx does unless preserve-trailing-slash is set ("http://a/b/" →
	// "https://a/b", "http://a/" → "https://a").
	StripTrailingSlash bool
}

// Rewrite changes the request line sent to the backend. At most one of the path fields is set.
type Rewrite struct {
	// Regex and Template: if Regex matches the path, the path becomes Template expanded with
	// Regex's submatches (Go's regexp.Expand syntax, "${1}"), as nginx's rewrite replaces the
	// whole URI. A Template with "?" sets the query: the request's own query is appended
	// after it ("&…") unless the Template ends with "?", as nginx's rewrite does.
	Regex    *regexp.Regexp
	Template string
	// FullPath replaces the path.
	FullPath *string
	// PrefixReplace replaces the part of the path that the route's prefix match matched.
	PrefixReplace *string
	// Hostname replaces the Host header.
	Hostname string
}

// HeaderModifier edits headers: Remove, then Set (replace), then Add (append).
type HeaderModifier struct {
	Set    map[string]string
	Add    map[string]string
	Remove []string
}

// WeightedBackend is an upstream with a weight among a route's backends.
type WeightedBackend struct {
	Upstream string
	Weight   int
	// Canary marks the backend as a canary (for logs: $proxy_alternative_upstream_name).
	Canary bool
	// Status, if not 0, answers the requests that pick this backend with this status
	// instead of proxying them: the Gateway API's 500 for the share of an invalid
	// backendRef. Upstream is then only a name for logs.
	Status int
	// RequestHeaders and ResponseHeaders are applied after the route's, for the requests
	// that go to this backend (the Gateway API's filters of a backendRef).
	RequestHeaders, ResponseHeaders HeaderModifier
}

// MirrorPolicy mirrors a share of a route's requests.
type MirrorPolicy struct {
	// Target is the name of an Upstream or a URL, as an entry of Route.Mirror.
	Target string
	// Percent is the share of requests mirrored, from 0 to 100.
	Percent float64
}

// Timeouts of a proxied request; zero means the default in parentheses.
type Timeouts struct {
	// Connect is the time to establish the connection to an endpoint (5 s).
	Connect time.Duration
	// Read is the longest wait between two reads of the backend's response (60 s).
	Read time.Duration
	// Send is the longest wait between two writes of the request to the backend (60 s).
	Send time.Duration
	// Request bounds the whole exchange with the client (none).
	Request time.Duration
	// BackendRequest bounds one attempt with a backend (none).
	BackendRequest time.Duration
}

// RetryOn names a condition of nginx's proxy_next_upstream.
type RetryOn string

const (
	RetryError         RetryOn = "error"
	RetryTimeout       RetryOn = "timeout"
	RetryInvalidHeader RetryOn = "invalid_header"
	RetryHTTP500       RetryOn = "http_500"
	RetryHTTP502       RetryOn = "http_502"
	RetryHTTP503       RetryOn = "http_503"
	RetryHTTP504       RetryOn = "http_504"
	RetryHTTP403       RetryOn = "http_403"
	RetryHTTP404       RetryOn = "http_404"
	RetryHTTP429       RetryOn = "http_429"
	RetryNonIdempotent RetryOn = "non_idempotent"
)

// Retry is nginx's proxy_next_upstream: on one of On, the request goes to the next endpoint,
// at most Tries attempts in all (0: as many as there are endpoints) within Timeout (0: none).
// A request whose body was already sent is retried only if it is idempotent or
// non_idempotent is listed. An empty On never retries.
type Retry struct {
	On      []RetryOn
	Tries   int
	Timeout time.Duration
}

// RateLimit limits per client address.
type RateLimit struct {
	// RPS and RPM are requests per second and per minute (0: no limit); Burst is how far a
	// client may go over (nginx's burst; ingress-nginx sets it to rate × burst multiplier).
	// Burst applies to RPS, and to RPM when RPS is 0.
	RPS, RPM, Burst int
	// RPMBurst is the burst of the per-minute limit when both RPS and RPM are set (0: RPM ×
	// Burst / RPS, the same multiplier).
	RPMBurst int
	// Connections is the number of concurrent connections (0: no limit). As nginx's
	// limit_conn, it counts the requests in progress (each HTTP/2 stream counts).
	Connections int
	// Code is the status of a refused request (503).
	Code int
	// Allow are client ranges that are not limited.
	Allow []netip.Prefix
}

// CORS is the Access-Control policy of a route, as ingress-nginx's CORS template: with
// AllowOrigins ["*"] every response gets "Access-Control-Allow-Origin: *"; otherwise a
// request whose Origin matches one of them (case-insensitively; "*" stands for one DNS
// label) gets its Origin back. Such a request with method OPTIONS is answered 204.
type CORS struct {
	// AllowOrigins are origins ("*", "https://a.example.com", "https://*.example.com").
	AllowOrigins     []string
	AllowMethods     string
	AllowHeaders     string
	ExposeHeaders    string
	AllowCredentials bool
	MaxAge           int
}

// CookieAffinity is sticky sessions by cookie.
type CookieAffinity struct {
	Name   string
	Path   string
	Domain string
	// MaxAge and Expires are in seconds (0: not sent).
	MaxAge  int
	Expires int
	// Secure sets the Secure attribute; it is also set on cookies sent over TLS, as
	// ingress-nginx does when session-cookie-secure is not given.
	Secure   bool
	SameSite string
	// ChangeOnFailure picks another endpoint when the pinned one failed (otherwise the
	// cookie keeps pointing at it while it exists).
	ChangeOnFailure bool
	// Persistent (affinity-mode "persistent") keeps pinned clients when endpoints are added;
	// "balanced" (false) may move some of them.
	Persistent bool
}

// ErrorPages sends backend responses whose status is in Codes to Upstream instead, with
// ingress-nginx's X-Code, X-Format, X-Original-URI, X-Namespace, X-Ingress-Name,
// X-Service-Name, X-Service-Port and X-Request-ID headers. As ingress-nginx's
// "error_page <code> = @custom_…" location, the request to Upstream has the client's method
// and headers, the URI "/" (with the client's query) and no body, and the client gets
// Upstream's answer, status included.
type ErrorPages struct {
	Codes    []int
	Upstream string
}

// UpstreamProtocol is what the proxy speaks to an upstream's endpoints.
type UpstreamProtocol string

const (
	UpstreamHTTP  UpstreamProtocol = "HTTP"
	UpstreamHTTPS UpstreamProtocol = "HTTPS"
	// UpstreamGRPC is HTTP/2 over cleartext (h2c); UpstreamGRPCS HTTP/2 over TLS.
	UpstreamGRPC  UpstreamProtocol = "GRPC"
	UpstreamGRPCS UpstreamProtocol = "GRPCS"
	// UpstreamH2C is HTTP/2 over cleartext for any request (Gateway's appProtocol kubernetes.io/h2c).
	UpstreamH2C UpstreamProtocol = "H2C"
)

// Balance is how an upstream picks an endpoint.
type Balance string

const (
	RoundRobin Balance = "round_robin"
	// EWMA picks among two random endpoints the one with the lower moving average latency.
	EWMA Balance = "ewma"
	// ConsistentHash hashes HashBy (an nginx variable expression such as "$request_uri",
	// "$remote_addr", "$http_x_user") over the endpoints.
	ConsistentHash Balance = "chash"
)

// Upstream is a set of endpoints the proxy sends requests to.
type Upstream struct {
	// Name is the upstream's name in logs and metrics (ingress-nginx: "<ns>-<svc>-<port>").
	Name     string
	Protocol UpstreamProtocol
	// Endpoints are tried in Balance's order. An endpoint's state (round-robin position,
	// affinity, EWMA) is kept by address across Updates.
	Endpoints []netip.AddrPort
	Balance   Balance
	HashBy    string
	// TLS to the endpoints (HTTPS, GRPCS): SNI, and whether to verify (off unless CAs are
	// given, as nginx's proxy_ssl_verify).
	ServerName string
	RootCAs    []byte
	// Namespace, Service and Port name the Service behind the upstream, for metrics.
	Namespace, Service, Port string
}

// Forwarding is the set of headers through which a backend learns of the client, nginx's
// proxy_set_header lines in ingress-nginx's template.
type Forwarding struct {
	// UseForwardedHeaders trusts the client's X-Forwarded-For/-Host/-Port/-Proto (else they
	// are replaced by what the proxy saw).
	UseForwardedHeaders bool
	// ComputeFullForwardedFor appends the client to X-Forwarded-For instead of replacing it.
	ComputeFullForwardedFor bool
	// ForwardedForHeader is the header holding the client's address when UseForwardedHeaders
	// is set (X-Forwarded-For).
	ForwardedForHeader string
	// RealIPFrom are the proxies whose ForwardedForHeader is trusted for the client address
	// (used by allowlists, rate limits and logs); empty trusts any when UseForwardedHeaders.
	RealIPFrom []netip.Prefix
	// GenerateRequestID sets X-Request-ID (a random 32-hex-digit id) when the client sent none.
	GenerateRequestID bool
	// AddOriginalURIHeader sends X-Original-URI (the request URI as the client sent it) to
	// backends; ingress-nginx's proxy-add-original-uri-header (off by default).
	AddOriginalURIHeader bool
	// Envoy sends the headers of an Istio gateway (Envoy with use_remote_address) instead of
	// nginx's: X-Forwarded-For with the peer appended to the client's, X-Forwarded-Proto,
	// X-Envoy-External-Address, X-Envoy-Attempt-Count and an X-Request-Id (a new UUID for
	// every request: Envoy does not keep an external client's); no X-Real-IP,
	// X-Forwarded-Host, -Port or -Scheme. Responses get X-Envoy-Upstream-Service-Time.
	// UseForwardedHeaders, ComputeFullForwardedFor, ForwardedForHeader, RealIPFrom and
	// GenerateRequestID are ignored with it.
	Envoy bool
}
