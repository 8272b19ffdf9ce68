package annotations

import (
	"sort"
	"strings"
)

// Risk is an annotation's risk level; annotations-risk-level refuses those above it.
type Risk int

// The risk levels, lowest first.
const (
	RiskLow Risk = iota
	RiskMedium
	RiskHigh
	RiskCritical
)

func (r Risk) String() string {
	switch r {
	case RiskLow:
		return "Low"
	case RiskMedium:
		return "Medium"
	case RiskHigh:
		return "High"
	default:
		return "Critical"
	}
}

// ParseRisk reads annotations-risk-level (case-insensitive); ingress-nginx's default is High,
// and an unknown value counts as Low, the most restrictive.
func ParseRisk(s string) Risk {
	switch strings.ToLower(s) {
	case "critical":
		return RiskCritical
	case "high":
		return RiskHigh
	case "medium":
		return RiskMedium
	default:
		return RiskLow
	}
}

// Support says what minaks does with an annotation.
type Support int

const (
	// Emulated annotations change routing as they do in ingress-nginx.
	Emulated Support = iota
	// Inert annotations only tune nginx internals (buffer sizes, rewrite logging) that have no
	// observable effect here; they are read and validated, and need no warning.
	Inert
	// NotEmulated annotations are known to ingress-nginx but have no effect here; an Ingress
	// using one gets a Warning event.
	NotEmulated
)

// field describes one annotation: the group (ingress-nginx's parser, named as in its
// annotation factory and in its "annotation group … contains risky annotation" message),
// its risk, its validator, older names it also answers to, and its support here.
type field struct {
	group    string
	risk     Risk
	validate validator
	aliases  []string
	support  Support
	// why completes the Warning of a NotEmulated annotation, or qualifies partial support.
	why string
}

// fields are all the annotations ingress-nginx v1.13 knows (docs/user-guide/
// nginx-configuration/annotations-risk.md), by name without the prefix.
var fields = map[string]field{
	// Aliases
	"server-alias": {group: "Aliases", risk: RiskHigh, validate: validateServerNames},

	// Allowlist, Denylist
	"allowlist-source-range": {group: "Allowlist", risk: RiskMedium, validate: validateCIDRs, aliases: []string{"whitelist-source-range"}},
	"denylist-source-range":  {group: "Denylist", risk: RiskMedium, validate: validateCIDRs},

	// BackendProtocol
	"backend-protocol": {group: "BackendProtocol", risk: RiskLow, validate: validateRegex(backendProtocols, false)},

	// BasicDigestAuth
	"auth-type":        {group: "BasicDigestAuth", risk: RiskLow, validate: validateOptions([]string{"basic", "digest"}, true, true), support: NotEmulated, why: "basic and digest authentication are not emulated: requests are served without authentication"},
	"auth-secret":      {group: "BasicDigestAuth", risk: RiskMedium, validate: validateRegex(basicCharsRegex, true), support: NotEmulated, why: "basic and digest authentication are not emulated: requests are served without authentication"},
	"auth-secret-type": {group: "BasicDigestAuth", risk: RiskLow, validate: validateOptions([]string{"auth-file", "auth-map"}, true, true), support: NotEmulated, why: "basic and digest authentication are not emulated"},
	"auth-realm":       {group: "BasicDigestAuth", risk: RiskMedium, validate: validateRegex(charsWithSpace, false), support: NotEmulated, why: "basic and digest authentication are not emulated"},

	// Canary
	"canary":                   {group: "Canary", risk: RiskLow, validate: validateBool},
	"canary-weight":            {group: "Canary", risk: RiskLow, validate: validateInt},
	"canary-weight-total":      {group: "Canary", risk: RiskLow, validate: validateInt},
	"canary-by-header":         {group: "Canary", risk: RiskMedium, validate: validateRegex(basicCharsRegex, true)},
	"canary-by-header-value":   {group: "Canary", risk: RiskMedium, validate: validateRegex(basicCharsRegex, true)},
	"canary-by-header-pattern": {group: "Canary", risk: RiskMedium, validate: validateRegex(isValidRegex, false)},
	"canary-by-cookie":         {group: "Canary", risk: RiskMedium, validate: validateRegex(basicCharsRegex, true)},

	// CertificateAuth
	"auth-tls-secret":                       {group: "CertificateAuth", risk: RiskMedium, support: NotEmulated, why: "client certificate authentication is not emulated: clients are not asked for a certificate"},
	"auth-tls-verify-client":                {group: "CertificateAuth", risk: RiskMedium, support: NotEmulated, why: "client certificate authentication is not emulated"},
	"auth-tls-verify-depth":                 {group: "CertificateAuth", risk: RiskLow, support: NotEmulated, why: "client certificate authentication is not emulated"},
	"auth-tls-error-page":                   {group: "CertificateAuth", risk: RiskHigh, support: NotEmulated, why: "client certificate authentication is not emulated"},
	"auth-tls-pass-certificate-to-upstream": {group: "CertificateAuth", risk: RiskLow, support: NotEmulated, why: "client certificate authentication is not emulated"},
	"auth-tls-match-cn":                     {group: "CertificateAuth", risk: RiskHigh, support: NotEmulated, why: "client certificate authentication is not emulated"},

	// ClientBodyBufferSize
	"client-body-buffer-size": {group: "ClientBodyBufferSize", risk: RiskLow, validate: validateRegex(sizeRegex, true), support: Inert},

	// ConfigurationSnippet, ServerSnippet, StreamSnippet
	"configuration-snippet": {group: "ConfigurationSnippet", risk: RiskCritical, validate: validateNull},
	"server-snippet":        {group: "ServerSnippet", risk: RiskCritical, validate: validateNull},
	"stream-snippet":        {group: "StreamSnippet", risk: RiskCritical, validate: validateNull, support: NotEmulated, why: "TCP and UDP stream configuration is not emulated"},

	// Connection
	"connection-proxy-header": {group: "Connection", risk: RiskLow, validate: validateRegex(basicCharsRegex, true), support: NotEmulated, why: "the Connection header sent to the backend is not changed"},

	// CorsConfig
	"enable-cors":            {group: "CorsConfig", risk: RiskLow, validate: validateBool},
	"cors-allow-origin":      {group: "CorsConfig", risk: RiskMedium, validate: validateRegex(corsOriginValidator, true)},
	"cors-allow-headers":     {group: "CorsConfig", risk: RiskMedium, validate: validateRegex(headersVariable, true)},
	"cors-allow-methods":     {group: "CorsConfig", risk: RiskMedium, validate: validateRegex(corsMethods, true)},
	"cors-allow-credentials": {group: "CorsConfig", risk: RiskLow, validate: validateBool},
	"cors-expose-headers":    {group: "CorsConfig", risk: RiskMedium, validate: validateRegex(corsExposeHeaders, true)},
	"cors-max-age":           {group: "CorsConfig", risk: RiskLow, validate: validateInt},

	// CustomHTTPErrors, DisableProxyInterceptErrors, DefaultBackend
	"custom-http-errors":             {group: "CustomHTTPErrors", risk: RiskLow, validate: validateRegex(httpCodes, true)},
	"disable-proxy-intercept-errors": {group: "DisableProxyInterceptErrors", risk: RiskLow, validate: validateBool},
	"default-backend":                {group: "DefaultBackend", risk: RiskLow, validate: validateServiceName},

	// CustomHeaders
	"custom-headers": {group: "CustomHeaders", risk: RiskMedium, validate: validateRegex(basicCharsRegex, true), support: NotEmulated, why: "response headers from a ConfigMap are not added"},

	// EnableGlobalAuth: only meaningful with the global-auth-url ConfigMap key, not emulated.
	"enable-global-auth": {group: "EnableGlobalAuth", risk: RiskLow, validate: validateBool, support: Inert},

	// ExternalAuth
	"auth-url":                   {group: "ExternalAuth", risk: RiskHigh, support: NotEmulated, why: "external authentication is not emulated: requests are served without asking the auth service"},
	"auth-method":                {group: "ExternalAuth", risk: RiskLow, support: NotEmulated, why: "external authentication is not emulated"},
	"auth-signin":                {group: "ExternalAuth", risk: RiskHigh, support: NotEmulated, why: "external authentication is not emulated"},
	"auth-signin-redirect-param": {group: "ExternalAuth", risk: RiskMedium, support: NotEmulated, why: "external authentication is not emulated"},
	"auth-response-headers":      {group: "ExternalAuth", risk: RiskMedium, support: NotEmulated, why: "external authentication is not emulated"},
	"auth-proxy-set-headers":     {group: "ExternalAuth", risk: RiskMedium, support: NotEmulated, why: "external authentication is not emulated"},
	"auth-request-redirect":      {group: "ExternalAuth", risk: RiskMedium, support: NotEmulated, why: "external authentication is not emulated"},
	"auth-cache-key":             {group: "ExternalAuth", risk: RiskMedium, support: NotEmulated, why: "external authentication is not emulated"},
	"auth-cache-duration":        {group: "ExternalAuth", risk: RiskMedium, support: NotEmulated, why: "external authentication is not emulated"},
	"auth-keepalive":             {group: "ExternalAuth", risk: RiskLow, support: NotEmulated, why: "external authentication is not emulated"},
	"auth-keepalive-share-vars":  {group: "ExternalAuth", risk: RiskLow, support: NotEmulated, why: "external authentication is not emulated"},
	"auth-keepalive-requests":    {group: "ExternalAuth", risk: RiskLow, support: NotEmulated, why: "external authentication is not emulated"},
	"auth-keepalive-timeout":     {group: "ExternalAuth", risk: RiskLow, support: NotEmulated, why: "external authentication is not emulated"},
	"auth-always-set-cookie":     {group: "ExternalAuth", risk: RiskLow, support: NotEmulated, why: "external authentication is not emulated"},
	"auth-snippet":               {group: "ExternalAuth", risk: RiskCritical, validate: validateNull, support: NotEmulated, why: "external authentication is not emulated"},

	// FastCGI
	"fastcgi-index":            {group: "FastCGI", risk: RiskMedium, support: NotEmulated, why: "FastCGI backends are not emulated"},
	"fastcgi-params-configmap": {group: "FastCGI", risk: RiskMedium, support: NotEmulated, why: "FastCGI backends are not emulated"},

	// HTTP2PushPreload: nginx no longer supports HTTP/2 server push, so it has no effect.
	"http2-push-preload": {group: "HTTP2PushPreload", risk: RiskLow, validate: validateBool, support: Inert},

	// LoadBalancing
	"load-balance": {group: "LoadBalancing", risk: RiskLow, validate: validateOptions([]string{"round_robin", "ewma"}, true, true)},

	// Logs
	"enable-access-log":  {group: "Logs", risk: RiskLow, validate: validateBool, support: NotEmulated, why: "every request is logged"},
	"enable-rewrite-log": {group: "Logs", risk: RiskLow, validate: validateBool, support: Inert},

	// Mirror
	"mirror-target":       {group: "Mirror", risk: RiskHigh, validate: validateRegex(urlWithNginxVariable, true)},
	"mirror-request-body": {group: "Mirror", risk: RiskLow, validate: validateOptions([]string{"on", "off"}, true, true)},
	"mirror-host":         {group: "Mirror", risk: RiskHigh, validate: validateServerNames},

	// ModSecurity
	"enable-modsecurity":         {group: "ModSecurity", risk: RiskLow, support: NotEmulated, why: "ModSecurity is not emulated: no request is inspected or blocked"},
	"enable-owasp-core-rules":    {group: "ModSecurity", risk: RiskLow, support: NotEmulated, why: "ModSecurity is not emulated"},
	"modsecurity-transaction-id": {group: "ModSecurity", risk: RiskHigh, support: NotEmulated, why: "ModSecurity is not emulated"},
	"modsecurity-snippet":        {group: "ModSecurity", risk: RiskCritical, validate: validateNull, support: NotEmulated, why: "ModSecurity is not emulated"},

	// Opentelemetry
	"enable-opentelemetry":              {group: "Opentelemetry", risk: RiskLow, support: NotEmulated, why: "OpenTelemetry tracing is not emulated: no span is exported"},
	"opentelemetry-trust-incoming-span": {group: "Opentelemetry", risk: RiskLow, support: NotEmulated, why: "OpenTelemetry tracing is not emulated"},
	"opentelemetry-operation-name":      {group: "Opentelemetry", risk: RiskMedium, support: NotEmulated, why: "OpenTelemetry tracing is not emulated"},

	// Proxy
	"proxy-connect-timeout":       {group: "Proxy", risk: RiskLow, validate: validateInt},
	"proxy-send-timeout":          {group: "Proxy", risk: RiskLow, validate: validateInt},
	"proxy-read-timeout":          {group: "Proxy", risk: RiskLow, validate: validateInt},
	"proxy-buffers-number":        {group: "Proxy", risk: RiskLow, validate: validateInt, support: Inert},
	"proxy-buffer-size":           {group: "Proxy", risk: RiskLow, validate: validateRegex(sizeRegex, true), support: Inert},
	"proxy-cookie-path":           {group: "Proxy", risk: RiskMedium, validate: validateRegex(urlIsValidRegex, true), support: NotEmulated, why: "Set-Cookie paths from the backend are not rewritten"},
	"proxy-cookie-domain":         {group: "Proxy", risk: RiskMedium, validate: validateRegex(basicCharsRegex, true), support: NotEmulated, why: "Set-Cookie domains from the backend are not rewritten"},
	"proxy-body-size":             {group: "Proxy", risk: RiskMedium, validate: validateRegex(sizeRegex, true)},
	"proxy-next-upstream":         {group: "Proxy", risk: RiskMedium, validate: validateRegex(proxyNextUpstream, false)},
	"proxy-next-upstream-timeout": {group: "Proxy", risk: RiskLow, validate: validateInt},
	"proxy-next-upstream-tries":   {group: "Proxy", risk: RiskLow, validate: validateInt},
	"proxy-request-buffering":     {group: "Proxy", risk: RiskLow, validate: validateOptions([]string{"on", "off"}, true, true)},
	"proxy-redirect-from":         {group: "Proxy", risk: RiskMedium, validate: validateRegex(urlIsValidRegex, true), support: NotEmulated, why: "Location headers from the backend are not rewritten"},
	"proxy-redirect-to":           {group: "Proxy", risk: RiskMedium, validate: validateRegex(urlIsValidRegex, true), support: NotEmulated, why: "Location headers from the backend are not rewritten"},
	"proxy-buffering":             {group: "Proxy", risk: RiskLow, validate: validateOptions([]string{"on", "off"}, true, true)},
	"proxy-http-version":          {group: "Proxy", risk: RiskLow, validate: validateOptions([]string{"1.0", "1.1"}, true, true)},
	"proxy-max-temp-file-size":    {group: "Proxy", risk: RiskLow, validate: validateRegex(sizeRegex, true), support: Inert},

	// ProxySSL
	"proxy-ssl-secret":       {group: "ProxySSL", risk: RiskMedium, support: NotEmulated, why: "TLS to the backend does not present a client certificate nor verify the backend"},
	"proxy-ssl-ciphers":      {group: "ProxySSL", risk: RiskMedium, support: NotEmulated, why: "the ciphers of TLS to the backend are Go's"},
	"proxy-ssl-protocols":    {group: "ProxySSL", risk: RiskLow, support: NotEmulated, why: "the TLS versions to the backend are Go's"},
	"proxy-ssl-name":         {group: "ProxySSL", risk: RiskHigh, support: NotEmulated, why: "TLS to the backend sends no server name"},
	"proxy-ssl-verify":       {group: "ProxySSL", risk: RiskLow, support: NotEmulated, why: "the backend's certificate is not verified"},
	"proxy-ssl-verify-depth": {group: "ProxySSL", risk: RiskLow, support: NotEmulated, why: "the backend's certificate is not verified"},
	"proxy-ssl-server-name":  {group: "ProxySSL", risk: RiskLow, support: NotEmulated, why: "TLS to the backend sends no server name"},

	// RateLimit
	"limit-rate":             {group: "RateLimit", risk: RiskLow, validate: validateInt, support: NotEmulated, why: "bandwidth limits are not emulated"},
	"limit-rate-after":       {group: "RateLimit", risk: RiskLow, validate: validateInt, support: NotEmulated, why: "bandwidth limits are not emulated"},
	"limit-rpm":              {group: "RateLimit", risk: RiskLow, validate: validateInt},
	"limit-rps":              {group: "RateLimit", risk: RiskLow, validate: validateInt},
	"limit-connections":      {group: "RateLimit", risk: RiskLow, validate: validateInt},
	"limit-burst-multiplier": {group: "RateLimit", risk: RiskLow, validate: validateInt},
	"limit-allowlist":        {group: "RateLimit", risk: RiskLow, validate: validateCIDRs, aliases: []string{"limit-whitelist"}},

	// Redirect
	"permanent-redirect":      {group: "Redirect", risk: RiskMedium, validate: validateRegex(urlIsValidRegex, false)},
	"permanent-redirect-code": {group: "Redirect", risk: RiskLow, validate: validateInt},
	"temporal-redirect":       {group: "Redirect", risk: RiskMedium, validate: validateRegex(urlIsValidRegex, false)},
	"temporal-redirect-code":  {group: "Redirect", risk: RiskLow, validate: validateInt},
	"from-to-www-redirect":    {group: "Redirect", risk: RiskLow, validate: validateBool, support: NotEmulated, why: "the www. redirect server is not created"},

	// Rewrite
	"rewrite-target":          {group: "Rewrite", risk: RiskMedium, validate: validateRegex(regexPathWithCapture, false)},
	"ssl-redirect":            {group: "Rewrite", risk: RiskLow, validate: validateBool},
	"preserve-trailing-slash": {group: "Rewrite", risk: RiskMedium, validate: validateBool},
	"force-ssl-redirect":      {group: "Rewrite", risk: RiskMedium, validate: validateBool},
	"use-regex":               {group: "Rewrite", risk: RiskLow, validate: validateBool},
	"app-root":                {group: "Rewrite", risk: RiskMedium, validate: validateRegex(regexPathWithCapture, false)},

	// Satisfy
	"satisfy": {group: "Satisfy", risk: RiskLow, validate: validateOptions([]string{"any", "all"}, true, true), support: NotEmulated, why: "authentication is not emulated"},

	// ServiceUpstream
	"service-upstream": {group: "ServiceUpstream", risk: RiskLow, validate: validateBool},

	// SessionAffinity
	"affinity":                                 {group: "SessionAffinity", risk: RiskLow, validate: validateOptions([]string{"cookie"}, true, true)},
	"affinity-mode":                            {group: "SessionAffinity", risk: RiskMedium, validate: validateOptions([]string{"balanced", "persistent"}, true, true)},
	"affinity-canary-behavior":                 {group: "SessionAffinity", risk: RiskLow, validate: validateOptions([]string{"sticky", "legacy"}, true, true)},
	"session-cookie-name":                      {group: "SessionAffinity", risk: RiskMedium, validate: validateRegex(basicCharsRegex, true)},
	"session-cookie-secure":                    {group: "SessionAffinity", risk: RiskLow, validate: validateBool},
	"session-cookie-expires":                   {group: "SessionAffinity", risk: RiskMedium, validate: validateRegex(affinityCookieExpires, true)},
	"session-cookie-max-age":                   {group: "SessionAffinity", risk: RiskMedium, validate: validateRegex(affinityCookieExpires, false)},
	"session-cookie-path":                      {group: "SessionAffinity", risk: RiskMedium, validate: validateRegex(urlIsValidRegex, true)},
	"session-cookie-domain":                    {group: "SessionAffinity", risk: RiskMedium, validate: validateRegex(basicCharsRegex, true)},
	"session-cookie-samesite":                  {group: "SessionAffinity", risk: RiskLow, validate: validateOptions([]string{"none", "lax", "strict"}, false, true)},
	"session-cookie-conditional-samesite-none": {group: "SessionAffinity", risk: RiskLow, validate: validateBool, support: NotEmulated, why: "SameSite=None is sent to every browser"},
	"session-cookie-partitioned":               {group: "SessionAffinity", risk: RiskLow, validate: validateBool, support: NotEmulated, why: "the affinity cookie is not marked Partitioned"},
	"session-cookie-change-on-failure":         {group: "SessionAffinity", risk: RiskLow, validate: validateBool},

	// SSLCipher
	"ssl-ciphers":               {group: "SSLCipher", risk: RiskLow, validate: validateRegex(sslCiphers, false), support: NotEmulated, why: "the TLS ciphers offered are Go's"},
	"ssl-prefer-server-ciphers": {group: "SSLCipher", risk: RiskLow, validate: validateBool, support: NotEmulated, why: "the TLS ciphers offered are Go's"},

	// SSLPassthrough
	"ssl-passthrough": {group: "SSLPassthrough", risk: RiskLow, validate: validateBool},

	// UpstreamHashBy
	"upstream-hash-by":             {group: "UpstreamHashBy", risk: RiskHigh, validate: validateRegex(nginxVariable, true)},
	"upstream-hash-by-subset":      {group: "UpstreamHashBy", risk: RiskLow, validate: validateBool, support: NotEmulated, why: "subset hashing is not emulated: the hash picks among all endpoints"},
	"upstream-hash-by-subset-size": {group: "UpstreamHashBy", risk: RiskLow, validate: validateInt, support: NotEmulated, why: "subset hashing is not emulated"},

	// UpstreamVhost, UsePortInRedirects, XForwardedPrefix
	"upstream-vhost":        {group: "UpstreamVhost", risk: RiskLow, validate: validateServerNames},
	"use-port-in-redirects": {group: "UsePortInRedirects", risk: RiskLow, validate: validateBool, support: NotEmulated, why: "redirects never name the port"},
	"x-forwarded-prefix":    {group: "XForwardedPrefix", risk: RiskMedium, validate: validateRegex(regexPathWithCapture, true)},
}

// byAlias maps an older name ("whitelist-source-range") to its annotation.
var byAlias = func() map[string]string {
	m := map[string]string{}
	for name, f := range fields {
		for _, a := range f.aliases {
			m[a] = name
		}
	}
	return m
}()

// groups are the annotation groups in a fixed order, with their annotations: ingress-nginx
// checks and parses them in map order, so the first error of an Ingress with several is
// made deterministic here.
var groups = func() []string {
	set := map[string]bool{}
	for _, f := range fields {
		set[f.group] = true
	}
	out := make([]string, 0, len(set))
	for g := range set {
		out = append(out, g)
	}
	sort.Strings(out)
	return out
}()

// Lookup tells how minaks supports an annotation given without the prefix; known is false for
// names ingress-nginx does not know (they are ignored, as ingress-nginx ignores them).
func Lookup(name string) (support Support, why string, known bool) {
	if canonical, ok := byAlias[name]; ok {
		name = canonical
	}
	f, ok := fields[name]
	if !ok {
		return 0, "", false
	}
	return f.support, f.why, true
}
