package approuting

import (
	"maps"
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// The deep copies deepcopy-gen would write, by hand: the types are few and flat.

// DeepCopy returns a deep copy of n.
func (n *NginxIngressController) DeepCopy() *NginxIngressController {
	if n == nil {
		return nil
	}
	out := &NginxIngressController{TypeMeta: n.TypeMeta}
	n.ObjectMeta.DeepCopyInto(&out.ObjectMeta)
	out.Spec = *n.Spec.DeepCopy()
	out.Status = *n.Status.DeepCopy()
	return out
}

// DeepCopyObject implements runtime.Object.
func (n *NginxIngressController) DeepCopyObject() runtime.Object {
	if c := n.DeepCopy(); c != nil {
		return c
	}
	return nil
}

// DeepCopy returns a deep copy of l.
func (l *NginxIngressControllerList) DeepCopy() *NginxIngressControllerList {
	if l == nil {
		return nil
	}
	out := &NginxIngressControllerList{TypeMeta: l.TypeMeta}
	l.ListMeta.DeepCopyInto(&out.ListMeta)
	if l.Items != nil {
		out.Items = make([]NginxIngressController, len(l.Items))
		for i := range l.Items {
			out.Items[i] = *l.Items[i].DeepCopy()
		}
	}
	return out
}

// DeepCopyObject implements runtime.Object.
func (l *NginxIngressControllerList) DeepCopyObject() runtime.Object {
	if c := l.DeepCopy(); c != nil {
		return c
	}
	return nil
}

// DeepCopy returns a deep copy of s.
func (s *NginxIngressControllerSpec) DeepCopy() *NginxIngressControllerSpec {
	if s == nil {
		return nil
	}
	out := *s
	out.LoadBalancerAnnotations = maps.Clone(s.LoadBalancerAnnotations)
	out.LoadBalancerSourceRanges = slices.Clone(s.LoadBalancerSourceRanges)
	out.CustomHTTPErrors = slices.Clone(s.CustomHTTPErrors)
	out.DefaultSSLCertificate = s.DefaultSSLCertificate.DeepCopy()
	if s.DefaultBackendService != nil {
		b := *s.DefaultBackendService
		out.DefaultBackendService = &b
	}
	out.Scaling = s.Scaling.DeepCopy()
	out.LogFormat = clonePtr(s.LogFormat)
	return &out
}

// DeepCopy returns a deep copy of c.
func (c *DefaultSSLCertificate) DeepCopy() *DefaultSSLCertificate {
	if c == nil {
		return nil
	}
	out := *c
	out.Secret = clonePtr(c.Secret)
	out.KeyVaultURI = clonePtr(c.KeyVaultURI)
	return &out
}

// DeepCopy returns a deep copy of s.
func (s *Scaling) DeepCopy() *Scaling {
	if s == nil {
		return nil
	}
	return &Scaling{MinReplicas: clonePtr(s.MinReplicas), MaxReplicas: clonePtr(s.MaxReplicas), Threshold: clonePtr(s.Threshold)}
}

// DeepCopy returns a deep copy of s.
func (s *NginxIngressControllerStatus) DeepCopy() *NginxIngressControllerStatus {
	if s == nil {
		return nil
	}
	out := *s
	if s.Conditions != nil {
		out.Conditions = make([]metav1.Condition, len(s.Conditions))
		for i := range s.Conditions {
			s.Conditions[i].DeepCopyInto(&out.Conditions[i])
		}
	}
	out.ManagedResourceRefs = slices.Clone(s.ManagedResourceRefs)
	return &out
}

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}
