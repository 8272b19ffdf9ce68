package translate

import (
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// parentInfo is a route's parentRef to a Gateway of an implemented class.
type parentInfo struct {
	ref gatewayv1.ParentReference
	gi  *gatewayInfo
	// reason is the reason of Accepted=False ("" when the route attaches); message explains.
	reason, message string
	// listeners are those the route attaches to through this parentRef.
	listeners []*listenerInfo
}

// attach attaches every route to the listeners its parentRefs select: those whose name
// (sectionName) and port match, that allow the route's kind and namespace, and whose
// hostname intersects the route's. ParentRefs to other kinds, to Gateways that do not exist
// or are of another class, are not ours to answer.
func (b *builder) attach() {
	for _, ri := range b.routeList {
		for _, ref := range ri.parentRefs {
			if (ref.Group != nil && *ref.Group != gatewayGroup) || (ref.Kind != nil && *ref.Kind != kindGateway) {
				continue
			}
			ns := ri.ns
			if ref.Namespace != nil {
				ns = string(*ref.Namespace)
			}
			gi := b.gatewayMap[types.NamespacedName{Namespace: ns, Name: string(ref.Name)}]
			if gi == nil {
				continue
			}
			p := &parentInfo{ref: ref, gi: gi}
			b.attachParent(ri, p)
			ri.parents = append(ri.parents, p)
		}
	}
}

// attachParent works out which listeners of the Gateway the parentRef attaches the route to,
// or why none.
func (b *builder) attachParent(ri *routeInfo, p *parentInfo) {
	var selected []*listenerInfo
	for _, li := range p.gi.listeners {
		if p.ref.SectionName != nil && string(*p.ref.SectionName) != li.name {
			continue
		}
		if p.ref.Port != nil && *p.ref.Port != li.port {
			continue
		}
		selected = append(selected, li)
	}
	if len(selected) == 0 {
		p.reason = string(gatewayv1.RouteReasonNoMatchingParent)
		p.message = "no listener of the Gateway matches the parentRef's " + sectionAndPort(p.ref)
		return
	}
	var allowed []*listenerInfo
	for _, li := range selected {
		if li.allowsKind(ri.kind) && b.namespaceAllowed(li, ri.ns) {
			allowed = append(allowed, li)
		}
	}
	if len(allowed) == 0 {
		p.reason = string(gatewayv1.RouteReasonNotAllowedByListeners)
		p.message = fmt.Sprintf("no listener of the Gateway allows %ss from namespace %s", ri.kind, ri.ns)
		return
	}
	for _, li := range allowed {
		hs := routeHostnames(li.hostname, ri.hostnames)
		if len(hs) == 0 {
			continue
		}
		p.listeners = append(p.listeners, li)
		li.attached = append(li.attached, &attachment{route: ri, hostnames: hs})
	}
	if len(p.listeners) == 0 {
		p.reason = string(gatewayv1.RouteReasonNoMatchingListenerHostname)
		p.message = "no hostname of the route matches a listener's hostname"
	}
}

// sectionAndPort describes what a parentRef selects within a Gateway, for messages.
func sectionAndPort(ref gatewayv1.ParentReference) string {
	var parts []string
	if ref.SectionName != nil {
		parts = append(parts, fmt.Sprintf("sectionName %q", *ref.SectionName))
	}
	if ref.Port != nil {
		parts = append(parts, fmt.Sprintf("port %d", *ref.Port))
	}
	return strings.Join(parts, " and ")
}

// resolveConflicts applies the rule that an HTTPRoute and a GRPCRoute whose hostnames
// intersect cannot both apply on one listener: the older route (then the first by
// namespace/name) keeps it; the other is rejected there.
func (b *builder) resolveConflicts() {
	for _, gi := range b.gatewayList {
		for _, li := range gi.listeners {
			for _, a := range li.attached {
				for _, o := range li.attached {
					if a == o || a.route.kind == o.route.kind || o.rejected != "" || !older(o.route, a.route) {
						continue
					}
					if hostnamesIntersect(a.hostnames, o.hostnames) {
						a.rejected = fmt.Sprintf("%s %s already serves these hostnames on listener %s", o.route.kind, o.route.key(), li.name)
						break
					}
				}
			}
		}
	}
	for _, ri := range b.routeList {
		for _, p := range ri.parents {
			if p.reason != "" {
				continue
			}
			var kept []*listenerInfo
			var why []string
			for _, li := range p.listeners {
				a := li.attachmentOf(ri)
				if a.rejected == "" {
					kept = append(kept, li)
				} else {
					why = append(why, a.rejected)
				}
			}
			if len(kept) == 0 {
				p.reason = string(gatewayv1.RouteReasonNotAllowedByListeners)
				p.message = strings.Join(why, "; ")
			}
			p.listeners = kept
		}
	}
}

// attachmentOf finds a route's attachment to the listener.
func (li *listenerInfo) attachmentOf(ri *routeInfo) *attachment {
	for _, a := range li.attached {
		if a.route == ri {
			return a
		}
	}
	return nil
}

func hostnamesIntersect(a, b []hostnameMatch) bool {
	for _, x := range a {
		for _, y := range b {
			if _, ok := intersect(x.Effective, y.Effective); ok {
				return true
			}
		}
	}
	return false
}

// older reports whether route a takes precedence over route b: created first, then first by
// namespace/name.
func older(a, b *routeInfo) bool {
	if !a.created.Equal(&b.created) {
		return a.created.Before(&b.created)
	}
	return a.key() < b.key()
}

// routeParents is the status of a route for each of its parentRefs to an implemented
// Gateway.
func (b *builder) routeParents(ri *routeInfo) []gatewayv1.RouteParentStatus {
	var out []gatewayv1.RouteParentStatus
	gen := ri.generation
	for _, p := range ri.parents {
		ref := p.ref
		if ref.Group == nil {
			g := gatewayv1.Group(gatewayGroup)
			ref.Group = &g
		}
		if ref.Kind == nil {
			k := gatewayv1.Kind(kindGateway)
			ref.Kind = &k
		}
		accepted := condition(string(gatewayv1.RouteConditionAccepted), true, string(gatewayv1.RouteReasonAccepted), "Route accepted", gen)
		switch {
		case p.reason != "":
			accepted = condition(accepted.Type, false, p.reason, p.message, gen)
		case ri.acceptReason != "":
			accepted = condition(accepted.Type, false, ri.acceptReason, ri.acceptMessage, gen)
		}
		resolved := condition(string(gatewayv1.RouteConditionResolvedRefs), true, string(gatewayv1.RouteReasonResolvedRefs), "all references are resolved", gen)
		if ri.refsReason != "" {
			resolved = condition(resolved.Type, false, ri.refsReason, strings.Join(ri.refsProblems, "; "), gen)
		}
		conds := []metav1.Condition{accepted, resolved}
		if len(ri.dropped) > 0 && len(ri.rules) > 0 && accepted.Status == metav1.ConditionTrue {
			conds = append(conds, condition(string(gatewayv1.RouteConditionPartiallyInvalid), true,
				string(gatewayv1.RouteReasonUnsupportedValue), "Dropped Rule(s): "+strings.Join(ri.dropped, "; "), gen))
		}
		out = append(out, gatewayv1.RouteParentStatus{
			ParentRef:      ref,
			ControllerName: b.opts.ControllerName,
			Conditions:     conds,
		})
	}
	return out
}
