package translate

import (
	networkingv1 "k8s.io/api/networking/v1"
)

// ingressClassAnnotation is the legacy class annotation ingress-nginx still reads.
const ingressClassAnnotation = "kubernetes.io/ingress.class"

// IsOurs tells whether this controller serves ing, as ingress-nginx's store decides
// (GetIngressClass):
//
//   - spec.ingressClassName, when set, must name an IngressClass whose spec.controller is
//     --controller-class, or (with --ingress-class-by-name) whose name is --ingress-class;
//     the annotation is then not looked at;
//   - otherwise the kubernetes.io/ingress.class annotation, when present, must equal
//     --ingress-class;
//   - an Ingress with neither is served only with --watch-ingress-without-class.
//
// ingress-nginx does not look at the is-default-class annotation itself: the API server's
// DefaultIngressClass admission plugin writes the default class into ingressClassName when
// an Ingress without one is created, and an Ingress created before a class became the default
// keeps no class and is not served.
func IsOurs(opts Options, ing *networkingv1.Ingress, classes []*networkingv1.IngressClass) bool {
	if ing.Spec.IngressClassName != nil {
		name := *ing.Spec.IngressClassName
		for _, ic := range classes {
			if ic.Name != name {
				continue
			}
			if opts.IngressClassByName && ic.Name == opts.IngressClass {
				return true
			}
			return ic.Spec.Controller == opts.ControllerClass
		}
		return false
	}
	if class, ok := ing.Annotations[ingressClassAnnotation]; ok {
		return class == opts.IngressClass
	}
	return opts.WatchIngressWithoutClass
}
