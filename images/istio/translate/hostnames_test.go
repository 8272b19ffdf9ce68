package translate

import (
	"math/rand/v2"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestIntersect(t *testing.T) {
	cases := []struct {
		name         string
		listener, rt string
		want         string
		ok           bool
	}{
		{"no listener hostname takes the route's", "", "foo.example.com", "foo.example.com", true},
		{"equal names", "foo.example.com", "foo.example.com", "foo.example.com", true},
		{"a route wildcard covers the listener's name", "very.specific.com", "*.specific.com", "very.specific.com", true},
		{"a listener wildcard covers the route's name", "*.wildcard.io", "foo.bar.wildcard.io", "foo.bar.wildcard.io", true},
		{"a wildcard does not match its own suffix", "*.wildcard.io", "wildcard.io", "", false},
		{"nested wildcards give the narrower", "*.example.com", "*.foo.example.com", "*.foo.example.com", true},
		{"nested wildcards, the other way", "*.foo.example.com", "*.example.com", "*.foo.example.com", true},
		{"different names", "foo.example.com", "bar.example.com", "", false},
		{"disjoint wildcards", "*.a.com", "*.b.com", "", false},
		{"a suffix that is not a label", "*.example.com", "fooexample.com", "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := intersect(tc.listener, tc.rt)
			if got != tc.want || ok != tc.ok {
				t.Errorf("intersect(%q, %q) = %q, %v; want %q, %v", tc.listener, tc.rt, got, ok, tc.want, tc.ok)
			}
		})
	}
}

// TestDeterministic translates the same objects given in different orders.
func TestDeterministic(t *testing.T) {
	manifests := `
kind: HTTPRoute
metadata: {name: b, namespace: gateway-conformance-infra, generation: 1}
spec:
  parentRefs: [{name: same-namespace}, {name: all-namespaces}]
  rules:
  - backendRefs: [{name: infra-backend-v1, port: 8080}, {name: missing, port: 8080}, {name: web-backend, namespace: gateway-conformance-web-backend, port: 8080}]
---
kind: HTTPRoute
metadata: {name: a, namespace: gateway-conformance-infra, generation: 1}
spec:
  parentRefs: [{name: same-namespace}]
  hostnames: [a.example.com, "*.example.com"]
  rules: [{matches: [{path: {type: PathPrefix, value: /a}}], backendRefs: [{name: infra-backend-v2, port: 8080}]}]
---
kind: GRPCRoute
metadata: {name: g, namespace: gateway-conformance-infra, generation: 1}
spec:
  parentRefs: [{name: all-namespaces}]
  rules: [{backendRefs: [{name: grpc-infra-backend-v1, port: 8080}]}]
`
	st := base(t, manifests)
	want := translate(st)
	for i := 0; i < 5; i++ {
		shuffled := *st
		shuffle := func(n int, swap func(i, j int)) { rand.Shuffle(n, swap) }
		shuffle(len(shuffled.HTTPRoutes), func(i, j int) {
			shuffled.HTTPRoutes[i], shuffled.HTTPRoutes[j] = shuffled.HTTPRoutes[j], shuffled.HTTPRoutes[i]
		})
		shuffle(len(shuffled.Gateways), func(i, j int) {
			shuffled.Gateways[i], shuffled.Gateways[j] = shuffled.Gateways[j], shuffled.Gateways[i]
		})
		shuffle(len(shuffled.Services), func(i, j int) {
			shuffled.Services[i], shuffled.Services[j] = shuffled.Services[j], shuffled.Services[i]
		})
		got := translate(&shuffled)
		for gw, cfg := range want.Configs {
			if diff := cmp.Diff(Dump(cfg), Dump(got.Configs[gw])); diff != "" {
				t.Fatalf("Gateway %s configuration differs (-first +shuffled):\n%s", gw, diff)
			}
		}
		if diff := cmp.Diff(want.HTTPRouteStatus, got.HTTPRouteStatus); diff != "" {
			t.Fatalf("route statuses differ (-first +shuffled):\n%s", diff)
		}
		if diff := cmp.Diff(want.GatewayStatus, got.GatewayStatus); diff != "" {
			t.Fatalf("Gateway statuses differ (-first +shuffled):\n%s", diff)
		}
	}
}
