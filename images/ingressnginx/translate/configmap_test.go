package translate

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestParseConfigMap checks ingress-nginx's ConfigMap defaults and how refused values fall back
// to them (internal/ingress/controller/template/configmap.go ReadConfig).
func TestParseConfigMap(t *testing.T) {
	cases := []struct {
		name     string
		data     map[string]string
		check    func(Config) any
		want     any
		warnings []string
	}{
		{name: "empty ConfigMap gives ingress-nginx's defaults", check: func(c Config) any {
			return []any{c.HTTPRedirectCode, c.HSTS, c.HSTSMaxAge, c.HSTSIncludeSubdomains, c.Backend.ProxyBodySize, c.Backend.ProxyConnectTimeout,
				c.Backend.ProxyReadTimeout, c.Backend.ProxyNextUpstream, c.Backend.ProxyNextUpstreamTries, c.Backend.SSLRedirect, c.AnnotationsRiskLevel,
				c.AllowSnippetAnnotations, c.SSLProtocols, c.GenerateRequestID, c.ProxyRealIPCIDR}
		}, want: []any{308, true, "31536000", true, "1m", 5, 60, "error timeout", 3, true, "High", false, "TLSv1.2 TLSv1.3", true, []string{"0.0.0.0/0"}}},
		{name: "the add-on's ConfigMap", data: aksConfigMap, check: func(c Config) any {
			return []any{c.AllowSnippetAnnotations, c.AnnotationsRiskLevel, c.AllowCrossNamespaceResources, c.AnnotationValueWordBlocklist}
		}, want: []any{true, "Critical", true, aksConfigMap["annotation-value-word-blocklist"]}},
		{name: "http-redirect-code accepts 301, 302, 307 and 308 only", data: map[string]string{"http-redirect-code": "303"},
			check: func(c Config) any { return c.HTTPRedirectCode }, want: 308,
			warnings: []string{"The code 303 is not a valid as HTTP redirect code. Using the default."}},
		{name: "http-redirect-code 301", data: map[string]string{"http-redirect-code": "301"}, check: func(c Config) any { return c.HTTPRedirectCode }, want: 301},
		{name: "a boolean that is not one keeps the default", data: map[string]string{"hsts": "sure"}, check: func(c Config) any { return c.HSTS }, want: true,
			warnings: []string{`ConfigMap key hsts: "sure" is not a boolean; using the default true`}},
		{name: "lists are split on commas and trimmed", data: map[string]string{"whitelist-source-range": "10.0.0.0/8, 192.168.0.0/16,", "custom-http-errors": "404, 503,x"},
			check: func(c Config) any { return []any{c.Backend.AllowlistSourceRange, c.CustomHTTPErrors} },
			want:  []any{[]string{"10.0.0.0/8", "192.168.0.0/16"}, []int{404, 503}}, warnings: []string{`x is not a valid http code: strconv.Atoi: parsing "x": invalid syntax`}},
		{name: "keys that are not emulated are reported, unknown keys are not", data: map[string]string{"add-headers": "ns/cm", "worker-processes": "4", "no-such-key": "1"},
			check: func(c Config) any { return nil }, want: nil, warnings: []string{"ConfigMap key add-headers is not emulated by minaks: response headers from a ConfigMap are not added"}},
		{name: "an invalid proxy-body-size keeps 1m", data: map[string]string{"proxy-body-size": "lots"}, check: func(c Config) any { return c.Backend.ProxyBodySize }, want: "1m",
			warnings: []string{`ConfigMap key proxy-body-size: invalid size "lots"; using the default 1m`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, warnings := ParseConfigMap(tc.data)
			if diff := cmp.Diff(tc.want, tc.check(c)); diff != "" {
				t.Errorf("config (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.warnings, warnings); diff != "" {
				t.Errorf("warnings (-want +got):\n%s", diff)
			}
		})
	}
}
