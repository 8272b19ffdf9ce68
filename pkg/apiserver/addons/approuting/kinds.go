package approuting

import (
	"context"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// managedKind is one kind of object the operator manages for its controllers: where the
// operator watches it, and how it lists and deletes it.
type managedKind struct {
	kind       string
	namespaced bool
	// informer is the kind's informer in factory (app-routing-system for namespaced kinds).
	informer func(factory informers.SharedInformerFactory) cache.SharedIndexInformer
	list     func(ctx context.Context, c kubernetes.Interface, opts metav1.ListOptions) ([]metav1.Object, error)
	delete   func(ctx context.Context, c kubernetes.Interface, name string, opts metav1.DeleteOptions) error
}

// managedKinds are the kinds Objects returns, the namespace aside.
var managedKinds = []managedKind{
	{
		kind: "IngressClass",
		informer: func(f informers.SharedInformerFactory) cache.SharedIndexInformer {
			return f.Networking().V1().IngressClasses().Informer()
		},
		list: func(ctx context.Context, c kubernetes.Interface, opts metav1.ListOptions) ([]metav1.Object, error) {
			l, err := c.NetworkingV1().IngressClasses().List(ctx, opts)
			if err != nil {
				return nil, err
			}
			return objects(l.Items), nil
		},
		delete: func(ctx context.Context, c kubernetes.Interface, name string, opts metav1.DeleteOptions) error {
			return c.NetworkingV1().IngressClasses().Delete(ctx, name, opts)
		},
	},
	{
		kind:       "ServiceAccount",
		namespaced: true,
		informer: func(f informers.SharedInformerFactory) cache.SharedIndexInformer {
			return f.Core().V1().ServiceAccounts().Informer()
		},
		list: func(ctx context.Context, c kubernetes.Interface, opts metav1.ListOptions) ([]metav1.Object, error) {
			l, err := c.CoreV1().ServiceAccounts(Namespace).List(ctx, opts)
			if err != nil {
				return nil, err
			}
			return objects(l.Items), nil
		},
		delete: func(ctx context.Context, c kubernetes.Interface, name string, opts metav1.DeleteOptions) error {
			return c.CoreV1().ServiceAccounts(Namespace).Delete(ctx, name, opts)
		},
	},
	{
		kind: "ClusterRole",
		informer: func(f informers.SharedInformerFactory) cache.SharedIndexInformer {
			return f.Rbac().V1().ClusterRoles().Informer()
		},
		list: func(ctx context.Context, c kubernetes.Interface, opts metav1.ListOptions) ([]metav1.Object, error) {
			l, err := c.RbacV1().ClusterRoles().List(ctx, opts)
			if err != nil {
				return nil, err
			}
			return objects(l.Items), nil
		},
		delete: func(ctx context.Context, c kubernetes.Interface, name string, opts metav1.DeleteOptions) error {
			return c.RbacV1().ClusterRoles().Delete(ctx, name, opts)
		},
	},
	{
		kind:       "Role",
		namespaced: true,
		informer: func(f informers.SharedInformerFactory) cache.SharedIndexInformer {
			return f.Rbac().V1().Roles().Informer()
		},
		list: func(ctx context.Context, c kubernetes.Interface, opts metav1.ListOptions) ([]metav1.Object, error) {
			l, err := c.RbacV1().Roles(Namespace).List(ctx, opts)
			if err != nil {
				return nil, err
			}
			return objects(l.Items), nil
		},
		delete: func(ctx context.Context, c kubernetes.Interface, name string, opts metav1.DeleteOptions) error {
			return c.RbacV1().Roles(Namespace).Delete(ctx, name, opts)
		},
	},
	{
		kind: "ClusterRoleBinding",
		informer: func(f informers.SharedInformerFactory) cache.SharedIndexInformer {
			return f.Rbac().V1().ClusterRoleBindings().Informer()
		},
		list: func(ctx context.Context, c kubernetes.Interface, opts metav1.ListOptions) ([]metav1.Object, error) {
			l, err := c.RbacV1().ClusterRoleBindings().List(ctx, opts)
			if err != nil {
				return nil, err
			}
			return objects(l.Items), nil
		},
		delete: func(ctx context.Context, c kubernetes.Interface, name string, opts metav1.DeleteOptions) error {
			return c.RbacV1().ClusterRoleBindings().Delete(ctx, name, opts)
		},
	},
	{
		kind:       "RoleBinding",
		namespaced: true,
		informer: func(f informers.SharedInformerFactory) cache.SharedIndexInformer {
			return f.Rbac().V1().RoleBindings().Informer()
		},
		list: func(ctx context.Context, c kubernetes.Interface, opts metav1.ListOptions) ([]metav1.Object, error) {
			l, err := c.RbacV1().RoleBindings(Namespace).List(ctx, opts)
			if err != nil {
				return nil, err
			}
			return objects(l.Items), nil
		},
		delete: func(ctx context.Context, c kubernetes.Interface, name string, opts metav1.DeleteOptions) error {
			return c.RbacV1().RoleBindings(Namespace).Delete(ctx, name, opts)
		},
	},
	{
		kind:       "Service",
		namespaced: true,
		informer: func(f informers.SharedInformerFactory) cache.SharedIndexInformer {
			return f.Core().V1().Services().Informer()
		},
		list: func(ctx context.Context, c kubernetes.Interface, opts metav1.ListOptions) ([]metav1.Object, error) {
			l, err := c.CoreV1().Services(Namespace).List(ctx, opts)
			if err != nil {
				return nil, err
			}
			return objects(l.Items), nil
		},
		delete: func(ctx context.Context, c kubernetes.Interface, name string, opts metav1.DeleteOptions) error {
			return c.CoreV1().Services(Namespace).Delete(ctx, name, opts)
		},
	},
	{
		kind:       "Deployment",
		namespaced: true,
		informer: func(f informers.SharedInformerFactory) cache.SharedIndexInformer {
			return f.Apps().V1().Deployments().Informer()
		},
		list: func(ctx context.Context, c kubernetes.Interface, opts metav1.ListOptions) ([]metav1.Object, error) {
			l, err := c.AppsV1().Deployments(Namespace).List(ctx, opts)
			if err != nil {
				return nil, err
			}
			return objects(l.Items), nil
		},
		delete: func(ctx context.Context, c kubernetes.Interface, name string, opts metav1.DeleteOptions) error {
			return c.AppsV1().Deployments(Namespace).Delete(ctx, name, opts)
		},
	},
	{
		kind:       "ConfigMap",
		namespaced: true,
		informer: func(f informers.SharedInformerFactory) cache.SharedIndexInformer {
			return f.Core().V1().ConfigMaps().Informer()
		},
		list: func(ctx context.Context, c kubernetes.Interface, opts metav1.ListOptions) ([]metav1.Object, error) {
			l, err := c.CoreV1().ConfigMaps(Namespace).List(ctx, opts)
			if err != nil {
				return nil, err
			}
			return objects(l.Items), nil
		},
		delete: func(ctx context.Context, c kubernetes.Interface, name string, opts metav1.DeleteOptions) error {
			return c.CoreV1().ConfigMaps(Namespace).Delete(ctx, name, opts)
		},
	},
	{
		kind:       "HorizontalPodAutoscaler",
		namespaced: true,
		informer: func(f informers.SharedInformerFactory) cache.SharedIndexInformer {
			return f.Autoscaling().V1().HorizontalPodAutoscalers().Informer()
		},
		list: func(ctx context.Context, c kubernetes.Interface, opts metav1.ListOptions) ([]metav1.Object, error) {
			l, err := c.AutoscalingV1().HorizontalPodAutoscalers(Namespace).List(ctx, opts)
			if err != nil {
				return nil, err
			}
			return objects(l.Items), nil
		},
		delete: func(ctx context.Context, c kubernetes.Interface, name string, opts metav1.DeleteOptions) error {
			return c.AutoscalingV1().HorizontalPodAutoscalers(Namespace).Delete(ctx, name, opts)
		},
	},
	{
		kind:       "PodDisruptionBudget",
		namespaced: true,
		informer: func(f informers.SharedInformerFactory) cache.SharedIndexInformer {
			return f.Policy().V1().PodDisruptionBudgets().Informer()
		},
		list: func(ctx context.Context, c kubernetes.Interface, opts metav1.ListOptions) ([]metav1.Object, error) {
			l, err := c.PolicyV1().PodDisruptionBudgets(Namespace).List(ctx, opts)
			if err != nil {
				return nil, err
			}
			return objects(l.Items), nil
		},
		delete: func(ctx context.Context, c kubernetes.Interface, name string, opts metav1.DeleteOptions) error {
			return c.PolicyV1().PodDisruptionBudgets(Namespace).Delete(ctx, name, opts)
		},
	},
}

// kindNamed returns the managed kind called kind.
func kindNamed(kind string) (managedKind, bool) {
	for _, k := range managedKinds {
		if k.kind == kind {
			return k, true
		}
	}
	return managedKind{}, false
}

// objects returns pointers to items as metav1.Objects.
func objects[T any, PT interface {
	*T
	metav1.Object
}](items []T) []metav1.Object {
	out := make([]metav1.Object, len(items))
	for i := range items {
		out[i] = PT(&items[i])
	}
	return out
}
