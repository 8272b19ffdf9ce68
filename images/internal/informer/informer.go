// Package informer holds what the built-in controllers (ingress-nginx, istiod) share about
// client-go informers.
package informer

import "k8s.io/client-go/tools/cache"

// ListOf returns the objects of type T that inf holds.
func ListOf[T any](inf cache.SharedIndexInformer) []T {
	objs := inf.GetStore().List()
	out := make([]T, 0, len(objs))
	for _, o := range objs {
		if t, ok := o.(T); ok {
			out = append(out, t)
		}
	}
	return out
}
