package translate

import (
	"crypto/tls"
	"sort"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/types"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	gatewayv1beta1 "sigs.k8s.io/gateway-api/apis/v1beta1"

	"github.com/minaks/minaks/images/internal/l7"
)

// DefaultControllerName is the controllerName of the app routing add-on's GatewayClass
// approuting-istio, Istio's own.
const DefaultControllerName gatewayv1.GatewayController = "istio.io/gateway-controller"

// Options are the controller's settings that change the translation.
type Options struct {
	// ControllerName is the GatewayClass controllerName implemented; empty is
	// DefaultControllerName. GatewayClasses with another controllerName, their Gateways and
	// the routes' parentRefs to those Gateways are left alone: no status, no configuration.
	ControllerName gatewayv1.GatewayController
	// FakeCertificate is offered on an HTTPS port when the client's SNI matches no listener
	// with a certificate and no listener of the port has an empty hostname (may be nil: the
	// handshake then fails, as Envoy closes a connection no filter chain matches).
	FakeCertificate *tls.Certificate
	// ClusterDomain names upstreams as Istio names its clusters,
	// "outbound|<port>||<service>.<namespace>.svc.<ClusterDomain>"; empty is cluster.local.
	ClusterDomain string
	// CRDBundleVersion is the gateway.networking.k8s.io/bundle-version annotation of the
	// installed Gateway API CRDs, for the GatewayClass's SupportedVersion condition; empty
	// means the version this package is built for (BundleVersion).
	CRDBundleVersion string
}

// State is what the controller watches. Objects of other GatewayClasses may be included:
// they are ignored.
type State struct {
	GatewayClasses  []*gatewayv1.GatewayClass
	Gateways        []*gatewayv1.Gateway
	HTTPRoutes      []*gatewayv1.HTTPRoute
	GRPCRoutes      []*gatewayv1.GRPCRoute
	ReferenceGrants []*gatewayv1beta1.ReferenceGrant
	// Namespaces give the labels that allowedRoutes.namespaces.selector selects; a namespace
	// missing here has only its kubernetes.io/metadata.name label.
	Namespaces     []*corev1.Namespace
	Services       []*corev1.Service
	EndpointSlices []*discoveryv1.EndpointSlice
	Secrets        []*corev1.Secret
}

// Programmed tells whether a Gateway's data plane (its Deployment and LoadBalancer Service)
// is ready, and its addresses. Translate calls it for each Gateway it accepts.
type Programmed func(gateway types.NamespacedName) (addresses []gatewayv1.GatewayStatusAddress, ready bool)

// Result is a translation: the configuration of each Gateway's proxy and the status of every
// object of the implemented GatewayClasses.
type Result struct {
	// Configs are the proxy configurations, one per accepted Gateway of an implemented class;
	// the proxy of that Gateway serves its Config, one l7 listener per Gateway listener port
	// ("http-80", "https-443"), only for the listeners that are programmed.
	Configs map[types.NamespacedName]*l7.Config

	// The statuses to write. Conditions carry the object's generation as observedGeneration
	// and no lastTransitionTime: MergeConditions keeps the existing one when a condition is
	// unchanged and stamps a new one otherwise.

	// GatewayClassStatus has the Accepted and SupportedVersion conditions and the supported
	// features of each GatewayClass with the implemented controllerName, by name.
	GatewayClassStatus map[string]gatewayv1.GatewayClassStatus
	// GatewayStatus has, for each Gateway of such a class, its addresses (from Programmed),
	// its Accepted, Programmed and ResolvedRefs conditions and every listener's status.
	GatewayStatus map[types.NamespacedName]gatewayv1.GatewayStatus
	// HTTPRouteStatus and GRPCRouteStatus have, for each route with a parentRef to such a
	// Gateway, one entry per such parentRef (Accepted, ResolvedRefs, PartiallyInvalid when it
	// applies), with ControllerName set. Entries of other controllers are not included:
	// MergeRouteParents keeps them.
	HTTPRouteStatus map[types.NamespacedName]gatewayv1.HTTPRouteStatus
	GRPCRouteStatus map[types.NamespacedName]gatewayv1.GRPCRouteStatus
}

// Translate turns the cluster state into each Gateway's proxy configuration and the statuses
// to write, following the Gateway API v1.5.1 specification. It is pure and deterministic: it
// changes nothing it is given, and the same input gives the same output. programmed may be
// nil: every Gateway is then reported Programmed, without addresses.
func Translate(opts Options, st *State, programmed Programmed) *Result {
	if opts.ControllerName == "" {
		opts.ControllerName = DefaultControllerName
	}
	if opts.ClusterDomain == "" {
		opts.ClusterDomain = "cluster.local"
	}
	if st == nil {
		st = &State{}
	}
	b := newBuilder(opts, st, programmed)
	b.classes()
	b.gateways()
	b.routes()
	b.attach()
	b.resolveConflicts()
	res := &Result{
		Configs:            map[types.NamespacedName]*l7.Config{},
		GatewayClassStatus: b.classStatus,
		GatewayStatus:      map[types.NamespacedName]gatewayv1.GatewayStatus{},
		HTTPRouteStatus:    map[types.NamespacedName]gatewayv1.HTTPRouteStatus{},
		GRPCRouteStatus:    map[types.NamespacedName]gatewayv1.GRPCRouteStatus{},
	}
	for _, gi := range b.gatewayList {
		res.GatewayStatus[gi.key] = b.gatewayStatus(gi)
		if gi.accepted {
			res.Configs[gi.key] = b.config(gi)
		}
	}
	for _, ri := range b.routeList {
		parents := b.routeParents(ri)
		if len(parents) == 0 {
			continue
		}
		key := types.NamespacedName{Namespace: ri.ns, Name: ri.name}
		if ri.kind == kindHTTPRoute {
			res.HTTPRouteStatus[key] = gatewayv1.HTTPRouteStatus{RouteStatus: gatewayv1.RouteStatus{Parents: parents}}
		} else {
			res.GRPCRouteStatus[key] = gatewayv1.GRPCRouteStatus{RouteStatus: gatewayv1.RouteStatus{Parents: parents}}
		}
	}
	return res
}

// builder holds the indexes of one translation.
type builder struct {
	opts       Options
	st         *State
	programmed Programmed

	// ours are the GatewayClasses with the implemented controllerName, and whether each is
	// accepted.
	ours        map[string]bool
	classStatus map[string]gatewayv1.GatewayClassStatus

	namespaces map[string]*corev1.Namespace
	services   map[types.NamespacedName]*corev1.Service
	slices     map[types.NamespacedName][]*discoveryv1.EndpointSlice
	secrets    map[types.NamespacedName]*corev1.Secret
	grants     map[string][]*gatewayv1beta1.ReferenceGrant

	gatewayList []*gatewayInfo
	gatewayMap  map[types.NamespacedName]*gatewayInfo
	routeList   []*routeInfo

	// upstreams are every upstream the routes use, by name.
	upstreams map[string]*l7.Upstream
}

func newBuilder(opts Options, st *State, programmed Programmed) *builder {
	b := &builder{
		opts:        opts,
		st:          st,
		programmed:  programmed,
		ours:        map[string]bool{},
		classStatus: map[string]gatewayv1.GatewayClassStatus{},
		namespaces:  map[string]*corev1.Namespace{},
		services:    map[types.NamespacedName]*corev1.Service{},
		slices:      map[types.NamespacedName][]*discoveryv1.EndpointSlice{},
		secrets:     map[types.NamespacedName]*corev1.Secret{},
		grants:      map[string][]*gatewayv1beta1.ReferenceGrant{},
		gatewayMap:  map[types.NamespacedName]*gatewayInfo{},
		upstreams:   map[string]*l7.Upstream{},
	}
	for _, ns := range st.Namespaces {
		if ns != nil {
			b.namespaces[ns.Name] = ns
		}
	}
	for _, svc := range st.Services {
		if svc != nil {
			b.services[types.NamespacedName{Namespace: svc.Namespace, Name: svc.Name}] = svc
		}
	}
	for _, es := range st.EndpointSlices {
		if es == nil {
			continue
		}
		name := es.Labels[discoveryv1.LabelServiceName]
		if name == "" {
			continue
		}
		key := types.NamespacedName{Namespace: es.Namespace, Name: name}
		b.slices[key] = append(b.slices[key], es)
	}
	for key := range b.slices {
		sort.Slice(b.slices[key], func(i, j int) bool { return b.slices[key][i].Name < b.slices[key][j].Name })
	}
	for _, s := range st.Secrets {
		if s != nil {
			b.secrets[types.NamespacedName{Namespace: s.Namespace, Name: s.Name}] = s
		}
	}
	for _, g := range st.ReferenceGrants {
		if g != nil {
			b.grants[g.Namespace] = append(b.grants[g.Namespace], g)
		}
	}
	return b
}
