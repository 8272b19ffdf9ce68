// Package translate turns what an ingress-nginx controller watches (Ingresses,
// IngressClasses, Services, EndpointSlices, Secrets and its ConfigMap) into the route model
// of minaks's HTTP proxy (images/internal/l7), with the routing ingress-nginx v1.13 has as
// the AKS application routing add-on runs it, and the Events the controller posts.
//
// Translate is a pure function, re-run by the controller on every change. It follows
// ingress-nginx's own steps (internal/ingress/controller/controller.go), so that its quirks
// come out the same:
//
//	class filter (IsOurs) ─► per Ingress: deep inspection of paths, annotation-value-word-
//	blocklist, annotations (package annotations: validation, risk, defaults)
//	─► sort, oldest first ─► upstreams per "<ns>-<service>-<port>" with endpoint addresses
//	─► servers per host (first Ingress wins), root location, aliases, certificates
//	─► locations per path (first Ingress wins) ─► canaries merged into their main upstream
//	─► custom default backends ─► locations sorted, Prefix "/foo" split into "/foo/" and
//	exact "/foo" ─► routes in nginx's selection order
//
// Two things decide a server's matching, as in nginx.tmpl: if any location of a host has
// use-regex or a rewrite-target, every location of the host is a case-insensitive regex
// "^<path>" tried in order (even Exact ones); otherwise exact locations win, then the longest
// string prefix. Note that ingress-nginx treats pathType ImplementationSpecific exactly as
// Prefix (k8s.SetDefaultNGINXPathType).
//
// Dump renders a configuration as text for golden tests and debugging.
package translate
