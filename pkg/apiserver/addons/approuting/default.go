package approuting

import (
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The modes of the default controller (`--app-routing-default-nginx-controller`, AKS's
// NginxIngressControllerType); the operator calls them standard, public, private and off.
const (
	// ModeAnnotationControlled creates the default controller with no load balancer annotation
	// (a public load balancer); users may edit its annotations and the operator keeps them.
	ModeAnnotationControlled = "AnnotationControlled"
	// ModeExternal creates it with an external load balancer: azure-load-balancer-internal
	// "false", which the operator restores if a user changes it.
	ModeExternal = "External"
	// ModeInternal creates it with an internal load balancer: azure-load-balancer-internal "true",
	// restored in the same way.
	ModeInternal = "Internal"
	// ModeNone creates no default controller; an existing one is left alone.
	ModeNone = "None"

	// InternalAnnotation is the Azure load balancer annotation the modes set.
	InternalAnnotation = "service.beta.kubernetes.io/azure-load-balancer-internal"
)

// DefaultController is the default NginxIngressController `default` for mode: class
// webapprouting.kubernetes.azure.com, prefix nginx, and for External and Internal the
// azure-load-balancer-internal annotation the operator enforces. It is nil for None, and an
// error for a mode AKS does not have.
func DefaultController(mode string) (*NginxIngressController, error) {
	nic := &NginxIngressController{
		TypeMeta:   metav1.TypeMeta{APIVersion: SchemeGroupVersion.String(), Kind: Kind},
		ObjectMeta: metav1.ObjectMeta{Name: DefaultName},
		Spec: NginxIngressControllerSpec{
			IngressClassName:     DefaultIngressClass,
			ControllerNamePrefix: DefaultResourceName,
		},
	}
	switch mode {
	case ModeAnnotationControlled:
	case ModeExternal:
		nic.Spec.LoadBalancerAnnotations = map[string]string{InternalAnnotation: "false"}
	case ModeInternal:
		nic.Spec.LoadBalancerAnnotations = map[string]string{InternalAnnotation: "true"}
	case ModeNone:
		return nil, nil
	default:
		return nil, fmt.Errorf("default NGINX ingress controller mode %q: must be one of %s, %s, %s, %s",
			mode, ModeAnnotationControlled, ModeExternal, ModeInternal, ModeNone)
	}
	return nic, nil
}
