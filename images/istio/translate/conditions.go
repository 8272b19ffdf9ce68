package translate

import (
	"reflect"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// condition builds a condition without lastTransitionTime (see MergeConditions).
func condition(typ string, ok bool, reason, message string, generation int64) metav1.Condition {
	status := metav1.ConditionFalse
	if ok {
		status = metav1.ConditionTrue
	}
	return metav1.Condition{Type: typ, Status: status, Reason: reason, Message: message, ObservedGeneration: generation}
}

// MergeConditions merges the conditions a translation computed into those an object has, as
// the Gateway API asks of implementations: conditions of other types are kept in place, a
// condition whose status did not change keeps its lastTransitionTime, one that changed (or
// is new) gets now. A condition already written for a newer generation than the one computed
// is left alone (the translation saw a stale object). It returns the merged list and whether
// it differs from existing.
func MergeConditions(existing, computed []metav1.Condition, now metav1.Time) ([]metav1.Condition, bool) {
	out := make([]metav1.Condition, len(existing))
	copy(out, existing)
	for _, c := range computed {
		if old := meta.FindStatusCondition(out, c.Type); old != nil && old.ObservedGeneration > c.ObservedGeneration {
			continue
		}
		c.LastTransitionTime = now
		meta.SetStatusCondition(&out, c)
	}
	return out, !reflect.DeepEqual(out, existing)
}

// MergeRouteParents merges a route's parent statuses computed by a translation into those it
// has: entries of other controllers are kept, entries of controller for the computed
// parentRefs are replaced (their conditions merged as MergeConditions does), and entries of
// controller for parentRefs no longer computed are removed. It returns the merged list and
// whether it differs from existing.
func MergeRouteParents(existing, computed []gatewayv1.RouteParentStatus, controller gatewayv1.GatewayController, now metav1.Time) ([]gatewayv1.RouteParentStatus, bool) {
	var out []gatewayv1.RouteParentStatus
	used := make([]bool, len(computed))
	for _, e := range existing {
		if e.ControllerName != controller {
			out = append(out, e)
			continue
		}
		for i, c := range computed {
			if used[i] || !sameParentRef(e.ParentRef, c.ParentRef) {
				continue
			}
			used[i] = true
			conds, _ := MergeConditions(e.Conditions, c.Conditions, now)
			e.Conditions = dropUnlisted(conds, c.Conditions)
			e.ParentRef = c.ParentRef
			out = append(out, e)
			break
		}
	}
	for i, c := range computed {
		if used[i] {
			continue
		}
		conds, _ := MergeConditions(nil, c.Conditions, now)
		c.Conditions = conds
		out = append(out, c)
	}
	return out, !reflect.DeepEqual(out, existing)
}

// dropUnlisted removes the conditions this implementation sets sometimes (PartiallyInvalid)
// when the computed status no longer has them.
func dropUnlisted(conds, computed []metav1.Condition) []metav1.Condition {
	if meta.FindStatusCondition(computed, string(gatewayv1.RouteConditionPartiallyInvalid)) != nil {
		return conds
	}
	meta.RemoveStatusCondition(&conds, string(gatewayv1.RouteConditionPartiallyInvalid))
	return conds
}

// sameParentRef compares two parentRefs with their defaults applied.
func sameParentRef(a, b gatewayv1.ParentReference) bool {
	str := func(p *string, def string) string {
		if p == nil {
			return def
		}
		return *p
	}
	g := func(p *gatewayv1.Group) string { return str((*string)(p), gatewayGroup) }
	k := func(p *gatewayv1.Kind) string { return str((*string)(p), kindGateway) }
	n := func(p *gatewayv1.Namespace) string { return str((*string)(p), "") }
	s := func(p *gatewayv1.SectionName) string { return str((*string)(p), "") }
	port := func(p *gatewayv1.PortNumber) int32 {
		if p == nil {
			return 0
		}
		return *p
	}
	return g(a.Group) == g(b.Group) && k(a.Kind) == k(b.Kind) && n(a.Namespace) == n(b.Namespace) &&
		a.Name == b.Name && s(a.SectionName) == s(b.SectionName) && port(a.Port) == port(b.Port)
}
