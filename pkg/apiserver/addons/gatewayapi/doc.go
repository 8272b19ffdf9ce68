// Package gatewayapi is what AKS installs for the Kubernetes Gateway API: the managed CRDs of
// --enable-gateway-api and the objects of the application routing Gateway API implementation
// of --enable-app-routing-istio (`az aks approuting gateway istio enable`).
//
// The managed CRDs are the standard channel of Gateway API v1.5.1, the bundle AKS installs for
// Kubernetes 1.36 and later, embedded byte for byte as the sigs.k8s.io/gateway-api module
// ships them (crds/, checked by a test against the module): GatewayClass, Gateway, GRPCRoute,
// HTTPRoute, ReferenceGrant, BackendTLSPolicy, ListenerSet, TLSRoute, and the
// ValidatingAdmissionPolicy safe-upgrades.gateway.networking.k8s.io with its binding, which
// deny experimental CRDs over standard ones and older bundles. InstallCRDs applies them
// (server-side apply, field manager "minaks", forced; the bundle's bundle-version and channel
// annotations kept, AKS's app.kubernetes.io/managed-by: aks added) and waits until each CRD is
// Established; UninstallCRDs removes them, and with them every Gateway API object, as
// --disable-gateway-api does.
//
// The app routing implementation is a sidecar-less istiod that only deploys gateways:
//
//	aks-istio-system                        every Gateway gw of class approuting-istio, in its namespace
//	  istiod Deployment (HPA 2–5, PDB 1)       gw-approuting-istio ServiceAccount
//	  istiod Service :15010 :15012 :443        gw-approuting-istio Deployment (istio-proxy)
//	  istio-gateway-class-defaults ConfigMap   gw-approuting-istio Service LoadBalancer :15021 + listener ports
//	GatewayClass approuting-istio              gw-approuting-istio HPA 2–5, PDB minAvailable 1
//	  controller istio.io/gateway-controller   (owned by gw; HPA and PDB from the class defaults)
//
// Generating is pure and golden-tested: ControlPlaneObjects and GatewayClass for the control
// plane, GatewayObjects for what istiod renders for each Gateway, following Istio's
// kube-gateway template and deployment controller (names, labels, the copy of the Gateway's
// or spec.infrastructure's labels and annotations, spec.addresses as loadBalancerIP, the
// ConfigMap overlays merged by strategic merge patch) with AKS's images and additions (the
// Azure load balancer health probe annotations pointing each listener port at Envoy's
// readiness on 15021). Running istiod and the gateways is the built-in images' business.
package gatewayapi
