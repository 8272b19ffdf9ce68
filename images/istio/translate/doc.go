// Package translate turns what the AKS application routing Gateway API implementation (the
// approuting-istio GatewayClass, Istio underneath) watches — GatewayClasses, Gateways,
// HTTPRoutes, GRPCRoutes, ReferenceGrants, Namespaces, Services, EndpointSlices and Secrets —
// into the route model of minaks's HTTP proxy (images/internal/l7), one configuration per
// Gateway, and into the statuses the controller writes, as the Gateway API v1.5.1
// specification and its conformance suite define them.
//
// Translate is a pure function, re-run by the controller on every change:
//
//	GatewayClasses of the controllerName ─► Accepted, SupportedVersion, supported features
//	Gateways of those classes ─► listeners: protocol (HTTP, HTTPS), route kinds, TLS
//	  certificates (Secrets; across namespaces through a ReferenceGrant), conflicts
//	  (ProtocolConflict, HostnameConflict) ─► Accepted, Conflicted, ResolvedRefs, Programmed
//	routes ─► rules: matches, filters, backendRefs (Services by port, their EndpointSlices'
//	  ready endpoints, appProtocol; across namespaces through a ReferenceGrant) ─►
//	  ResolvedRefs, PartiallyInvalid for dropped rules
//	parentRefs ─► listeners by sectionName and port, allowedRoutes (kinds, namespaces),
//	  hostname intersection ─► Accepted with NoMatchingParent, NotAllowedByListeners or
//	  NoMatchingListenerHostname; attachedRoutes
//	per Gateway and port ─► servers by hostname (listener isolation) ─► routes in the
//	  specification's precedence order
//
// Precedence. Within a server, routes are ordered by the route's matching hostname (exact
// characters, then characters), then for HTTPRoutes: an Exact path, a RegularExpression path
// (implementation-specific: after Exact, before prefixes, longest expression first), the
// longest PathPrefix, a method, the most header matches, the most query parameter matches;
// for GRPCRoutes: the longest service, the longest method, the most header matches; then the
// oldest route, the first by namespace/name, the first rule and match. The proxy serves the
// first route that matches.
//
// What the data plane does as an Istio gateway's Envoy does: the Server header
// "istio-envoy", Envoy's forwarding headers (X-Forwarded-For appended, X-Forwarded-Proto,
// X-Request-Id, X-Envoy-External-Address, X-Envoy-Attempt-Count), Envoy's local reply bodies
// (EnvoyErrorPage), HTTP/2 over cleartext with prior knowledge on HTTP listeners (gRPC),
// Istio's default retries (connection failures and 503, two retries) and timeouts (10 s to
// connect, 5 min between reads or writes), an invalid backendRef's share of the requests
// answered 500 (503, gRPC's UNAVAILABLE, for a GRPCRoute).
//
// Not emulated: TLS to backends (BackendTLSPolicy; appProtocol https is UnsupportedProtocol),
// ExternalName Services (InvalidKind), client certificate validation (spec.tls.frontend: the
// HTTPS listeners are not accepted), TLSRoute, TCPRoute and UDPRoute (TLS, TCP and UDP
// listeners are UnsupportedProtocol), ListenerSets, the 421 answer to misdirected requests
// (a request is routed by its Host alone, whatever its SNI), ExternalAuth filters (the rule is
// dropped), ExtensionRef filters (the rule answers 500), retry backoff. The CORS filter is
// served by the proxy's ingress-nginx CORS policy: a wildcard in an origin stands for one DNS
// label, and a preflight from an origin that is not allowed goes to the backend. A mirrored
// request is the client's request, without the rule's header changes. With several
// certificateRefs, a listener serves the first.
//
// MergeConditions and MergeRouteParents merge the computed statuses into the objects' as the
// specification asks (conditions of others kept, lastTransitionTime kept when unchanged).
// Dump renders a configuration as text for golden tests and debugging.
package translate
