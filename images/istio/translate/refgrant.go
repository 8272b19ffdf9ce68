package translate

// The Gateway API group, in which Gateways and routes are.
const gatewayGroup = "gateway.networking.k8s.io"

// Kinds of the objects the translation deals with.
const (
	kindGateway   = "Gateway"
	kindHTTPRoute = "HTTPRoute"
	kindGRPCRoute = "GRPCRoute"
	kindService   = "Service"
	kindSecret    = "Secret"
)

// granted reports whether a ReferenceGrant in toNamespace lets objects of fromKind (in the
// Gateway API group) in fromNamespace refer to the object toName of the core kind toKind. A
// reference within one namespace needs no grant.
func (b *builder) granted(fromKind, fromNamespace, toKind, toNamespace, toName string) bool {
	if fromNamespace == toNamespace {
		return true
	}
	for _, g := range b.grants[toNamespace] {
		from := false
		for _, f := range g.Spec.From {
			if string(f.Group) == gatewayGroup && string(f.Kind) == fromKind && string(f.Namespace) == fromNamespace {
				from = true
				break
			}
		}
		if !from {
			continue
		}
		for _, t := range g.Spec.To {
			if string(t.Group) == "" && string(t.Kind) == toKind && (t.Name == nil || string(*t.Name) == toName) {
				return true
			}
		}
	}
	return false
}
