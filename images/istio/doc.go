// Package istio holds the built-in images of app routing's Gateway API implementation
// (--enable-app-routing-istio): istiod (mcr.microsoft.com/oss/v2/istio/pilot) and Istio's
// gateway proxy (mcr.microsoft.com/oss/v2/istio/proxyv2), with Istio's division of work.
//
// istiod watches the Gateway API objects and what they refer to, and for every Gateway of a
// GatewayClass whose controllerName is istio.io/gateway-controller (approuting-istio) it
// renders the Gateway's Deployment, Service, HPA and PDB (<gateway>-<class>, package
// pkg/apiserver/addons/gatewayapi), writes the statuses of GatewayClasses, Gateways and routes
// (package translate), publishes its root certificate as the ConfigMap istio-ca-root-cert in
// every namespace, and serves each gateway proxy its state over TLS on port 15012. Only the
// replica that holds the Lease istio-gateway-status-leader deploys and writes.
//
// The gateway proxy has no access to the API server, as in Istio: it authenticates to istiod
// with its service account token (audience istio-ca, checked by a TokenReview), gets the
// translation's input for its own Gateway (only the Secrets its listeners name), translates it
// with the same deterministic code and serves it with minaks's HTTP proxy (images/internal/l7).
// /healthz/ready on 15021 answers once it serves; the Envoy JSON access log goes to stdout
// when the mesh configuration asks for it.
package istio
