package annotations

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func settings() *Settings {
	return &Settings{Prefix: DefaultPrefix, Validate: true, MaxRisk: RiskCritical, AllowSnippets: true, Defaults: NewDefaults(),
		Service: func(ns, name string) *corev1.Service {
			if name == "errors" {
				return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
			}
			return nil
		}}
}

func ing(kv ...string) *networkingv1.Ingress {
	anns := map[string]string{}
	for i := 0; i < len(kv); i += 2 {
		anns[DefaultPrefix+"/"+kv[i]] = kv[i+1]
	}
	return &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "x", Annotations: anns}}
}

// TestExtractErrors checks which bad values make ingress-nginx skip the whole Ingress, with its
// error text, and which only replace the value by its default (a warning).
func TestExtractErrors(t *testing.T) {
	cases := []struct {
		name     string
		settings func(*Settings)
		ing      *networkingv1.Ingress
		err      string
		warnings []string
	}{
		{name: "upstream-vhost that fails validation rejects the Ingress", ing: ing("upstream-vhost", "a b!"),
			err: "annotation nginx.ingress.kubernetes.io/upstream-vhost contains invalid value"},
		{name: "x-forwarded-prefix that fails validation rejects the Ingress", ing: ing("x-forwarded-prefix", "/a?b"),
			err: "annotation nginx.ingress.kubernetes.io/x-forwarded-prefix contains invalid value"},
		{name: "limit-rps that is not a number rejects the Ingress", ing: ing("limit-rps", "ten"),
			err: "annotation nginx.ingress.kubernetes.io/limit-rps contains invalid value"},
		{name: "permanent-redirect with a forbidden character rejects the Ingress", ing: ing("permanent-redirect", "https://a.com/$request_uri"),
			err: "annotation nginx.ingress.kubernetes.io/permanent-redirect contains invalid value"},
		{name: "an annotation above annotations-risk-level rejects the Ingress", settings: func(s *Settings) { s.MaxRisk = RiskLow },
			ing: ing("rewrite-target", "/"), err: "annotation group Rewrite contains risky annotation based on ingress configuration"},
		{name: "snippets are Critical", settings: func(s *Settings) { s.MaxRisk = RiskHigh },
			ing: ing("configuration-snippet", "more_set_headers 'A: b';"), err: "annotation group ConfigurationSnippet contains risky annotation based on ingress configuration"},
		{name: "ssl-redirect that fails validation falls back to the default", ing: ing("ssl-redirect", "maybe"),
			warnings: []string{"annotation nginx.ingress.kubernetes.io/ssl-redirect contains invalid value; ingress-nginx uses true instead"}},
		{name: "without validation a bad boolean is invalid content", settings: func(s *Settings) { s.Validate = false }, ing: ing("ssl-redirect", "maybe"),
			warnings: []string{"the annotation nginx.ingress.kubernetes.io/ssl-redirect does not contain a valid value (maybe); ingress-nginx uses true instead"}},
		{name: "canary settings without canary: true are ignored", ing: ing("canary-weight", "10"),
			warnings: []string{"the annotation nginx.ingress.kubernetes.io/canary does not contain a valid configuration: configured but not enabled; ingress-nginx ignores the Canary annotations of this Ingress"}},
		{name: "a redirect without a scheme is ignored", settings: func(s *Settings) { s.Validate = false }, ing: ing("permanent-redirect", "www.example.com"),
			warnings: []string{"url scheme is empty; ingress-nginx ignores the Redirect annotations of this Ingress"}},
		{name: "a default-backend Service that does not exist is ignored", ing: ing("default-backend", "nope"),
			warnings: []string{`unexpected error reading service default/nope: no object matching key "default/nope" in local store; ingress-nginx ignores the DefaultBackend annotations of this Ingress`}},
		{name: "backend-protocol that is not known is HTTP", settings: func(s *Settings) { s.Validate = false }, ing: ing("backend-protocol", "h3"),
			warnings: []string{"Protocol H3 is not a valid value for the backend-protocol annotation. Using HTTP as protocol"}},
		{name: "snippets are dropped when not allowed", settings: func(s *Settings) { s.AllowSnippets = false }, ing: ing("server-snippet", "more_set_headers 'A: b';"),
			warnings: []string{"annotation nginx.ingress.kubernetes.io/server-snippet is ignored: snippet directives are disabled by the Ingress administrator (allow-snippet-annotations)"}},
		{name: "annotations not emulated and unknown ones are reported", ing: ing("auth-type", "basic", "no-such-thing", "1", "http2-push-preload", "true"),
			warnings: []string{
				"annotation nginx.ingress.kubernetes.io/auth-type is not emulated by minaks: basic and digest authentication are not emulated: requests are served without authentication",
				"annotation nginx.ingress.kubernetes.io/no-such-thing is not an annotation of ingress-nginx v1.13 and is ignored",
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := settings()
			if tc.settings != nil {
				tc.settings(s)
			}
			_, warnings, err := Extract(tc.ing, s)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tc.err {
				t.Errorf("error = %q, want %q", got, tc.err)
			}
			if diff := cmp.Diff(tc.warnings, warnings, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("warnings (-want +got):\n%s", diff)
			}
		})
	}
}

// TestExtractValues checks parsed values and defaults.
func TestExtractValues(t *testing.T) {
	cases := []struct {
		name  string
		ing   *networkingv1.Ingress
		check func(*Ingress) any
		want  any
	}{
		{name: "no annotation gives the ConfigMap's defaults", ing: ing(), check: func(a *Ingress) any {
			return []any{a.Rewrite.SSLRedirect, a.Proxy.BodySize, a.Proxy.ConnectTimeout, a.Proxy.NextUpstream, a.BackendProtocol, a.Canary.Enabled}
		}, want: []any{true, "1m", 5, "error timeout", "HTTP", false}},
		{name: "whitelist-source-range is an alias of allowlist-source-range", ing: ing("whitelist-source-range", "10.0.0.1, 10.0.0.0/8"),
			check: func(a *Ingress) any { return a.Allowlist }, want: []string{"10.0.0.0/8", "10.0.0.1"}},
		{name: "an empty allowlist-source-range takes its alias", ing: ing("allowlist-source-range", "", "whitelist-source-range", "1.2.3.4"),
			check: func(a *Ingress) any { return a.Allowlist }, want: []string{"1.2.3.4"}},
		{name: "an invalid range denies the location", ing: ing("denylist-source-range", "1.2.3.4/33"),
			check: func(a *Ingress) any { return a.Denied }, want: "annotation nginx.ingress.kubernetes.io/denylist-source-range contains invalid value"},
		{name: "canary with header, cookie and weight", ing: ing("canary", "true", "canary-by-header", "X-Canary", "canary-by-cookie", "c", "canary-weight", "5"),
			check: func(a *Ingress) any { return a.Canary }, want: Canary{Enabled: true, Weight: 5, WeightTotal: 100, Header: "X-Canary", Cookie: "c"}},
		{name: "rate limit bursts are the limits times the multiplier", ing: ing("limit-rps", "4", "limit-rpm", "60", "limit-burst-multiplier", "2", "limit-whitelist", "10.0.0.0/8"),
			check: func(a *Ingress) any { return a.RateLimit }, want: RateLimit{RPS: 4, RPM: 60, RPSBurst: 8, RPMBurst: 120, Allowlist: []string{"10.0.0.0/8"}}},
		{name: "temporal-redirect wins over permanent-redirect", ing: ing("temporal-redirect", "https://t.com", "permanent-redirect", "https://p.com"),
			check: func(a *Ingress) any { return a.Redirect }, want: Redirect{URL: "https://t.com", Code: 302}},
		{name: "affinity cookie defaults", ing: ing("affinity", "cookie"),
			check: func(a *Ingress) any { return a.Affinity }, want: Affinity{Type: "cookie", Cookie: Cookie{Name: "INGRESSCOOKIE"}}},
		{name: "cors defaults", ing: ing("enable-cors", "true"), check: func(a *Ingress) any { return a.CORS }, want: CORS{Enabled: true, AllowOrigin: []string{"*"},
			AllowMethods: defaultCORSMethods, AllowHeaders: defaultCORSHeaders, AllowCredentials: true, MaxAge: defaultCORSMaxAge}},
		{name: "server-alias is split, trimmed and sorted", ing: ing("server-alias", "b.com, a.com,b.com"), check: func(a *Ingress) any { return a.Aliases }, want: []string{"a.com", "b.com"}},
		{name: "app-root must be a path", ing: ing("app-root", "/app1"), check: func(a *Ingress) any { return a.Rewrite.AppRoot }, want: "/app1"},
		{name: "custom-http-errors", ing: ing("custom-http-errors", "404,503"), check: func(a *Ingress) any { return a.CustomHTTPErrors }, want: []int{404, 503}},
		{name: "default-backend names a Service of the namespace", ing: ing("default-backend", "errors"), check: func(a *Ingress) any { return a.DefaultBackend.Name }, want: "errors"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a, _, err := Extract(tc.ing, settings())
			if err != nil {
				t.Fatalf("Extract: %v", err)
			}
			if diff := cmp.Diff(tc.want, tc.check(a), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestCheckBlocklist(t *testing.T) {
	const aks = "load_module,lua_package,_by_lua,location,root,proxy_pass,serviceaccount,{,},'"
	cases := []struct {
		name string
		anns map[string]string
		want string
	}{
		{name: "a header snippet passes", anns: map[string]string{DefaultPrefix + "/configuration-snippet": `more_set_headers "X-A: b";`}},
		{name: "a location block is refused", anns: map[string]string{DefaultPrefix + "/server-snippet": "location /x { return 200; }"},
			want: "nginx.ingress.kubernetes.io/server-snippet annotation contains invalid word location"},
		{name: "any annotation of the prefix is checked", anns: map[string]string{DefaultPrefix + "/permanent-redirect": "https://a.com/root"},
			want: "nginx.ingress.kubernetes.io/permanent-redirect annotation contains invalid word root"},
		{name: "other prefixes are not checked", anns: map[string]string{"example.com/note": "root"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := ""
			if err := CheckBlocklist(tc.anns, DefaultPrefix, aks); err != nil {
				got = err.Error()
			}
			if got != tc.want {
				t.Errorf("CheckBlocklist = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestParseCIDRsAndSize(t *testing.T) {
	cidrs := []struct {
		in   string
		want []string
		err  bool
	}{
		{in: "", want: []string{}},
		{in: "10.0.0.5/8, 192.168.1.1", want: []string{"10.0.0.0/8", "192.168.1.1"}},
		{in: "10.0.0.0/8,", err: true},
		{in: "::1, 2001:db8::/32", want: []string{"2001:db8::/32", "::1"}},
	}
	for _, tc := range cidrs {
		got, err := ParseCIDRs(tc.in)
		if (err != nil) != tc.err || (!tc.err && !cmp.Equal(got, tc.want)) {
			t.Errorf("ParseCIDRs(%q) = %v, %v; want %v (error %v)", tc.in, got, err, tc.want, tc.err)
		}
	}
	sizes := []struct {
		in   string
		want int64
		err  bool
	}{{"1m", 1 << 20, false}, {"8K", 8 << 10, false}, {"0", 0, false}, {"1g", 1 << 30, false}, {"100", 100, false}, {"1 TB", 0, true}}
	for _, tc := range sizes {
		got, err := ParseSize(tc.in)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d (error %v)", tc.in, got, err, tc.want, tc.err)
		}
	}
}
