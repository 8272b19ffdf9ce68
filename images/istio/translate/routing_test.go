package translate

import "testing"

// want is a request and what the proxy must do with it (see selectBackend).
type want struct {
	req
	port    int // 80 unless set
	gateway string
	outcome string
}

// TestRouting sends requests through l7.Select on the produced configurations, as the
// conformance tests of the same names send them through a Gateway.
func TestRouting(t *testing.T) {
	const v1, v2, v3 = "infra-backend-v1", "infra-backend-v2", "infra-backend-v3"
	cases := []struct {
		name      string
		manifests string
		gateway   string // same-namespace unless set
		wants     []want
	}{{
		name: "HTTPRouteMatching: path prefix or header, per match",
		manifests: `
kind: HTTPRoute
metadata: {name: matching, namespace: gateway-conformance-infra}
spec:
  parentRefs: [{name: same-namespace}]
  rules:
  - matches: [{path: {type: PathPrefix, value: /}}, {headers: [{name: version, value: one}]}]
    backendRefs: [{name: infra-backend-v1, port: 8080}]
  - matches: [{path: {type: PathPrefix, value: /v2}}, {headers: [{name: version, value: two}]}]
    backendRefs: [{name: infra-backend-v2, port: 8080}]
`,
		wants: []want{
			{req: req{path: "/"}, outcome: v1},
			{req: req{path: "/example"}, outcome: v1},
			{req: req{path: "/", header: map[string]string{"Version": "one"}}, outcome: v1},
			{req: req{path: "/v2"}, outcome: v2},
			{req: req{path: "/v2/example"}, outcome: v2},
			{req: req{path: "/", header: map[string]string{"Version": "two"}}, outcome: v2},
			{req: req{path: "/v2/"}, outcome: v2},
			{req: req{path: "/v2example"}, outcome: v1},
			{req: req{path: "/foo/v2/example"}, outcome: v1},
		},
	}, {
		name: "HTTPRouteMatchingAcrossRoutes: precedence across two routes of overlapping hostnames",
		manifests: `
kind: HTTPRoute
metadata: {name: matching-part1, namespace: gateway-conformance-infra}
spec:
  parentRefs: [{name: same-namespace}]
  hostnames: [example.com, example.net]
  rules:
  - matches: [{path: {type: PathPrefix, value: /}}, {headers: [{name: version, value: one}]}]
    backendRefs: [{name: infra-backend-v1, port: 8080}]
---
kind: HTTPRoute
metadata: {name: matching-part2, namespace: gateway-conformance-infra}
spec:
  parentRefs: [{name: same-namespace}]
  hostnames: [example.com]
  rules:
  - matches: [{path: {type: PathPrefix, value: /v2}}, {headers: [{name: version, value: two}]}]
    backendRefs: [{name: infra-backend-v2, port: 8080}]
`,
		wants: []want{
			{req: req{host: "example.com", path: "/"}, outcome: v1},
			{req: req{host: "example.com", path: "/example"}, outcome: v1},
			{req: req{host: "example.net", path: "/example"}, outcome: v1},
			{req: req{host: "example.com", path: "/example", header: map[string]string{"Version": "one"}}, outcome: v1},
			{req: req{host: "example.com", path: "/v2"}, outcome: v2},
			{req: req{host: "example.net", path: "/v2"}, outcome: v1},
			{req: req{host: "example.com", path: "/v2/example"}, outcome: v2},
			{req: req{host: "example.com", path: "/", header: map[string]string{"Version": "two"}}, outcome: v2},
			{req: req{host: "example.org", path: "/"}, outcome: "404"},
		},
	}, {
		name: "HTTPRoutePathMatchOrder: exact before the longest prefix",
		manifests: `
kind: HTTPRoute
metadata: {name: path-matching-order, namespace: gateway-conformance-infra}
spec:
  parentRefs: [{name: same-namespace}]
  rules:
  - {matches: [{path: {type: Exact, value: /match}}], backendRefs: [{name: infra-backend-v1, port: 8080}]}
  - {matches: [{path: {type: Exact, value: /match/exact}}], backendRefs: [{name: infra-backend-v2, port: 8080}]}
  - {matches: [{path: {type: Exact, value: /match/exact/one}}], backendRefs: [{name: infra-backend-v3, port: 8080}]}
  - {matches: [{path: {type: PathPrefix, value: /match/}}], backendRefs: [{name: infra-backend-v3, port: 8080}]}
  - {matches: [{path: {type: PathPrefix, value: /match/prefix/}}], backendRefs: [{name: infra-backend-v1, port: 8080}]}
  - {matches: [{path: {type: PathPrefix, value: /match/prefix/one}}], backendRefs: [{name: infra-backend-v2, port: 8080}]}
`,
		wants: []want{
			{req: req{path: "/match/exact/one"}, outcome: v3},
			{req: req{path: "/match/exact"}, outcome: v2},
			{req: req{path: "/match"}, outcome: v1},
			{req: req{path: "/match/prefix/one/any"}, outcome: v2},
			{req: req{path: "/match/prefix/any"}, outcome: v1},
			{req: req{path: "/match/any"}, outcome: v3},
		},
	}, {
		name: "HTTPRouteExactPathMatching: case-sensitive, no trailing slash, nothing else",
		manifests: `
kind: HTTPRoute
metadata: {name: exact-matching, namespace: gateway-conformance-infra}
spec:
  parentRefs: [{name: same-namespace}]
  rules:
  - {matches: [{path: {type: Exact, value: /one}}], backendRefs: [{name: infra-backend-v1, port: 8080}]}
  - {matches: [{path: {type: Exact, value: /two}}], backendRefs: [{name: infra-backend-v2, port: 8080}]}
`,
		wants: []want{
			{req: req{path: "/one"}, outcome: v1},
			{req: req{path: "/two"}, outcome: v2},
			{req: req{path: "/"}, outcome: "404"},
			{req: req{path: "/one/example"}, outcome: "404"},
			{req: req{path: "/two/"}, outcome: "404"},
			{req: req{path: "/Two"}, outcome: "404"},
		},
	}, {
		name: "HTTPRouteHeaderMatching: more header matches first, ORed matches",
		manifests: `
kind: HTTPRoute
metadata: {name: header-matching, namespace: gateway-conformance-infra}
spec:
  parentRefs: [{name: same-namespace}]
  rules:
  - {matches: [{headers: [{name: version, value: one}]}], backendRefs: [{name: infra-backend-v1, port: 8080}]}
  - {matches: [{headers: [{name: version, value: two}]}], backendRefs: [{name: infra-backend-v2, port: 8080}]}
  - {matches: [{headers: [{name: version, value: two}, {name: color, value: orange}]}], backendRefs: [{name: infra-backend-v1, port: 8080}]}
  - {matches: [{headers: [{name: color, value: blue}]}, {headers: [{name: color, value: green}]}], backendRefs: [{name: infra-backend-v1, port: 8080}]}
  - {matches: [{headers: [{name: color, value: red}]}, {headers: [{name: color, value: yellow}]}], backendRefs: [{name: infra-backend-v2, port: 8080}]}
`,
		wants: []want{
			{req: req{path: "/", header: map[string]string{"Version": "one"}}, outcome: v1},
			{req: req{path: "/", header: map[string]string{"Version": "two"}}, outcome: v2},
			{req: req{path: "/", header: map[string]string{"Version": "two", "Color": "orange"}}, outcome: v1},
			{req: req{path: "/", header: map[string]string{"Version": "two", "Color": "blue"}}, outcome: v2},
			{req: req{path: "/", header: map[string]string{"Color": "orange"}}, outcome: "404"},
			{req: req{path: "/", header: map[string]string{"Some-Other-Header": "one"}}, outcome: "404"},
			{req: req{path: "/", header: map[string]string{"Color": "blue"}}, outcome: v1},
			{req: req{path: "/", header: map[string]string{"Color": "green"}}, outcome: v1},
			{req: req{path: "/", header: map[string]string{"Color": "red"}}, outcome: v2},
			{req: req{path: "/", header: map[string]string{"Color": "yellow"}}, outcome: v2},
			{req: req{path: "/", header: map[string]string{"Color": "purple"}}, outcome: "404"},
		},
	}, {
		name: "HTTPRouteQueryParamMatching: exact names, path before headers before query parameters",
		manifests: `
kind: HTTPRoute
metadata: {name: query-param-matching, namespace: gateway-conformance-infra}
spec:
  parentRefs: [{name: same-namespace}]
  rules:
  - {matches: [{queryParams: [{name: animal, value: whale}]}], backendRefs: [{name: infra-backend-v1, port: 8080}]}
  - {matches: [{queryParams: [{name: animal, value: dolphin}]}], backendRefs: [{name: infra-backend-v2, port: 8080}]}
  - matches:
    - queryParams: [{name: animal, value: dolphin}, {name: color, value: blue}]
    - queryParams: [{name: ANIMAL, value: Whale}]
    backendRefs: [{name: infra-backend-v3, port: 8080}]
  - {matches: [{path: {type: PathPrefix, value: /path1}, queryParams: [{name: animal, value: whale}]}], backendRefs: [{name: infra-backend-v1, port: 8080}]}
  - {matches: [{headers: [{name: version, value: one}], queryParams: [{name: animal, value: whale}]}], backendRefs: [{name: infra-backend-v2, port: 8080}]}
  - {matches: [{path: {type: PathPrefix, value: /path2}, headers: [{name: version, value: two}], queryParams: [{name: animal, value: whale}]}], backendRefs: [{name: infra-backend-v3, port: 8080}]}
  - matches:
    - {path: {type: PathPrefix, value: /path3}, queryParams: [{name: animal, value: shark}]}
    - {path: {type: PathPrefix, value: /path4}, headers: [{name: version, value: three}], queryParams: [{name: animal, value: kraken}]}
    backendRefs: [{name: infra-backend-v1, port: 8080}]
  - {matches: [{path: {type: PathPrefix, value: /path5}}], backendRefs: [{name: infra-backend-v1, port: 8080}]}
  - {matches: [{queryParams: [{name: animal, value: hydra}]}], backendRefs: [{name: infra-backend-v2, port: 8080}]}
  - {matches: [{headers: [{name: version, value: four}]}], backendRefs: [{name: infra-backend-v3, port: 8080}]}
`,
		wants: []want{
			{req: req{path: "/?animal=whale"}, outcome: v1},
			{req: req{path: "/?animal=dolphin"}, outcome: v2},
			{req: req{path: "/?animal=dolphin&color=blue"}, outcome: v3},
			{req: req{path: "/?ANIMAL=Whale"}, outcome: v3},
			{req: req{path: "/?animal=whale&otherparam=irrelevant"}, outcome: v1},
			{req: req{path: "/?animal=dolphin&color=yellow"}, outcome: v2},
			{req: req{path: "/?color=blue"}, outcome: "404"},
			{req: req{path: "/?animal=dog"}, outcome: "404"},
			{req: req{path: "/?animal=whaledolphin"}, outcome: "404"},
			{req: req{path: "/"}, outcome: "404"},
			{req: req{path: "/path1?animal=whale"}, outcome: v1},
			{req: req{path: "/?animal=whale", header: map[string]string{"version": "one"}}, outcome: v2},
			{req: req{path: "/path2?animal=whale", header: map[string]string{"version": "two"}}, outcome: v3},
			{req: req{path: "/path3?animal=shark"}, outcome: v1},
			{req: req{path: "/path4?animal=kraken", header: map[string]string{"version": "three"}}, outcome: v1},
			{req: req{path: "/?animal=shark"}, outcome: "404"},
			{req: req{path: "/path4?animal=kraken"}, outcome: "404"},
			{req: req{path: "/path5?animal=hydra"}, outcome: v1},
			{req: req{path: "/?animal=hydra", header: map[string]string{"version": "four"}}, outcome: v3},
		},
	}, {
		name: "HTTPRouteMethodMatching: method before headers, combined matches",
		manifests: `
kind: HTTPRoute
metadata: {name: method-matching, namespace: gateway-conformance-infra}
spec:
  parentRefs: [{name: same-namespace}]
  rules:
  - {matches: [{method: POST}], backendRefs: [{name: infra-backend-v1, port: 8080}]}
  - {matches: [{method: GET}], backendRefs: [{name: infra-backend-v2, port: 8080}]}
  - {matches: [{path: {type: PathPrefix, value: /path1}, method: GET}], backendRefs: [{name: infra-backend-v1, port: 8080}]}
  - {matches: [{headers: [{name: version, value: one}], method: PUT}], backendRefs: [{name: infra-backend-v2, port: 8080}]}
  - {matches: [{path: {type: PathPrefix, value: /path2}, headers: [{name: version, value: two}], method: POST}], backendRefs: [{name: infra-backend-v3, port: 8080}]}
  - matches:
    - {path: {type: PathPrefix, value: /path3}, method: PATCH}
    - {path: {type: PathPrefix, value: /path4}, headers: [{name: version, value: three}], method: DELETE}
    backendRefs: [{name: infra-backend-v1, port: 8080}]
  - {matches: [{path: {type: PathPrefix, value: /path5}}], backendRefs: [{name: infra-backend-v1, port: 8080}]}
  - {matches: [{method: PATCH}], backendRefs: [{name: infra-backend-v2, port: 8080}]}
  - {matches: [{headers: [{name: version, value: four}]}], backendRefs: [{name: infra-backend-v3, port: 8080}]}
`,
		wants: []want{
			{req: req{method: "POST", path: "/"}, outcome: v1},
			{req: req{method: "GET", path: "/"}, outcome: v2},
			{req: req{method: "HEAD", path: "/"}, outcome: "404"},
			{req: req{method: "GET", path: "/path1"}, outcome: v1},
			{req: req{method: "PUT", path: "/", header: map[string]string{"version": "one"}}, outcome: v2},
			{req: req{method: "POST", path: "/path2", header: map[string]string{"version": "two"}}, outcome: v3},
			{req: req{method: "PATCH", path: "/path3"}, outcome: v1},
			{req: req{method: "DELETE", path: "/path4", header: map[string]string{"version": "three"}}, outcome: v1},
			{req: req{method: "PUT", path: "/"}, outcome: "404"},
			{req: req{method: "POST", path: "/path4", header: map[string]string{"version": "three"}}, outcome: v1},
			{req: req{method: "PATCH", path: "/path5"}, outcome: v1},
			{req: req{method: "PATCH", path: "/", header: map[string]string{"version": "four"}}, outcome: v2},
		},
	}, {
		name:    "HTTPRouteListenerHostnameMatching: each listener's routes for its hostnames",
		gateway: "httproute-listener-hostname-matching",
		manifests: `
kind: Gateway
metadata: {name: httproute-listener-hostname-matching, namespace: gateway-conformance-infra}
spec:
  gatewayClassName: approuting-istio
  listeners:
  - {name: listener-1, port: 80, protocol: HTTP, hostname: bar.com, allowedRoutes: {namespaces: {from: Same}}}
  - {name: listener-2, port: 80, protocol: HTTP, hostname: foo.bar.com, allowedRoutes: {namespaces: {from: Same}}}
  - {name: listener-3, port: 80, protocol: HTTP, hostname: "*.bar.com", allowedRoutes: {namespaces: {from: Same}}}
  - {name: listener-4, port: 80, protocol: HTTP, hostname: "*.foo.com", allowedRoutes: {namespaces: {from: Same}}}
---
kind: HTTPRoute
metadata: {name: backend-v1, namespace: gateway-conformance-infra}
spec:
  parentRefs: [{name: httproute-listener-hostname-matching, sectionName: listener-1}]
  rules: [{backendRefs: [{name: infra-backend-v1, port: 8080}]}]
---
kind: HTTPRoute
metadata: {name: backend-v2, namespace: gateway-conformance-infra}
spec:
  parentRefs: [{name: httproute-listener-hostname-matching, sectionName: listener-2}]
  rules: [{backendRefs: [{name: infra-backend-v2, port: 8080}]}]
---
kind: HTTPRoute
metadata: {name: backend-v3, namespace: gateway-conformance-infra}
spec:
  parentRefs:
  - {name: httproute-listener-hostname-matching, sectionName: listener-3}
  - {name: httproute-listener-hostname-matching, sectionName: listener-4}
  rules: [{backendRefs: [{name: infra-backend-v3, port: 8080}]}]
`,
		wants: []want{
			{req: req{host: "bar.com", path: "/"}, outcome: v1},
			{req: req{host: "foo.bar.com", path: "/"}, outcome: v2},
			{req: req{host: "baz.bar.com", path: "/"}, outcome: v3},
			{req: req{host: "boo.bar.com", path: "/"}, outcome: v3},
			{req: req{host: "multiple.prefixes.bar.com", path: "/"}, outcome: v3},
			{req: req{host: "multiple.prefixes.foo.com", path: "/"}, outcome: v3},
			{req: req{host: "foo.com", path: "/"}, outcome: "404"},
			{req: req{host: "no.matching.host", path: "/"}, outcome: "404"},
		},
	}, {
		name:    "HTTPRouteHostnameIntersection: requests only for the intersecting hostnames",
		gateway: "httproute-hostname-intersection",
		manifests: `
kind: Gateway
metadata: {name: httproute-hostname-intersection, namespace: gateway-conformance-infra}
spec:
  gatewayClassName: approuting-istio
  listeners:
  - {name: listener-1, port: 80, protocol: HTTP, hostname: very.specific.com, allowedRoutes: {namespaces: {from: Same}}}
  - {name: listener-2, port: 80, protocol: HTTP, hostname: "*.wildcard.io", allowedRoutes: {namespaces: {from: Same}}}
  - {name: listener-3, port: 80, protocol: HTTP, hostname: "*.anotherwildcard.io", allowedRoutes: {namespaces: {from: Same}}}
---
kind: HTTPRoute
metadata: {name: specific-host-matches-listener-specific-host, namespace: gateway-conformance-infra}
spec:
  parentRefs: [{name: httproute-hostname-intersection}]
  hostnames: [non.matching.com, "*.nonmatchingwildcard.io", very.specific.com]
  rules: [{matches: [{path: {type: PathPrefix, value: /s1}}], backendRefs: [{name: infra-backend-v1, port: 8080}]}]
---
kind: HTTPRoute
metadata: {name: specific-host-matches-listener-wildcard-host, namespace: gateway-conformance-infra}
spec:
  parentRefs: [{name: httproute-hostname-intersection}]
  hostnames: [non.matching.com, wildcard.io, foo.wildcard.io, bar.wildcard.io, foo.bar.wildcard.io]
  rules: [{matches: [{path: {type: PathPrefix, value: /s2}}], backendRefs: [{name: infra-backend-v2, port: 8080}]}]
---
kind: HTTPRoute
metadata: {name: wildcard-host-matches-listener-specific-host, namespace: gateway-conformance-infra}
spec:
  parentRefs: [{name: httproute-hostname-intersection}]
  hostnames: [non.matching.com, "*.specific.com"]
  rules: [{matches: [{path: {type: PathPrefix, value: /s3}}], backendRefs: [{name: infra-backend-v3, port: 8080}]}]
---
kind: HTTPRoute
metadata: {name: wildcard-host-matches-listener-wildcard-host, namespace: gateway-conformance-infra}
spec:
  parentRefs: [{name: httproute-hostname-intersection}]
  hostnames: ["*.anotherwildcard.io"]
  rules: [{matches: [{path: {type: PathPrefix, value: /s4}}], backendRefs: [{name: infra-backend-v1, port: 8080}]}]
`,
		wants: []want{
			{req: req{host: "very.specific.com", path: "/s1"}, outcome: v1},
			{req: req{host: "very.specific.com:1234", path: "/s1"}, outcome: v1},
			{req: req{host: "non.matching.com", path: "/s1"}, outcome: "404"},
			{req: req{host: "foo.nonmatchingwildcard.io", path: "/s1"}, outcome: "404"},
			{req: req{host: "foo.wildcard.io", path: "/s1"}, outcome: "404"},
			{req: req{host: "very.specific.com", path: "/non-matching-prefix"}, outcome: "404"},
			{req: req{host: "foo.wildcard.io", path: "/s2"}, outcome: v2},
			{req: req{host: "bar.wildcard.io", path: "/s2"}, outcome: v2},
			{req: req{host: "foo.bar.wildcard.io", path: "/s2"}, outcome: v2},
			{req: req{host: "baz.wildcard.io", path: "/s2"}, outcome: "404"},
			{req: req{host: "wildcard.io", path: "/s2"}, outcome: "404"},
			{req: req{host: "very.specific.com", path: "/s2"}, outcome: "404"},
			{req: req{host: "very.specific.com", path: "/s3"}, outcome: v3},
			{req: req{host: "foo.specific.com", path: "/s3"}, outcome: "404"},
			{req: req{host: "foo.anotherwildcard.io", path: "/s4"}, outcome: v1},
			{req: req{host: "foo.bar.anotherwildcard.io", path: "/s4"}, outcome: v1},
			{req: req{host: "anotherwildcard.io", path: "/s4"}, outcome: "404"},
			{req: req{host: "foo.wildcard.io", path: "/s4"}, outcome: "404"},
		},
	}, {
		name:    "HTTPRouteHostnameIntersection: a listener without hostname takes the route's hostnames",
		gateway: "httproute-hostname-intersection-all",
		manifests: `
kind: Gateway
metadata: {name: httproute-hostname-intersection-all, namespace: gateway-conformance-infra}
spec:
  gatewayClassName: approuting-istio
  listeners: [{name: listener-1, port: 80, protocol: HTTP, allowedRoutes: {namespaces: {from: Same}}}]
---
kind: HTTPRoute
metadata: {name: httproute-hostname-intersection-all, namespace: gateway-conformance-infra}
spec:
  parentRefs: [{name: httproute-hostname-intersection-all}]
  hostnames: [first.com, sub.first.com, second.com, sub.second.com]
  rules: [{backendRefs: [{name: infra-backend-v2, port: 8080}]}]
`,
		wants: []want{
			{req: req{host: "first.com", path: "/"}, outcome: v2},
			{req: req{host: "sub.first.com", path: "/"}, outcome: v2},
			{req: req{host: "second.com", path: "/"}, outcome: v2},
			{req: req{host: "sub.second.com", path: "/"}, outcome: v2},
			{req: req{host: "third.com", path: "/"}, outcome: "404"},
			{req: req{host: "sub.third.com", path: "/"}, outcome: "404"},
		},
	}, {
		name:    "HTTPRouteListenerPortMatching: parentRef ports select listeners, one l7 listener per port",
		gateway: "httproute-listener-port-matching",
		manifests: `
kind: Gateway
metadata: {name: httproute-listener-port-matching, namespace: gateway-conformance-infra}
spec:
  gatewayClassName: approuting-istio
  listeners:
  - {name: listener-1, port: 80, protocol: HTTP, hostname: foo.com, allowedRoutes: {namespaces: {from: Same}}}
  - {name: listener-2, port: 8080, protocol: HTTP, hostname: foo.com, allowedRoutes: {namespaces: {from: Same}}}
  - {name: listener-3, port: 8080, protocol: HTTP, hostname: bar.com, allowedRoutes: {namespaces: {from: Same}}}
  - {name: listener-4, port: 8090, protocol: HTTP, hostname: foo.com, allowedRoutes: {namespaces: {from: Same}}}
  - {name: listener-5, port: 8090, protocol: HTTP, hostname: bar.com, allowedRoutes: {namespaces: {from: Same}}}
---
kind: HTTPRoute
metadata: {name: backend-v1, namespace: gateway-conformance-infra}
spec:
  parentRefs: [{name: httproute-listener-port-matching, port: 80}]
  rules: [{backendRefs: [{name: infra-backend-v1, port: 8080}]}]
---
kind: HTTPRoute
metadata: {name: backend-v2, namespace: gateway-conformance-infra}
spec:
  parentRefs: [{name: httproute-listener-port-matching, port: 8080}]
  rules: [{backendRefs: [{name: infra-backend-v2, port: 8080}]}]
---
kind: HTTPRoute
metadata: {name: backend-v3, namespace: gateway-conformance-infra}
spec:
  parentRefs: [{name: httproute-listener-port-matching, port: 8090, sectionName: listener-4}]
  rules: [{backendRefs: [{name: infra-backend-v3, port: 8080}]}]
`,
		wants: []want{
			{req: req{host: "foo.com", path: "/"}, outcome: v1},
			{req: req{host: "foo.com:8080", path: "/"}, port: 8080, outcome: v2},
			{req: req{host: "bar.com:8080", path: "/"}, port: 8080, outcome: v2},
			{req: req{host: "foo.com:8090", path: "/"}, port: 8090, outcome: v3},
			{req: req{host: "bar.com:8090", path: "/"}, port: 8090, outcome: "404"},
		},
	}, {
		name:    "GatewayHTTPListenerIsolation: a request goes to the most specific listener's routes only",
		gateway: "http-listener-isolation",
		manifests: `
kind: Gateway
metadata: {name: http-listener-isolation, namespace: gateway-conformance-infra}
spec:
  gatewayClassName: approuting-istio
  listeners:
  - {name: empty-hostname, port: 80, protocol: HTTP, allowedRoutes: {namespaces: {from: All}}}
  - {name: wildcard-example-com, port: 80, protocol: HTTP, hostname: "*.example.com", allowedRoutes: {namespaces: {from: All}}}
  - {name: wildcard-foo-example-com, port: 80, protocol: HTTP, hostname: "*.foo.example.com", allowedRoutes: {namespaces: {from: All}}}
  - {name: abc-foo-example-com, port: 80, protocol: HTTP, hostname: abc.foo.example.com, allowedRoutes: {namespaces: {from: All}}}
---
kind: HTTPRoute
metadata: {name: attaches-to-empty-hostname, namespace: gateway-conformance-infra}
spec:
  parentRefs: [{name: http-listener-isolation, sectionName: empty-hostname}]
  rules: [{matches: [{path: {type: PathPrefix, value: /empty-hostname}}], backendRefs: [{name: infra-backend-v1, port: 8080}]}]
---
kind: HTTPRoute
metadata: {name: attaches-to-wildcard-example-com, namespace: gateway-conformance-infra}
spec:
  parentRefs: [{name: http-listener-isolation, sectionName: wildcard-example-com}]
  rules: [{matches: [{path: {type: PathPrefix, value: /wildcard-example-com}}], backendRefs: [{name: infra-backend-v1, port: 8080}]}]
---
kind: HTTPRoute
metadata: {name: attaches-to-wildcard-foo-example-com, namespace: gateway-conformance-infra}
spec:
  parentRefs: [{name: http-listener-isolation, sectionName: wildcard-foo-example-com}]
  rules: [{matches: [{path: {type: PathPrefix, value: /wildcard-foo-example-com}}], backendRefs: [{name: infra-backend-v1, port: 8080}]}]
---
kind: HTTPRoute
metadata: {name: attaches-to-abc-foo-example-com, namespace: gateway-conformance-infra}
spec:
  parentRefs: [{name: http-listener-isolation, sectionName: abc-foo-example-com}]
  rules: [{matches: [{path: {type: PathPrefix, value: /abc-foo-example-com}}], backendRefs: [{name: infra-backend-v1, port: 8080}]}]
`,
		wants: []want{
			{req: req{host: "bar.com", path: "/empty-hostname"}, outcome: v1},
			{req: req{host: "bar.com", path: "/wildcard-example-com"}, outcome: "404"},
			{req: req{host: "bar.example.com", path: "/wildcard-example-com"}, outcome: v1},
			{req: req{host: "bar.example.com", path: "/empty-hostname"}, outcome: "404"},
			{req: req{host: "bar.foo.example.com", path: "/wildcard-foo-example-com"}, outcome: v1},
			{req: req{host: "bar.foo.example.com", path: "/wildcard-example-com"}, outcome: "404"},
			{req: req{host: "abc.foo.example.com", path: "/abc-foo-example-com"}, outcome: v1},
			{req: req{host: "abc.foo.example.com", path: "/wildcard-foo-example-com"}, outcome: "404"},
		},
	}, {
		name: "Route hostname precedence: a route with an exact hostname before one with a wildcard, whatever the paths",
		manifests: `
kind: HTTPRoute
metadata: {name: wildcard, namespace: gateway-conformance-infra, creationTimestamp: "2024-01-01T00:00:00Z"}
spec:
  parentRefs: [{name: same-namespace}]
  hostnames: ["*.example.com"]
  rules: [{matches: [{path: {type: Exact, value: /api}}], backendRefs: [{name: infra-backend-v1, port: 8080}]}]
---
kind: HTTPRoute
metadata: {name: exact, namespace: gateway-conformance-infra, creationTimestamp: "2024-01-02T00:00:00Z"}
spec:
  parentRefs: [{name: same-namespace}]
  hostnames: [foo.example.com]
  rules: [{backendRefs: [{name: infra-backend-v2, port: 8080}]}]
`,
		wants: []want{
			{req: req{host: "foo.example.com", path: "/api"}, outcome: v2},
			{req: req{host: "bar.example.com", path: "/api"}, outcome: v1},
			{req: req{host: "bar.example.com", path: "/other"}, outcome: "404"},
		},
	}, {
		name: "Route precedence ties: the oldest route, then namespace/name, then rule order",
		manifests: `
kind: HTTPRoute
metadata: {name: b-newer, namespace: gateway-conformance-infra, creationTimestamp: "2024-01-02T00:00:00Z"}
spec:
  parentRefs: [{name: same-namespace}]
  rules: [{matches: [{path: {type: PathPrefix, value: /same}}], backendRefs: [{name: infra-backend-v1, port: 8080}]}]
---
kind: HTTPRoute
metadata: {name: c-older, namespace: gateway-conformance-infra, creationTimestamp: "2024-01-01T00:00:00Z"}
spec:
  parentRefs: [{name: same-namespace}]
  rules:
  - {matches: [{path: {type: PathPrefix, value: /same}}], backendRefs: [{name: infra-backend-v2, port: 8080}]}
  - {matches: [{path: {type: PathPrefix, value: /tie}}], backendRefs: [{name: infra-backend-v2, port: 8080}]}
  - {matches: [{path: {type: PathPrefix, value: /tie}}], backendRefs: [{name: infra-backend-v3, port: 8080}]}
---
kind: HTTPRoute
metadata: {name: a-newer, namespace: gateway-conformance-infra, creationTimestamp: "2024-01-02T00:00:00Z"}
spec:
  parentRefs: [{name: same-namespace}]
  rules: [{matches: [{path: {type: PathPrefix, value: /name}}], backendRefs: [{name: infra-backend-v3, port: 8080}]}]
---
kind: HTTPRoute
metadata: {name: z-newer, namespace: gateway-conformance-infra, creationTimestamp: "2024-01-02T00:00:00Z"}
spec:
  parentRefs: [{name: same-namespace}]
  rules: [{matches: [{path: {type: PathPrefix, value: /name}}], backendRefs: [{name: infra-backend-v1, port: 8080}]}]
`,
		wants: []want{
			{req: req{path: "/same"}, outcome: v2},
			{req: req{path: "/tie"}, outcome: v2},
			{req: req{path: "/name"}, outcome: v3},
		},
	}, {
		name: "RegularExpression paths: whole-path RE2, after Exact, before PathPrefix",
		manifests: `
kind: HTTPRoute
metadata: {name: regex, namespace: gateway-conformance-infra}
spec:
  parentRefs: [{name: same-namespace}]
  rules:
  - {matches: [{path: {type: PathPrefix, value: /api}}], backendRefs: [{name: infra-backend-v1, port: 8080}]}
  - {matches: [{path: {type: RegularExpression, value: "/api/v[0-9]+/.*"}}], backendRefs: [{name: infra-backend-v2, port: 8080}]}
  - {matches: [{path: {type: Exact, value: /api/v1/exact}}], backendRefs: [{name: infra-backend-v3, port: 8080}]}
  - {matches: [{headers: [{name: x-id, type: RegularExpression, value: "[a-f]+"}]}], backendRefs: [{name: infra-backend-v3, port: 8080}]}
`,
		wants: []want{
			{req: req{path: "/api/v1/users"}, outcome: v2},
			{req: req{path: "/api/v1/exact"}, outcome: v3},
			{req: req{path: "/api/vx/users"}, outcome: v1},
			{req: req{path: "/x/api/v1/users"}, outcome: "404"},
			{req: req{path: "/", header: map[string]string{"X-Id": "abc"}}, outcome: v3},
			{req: req{path: "/", header: map[string]string{"X-Id": "abcz"}}, outcome: "404"},
		},
	}, {
		name: "HTTPRouteWeight, invalid backends: weight 0 never serves, an invalid backend's share answers 500",
		manifests: `
kind: HTTPRoute
metadata: {name: weighted-backends, namespace: gateway-conformance-infra}
spec:
  parentRefs: [{name: same-namespace}]
  rules:
  - backendRefs:
    - {name: infra-backend-v1, port: 8080, weight: 70}
    - {name: infra-backend-v2, port: 8080, weight: 30}
    - {name: infra-backend-v3, port: 8080, weight: 0}
  - matches: [{path: {type: PathPrefix, value: /half}}]
    backendRefs:
    - {name: infra-backend-v1, port: 8080}
    - {name: missing, port: 8080}
  - matches: [{path: {type: PathPrefix, value: /none}}]
    backendRefs: [{name: infra-backend-v1, port: 8080, weight: 0}]
  - matches: [{path: {type: PathPrefix, value: /unknown-kind}}]
    backendRefs: [{group: unknownkind.example.com, kind: NonExistent, name: infra-backend-v1, port: 8080}]
  - matches: [{path: {type: PathPrefix, value: /no-backends}}]
  - matches: [{path: {type: PathPrefix, value: /extension}}]
    filters: [{type: ExtensionRef, extensionRef: {group: example.com, kind: Filter, name: f}}]
    backendRefs: [{name: infra-backend-v1, port: 8080}]
`,
		wants: []want{
			{req: req{path: "/"}, outcome: v1 + "+" + v2},
			{req: req{path: "/half"}, outcome: v1 + "+500"},
			{req: req{path: "/none"}, outcome: "500"},
			{req: req{path: "/unknown-kind"}, outcome: "500"},
			{req: req{path: "/no-backends"}, outcome: "500"},
			{req: req{path: "/extension"}, outcome: "500"},
		},
	}, {
		name:    "HTTPRouteHTTPSListener: the listener without hostname takes example.org, the one with second-example.org its route",
		gateway: "same-namespace-with-https-listener",
		manifests: `
kind: HTTPRoute
metadata: {name: httproute-https-test, namespace: gateway-conformance-infra}
spec:
  parentRefs: [{name: same-namespace-with-https-listener}]
  hostnames: [example.org]
  rules: [{backendRefs: [{name: infra-backend-v1, port: 8080}]}]
---
kind: HTTPRoute
metadata: {name: httproute-https-test-no-hostname, namespace: gateway-conformance-infra}
spec:
  parentRefs: [{name: same-namespace-with-https-listener, sectionName: https-with-hostname}]
  rules: [{backendRefs: [{name: infra-backend-v2, port: 8080}]}]
`,
		wants: []want{
			{req: req{host: "example.org", path: "/"}, port: 443, outcome: v1},
			{req: req{host: "unknown-example.org", path: "/"}, port: 443, outcome: "404"},
			{req: req{host: "second-example.org", path: "/"}, port: 443, outcome: v2},
		},
	}, {
		name: "GRPCExactMethodMatching and GRPCRouteHeaderMatching: /service/method paths, headers",
		manifests: `
kind: GRPCRoute
metadata: {name: exact-matching, namespace: gateway-conformance-infra}
spec:
  parentRefs: [{name: same-namespace}]
  hostnames: [grpc.example.com]
  rules:
  - matches: [{method: {service: gateway_api_conformance.echo_basic.grpcecho.GrpcEcho, method: Echo}}]
    backendRefs: [{name: grpc-infra-backend-v1, port: 8080}]
  - matches: [{method: {service: gateway_api_conformance.echo_basic.grpcecho.GrpcEcho, method: EchoTwo}}]
    backendRefs: [{name: grpc-infra-backend-v2, port: 8080}]
  - matches: [{method: {service: other.Service}}]
    backendRefs: [{name: grpc-infra-backend-v1, port: 8080}]
  - matches: [{method: {method: Anywhere}}]
    backendRefs: [{name: grpc-infra-backend-v2, port: 8080}]
  - matches: [{headers: [{name: version, value: two}]}]
    backendRefs: [{name: grpc-infra-backend-v2, port: 8080}]
`,
		wants: []want{
			{req: req{method: "POST", host: "grpc.example.com", path: "/gateway_api_conformance.echo_basic.grpcecho.GrpcEcho/Echo"}, outcome: "grpc-infra-backend-v1"},
			{req: req{method: "POST", host: "grpc.example.com", path: "/gateway_api_conformance.echo_basic.grpcecho.GrpcEcho/EchoTwo"}, outcome: "grpc-infra-backend-v2"},
			{req: req{method: "POST", host: "grpc.example.com", path: "/gateway_api_conformance.echo_basic.grpcecho.GrpcEcho/EchoThree"}, outcome: "404"},
			{req: req{method: "POST", host: "grpc.example.com", path: "/other.Service/Any"}, outcome: "grpc-infra-backend-v1"},
			{req: req{method: "POST", host: "grpc.example.com", path: "/x.Y/Anywhere"}, outcome: "grpc-infra-backend-v2"},
			{req: req{method: "POST", host: "grpc.example.com", path: "/x.Y/Z", header: map[string]string{"Version": "two"}}, outcome: "grpc-infra-backend-v2"},
		},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := translate(base(t, tc.manifests))
			gw := tc.gateway
			if gw == "" {
				gw = "same-namespace"
			}
			for _, w := range tc.wants {
				port := w.port
				if port == 0 {
					port = 80
				}
				got := selectBackend(t, res, nn(gw), port, w.req)
				if got != w.outcome {
					t.Errorf("%s %s%s %v on port %d: got %s, want %s", w.method, w.host, w.path, w.header, port, got, w.outcome)
				}
			}
			if t.Failed() {
				t.Logf("configuration:\n%s", Dump(res.Configs[nn(gw)]))
			}
		})
	}
}
