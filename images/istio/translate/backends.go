package translate

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/minaks/minaks/images/internal/l7"
)

// backendRef is a backendRef of a rule with its filters.
type backendRef struct {
	ref    gatewayv1.BackendObjectReference
	weight *int32
	// grpc: the backend of a GRPCRoute, spoken to in HTTP/2.
	grpc                            bool
	requestHeaders, responseHeaders l7.HeaderModifier
}

// backends resolves a rule's backendRefs. An invalid one stays in the list with its weight
// and answers invalidStatus (500, or 503 for gRPC's UNAVAILABLE) for its share of the
// requests, as the spec requires; a rule without backends, or whose weights are all 0, answers
// it to every request.
func (b *builder) backends(ri *routeInfo, rule *ruleInfo, refs []backendRef, invalidStatus int) {
	total := 0
	for _, r := range refs {
		w := 1
		if r.weight != nil {
			w = int(*r.weight)
		}
		wb := l7.WeightedBackend{Weight: w, RequestHeaders: r.requestHeaders, ResponseHeaders: r.responseHeaders}
		up, reason, problem := b.resolve(ri, r.ref, r.grpc)
		if problem != "" {
			ri.unresolved(reason, problem)
			wb.Upstream = "invalid: " + refName(ri.ns, r.ref)
			wb.Status = invalidStatus
		} else {
			wb.Upstream = up.Name
			rule.upstreams = append(rule.upstreams, up.Name)
		}
		if w > 0 {
			total += w
		}
		rule.backends = append(rule.backends, wb)
	}
	if total == 0 {
		rule.respond = invalidStatus
	}
}

// mirror adds a RequestMirror filter's target; an unresolved reference is reported and
// not mirrored to.
func (b *builder) mirror(ri *routeInfo, rule *ruleInfo, m *gatewayv1.HTTPRequestMirrorFilter) string {
	percent := 100.0
	switch {
	case m.Percent != nil:
		percent = float64(*m.Percent)
	case m.Fraction != nil:
		den := int32(100)
		if m.Fraction.Denominator != nil {
			den = *m.Fraction.Denominator
		}
		if den <= 0 || m.Fraction.Numerator < 0 || m.Fraction.Numerator > den {
			return fmt.Sprintf("fraction %d/%d is not between 0 and 1", m.Fraction.Numerator, den)
		}
		percent = 100 * float64(m.Fraction.Numerator) / float64(den)
	}
	if percent < 0 || percent > 100 {
		return fmt.Sprintf("percent %v is not between 0 and 100", percent)
	}
	up, reason, problem := b.resolve(ri, m.BackendRef, ri.kind == kindGRPCRoute)
	if problem != "" {
		ri.unresolved(reason, "mirror: "+problem)
		return ""
	}
	rule.mirrors = append(rule.mirrors, l7.MirrorPolicy{Target: up.Name, Percent: percent})
	rule.upstreams = append(rule.upstreams, up.Name)
	return ""
}

// refName names a backendRef for messages: "[group/kind] namespace/name[:port]".
func refName(routeNS string, ref gatewayv1.BackendObjectReference) string {
	ns := routeNS
	if ref.Namespace != nil {
		ns = string(*ref.Namespace)
	}
	s := ns + "/" + string(ref.Name)
	if ref.Port != nil {
		s += ":" + strconv.Itoa(int(*ref.Port))
	}
	if (ref.Group != nil && *ref.Group != "") || (ref.Kind != nil && *ref.Kind != kindService) {
		g, k := "", kindService
		if ref.Group != nil {
			g = string(*ref.Group)
		}
		if ref.Kind != nil {
			k = string(*ref.Kind)
		}
		s = groupOrCore(g) + "/" + k + " " + s
	}
	return s
}

// resolve finds the upstream of a backend reference, or why there is none (with the
// ResolvedRefs reason).
func (b *builder) resolve(ri *routeInfo, ref gatewayv1.BackendObjectReference, grpc bool) (*l7.Upstream, gatewayv1.RouteConditionReason, string) {
	name := refName(ri.ns, ref)
	group, kind := "", kindService
	if ref.Group != nil {
		group = string(*ref.Group)
	}
	if ref.Kind != nil {
		kind = string(*ref.Kind)
	}
	if group != "" || kind != kindService {
		return nil, gatewayv1.RouteReasonInvalidKind, fmt.Sprintf("backendRef %s: only core Services are supported", name)
	}
	ns := ri.ns
	if ref.Namespace != nil {
		ns = string(*ref.Namespace)
	}
	if !b.granted(ri.kind, ri.ns, kindService, ns, string(ref.Name)) {
		return nil, gatewayv1.RouteReasonRefNotPermitted, fmt.Sprintf("backendRef to Service %s is not permitted by any ReferenceGrant in namespace %s", name, ns)
	}
	svc := b.services[types.NamespacedName{Namespace: ns, Name: string(ref.Name)}]
	if svc == nil {
		return nil, gatewayv1.RouteReasonBackendNotFound, fmt.Sprintf("Service %s/%s does not exist", ns, ref.Name)
	}
	if svc.Spec.Type == corev1.ServiceTypeExternalName {
		return nil, gatewayv1.RouteReasonInvalidKind, fmt.Sprintf("Service %s/%s is of type ExternalName, which is not supported", ns, ref.Name)
	}
	if ref.Port == nil {
		return nil, gatewayv1.RouteReasonBackendNotFound, fmt.Sprintf("backendRef %s: a port is required for a Service", name)
	}
	var sp *corev1.ServicePort
	for i := range svc.Spec.Ports {
		if svc.Spec.Ports[i].Port == *ref.Port && (svc.Spec.Ports[i].Protocol == "" || svc.Spec.Ports[i].Protocol == corev1.ProtocolTCP) {
			sp = &svc.Spec.Ports[i]
			break
		}
	}
	if sp == nil {
		return nil, gatewayv1.RouteReasonBackendNotFound, fmt.Sprintf("Service %s/%s has no TCP port %d", ns, ref.Name, *ref.Port)
	}
	proto, inferred, problem := upstreamProtocol(sp.AppProtocol, grpc)
	if problem != "" {
		return nil, gatewayv1.RouteReasonUnsupportedProtocol, fmt.Sprintf("Service %s/%s port %d: %s", ns, ref.Name, sp.Port, problem)
	}
	upName := fmt.Sprintf("outbound|%d||%s.%s.svc.%s", sp.Port, svc.Name, svc.Namespace, b.opts.ClusterDomain)
	if inferred {
		upName += "|grpc"
	}
	if up := b.upstreams[upName]; up != nil {
		return up, "", ""
	}
	up := &l7.Upstream{
		Name:      upName,
		Protocol:  proto,
		Endpoints: b.endpoints(svc, sp),
		Balance:   l7.RoundRobin,
		Namespace: svc.Namespace,
		Service:   svc.Name,
		Port:      strconv.Itoa(int(sp.Port)),
	}
	b.upstreams[upName] = up
	return up, "", ""
}

// upstreamProtocol is how the proxy speaks to a Service port, from its appProtocol
// (KEP-3726's kubernetes.io/h2c and kubernetes.io/ws, and the usual names): HTTP/1.1, or
// HTTP/2 over cleartext. Without one, a GRPCRoute's backend is spoken to in HTTP/2 (inferred),
// an HTTPRoute's in HTTP/1.1. TLS to backends (BackendTLSPolicy) is not supported, nor are
// protocols that are not HTTP.
func upstreamProtocol(appProtocol *string, grpc bool) (proto l7.UpstreamProtocol, inferred bool, problem string) {
	ap := ""
	if appProtocol != nil {
		ap = strings.ToLower(*appProtocol)
	}
	switch ap {
	case "http", "kubernetes.io/ws":
		if grpc {
			return "", false, fmt.Sprintf("appProtocol %s cannot carry gRPC", ap)
		}
		return l7.UpstreamHTTP, false, ""
	case "kubernetes.io/h2c", "h2c", "http2", "grpc":
		if grpc {
			return l7.UpstreamGRPC, false, ""
		}
		return l7.UpstreamH2C, false, ""
	case "https", "kubernetes.io/wss", "grpcs", "tls":
		return "", false, fmt.Sprintf("appProtocol %s needs TLS to the backend (BackendTLSPolicy), which is not supported", ap)
	case "tcp", "udp", "sctp", "mongo", "mysql", "redis":
		return "", false, fmt.Sprintf("appProtocol %s is not an HTTP protocol", ap)
	}
	if grpc {
		return l7.UpstreamGRPC, true, ""
	}
	return l7.UpstreamHTTP, false, ""
}

// endpoints lists the ready endpoints of a Service port from its EndpointSlices: each
// slice's port of the Service port's name (the target port when the slice lists no port),
// ready or of unknown readiness, without duplicates, in address order.
func (b *builder) endpoints(svc *corev1.Service, sp *corev1.ServicePort) []netip.AddrPort {
	var out []netip.AddrPort
	seen := map[netip.AddrPort]bool{}
	for _, es := range b.slices[types.NamespacedName{Namespace: svc.Namespace, Name: svc.Name}] {
		if es.AddressType != discoveryv1.AddressTypeIPv4 && es.AddressType != discoveryv1.AddressTypeIPv6 {
			continue
		}
		var ports []int32
		for _, p := range es.Ports {
			name := ""
			if p.Name != nil {
				name = *p.Name
			}
			if name != sp.Name || p.Port == nil || (p.Protocol != nil && *p.Protocol != corev1.ProtocolTCP) {
				continue
			}
			ports = append(ports, *p.Port)
		}
		if len(es.Ports) == 0 && sp.TargetPort.Type == intstr.Int && sp.TargetPort.IntVal > 0 {
			ports = append(ports, sp.TargetPort.IntVal)
		}
		for _, ep := range es.Endpoints {
			if ep.Conditions.Ready != nil && !*ep.Conditions.Ready {
				continue
			}
			for _, a := range ep.Addresses {
				addr, err := netip.ParseAddr(a)
				if err != nil {
					continue
				}
				for _, port := range ports {
					ap := netip.AddrPortFrom(addr.Unmap(), uint16(port))
					if !seen[ap] {
						seen[ap] = true
						out = append(out, ap)
					}
				}
			}
		}
	}
	slices.SortFunc(out, func(a, b netip.AddrPort) int { return a.Compare(b) })
	return out
}
