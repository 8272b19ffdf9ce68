package translate

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// render is what a golden file holds: a Gateway's configuration, then the statuses of the
// translation, conditions with their messages.
func render(res *Result, gw types.NamespacedName) string {
	var b strings.Builder
	b.WriteString(Dump(res.Configs[gw]))
	cond := func(indent string, c metav1.Condition) {
		fmt.Fprintf(&b, "%s%s: %s\n", indent, condString(c), c.Message)
	}
	var gws []types.NamespacedName
	for k := range res.GatewayStatus {
		gws = append(gws, k)
	}
	sort.Slice(gws, func(i, j int) bool { return gws[i].String() < gws[j].String() })
	for _, k := range gws {
		if k != gw {
			continue
		}
		st := res.GatewayStatus[k]
		fmt.Fprintf(&b, "\nGateway %s\n", k)
		for _, c := range st.Conditions {
			cond("  ", c)
		}
		for _, l := range st.Listeners {
			fmt.Fprintf(&b, "  listener %s attached=%d\n", l.Name, l.AttachedRoutes)
			for _, c := range l.Conditions {
				cond("    ", c)
			}
		}
	}
	routes := func(kind string, keys []types.NamespacedName, parents func(types.NamespacedName) []metav1.Condition) {
		sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
		for _, k := range keys {
			fmt.Fprintf(&b, "\n%s %s\n", kind, k)
			for _, c := range parents(k) {
				cond("  ", c)
			}
		}
	}
	var keys []types.NamespacedName
	for k, st := range res.HTTPRouteStatus {
		for _, p := range st.Parents {
			if string(p.ParentRef.Name) == gw.Name {
				keys = append(keys, k)
				break
			}
		}
	}
	routes(kindHTTPRoute, keys, func(k types.NamespacedName) []metav1.Condition {
		var out []metav1.Condition
		for _, p := range res.HTTPRouteStatus[k].Parents {
			if string(p.ParentRef.Name) == gw.Name {
				out = append(out, p.Conditions...)
			}
		}
		return out
	})
	keys = nil
	for k, st := range res.GRPCRouteStatus {
		for _, p := range st.Parents {
			if string(p.ParentRef.Name) == gw.Name {
				keys = append(keys, k)
				break
			}
		}
	}
	routes(kindGRPCRoute, keys, func(k types.NamespacedName) []metav1.Condition {
		var out []metav1.Condition
		for _, p := range res.GRPCRouteStatus[k].Parents {
			if string(p.ParentRef.Name) == gw.Name {
				out = append(out, p.Conditions...)
			}
		}
		return out
	})
	return b.String()
}

var slugRE = regexp.MustCompile(`[^a-z0-9]+`)

// golden compares got with testdata/<slug of name>.golden, or writes it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	file := filepath.Join("testdata", strings.Trim(slugRE.ReplaceAllString(strings.ToLower(name), "-"), "-")+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatalf("create testdata: %v", err)
		}
		if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
			t.Fatalf("write %s: %v", file, err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("read %s (run with -update to create it): %v", file, err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s differs from %s (-want +got):\n%s", name, file, diff)
	}
}

// TestGolden renders a few whole configurations with their statuses.
func TestGolden(t *testing.T) {
	cases := []struct {
		name      string
		gateway   string
		manifests string
	}{{
		name:    "HTTPRouteMatchingAcrossRoutes and HTTPRouteQueryParamMatching on the same-namespace Gateway",
		gateway: "same-namespace",
		manifests: `
kind: HTTPRoute
metadata: {name: matching-part1, namespace: gateway-conformance-infra, generation: 1}
spec:
  parentRefs: [{name: same-namespace}]
  hostnames: [example.com, example.net]
  rules:
  - matches: [{path: {type: PathPrefix, value: /}}, {headers: [{name: version, value: one}]}]
    backendRefs: [{name: infra-backend-v1, port: 8080}]
---
kind: HTTPRoute
metadata: {name: matching-part2, namespace: gateway-conformance-infra, generation: 1}
spec:
  parentRefs: [{name: same-namespace}]
  hostnames: [example.com]
  rules:
  - matches: [{path: {type: PathPrefix, value: /v2}}, {headers: [{name: version, value: two}]}]
    backendRefs: [{name: infra-backend-v2, port: 8080}]
---
kind: HTTPRoute
metadata: {name: query-param-matching, namespace: gateway-conformance-infra, generation: 2}
spec:
  parentRefs: [{name: same-namespace}]
  rules:
  - {matches: [{queryParams: [{name: animal, value: whale}]}], backendRefs: [{name: infra-backend-v1, port: 8080}]}
  - {matches: [{method: POST, path: {type: Exact, value: /post}}], backendRefs: [{name: infra-backend-v3, port: 8080, weight: 2}, {name: infra-backend-v2, port: 8080, weight: 1}]}
`,
	}, {
		name:    "Filters: redirect, rewrite, header modifiers, mirror, timeouts, invalid backends",
		gateway: "same-namespace",
		manifests: `
kind: HTTPRoute
metadata: {name: filters, namespace: gateway-conformance-infra, generation: 1}
spec:
  parentRefs: [{name: same-namespace}]
  rules:
  - matches: [{path: {type: PathPrefix, value: /redirect}}]
    filters: [{type: RequestRedirect, requestRedirect: {scheme: https, hostname: example.org, statusCode: 301, path: {type: ReplacePrefixMatch, replacePrefixMatch: /new}}}]
  - matches: [{path: {type: PathPrefix, value: /rewrite}}]
    filters:
    - {type: URLRewrite, urlRewrite: {hostname: rewritten.example.org, path: {type: ReplaceFullPath, replaceFullPath: /full}}}
    - {type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: x-set, value: a}], add: [{name: x-add, value: b}], remove: [x-remove]}}
    - {type: ResponseHeaderModifier, responseHeaderModifier: {add: [{name: x-resp, value: c}]}}
    - {type: RequestMirror, requestMirror: {backendRef: {name: infra-backend-v2, port: 8080}, fraction: {numerator: 1, denominator: 4}}}
    timeouts: {request: 10s, backendRequest: 2s}
    backendRefs:
    - {name: infra-backend-v1, port: 8081, filters: [{type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: backend, value: v1}]}}]}
    - {name: missing, port: 8080}
    - {name: web-backend, namespace: gateway-conformance-web-backend, port: 8080}
  - matches: [{path: {type: RegularExpression, value: "/items/[0-9]+"}}]
    filters: [{type: CORS, cors: {allowOrigins: ["https://app.example.com"], allowMethods: [GET, POST], allowCredentials: true}}]
    backendRefs: [{name: infra-backend-v3, port: 8080}]
  - matches: [{path: {type: PathPrefix, value: /dropped}}]
    filters: [{type: RequestRedirect, requestRedirect: {statusCode: 305}}]
`,
	}, {
		name:    "GatewayHTTPListenerIsolation and HTTPS listeners with hostnames",
		gateway: "isolation",
		manifests: `
kind: Gateway
metadata: {name: isolation, namespace: gateway-conformance-infra, generation: 1}
spec:
  gatewayClassName: approuting-istio
  listeners:
  - {name: empty-hostname, port: 80, protocol: HTTP, allowedRoutes: {namespaces: {from: All}}}
  - {name: wildcard-example-com, port: 80, protocol: HTTP, hostname: "*.example.com", allowedRoutes: {namespaces: {from: All}}}
  - {name: abc-example-com, port: 80, protocol: HTTP, hostname: abc.example.com, allowedRoutes: {namespaces: {from: All}}}
  - name: https-wildcard
    port: 443
    protocol: HTTPS
    hostname: "*.wildcard.org"
    allowedRoutes: {namespaces: {from: All}}
    tls: {certificateRefs: [{name: tls-validity-checks-certificate}]}
---
kind: HTTPRoute
metadata: {name: whole-gateway, namespace: gateway-conformance-web-backend, generation: 1}
spec:
  parentRefs: [{name: isolation, namespace: gateway-conformance-infra}]
  hostnames: [abc.example.com, x.wildcard.org, other.net]
  rules: [{backendRefs: [{name: web-backend, port: 8080}]}]
---
kind: HTTPRoute
metadata: {name: empty-hostname, namespace: gateway-conformance-infra, generation: 1}
spec:
  parentRefs: [{name: isolation, sectionName: empty-hostname}]
  rules: [{backendRefs: [{name: infra-backend-v1, port: 8080}]}]
---
kind: GRPCRoute
metadata: {name: grpc, namespace: gateway-conformance-infra, generation: 1}
spec:
  parentRefs: [{name: isolation, sectionName: wildcard-example-com}]
  hostnames: [grpc.example.com]
  rules: [{matches: [{method: {service: echo.Echo}}], backendRefs: [{name: grpc-infra-backend-v1, port: 8080}]}]
`,
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := translate(base(t, tc.manifests))
			golden(t, tc.name, render(res, nn(tc.gateway)))
		})
	}
}
