package translate

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// gatewayInfo is a Gateway of an implemented class, with what the translation found.
type gatewayInfo struct {
	gw  *gatewayv1.Gateway
	key types.NamespacedName
	// listeners are in the order of the spec.
	listeners []*listenerInfo
	// accepted: the Gateway gets a configuration. reason and message explain Accepted.
	accepted        bool
	reason, message string
	// addresses and ready come from Programmed.
	addresses []gatewayv1.GatewayStatusAddress
	ready     bool
	// addressProblem, if set, is why Programmed is False although the proxy is ready.
	addressProblem string
}

// listenerInfo is one listener of a Gateway.
type listenerInfo struct {
	gi       *gatewayInfo
	spec     *gatewayv1.Listener
	name     string
	hostname string
	port     int32
	protocol gatewayv1.ProtocolType
	// kinds are the route kinds the listener supports (status.supportedKinds).
	kinds []gatewayv1.RouteGroupKind

	// Accepted: False with acceptReason when the listener cannot be served at all.
	acceptReason, acceptMessage string
	// conflict is the reason of Conflicted=True ("" when not conflicted).
	conflict, conflictMessage string
	// refsReason is the reason of ResolvedRefs=False ("" when resolved).
	refsReason, refsMessage string

	// cert is the certificate of an HTTPS listener.
	cert *tls.Certificate

	// attached are the routes attached to the listener, in the order they were attached,
	// with the hostnames they apply to on it.
	attached []*attachment
}

// attachment is a route attached to a listener.
type attachment struct {
	route     *routeInfo
	hostnames []hostnameMatch
	// rejected, if set, is why the route does not apply on this listener after all (a
	// GRPCRoute and an HTTPRoute on the same hostnames).
	rejected string
}

// programmable reports whether the listener goes into the proxy's configuration.
func (li *listenerInfo) programmable() bool {
	return li.acceptReason == "" && li.conflict == "" && li.refsReason == "" && len(li.kinds) > 0
}

// allowsKind reports whether routes of kind may attach to the listener.
func (li *listenerInfo) allowsKind(kind string) bool {
	for _, k := range li.kinds {
		if string(k.Kind) == kind {
			return true
		}
	}
	return false
}

// gateways collects the Gateways of the implemented classes and validates their listeners.
func (b *builder) gateways() {
	for _, gw := range b.st.Gateways {
		if gw == nil {
			continue
		}
		classOK, ours := b.ours[string(gw.Spec.GatewayClassName)]
		if !ours {
			continue
		}
		gi := &gatewayInfo{gw: gw, key: types.NamespacedName{Namespace: gw.Namespace, Name: gw.Name}}
		for i := range gw.Spec.Listeners {
			gi.listeners = append(gi.listeners, b.listener(gi, &gw.Spec.Listeners[i]))
		}
		conflicts(gi.listeners)
		b.acceptGateway(gi, classOK)
		b.gatewayList = append(b.gatewayList, gi)
		b.gatewayMap[gi.key] = gi
	}
	sort.Slice(b.gatewayList, func(i, j int) bool {
		return b.gatewayList[i].key.String() < b.gatewayList[j].key.String()
	})
}

// acceptGateway decides the Gateway's Accepted condition and asks whether its proxy is ready.
func (b *builder) acceptGateway(gi *gatewayInfo, classOK bool) {
	gw := gi.gw
	var usable, accepted, total int
	var bad []string
	for _, li := range gi.listeners {
		total++
		if li.acceptReason == "" && li.conflict == "" {
			accepted++
		}
		if li.programmable() {
			usable++
		} else {
			bad = append(bad, li.name)
		}
	}
	gi.accepted, gi.reason, gi.message = true, string(gatewayv1.GatewayReasonAccepted), "Gateway accepted"
	switch {
	case !classOK:
		gi.accepted, gi.reason = false, string(gatewayv1.GatewayReasonInvalid)
		gi.message = fmt.Sprintf("GatewayClass %s is not accepted", gw.Spec.GatewayClassName)
	case unsupportedParameters(gw) != "":
		gi.accepted, gi.reason, gi.message = false, string(gatewayv1.GatewayReasonInvalidParameters), unsupportedParameters(gw)
	case unsupportedAddresses(gw) != "":
		gi.accepted, gi.reason, gi.message = false, string(gatewayv1.GatewayReasonUnsupportedAddress), unsupportedAddresses(gw)
	case accepted == 0:
		gi.accepted, gi.reason = false, string(gatewayv1.GatewayReasonListenersNotValid)
		gi.message = "no listener can be served: " + strings.Join(bad, ", ")
	case usable < total:
		gi.reason = string(gatewayv1.GatewayReasonListenersNotValid)
		gi.message = "listeners not served: " + strings.Join(bad, ", ")
	}
	if !gi.accepted {
		return
	}
	gi.ready = true
	if b.programmed != nil {
		gi.addresses, gi.ready = b.programmed(gi.key)
	}
	for _, want := range gw.Spec.Addresses {
		if want.Value == "" {
			continue
		}
		found := false
		for _, got := range gi.addresses {
			if got.Value == want.Value {
				found = true
			}
		}
		if !found && gi.ready {
			gi.addressProblem = fmt.Sprintf("the requested address %s is not the Gateway's", want.Value)
		}
	}
}

// unsupportedParameters explains why spec.infrastructure.parametersRef cannot be used, or is
// "" when it is absent or a ConfigMap (whose content is not emulated).
func unsupportedParameters(gw *gatewayv1.Gateway) string {
	inf := gw.Spec.Infrastructure
	if inf == nil || inf.ParametersRef == nil {
		return ""
	}
	p := inf.ParametersRef
	if p.Group == "" && p.Kind == "ConfigMap" {
		return ""
	}
	return fmt.Sprintf("parametersRef %s/%s %s: only a ConfigMap is supported", groupOrCore(string(p.Group)), p.Kind, p.Name)
}

// unsupportedAddresses explains why spec.addresses cannot be used: only IP addresses can be
// requested.
func unsupportedAddresses(gw *gatewayv1.Gateway) string {
	for _, a := range gw.Spec.Addresses {
		if a.Type != nil && *a.Type != gatewayv1.IPAddressType {
			return fmt.Sprintf("address %q of type %s: only IPAddress is supported", a.Value, *a.Type)
		}
	}
	return ""
}

// listener validates one listener: its protocol, its route kinds and, for HTTPS, its TLS
// certificate.
func (b *builder) listener(gi *gatewayInfo, l *gatewayv1.Listener) *listenerInfo {
	li := &listenerInfo{gi: gi, spec: l, name: string(l.Name), port: l.Port, protocol: l.Protocol}
	if l.Hostname != nil {
		li.hostname = canonicalHostname(string(*l.Hostname))
	}
	switch l.Protocol {
	case gatewayv1.HTTPProtocolType, gatewayv1.HTTPSProtocolType:
	default:
		li.acceptReason = string(gatewayv1.ListenerReasonUnsupportedProtocol)
		li.acceptMessage = fmt.Sprintf("protocol %s is not supported: only HTTP and HTTPS", l.Protocol)
		return li
	}
	b.routeKinds(li)
	if l.Protocol == gatewayv1.HTTPSProtocolType {
		b.listenerTLS(li)
		if f := gi.gw.Spec.TLS; f != nil && f.Frontend != nil {
			li.acceptReason = string(gatewayv1.ListenerReasonUnsupportedValue)
			li.acceptMessage = "client certificate validation (spec.tls.frontend) is not supported"
		}
	}
	return li
}

// routeKinds works out the listener's supported kinds: HTTPRoute and GRPCRoute by default,
// those of them that allowedRoutes.kinds lists otherwise.
func (b *builder) routeKinds(li *listenerInfo) {
	group := gatewayv1.Group(gatewayGroup)
	var ar *gatewayv1.AllowedRoutes = li.spec.AllowedRoutes
	if ar == nil || len(ar.Kinds) == 0 {
		li.kinds = []gatewayv1.RouteGroupKind{{Group: &group, Kind: kindHTTPRoute}, {Group: &group, Kind: kindGRPCRoute}}
		return
	}
	li.kinds = []gatewayv1.RouteGroupKind{}
	var invalid []string
	for _, k := range ar.Kinds {
		g := gatewayGroup
		if k.Group != nil {
			g = string(*k.Group)
		}
		if g == gatewayGroup && (k.Kind == kindHTTPRoute || k.Kind == kindGRPCRoute) {
			if !li.allowsKind(string(k.Kind)) {
				li.kinds = append(li.kinds, gatewayv1.RouteGroupKind{Group: &group, Kind: k.Kind})
			}
			continue
		}
		invalid = append(invalid, g+"/"+string(k.Kind))
	}
	if len(invalid) > 0 {
		li.refsReason = string(gatewayv1.ListenerReasonInvalidRouteKinds)
		li.refsMessage = fmt.Sprintf("route kinds %s are not supported on a %s listener", strings.Join(invalid, ", "), li.protocol)
	}
}

// listenerTLS loads the certificate of an HTTPS listener. Only Terminate is supported; every
// certificateRef must be a Secret that may be referred to and holds a valid key pair. With
// several, the first is served.
func (b *builder) listenerTLS(li *listenerInfo) {
	t := li.spec.TLS
	if t == nil || len(t.CertificateRefs) == 0 {
		li.refsReason = string(gatewayv1.ListenerReasonInvalidCertificateRef)
		li.refsMessage = "an HTTPS listener needs tls.certificateRefs"
		return
	}
	if t.Mode != nil && *t.Mode != gatewayv1.TLSModeTerminate {
		li.acceptReason = string(gatewayv1.ListenerReasonUnsupportedValue)
		li.acceptMessage = fmt.Sprintf("TLS mode %s is not supported on an HTTPS listener", *t.Mode)
		return
	}
	gw := li.gi.gw
	var problems []string
	reason := ""
	set := func(r, msg string) {
		// RefNotPermitted wins over InvalidCertificateRef: it says what to fix first.
		if reason == "" || r == string(gatewayv1.ListenerReasonRefNotPermitted) {
			reason = r
		}
		problems = append(problems, msg)
	}
	for _, ref := range t.CertificateRefs {
		group, kind := "", kindSecret
		if ref.Group != nil {
			group = string(*ref.Group)
		}
		if ref.Kind != nil {
			kind = string(*ref.Kind)
		}
		ns := gw.Namespace
		if ref.Namespace != nil {
			ns = string(*ref.Namespace)
		}
		name := fmt.Sprintf("%s/%s", ns, ref.Name)
		if group != "" || kind != kindSecret {
			set(string(gatewayv1.ListenerReasonInvalidCertificateRef), fmt.Sprintf("certificateRef %s/%s %s: only core Secrets are supported", groupOrCore(group), kind, name))
			continue
		}
		if !b.granted(kindGateway, gw.Namespace, kindSecret, ns, string(ref.Name)) {
			set(string(gatewayv1.ListenerReasonRefNotPermitted), fmt.Sprintf("certificateRef to Secret %s is not permitted by any ReferenceGrant in namespace %s", name, ns))
			continue
		}
		secret := b.secrets[types.NamespacedName{Namespace: ns, Name: string(ref.Name)}]
		if secret == nil {
			set(string(gatewayv1.ListenerReasonInvalidCertificateRef), fmt.Sprintf("Secret %s does not exist", name))
			continue
		}
		cert, err := keyPair(secret)
		if err != nil {
			set(string(gatewayv1.ListenerReasonInvalidCertificateRef), fmt.Sprintf("Secret %s: %v", name, err))
			continue
		}
		if li.cert == nil {
			li.cert = cert
		}
	}
	if reason != "" {
		li.refsReason = reason
		li.refsMessage = strings.Join(problems, "; ")
		li.cert = nil
	}
}

// keyPair reads the certificate and key of a kubernetes.io/tls Secret.
func keyPair(s *corev1.Secret) (*tls.Certificate, error) {
	crt, key := s.Data[corev1.TLSCertKey], s.Data[corev1.TLSPrivateKeyKey]
	if len(crt) == 0 || len(key) == 0 {
		return nil, fmt.Errorf("no %s or %s", corev1.TLSCertKey, corev1.TLSPrivateKeyKey)
	}
	cert, err := tls.X509KeyPair(crt, key)
	if err != nil {
		return nil, fmt.Errorf("invalid key pair: %w", err)
	}
	if cert.Leaf == nil && len(cert.Certificate) > 0 {
		if leaf, err := x509.ParseCertificate(cert.Certificate[0]); err == nil {
			cert.Leaf = leaf
		}
	}
	return &cert, nil
}

// conflicts marks the listeners that are not distinct: different protocols on one port
// (ProtocolConflict; HTTPS and TLS may share a port), or one protocol, port and hostname
// (HostnameConflict). Listeners that are not accepted take part: the spec's distinctness is
// about the fields, not about what an implementation supports.
func conflicts(ls []*listenerInfo) {
	byPort := map[int32][]*listenerInfo{}
	for _, li := range ls {
		byPort[li.port] = append(byPort[li.port], li)
	}
	family := func(p gatewayv1.ProtocolType) string {
		if p == gatewayv1.HTTPSProtocolType || p == gatewayv1.TLSProtocolType {
			return "tls"
		}
		return string(p)
	}
	for port, group := range byPort {
		families := map[string]bool{}
		for _, li := range group {
			families[family(li.protocol)] = true
		}
		if len(families) > 1 {
			for _, li := range group {
				li.conflict = string(gatewayv1.ListenerReasonProtocolConflict)
				li.conflictMessage = fmt.Sprintf("port %d is used with several protocols", port)
			}
			continue
		}
		seen := map[string][]*listenerInfo{}
		for _, li := range group {
			k := string(li.protocol) + " " + li.hostname
			seen[k] = append(seen[k], li)
		}
		for _, same := range seen {
			if len(same) < 2 {
				continue
			}
			var names []string
			for _, li := range same {
				names = append(names, li.name)
			}
			for _, li := range same {
				li.conflict = string(gatewayv1.ListenerReasonHostnameConflict)
				li.conflictMessage = fmt.Sprintf("listeners %s share port %d, protocol %s and hostname %q", strings.Join(names, ", "), port, li.protocol, li.hostname)
			}
		}
	}
}

// namespaceAllowed reports whether a route in namespace ns may attach to the listener
// (allowedRoutes.namespaces: Same by default, All, Selector).
func (b *builder) namespaceAllowed(li *listenerInfo, ns string) bool {
	from := gatewayv1.NamespacesFromSame
	var ar *gatewayv1.AllowedRoutes = li.spec.AllowedRoutes
	if ar != nil && ar.Namespaces != nil && ar.Namespaces.From != nil {
		from = *ar.Namespaces.From
	}
	switch from {
	case gatewayv1.NamespacesFromAll:
		return true
	case gatewayv1.NamespacesFromSame:
		return ns == li.gi.gw.Namespace
	case gatewayv1.NamespacesFromSelector:
		if ar.Namespaces.Selector == nil {
			return false
		}
		sel, err := metav1.LabelSelectorAsSelector(ar.Namespaces.Selector)
		if err != nil {
			return false
		}
		set := labels.Set{corev1.LabelMetadataName: ns}
		if n := b.namespaces[ns]; n != nil {
			set = labels.Set(n.Labels)
			if _, ok := set[corev1.LabelMetadataName]; !ok {
				set = labels.Merge(set, labels.Set{corev1.LabelMetadataName: ns})
			}
		}
		return sel.Matches(set)
	}
	return false
}

// gatewayStatus is the status to write on a Gateway.
func (b *builder) gatewayStatus(gi *gatewayInfo) gatewayv1.GatewayStatus {
	gen := gi.gw.Generation
	st := gatewayv1.GatewayStatus{Addresses: gi.addresses}
	accepted := condition(string(gatewayv1.GatewayConditionAccepted), gi.accepted, gi.reason, gi.message, gen)
	programmed := condition(string(gatewayv1.GatewayConditionProgrammed), true, string(gatewayv1.GatewayReasonProgrammed), "the Gateway's proxy is ready", gen)
	switch {
	case !gi.accepted:
		programmed = condition(programmed.Type, false, string(gatewayv1.GatewayReasonInvalid), "the Gateway is not accepted", gen)
	case !gi.ready && len(gi.addresses) == 0:
		programmed = condition(programmed.Type, false, string(gatewayv1.GatewayReasonAddressNotAssigned), "waiting for the load balancer to assign an address", gen)
	case !gi.ready:
		programmed = condition(programmed.Type, false, string(gatewayv1.GatewayReasonPending), "waiting for the Gateway's deployment to be ready", gen)
	case gi.addressProblem != "":
		programmed = condition(programmed.Type, false, string(gatewayv1.GatewayReasonAddressNotUsable), gi.addressProblem, gen)
	}
	resolved := condition(string(gatewayv1.GatewayConditionResolvedRefs), true, string(gatewayv1.GatewayReasonResolvedRefs), "all references are resolved", gen)
	var unresolved []string
	for _, li := range gi.listeners {
		if li.refsReason != "" {
			unresolved = append(unresolved, li.name)
		}
	}
	if len(unresolved) > 0 {
		resolved = condition(resolved.Type, false, string(gatewayv1.GatewayReasonListenersNotResolved), "listeners with unresolved references: "+strings.Join(unresolved, ", "), gen)
	}
	st.Conditions = []metav1.Condition{accepted, programmed, resolved}
	gwProgrammed := programmed.Status == metav1.ConditionTrue
	for _, li := range gi.listeners {
		st.Listeners = append(st.Listeners, li.status(gi.accepted, gwProgrammed, gen))
	}
	return st
}

// status is the listener's status: Accepted, Conflicted, ResolvedRefs, Programmed, its
// supported kinds and the number of accepted routes attached.
func (li *listenerInfo) status(gwAccepted, gwProgrammed bool, gen int64) gatewayv1.ListenerStatus {
	accepted := condition(string(gatewayv1.ListenerConditionAccepted), true, string(gatewayv1.ListenerReasonAccepted), "listener accepted", gen)
	switch {
	case li.acceptReason != "":
		accepted = condition(accepted.Type, false, li.acceptReason, li.acceptMessage, gen)
	case li.conflict != "":
		accepted = condition(accepted.Type, false, li.conflict, li.conflictMessage, gen)
	}
	conflicted := condition(string(gatewayv1.ListenerConditionConflicted), false, string(gatewayv1.ListenerReasonNoConflicts), "no conflicts", gen)
	if li.conflict != "" {
		conflicted = condition(conflicted.Type, true, li.conflict, li.conflictMessage, gen)
	}
	resolved := condition(string(gatewayv1.ListenerConditionResolvedRefs), true, string(gatewayv1.ListenerReasonResolvedRefs), "all references are resolved", gen)
	if li.refsReason != "" {
		resolved = condition(resolved.Type, false, li.refsReason, li.refsMessage, gen)
	}
	programmed := condition(string(gatewayv1.ListenerConditionProgrammed), true, string(gatewayv1.ListenerReasonProgrammed), "listener programmed", gen)
	switch {
	case !li.programmable():
		programmed = condition(programmed.Type, false, string(gatewayv1.ListenerReasonInvalid), "the listener is not served: see its other conditions", gen)
	case !gwAccepted:
		programmed = condition(programmed.Type, false, string(gatewayv1.ListenerReasonInvalid), "the Gateway is not accepted", gen)
	case !gwProgrammed:
		programmed = condition(programmed.Type, false, string(gatewayv1.ListenerReasonPending), "waiting for the Gateway to be programmed", gen)
	}
	kinds := li.kinds
	if kinds == nil {
		kinds = []gatewayv1.RouteGroupKind{}
	}
	seen := map[*routeInfo]bool{}
	var n int32
	for _, a := range li.attached {
		if a.rejected == "" && a.route.acceptReason == "" && !seen[a.route] {
			seen[a.route] = true
			n++
		}
	}
	return gatewayv1.ListenerStatus{
		Name:           li.spec.Name,
		SupportedKinds: kinds,
		AttachedRoutes: n,
		Conditions:     []metav1.Condition{accepted, conflicted, resolved, programmed},
	}
}
