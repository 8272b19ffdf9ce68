package translate

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// Listener summaries that recur: a served listener and its conditions.
const (
	servedConds  = "Accepted=True/Accepted Conflicted=False/NoConflicts ResolvedRefs=True/ResolvedRefs Programmed=True/Programmed"
	routeKinds   = "kinds=HTTPRoute,GRPCRoute"
	routeOK      = "Accepted=True/Accepted"
	refsOK       = "ResolvedRefs=True/ResolvedRefs"
	invalidProgr = "Programmed=False/Invalid"
)

// routeRef names a route and the Gateway whose parent status is checked:
// "HTTPRoute namespace/name gateway".
type routeRef struct {
	kind string
	key  types.NamespacedName
	gw   types.NamespacedName
}

func httpRoute(ns, name, gw string) routeRef {
	return routeRef{kindHTTPRoute, types.NamespacedName{Namespace: ns, Name: name}, nn(gw)}
}

// TestStatus checks the statuses of Gateways, listeners and routes against what the
// conformance tests of the same name expect (and what the spec's reasons say).
func TestStatus(t *testing.T) {
	cases := []struct {
		name      string
		manifests string
		// listeners has, per Gateway (in the infra namespace), each listener's summary.
		listeners map[string][]string
		// gateway has, per Gateway, its conditions.
		gateway map[string][]string
		// routes has, per route and parent Gateway, the parent status's conditions.
		routes map[routeRef][]string
		// noStatus are routes that must get no status at all.
		noStatus []routeRef
	}{{
		name: "GatewayWithAttachedRoutes: one route, two routes, a route without matching hostname, a route on an unresolved listener",
		manifests: `
kind: Gateway
metadata: {name: gateway-with-one-attached-route, namespace: gateway-conformance-infra, generation: 1}
spec:
  gatewayClassName: approuting-istio
  listeners:
  - name: http
    port: 80
    protocol: HTTP
    allowedRoutes:
      kinds: [{kind: HTTPRoute}]
      namespaces: {from: Selector, selector: {matchLabels: {kubernetes.io/metadata.name: gateway-conformance-infra}}}
---
kind: HTTPRoute
metadata: {name: http-route-1, namespace: gateway-conformance-infra, generation: 1}
spec:
  parentRefs: [{kind: Gateway, name: gateway-with-one-attached-route, namespace: gateway-conformance-infra}]
  rules: [{backendRefs: [{name: infra-backend-v1, port: 8080}]}]
---
kind: Gateway
metadata: {name: gateway-with-two-attached-routes, namespace: gateway-conformance-infra, generation: 1}
spec:
  gatewayClassName: approuting-istio
  listeners:
  - name: http
    port: 80
    protocol: HTTP
    hostname: foo.example.com
    allowedRoutes:
      kinds: [{kind: HTTPRoute}]
      namespaces: {from: Selector, selector: {matchLabels: {kubernetes.io/metadata.name: gateway-conformance-infra}}}
---
kind: HTTPRoute
metadata: {name: http-route-2, namespace: gateway-conformance-infra, generation: 1}
spec:
  parentRefs: [{kind: Gateway, name: gateway-with-two-attached-routes, namespace: gateway-conformance-infra}]
  rules: [{backendRefs: [{name: infra-backend-v1, port: 8080}]}]
---
kind: HTTPRoute
metadata: {name: http-route-3, namespace: gateway-conformance-infra, generation: 1}
spec:
  parentRefs: [{kind: Gateway, name: gateway-with-two-attached-routes, namespace: gateway-conformance-infra}]
  rules: [{backendRefs: [{name: infra-backend-v1, port: 8080}]}]
---
kind: HTTPRoute
metadata: {name: http-route-not-accepted, namespace: gateway-conformance-infra, generation: 1}
spec:
  hostnames: [not-accepted.test.com]
  parentRefs: [{kind: Gateway, name: gateway-with-two-attached-routes, namespace: gateway-conformance-infra}]
  rules: [{backendRefs: [{name: infra-backend-v1, port: 8080}]}]
---
kind: Gateway
metadata: {name: unresolved-gateway-with-one-attached-unresolved-route, namespace: gateway-conformance-infra, generation: 1}
spec:
  gatewayClassName: approuting-istio
  listeners:
  - name: tls
    port: 443
    protocol: HTTPS
    allowedRoutes:
      kinds: [{kind: HTTPRoute}]
      namespaces: {from: Selector, selector: {matchLabels: {kubernetes.io/metadata.name: gateway-conformance-infra}}}
    tls: {mode: Terminate, certificateRefs: [{group: "", kind: Secret, name: does-not-exist}]}
---
kind: HTTPRoute
metadata: {name: http-route-4, namespace: gateway-conformance-infra, generation: 1}
spec:
  parentRefs: [{kind: Gateway, name: unresolved-gateway-with-one-attached-unresolved-route, namespace: gateway-conformance-infra, sectionName: tls}]
  rules: [{backendRefs: [{name: does-not-exist, port: 8080}]}]
`,
		listeners: map[string][]string{
			"gateway-with-one-attached-route":  {"http attached=1 kinds=HTTPRoute " + servedConds},
			"gateway-with-two-attached-routes": {"http attached=2 kinds=HTTPRoute " + servedConds},
			"unresolved-gateway-with-one-attached-unresolved-route": {
				"tls attached=1 kinds=HTTPRoute Accepted=True/Accepted Conflicted=False/NoConflicts ResolvedRefs=False/InvalidCertificateRef " + invalidProgr,
			},
		},
		gateway: map[string][]string{
			"gateway-with-one-attached-route":                       {"Accepted=True/Accepted", "Programmed=True/Programmed", "ResolvedRefs=True/ResolvedRefs"},
			"unresolved-gateway-with-one-attached-unresolved-route": {"Accepted=True/ListenersNotValid", "Programmed=True/Programmed", "ResolvedRefs=False/ListenersNotResolved"},
		},
		routes: map[routeRef][]string{
			httpRoute(infra, "http-route-not-accepted", "gateway-with-two-attached-routes"):           {"Accepted=False/NoMatchingListenerHostname", refsOK},
			httpRoute(infra, "http-route-4", "unresolved-gateway-with-one-attached-unresolved-route"): {routeOK, "ResolvedRefs=False/BackendNotFound"},
			httpRoute(infra, "http-route-1", "gateway-with-one-attached-route"):                       {routeOK, refsOK},
		},
	}, {
		name: "GatewayInvalidRouteKind: only an invalid kind, an invalid and a supported kind",
		manifests: `
kind: Gateway
metadata: {name: gateway-only-invalid-route-kind, namespace: gateway-conformance-infra, generation: 1}
spec:
  gatewayClassName: approuting-istio
  listeners:
  - {name: http, port: 80, protocol: HTTP, allowedRoutes: {namespaces: {from: All}, kinds: [{kind: InvalidRoute}]}}
---
kind: Gateway
metadata: {name: gateway-supported-and-invalid-route-kind, namespace: gateway-conformance-infra, generation: 1}
spec:
  gatewayClassName: approuting-istio
  listeners:
  - {name: http, port: 80, protocol: HTTP, allowedRoutes: {namespaces: {from: All}, kinds: [{kind: InvalidRoute}, {kind: HTTPRoute}]}}
`,
		listeners: map[string][]string{
			"gateway-only-invalid-route-kind":          {"http attached=0 kinds= Accepted=True/Accepted Conflicted=False/NoConflicts ResolvedRefs=False/InvalidRouteKinds " + invalidProgr},
			"gateway-supported-and-invalid-route-kind": {"http attached=0 kinds=HTTPRoute Accepted=True/Accepted Conflicted=False/NoConflicts ResolvedRefs=False/InvalidRouteKinds " + invalidProgr},
		},
	}, {
		name: "GatewayInvalidTLSConfiguration: missing Secret, wrong group, wrong kind, malformed Secret",
		manifests: `
kind: Gateway
metadata: {name: gateway-certificate-nonexistent-secret, namespace: gateway-conformance-infra, generation: 1}
spec:
  gatewayClassName: approuting-istio
  listeners:
  - {name: https, port: 443, protocol: HTTPS, allowedRoutes: {namespaces: {from: All}}, tls: {certificateRefs: [{group: "", kind: Secret, name: nonexistent-certificate}]}}
---
kind: Gateway
metadata: {name: gateway-certificate-unsupported-group, namespace: gateway-conformance-infra, generation: 1}
spec:
  gatewayClassName: approuting-istio
  listeners:
  - {name: https, port: 443, protocol: HTTPS, allowedRoutes: {namespaces: {from: All}}, tls: {certificateRefs: [{group: wrong.group.company.io, kind: Secret, name: tls-validity-checks-certificate}]}}
---
kind: Gateway
metadata: {name: gateway-certificate-unsupported-kind, namespace: gateway-conformance-infra, generation: 1}
spec:
  gatewayClassName: approuting-istio
  listeners:
  - {name: https, port: 443, protocol: HTTPS, allowedRoutes: {namespaces: {from: All}}, tls: {certificateRefs: [{group: "", kind: WrongKind, name: tls-validity-checks-certificate}]}}
---
kind: Gateway
metadata: {name: gateway-certificate-malformed-secret, namespace: gateway-conformance-infra, generation: 1}
spec:
  gatewayClassName: approuting-istio
  listeners:
  - {name: https, port: 443, protocol: HTTPS, allowedRoutes: {namespaces: {from: All}}, tls: {certificateRefs: [{group: "", kind: Secret, name: malformed-certificate}]}}
---
kind: Secret
metadata: {name: malformed-certificate, namespace: gateway-conformance-infra}
type: kubernetes.io/tls
data: {tls.crt: SGVsbG8gd29ybGQK, tls.key: SGVsbG8gd29ybGQK}
`,
		listeners: map[string][]string{
			"gateway-certificate-nonexistent-secret": {"https attached=0 " + routeKinds + " Accepted=True/Accepted Conflicted=False/NoConflicts ResolvedRefs=False/InvalidCertificateRef " + invalidProgr},
			"gateway-certificate-unsupported-group":  {"https attached=0 " + routeKinds + " Accepted=True/Accepted Conflicted=False/NoConflicts ResolvedRefs=False/InvalidCertificateRef " + invalidProgr},
			"gateway-certificate-unsupported-kind":   {"https attached=0 " + routeKinds + " Accepted=True/Accepted Conflicted=False/NoConflicts ResolvedRefs=False/InvalidCertificateRef " + invalidProgr},
			"gateway-certificate-malformed-secret":   {"https attached=0 " + routeKinds + " Accepted=True/Accepted Conflicted=False/NoConflicts ResolvedRefs=False/InvalidCertificateRef " + invalidProgr},
		},
	}, {
		name: "GatewaySecretMissingReferenceGrant and GatewaySecretInvalidReferenceGrant: RefNotPermitted",
		manifests: `
kind: Gateway
metadata: {name: gateway-secret-missing-reference-grant, namespace: gateway-conformance-infra, generation: 1}
spec:
  gatewayClassName: approuting-istio
  listeners:
  - {name: https, port: 443, protocol: HTTPS, allowedRoutes: {namespaces: {from: All}}, tls: {certificateRefs: [{group: "", kind: Secret, name: certificate, namespace: gateway-conformance-web-backend}]}}
---
kind: ReferenceGrant
metadata: {name: reference-grant-wrong-namespace, namespace: gateway-conformance-app-backend}
spec:
  from: [{group: gateway.networking.k8s.io, kind: Gateway, namespace: gateway-conformance-infra}]
  to: [{group: "", kind: Secret, name: certificate}]
---
kind: ReferenceGrant
metadata: {name: reference-grant-wrong-from-kind, namespace: gateway-conformance-web-backend}
spec:
  from: [{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: gateway-conformance-infra}]
  to: [{group: "", kind: Secret, name: certificate}]
---
kind: ReferenceGrant
metadata: {name: reference-grant-wrong-to-name, namespace: gateway-conformance-web-backend}
spec:
  from: [{group: gateway.networking.k8s.io, kind: Gateway, namespace: gateway-conformance-infra}]
  to: [{group: "", kind: Secret, name: not-the-certificate-youre-looking-for}]
---
kind: ReferenceGrant
metadata: {name: reference-grant-wrong-to-kind, namespace: gateway-conformance-web-backend}
spec:
  from: [{group: gateway.networking.k8s.io, kind: Gateway, namespace: gateway-conformance-infra}]
  to: [{group: "", kind: Service, name: certificate}]
`,
		listeners: map[string][]string{
			"gateway-secret-missing-reference-grant": {"https attached=0 " + routeKinds + " Accepted=True/Accepted Conflicted=False/NoConflicts ResolvedRefs=False/RefNotPermitted " + invalidProgr},
		},
	}, {
		name: "GatewaySecretReferenceGrantSpecific and GatewaySecretReferenceGrantAllInNamespace: the certificate is served",
		manifests: `
kind: Gateway
metadata: {name: gateway-secret-reference-grant-specific, namespace: gateway-conformance-infra, generation: 1}
spec:
  gatewayClassName: approuting-istio
  listeners:
  - {name: https, port: 443, protocol: HTTPS, allowedRoutes: {namespaces: {from: All}}, tls: {certificateRefs: [{group: "", kind: Secret, name: certificate, namespace: gateway-conformance-web-backend}]}}
---
kind: Gateway
metadata: {name: gateway-secret-reference-grant-all-in-namespace, namespace: gateway-conformance-infra, generation: 1}
spec:
  gatewayClassName: approuting-istio
  listeners:
  - {name: https, port: 443, protocol: HTTPS, allowedRoutes: {namespaces: {from: All}}, tls: {certificateRefs: [{group: "", kind: Secret, name: certificate, namespace: gateway-conformance-app-backend}]}}
---
kind: ReferenceGrant
metadata: {name: reference-grant-specific, namespace: gateway-conformance-web-backend}
spec:
  from: [{group: gateway.networking.k8s.io, kind: Gateway, namespace: gateway-conformance-infra}]
  to: [{group: "", kind: Secret, name: certificate}]
---
kind: ReferenceGrant
metadata: {name: reference-grant-all, namespace: gateway-conformance-app-backend}
spec:
  from: [{group: gateway.networking.k8s.io, kind: Gateway, namespace: gateway-conformance-infra}]
  to: [{group: "", kind: Secret}]
`,
		listeners: map[string][]string{
			"gateway-secret-reference-grant-specific":         {"https attached=0 " + routeKinds + " " + servedConds},
			"gateway-secret-reference-grant-all-in-namespace": {"https attached=0 " + routeKinds + " " + servedConds},
		},
	}, {
		name: "GatewayModifyListeners: an added HTTP listener takes the routes of the whole Gateway",
		manifests: `
kind: Gateway
metadata: {name: gateway-add-listener, namespace: gateway-conformance-infra, generation: 2}
spec:
  gatewayClassName: approuting-istio
  listeners:
  - name: https
    port: 443
    protocol: HTTPS
    hostname: secure.test.com
    allowedRoutes: {namespaces: {from: All}}
    tls: {certificateRefs: [{group: "", kind: Secret, name: tls-validity-checks-certificate, namespace: gateway-conformance-infra}]}
  - {name: http, port: 80, protocol: HTTP, hostname: data.test.com, allowedRoutes: {namespaces: {from: All}}}
---
kind: HTTPRoute
metadata: {name: http-route-1, namespace: gateway-conformance-infra, generation: 1}
spec:
  parentRefs: [{kind: Gateway, name: gateway-add-listener, namespace: gateway-conformance-infra}]
  rules: [{backendRefs: [{name: infra-backend-v1, port: 8080}]}]
`,
		listeners: map[string][]string{
			"gateway-add-listener": {"https attached=1 " + routeKinds + " " + servedConds, "http attached=1 " + routeKinds + " " + servedConds},
		},
	}, {
		name: "HTTPRouteHostnameIntersection: routes count only on listeners their hostnames intersect",
		manifests: `
kind: Gateway
metadata: {name: httproute-hostname-intersection, namespace: gateway-conformance-infra, generation: 1}
spec:
  gatewayClassName: approuting-istio
  listeners:
  - {name: listener-1, port: 80, protocol: HTTP, hostname: very.specific.com, allowedRoutes: {namespaces: {from: Same}}}
  - {name: listener-2, port: 80, protocol: HTTP, hostname: "*.wildcard.io", allowedRoutes: {namespaces: {from: Same}}}
  - {name: listener-3, port: 80, protocol: HTTP, hostname: "*.anotherwildcard.io", allowedRoutes: {namespaces: {from: Same}}}
---
kind: HTTPRoute
metadata: {name: specific-host-matches-listener-specific-host, namespace: gateway-conformance-infra, generation: 1}
spec:
  parentRefs: [{name: httproute-hostname-intersection, namespace: gateway-conformance-infra}]
  hostnames: [non.matching.com, "*.nonmatchingwildcard.io", very.specific.com]
  rules: [{matches: [{path: {type: PathPrefix, value: /s1}}], backendRefs: [{name: infra-backend-v1, port: 8080}]}]
---
kind: HTTPRoute
metadata: {name: specific-host-matches-listener-wildcard-host, namespace: gateway-conformance-infra, generation: 1}
spec:
  parentRefs: [{name: httproute-hostname-intersection, namespace: gateway-conformance-infra}]
  hostnames: [non.matching.com, wildcard.io, foo.wildcard.io, bar.wildcard.io, foo.bar.wildcard.io]
  rules: [{matches: [{path: {type: PathPrefix, value: /s2}}], backendRefs: [{name: infra-backend-v2, port: 8080}]}]
---
kind: HTTPRoute
metadata: {name: wildcard-host-matches-listener-specific-host, namespace: gateway-conformance-infra, generation: 1}
spec:
  parentRefs: [{name: httproute-hostname-intersection, namespace: gateway-conformance-infra}]
  hostnames: [non.matching.com, "*.specific.com"]
  rules: [{matches: [{path: {type: PathPrefix, value: /s3}}], backendRefs: [{name: infra-backend-v3, port: 8080}]}]
---
kind: HTTPRoute
metadata: {name: wildcard-host-matches-listener-wildcard-host, namespace: gateway-conformance-infra, generation: 1}
spec:
  parentRefs: [{name: httproute-hostname-intersection, namespace: gateway-conformance-infra}]
  hostnames: ["*.anotherwildcard.io"]
  rules: [{matches: [{path: {type: PathPrefix, value: /s4}}], backendRefs: [{name: infra-backend-v1, port: 8080}]}]
---
kind: HTTPRoute
metadata: {name: no-intersecting-hosts, namespace: gateway-conformance-infra, generation: 1}
spec:
  parentRefs: [{name: httproute-hostname-intersection, namespace: gateway-conformance-infra}]
  hostnames: [specific.but.wrong.com, wildcard.io]
  rules: [{matches: [{path: {type: PathPrefix, value: /s5}}], backendRefs: [{name: infra-backend-v2, port: 8080}]}]
`,
		listeners: map[string][]string{
			"httproute-hostname-intersection": {
				"listener-1 attached=2 " + routeKinds + " " + servedConds,
				"listener-2 attached=1 " + routeKinds + " " + servedConds,
				"listener-3 attached=1 " + routeKinds + " " + servedConds,
			},
		},
		routes: map[routeRef][]string{
			httpRoute(infra, "no-intersecting-hosts", "httproute-hostname-intersection"):                        {"Accepted=False/NoMatchingListenerHostname", refsOK},
			httpRoute(infra, "wildcard-host-matches-listener-specific-host", "httproute-hostname-intersection"): {routeOK, refsOK},
		},
	}, {
		name: "HTTPRouteInvalidCrossNamespaceParentRef: NotAllowedByListeners, refs still resolved",
		manifests: `
kind: HTTPRoute
metadata: {name: invalid-cross-namespace-parent-ref, namespace: gateway-conformance-web-backend, generation: 1}
spec:
  parentRefs: [{name: same-namespace, namespace: gateway-conformance-infra}]
  rules: [{backendRefs: [{name: web-backend, port: 8080}]}]
`,
		listeners: map[string][]string{"same-namespace": {"http attached=0 " + routeKinds + " " + servedConds}},
		routes: map[routeRef][]string{
			httpRoute(webNS, "invalid-cross-namespace-parent-ref", "same-namespace"): {"Accepted=False/NotAllowedByListeners", refsOK},
		},
	}, {
		name: "HTTPRouteCrossNamespace: a namespace selected by the listener's selector attaches",
		manifests: `
kind: HTTPRoute
metadata: {name: cross-namespace, namespace: gateway-conformance-app-backend, generation: 1}
spec:
  parentRefs: [{name: backend-namespaces, namespace: gateway-conformance-infra}]
  rules: [{backendRefs: [{name: app-backend-v1, port: 8080}]}]
`,
		listeners: map[string][]string{"backend-namespaces": {"http attached=1 " + routeKinds + " " + servedConds}},
		routes: map[routeRef][]string{
			httpRoute(appNS, "cross-namespace", "backend-namespaces"): {routeOK, refsOK},
		},
	}, {
		name: "HTTPRouteInvalidParentRefNotMatchingSectionName, ...NotMatchingListenerPort, ...SectionNameNotMatchingPort: NoMatchingParent",
		manifests: `
kind: HTTPRoute
metadata: {name: httproute-listener-not-matching-section-name, namespace: gateway-conformance-infra, generation: 1}
spec:
  parentRefs: [{name: same-namespace, namespace: gateway-conformance-infra, port: 80, sectionName: http1}]
  rules: [{backendRefs: [{name: infra-backend-v1, kind: Service, port: 8080}]}]
---
kind: HTTPRoute
metadata: {name: httproute-listener-not-matching-route-port, namespace: gateway-conformance-infra, generation: 1}
spec:
  parentRefs: [{name: same-namespace, namespace: gateway-conformance-infra, port: 81}]
  rules: [{backendRefs: [{name: infra-backend-v1, kind: Service, port: 8080}]}]
---
kind: HTTPRoute
metadata: {name: httproute-listener-section-name-not-matching-port, namespace: gateway-conformance-infra, generation: 1}
spec:
  parentRefs: [{name: same-namespace, namespace: gateway-conformance-infra, sectionName: http, port: 81}]
  rules: [{backendRefs: [{name: infra-backend-v1, kind: Service, port: 8080}]}]
`,
		listeners: map[string][]string{"same-namespace": {"http attached=0 " + routeKinds + " " + servedConds}},
		routes: map[routeRef][]string{
			httpRoute(infra, "httproute-listener-not-matching-section-name", "same-namespace"):      {"Accepted=False/NoMatchingParent", refsOK},
			httpRoute(infra, "httproute-listener-not-matching-route-port", "same-namespace"):        {"Accepted=False/NoMatchingParent", refsOK},
			httpRoute(infra, "httproute-listener-section-name-not-matching-port", "same-namespace"): {"Accepted=False/NoMatchingParent", refsOK},
		},
	}, {
		name: "HTTPRouteDisallowedKind: a TLS listener for TLSRoutes only takes no HTTPRoute",
		manifests: `
kind: Gateway
metadata: {name: tlsroutes-only, namespace: gateway-conformance-infra, generation: 1}
spec:
  gatewayClassName: approuting-istio
  listeners:
  - {name: tls, port: 443, protocol: TLS, tls: {mode: Passthrough}, allowedRoutes: {namespaces: {from: Same}, kinds: [{kind: TLSRoute}]}}
---
kind: HTTPRoute
metadata: {name: disallowed-kind, namespace: gateway-conformance-infra, generation: 1}
spec:
  parentRefs: [{name: tlsroutes-only, namespace: gateway-conformance-infra}]
  rules: [{backendRefs: [{name: infra-backend-v1, port: 8080}]}]
`,
		listeners: map[string][]string{
			"tlsroutes-only": {"tls attached=0 kinds= Accepted=False/UnsupportedProtocol Conflicted=False/NoConflicts ResolvedRefs=True/ResolvedRefs " + invalidProgr},
		},
		gateway: map[string][]string{"tlsroutes-only": {"Accepted=False/ListenersNotValid", "Programmed=False/Invalid", "ResolvedRefs=True/ResolvedRefs"}},
		routes: map[routeRef][]string{
			httpRoute(infra, "disallowed-kind", "tlsroutes-only"): {"Accepted=False/NotAllowedByListeners", refsOK},
		},
	}, {
		name: "HTTPRouteInvalidBackendRefUnknownKind, ...NonExistentBackendRef, ...CrossNamespaceBackendRef: ResolvedRefs False with the spec's reason",
		manifests: `
kind: HTTPRoute
metadata: {name: invalid-backend-ref-unknown-kind, namespace: gateway-conformance-infra, generation: 1}
spec:
  parentRefs: [{name: same-namespace}]
  rules: [{backendRefs: [{group: unknownkind.example.com, kind: NonExistent, name: infra-backend-v1, port: 8080}]}]
---
kind: HTTPRoute
metadata: {name: invalid-nonexistent-backend-ref, namespace: gateway-conformance-infra, generation: 1}
spec:
  parentRefs: [{name: same-namespace}]
  rules: [{backendRefs: [{name: nonexistent, namespace: gateway-conformance-infra, port: 8080}]}]
---
kind: HTTPRoute
metadata: {name: invalid-cross-namespace-backend-ref, namespace: gateway-conformance-infra, generation: 1}
spec:
  parentRefs: [{name: same-namespace}]
  rules: [{backendRefs: [{name: web-backend, namespace: gateway-conformance-web-backend, port: 8080}]}]
`,
		listeners: map[string][]string{"same-namespace": {"http attached=3 " + routeKinds + " " + servedConds}},
		routes: map[routeRef][]string{
			httpRoute(infra, "invalid-backend-ref-unknown-kind", "same-namespace"):    {routeOK, "ResolvedRefs=False/InvalidKind"},
			httpRoute(infra, "invalid-nonexistent-backend-ref", "same-namespace"):     {routeOK, "ResolvedRefs=False/BackendNotFound"},
			httpRoute(infra, "invalid-cross-namespace-backend-ref", "same-namespace"): {routeOK, "ResolvedRefs=False/RefNotPermitted"},
		},
	}, {
		name: "HTTPRouteInvalidReferenceGrant and HTTPRouteReferenceGrant: only a grant from HTTPRoutes of the namespace to the Service counts",
		manifests: `
kind: HTTPRoute
metadata: {name: reference-grant, namespace: gateway-conformance-infra, generation: 1}
spec:
  parentRefs: [{name: same-namespace}]
  rules: [{backendRefs: [{name: web-backend, namespace: gateway-conformance-web-backend, port: 8080}]}]
---
kind: HTTPRoute
metadata: {name: granted, namespace: gateway-conformance-infra, generation: 1}
spec:
  parentRefs: [{name: same-namespace}]
  rules: [{backendRefs: [{name: app-backend-v1, namespace: gateway-conformance-app-backend, port: 8080}]}]
---
kind: ReferenceGrant
metadata: {name: reference-grant-wrong-from-kind, namespace: gateway-conformance-web-backend}
spec:
  from: [{group: gateway.networking.k8s.io, kind: Gateway, namespace: gateway-conformance-infra}]
  to: [{group: "", kind: Service, name: web-backend}]
---
kind: ReferenceGrant
metadata: {name: reference-grant-wrong-from-group, namespace: gateway-conformance-web-backend}
spec:
  from: [{group: not-the-group-youre-looking-for, kind: HTTPRoute, namespace: gateway-conformance-infra}]
  to: [{group: "", kind: Service, name: web-backend}]
---
kind: ReferenceGrant
metadata: {name: reference-grant-wrong-to-kind, namespace: gateway-conformance-web-backend}
spec:
  from: [{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: gateway-conformance-infra}]
  to: [{group: "", kind: Secret, name: web-backend}]
---
kind: ReferenceGrant
metadata: {name: app-grant, namespace: gateway-conformance-app-backend}
spec:
  from: [{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: gateway-conformance-infra}]
  to: [{group: "", kind: Service, name: app-backend-v1}]
`,
		routes: map[routeRef][]string{
			httpRoute(infra, "reference-grant", "same-namespace"): {routeOK, "ResolvedRefs=False/RefNotPermitted"},
			httpRoute(infra, "granted", "same-namespace"):         {routeOK, refsOK},
		},
	}, {
		name: "HTTPRoutePartiallyInvalid: a rule with an unsupported filter is dropped, the route stays accepted",
		manifests: `
kind: HTTPRoute
metadata: {name: partly, namespace: gateway-conformance-infra, generation: 3}
spec:
  parentRefs: [{name: same-namespace}]
  rules:
  - matches: [{path: {type: PathPrefix, value: /ok}}]
    backendRefs: [{name: infra-backend-v1, port: 8080}]
  - matches: [{path: {type: PathPrefix, value: /auth}}]
    filters: [{type: ExternalAuth, externalAuth: {protocol: HTTP, backendRef: {name: infra-backend-v2, port: 8080}}}]
    backendRefs: [{name: infra-backend-v1, port: 8080}]
---
kind: HTTPRoute
metadata: {name: all-invalid, namespace: gateway-conformance-infra, generation: 1}
spec:
  parentRefs: [{name: same-namespace}]
  rules:
  - matches: [{path: {type: PathPrefix, value: /re}, headers: [{name: x, type: RegularExpression, value: "("}]}]
    backendRefs: [{name: infra-backend-v1, port: 8080}]
`,
		listeners: map[string][]string{"same-namespace": {"http attached=1 " + routeKinds + " " + servedConds}},
		routes: map[routeRef][]string{
			httpRoute(infra, "partly", "same-namespace"):      {routeOK, refsOK, "PartiallyInvalid=True/UnsupportedValue"},
			httpRoute(infra, "all-invalid", "same-namespace"): {"Accepted=False/UnsupportedValue", refsOK},
		},
	}, {
		name: "Listener conflicts: ProtocolConflict on a port, HostnameConflict for one hostname twice",
		manifests: `
kind: Gateway
metadata: {name: conflicts, namespace: gateway-conformance-infra, generation: 1}
spec:
  gatewayClassName: approuting-istio
  listeners:
  - {name: a, port: 80, protocol: HTTP, hostname: a.example.com}
  - {name: b, port: 80, protocol: HTTP, hostname: a.example.com}
  - {name: c, port: 80, protocol: HTTP, hostname: c.example.com}
  - {name: d, port: 8443, protocol: HTTP}
  - name: e
    port: 8443
    protocol: HTTPS
    tls: {certificateRefs: [{name: tls-validity-checks-certificate}]}
`,
		listeners: map[string][]string{"conflicts": {
			"a attached=0 " + routeKinds + " Accepted=False/HostnameConflict Conflicted=True/HostnameConflict ResolvedRefs=True/ResolvedRefs " + invalidProgr,
			"b attached=0 " + routeKinds + " Accepted=False/HostnameConflict Conflicted=True/HostnameConflict ResolvedRefs=True/ResolvedRefs " + invalidProgr,
			"c attached=0 " + routeKinds + " " + servedConds,
			"d attached=0 " + routeKinds + " Accepted=False/ProtocolConflict Conflicted=True/ProtocolConflict ResolvedRefs=True/ResolvedRefs " + invalidProgr,
			"e attached=0 " + routeKinds + " Accepted=False/ProtocolConflict Conflicted=True/ProtocolConflict ResolvedRefs=True/ResolvedRefs " + invalidProgr,
		}},
		gateway: map[string][]string{"conflicts": {"Accepted=True/ListenersNotValid", "Programmed=True/Programmed", "ResolvedRefs=True/ResolvedRefs"}},
	}, {
		name: "GRPCRoute and HTTPRoute on the same hostnames of a listener: the older route keeps it",
		manifests: `
kind: HTTPRoute
metadata: {name: http-first, namespace: gateway-conformance-infra, generation: 1, creationTimestamp: "2024-01-01T00:00:00Z"}
spec:
  parentRefs: [{name: same-namespace}]
  hostnames: [api.example.com]
  rules: [{backendRefs: [{name: infra-backend-v1, port: 8080}]}]
---
kind: GRPCRoute
metadata: {name: grpc-later, namespace: gateway-conformance-infra, generation: 1, creationTimestamp: "2024-01-02T00:00:00Z"}
spec:
  parentRefs: [{name: same-namespace}]
  hostnames: ["*.example.com"]
  rules: [{backendRefs: [{name: grpc-infra-backend-v1, port: 8080}]}]
---
kind: GRPCRoute
metadata: {name: grpc-elsewhere, namespace: gateway-conformance-infra, generation: 1, creationTimestamp: "2024-01-02T00:00:00Z"}
spec:
  parentRefs: [{name: same-namespace}]
  hostnames: [grpc.example.net]
  rules: [{backendRefs: [{name: grpc-infra-backend-v1, port: 8080}]}]
`,
		listeners: map[string][]string{"same-namespace": {"http attached=2 " + routeKinds + " " + servedConds}},
		routes: map[routeRef][]string{
			httpRoute(infra, "http-first", "same-namespace"):            {routeOK, refsOK},
			{kindGRPCRoute, nn("grpc-later"), nn("same-namespace")}:     {"Accepted=False/NotAllowedByListeners", refsOK},
			{kindGRPCRoute, nn("grpc-elsewhere"), nn("same-namespace")}: {routeOK, refsOK},
		},
	}, {
		name: "Backend protocols: appProtocol https and ws on a GRPCRoute are UnsupportedProtocol, ExternalName is InvalidKind",
		manifests: `
kind: Service
metadata: {name: tls-only, namespace: gateway-conformance-infra}
spec: {ports: [{port: 443, targetPort: 8443, appProtocol: https}]}
---
kind: Service
metadata: {name: external, namespace: gateway-conformance-infra}
spec: {type: ExternalName, externalName: example.com, ports: [{port: 80}]}
---
kind: HTTPRoute
metadata: {name: tls-backend, namespace: gateway-conformance-infra}
spec:
  parentRefs: [{name: same-namespace}]
  rules: [{backendRefs: [{name: tls-only, port: 443}]}]
---
kind: HTTPRoute
metadata: {name: external-backend, namespace: gateway-conformance-infra}
spec:
  parentRefs: [{name: same-namespace}]
  rules: [{backendRefs: [{name: external, port: 80}]}]
---
kind: HTTPRoute
metadata: {name: missing-port, namespace: gateway-conformance-infra}
spec:
  parentRefs: [{name: same-namespace}]
  rules: [{backendRefs: [{name: infra-backend-v1, port: 9999}]}]
---
kind: GRPCRoute
metadata: {name: grpc-to-ws, namespace: gateway-conformance-infra}
spec:
  parentRefs: [{name: all-namespaces}]
  hostnames: [grpc.example.com]
  rules: [{backendRefs: [{name: infra-backend-v1, port: 8082}]}]
`,
		routes: map[routeRef][]string{
			httpRoute(infra, "tls-backend", "same-namespace"):       {routeOK, "ResolvedRefs=False/UnsupportedProtocol"},
			httpRoute(infra, "external-backend", "same-namespace"):  {routeOK, "ResolvedRefs=False/InvalidKind"},
			httpRoute(infra, "missing-port", "same-namespace"):      {routeOK, "ResolvedRefs=False/BackendNotFound"},
			{kindGRPCRoute, nn("grpc-to-ws"), nn("all-namespaces")}: {routeOK, "ResolvedRefs=False/UnsupportedProtocol"},
		},
	}, {
		name: "Routes to Gateways of other classes get no status",
		manifests: `
kind: GatewayClass
metadata: {name: istio}
spec: {controllerName: example.com/other-controller}
---
kind: Gateway
metadata: {name: other, namespace: gateway-conformance-infra}
spec:
  gatewayClassName: istio
  listeners: [{name: http, port: 80, protocol: HTTP}]
---
kind: HTTPRoute
metadata: {name: to-other, namespace: gateway-conformance-infra}
spec:
  parentRefs: [{name: other}, {name: missing}, {name: svc, kind: Service, group: ""}]
  rules: [{backendRefs: [{name: infra-backend-v1, port: 8080}]}]
`,
		noStatus: []routeRef{httpRoute(infra, "to-other", "other")},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := translate(base(t, tc.manifests))
			for gw, want := range tc.listeners {
				st, ok := res.GatewayStatus[nn(gw)]
				if !ok {
					t.Fatalf("no status for Gateway %s", gw)
				}
				if diff := cmp.Diff(want, listenerSummary(st)); diff != "" {
					t.Errorf("Gateway %s listeners (-want +got):\n%s", gw, diff)
				}
			}
			for gw, want := range tc.gateway {
				var got []string
				for _, c := range res.GatewayStatus[nn(gw)].Conditions {
					got = append(got, condString(c))
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("Gateway %s conditions (-want +got):\n%s", gw, diff)
				}
			}
			for ref, want := range tc.routes {
				var parents []gatewayv1.RouteParentStatus
				if ref.kind == kindHTTPRoute {
					parents = res.HTTPRouteStatus[ref.key].Parents
				} else {
					parents = res.GRPCRouteStatus[ref.key].Parents
				}
				if diff := cmp.Diff(want, routeConds(t, parents, ref.gw)); diff != "" {
					t.Errorf("%s %s on %s (-want +got):\n%s", ref.kind, ref.key, ref.gw.Name, diff)
				}
			}
			for _, ref := range tc.noStatus {
				if st, ok := res.HTTPRouteStatus[ref.key]; ok {
					t.Errorf("%s %s has a status: %+v", ref.kind, ref.key, st)
				}
			}
			if _, ok := res.Configs[nn("other")]; ok {
				t.Errorf("a Gateway of another class got a configuration")
			}
		})
	}
}

// TestStatusDetails checks what the conformance helpers compare beyond reasons: the
// observedGeneration of every condition, the parentRef's defaults, the controller name, the
// GatewayClass's conditions and features, the Gateway's addresses.
func TestStatusDetails(t *testing.T) {
	st := base(t, `
kind: GatewayClass
metadata: {name: gatewayclass-observed-generation-bump, generation: 7}
spec: {controllerName: istio.io/gateway-controller, description: new}
---
kind: HTTPRoute
metadata: {name: observed-generation-bump, namespace: gateway-conformance-infra, generation: 5}
spec:
  parentRefs: [{name: same-namespace}]
  rules: [{backendRefs: [{name: infra-backend-v2, port: 8080}]}]
`)
	st.Gateways[0].Generation = 4
	res := translate(st)

	t.Run("GatewayClassObservedGenerationBump: the class's conditions carry its generation", func(t *testing.T) {
		cs := res.GatewayClassStatus["gatewayclass-observed-generation-bump"]
		var got []string
		for _, c := range cs.Conditions {
			got = append(got, condString(c))
			if c.ObservedGeneration != 7 {
				t.Errorf("condition %s: observedGeneration %d, want 7", c.Type, c.ObservedGeneration)
			}
		}
		if diff := cmp.Diff([]string{"Accepted=True/Accepted", "SupportedVersion=True/SupportedVersion"}, got); diff != "" {
			t.Errorf("conditions (-want +got):\n%s", diff)
		}
		if len(cs.SupportedFeatures) == 0 || cs.SupportedFeatures[0].Name != "GRPCRoute" {
			t.Errorf("supported features not sorted or missing: %v", cs.SupportedFeatures)
		}
	})
	t.Run("GatewayObservedGenerationBump: Gateway and listener conditions carry its generation", func(t *testing.T) {
		gs := res.GatewayStatus[nn("same-namespace")]
		conds := append([]metav1.Condition(nil), gs.Conditions...)
		for _, l := range gs.Listeners {
			conds = append(conds, l.Conditions...)
		}
		for _, c := range conds {
			if c.ObservedGeneration != 4 {
				t.Errorf("condition %s: observedGeneration %d, want 4", c.Type, c.ObservedGeneration)
			}
		}
		if len(gs.Addresses) != 1 || gs.Addresses[0].Value != "192.0.2.1" {
			t.Errorf("addresses %+v, want 192.0.2.1", gs.Addresses)
		}
	})
	t.Run("HTTPRouteObservedGenerationBump: the parent status carries the route's generation, defaults and controller", func(t *testing.T) {
		parents := res.HTTPRouteStatus[nn("observed-generation-bump")].Parents
		if len(parents) != 1 {
			t.Fatalf("parents %+v, want one", parents)
		}
		p := parents[0]
		if p.ControllerName != DefaultControllerName {
			t.Errorf("controllerName %q", p.ControllerName)
		}
		if p.ParentRef.Group == nil || *p.ParentRef.Group != gatewayGroup || p.ParentRef.Kind == nil || *p.ParentRef.Kind != kindGateway {
			t.Errorf("parentRef without group and kind: %+v", p.ParentRef)
		}
		for _, c := range p.Conditions {
			if c.ObservedGeneration != 5 {
				t.Errorf("condition %s: observedGeneration %d, want 5", c.Type, c.ObservedGeneration)
			}
		}
	})
	t.Run("Programmed is False until the Gateway's proxy is ready", func(t *testing.T) {
		res := Translate(testOptions(), st, func(types.NamespacedName) ([]gatewayv1.GatewayStatusAddress, bool) { return nil, false })
		gs := res.GatewayStatus[nn("same-namespace")]
		if got := condString(findCondition(t, gs.Conditions, "Programmed")); got != "Programmed=False/AddressNotAssigned" {
			t.Errorf("Gateway %s", got)
		}
		if got := condString(findCondition(t, gs.Listeners[0].Conditions, "Programmed")); got != "Programmed=False/Pending" {
			t.Errorf("listener %s", got)
		}
		if res.Configs[nn("same-namespace")] == nil {
			t.Errorf("an accepted Gateway that is not ready yet has no configuration")
		}
	})
	t.Run("SupportedVersion is False for CRDs of another minor version", func(t *testing.T) {
		opts := testOptions()
		opts.CRDBundleVersion = "v1.4.0"
		res := Translate(opts, st, nil)
		c := findCondition(t, res.GatewayClassStatus[testClass].Conditions, "SupportedVersion")
		if condString(c) != "SupportedVersion=False/UnsupportedVersion" || !strings.Contains(c.Message, "v1.4.0") {
			t.Errorf("got %s: %s", condString(c), c.Message)
		}
	})
}

// TestMergeRouteParents checks that other controllers' entries stay and that an unchanged
// condition keeps its transition time.
func TestMergeRouteParents(t *testing.T) {
	old := metav1.Unix(1000, 0)
	now := metav1.Unix(2000, 0)
	gw := gatewayv1.ParentReference{Name: "gw"}
	other := gatewayv1.RouteParentStatus{ParentRef: gw, ControllerName: "example.com/other",
		Conditions: []metav1.Condition{{Type: "Accepted", Status: "True", Reason: "Accepted", LastTransitionTime: old}}}
	mine := gatewayv1.RouteParentStatus{ParentRef: gw, ControllerName: DefaultControllerName,
		Conditions: []metav1.Condition{
			{Type: "Accepted", Status: "True", Reason: "Accepted", LastTransitionTime: old, ObservedGeneration: 1},
			{Type: "ResolvedRefs", Status: "True", Reason: "ResolvedRefs", LastTransitionTime: old, ObservedGeneration: 1},
			{Type: "PartiallyInvalid", Status: "True", Reason: "UnsupportedValue", LastTransitionTime: old, ObservedGeneration: 1},
		}}
	computed := []gatewayv1.RouteParentStatus{{ParentRef: gw, ControllerName: DefaultControllerName, Conditions: []metav1.Condition{
		condition("Accepted", true, "Accepted", "ok", 2),
		condition("ResolvedRefs", false, "BackendNotFound", "gone", 2),
	}}}
	got, changed := MergeRouteParents([]gatewayv1.RouteParentStatus{other, mine}, computed, DefaultControllerName, now)
	if !changed {
		t.Errorf("changed = false")
	}
	if len(got) != 2 || got[0].ControllerName != "example.com/other" {
		t.Fatalf("other controller's entry lost: %+v", got)
	}
	conds := got[1].Conditions
	if len(conds) != 2 {
		t.Fatalf("PartiallyInvalid not removed: %+v", conds)
	}
	if a := findCondition(t, conds, "Accepted"); !a.LastTransitionTime.Equal(&old) || a.ObservedGeneration != 2 {
		t.Errorf("unchanged Accepted: %+v", a)
	}
	if r := findCondition(t, conds, "ResolvedRefs"); !r.LastTransitionTime.Equal(&now) || r.Status != "False" {
		t.Errorf("changed ResolvedRefs: %+v", r)
	}
}
