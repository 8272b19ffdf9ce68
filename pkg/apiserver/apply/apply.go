package apply

import (
	"context"
	"encoding/json"
	"fmt"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	v1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	apiregistrationv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"
	"k8s.io/utils/ptr"
)

// FieldManager is the field manager of what minaks applies.
const FieldManager = "minaks"

// Objects applies objs in order. Each is sent whole, with its kind and API version filled in;
// minaks takes ownership of the fields it sets (force), as an add-on manager does.
func Objects(ctx context.Context, client kubernetes.Interface, objs ...runtime.Object) error {
	for _, obj := range objs {
		if err := object(ctx, client, obj); err != nil {
			return err
		}
	}
	return nil
}

func object(ctx context.Context, client kubernetes.Interface, obj runtime.Object) error {
	gvks, _, err := scheme.Scheme.ObjectKinds(obj)
	if err != nil {
		return err
	}
	obj = obj.DeepCopyObject()
	obj.GetObjectKind().SetGroupVersionKind(gvks[0])
	meta, err := meta.Accessor(obj)
	if err != nil {
		return err
	}
	data, err := json.Marshal(obj)
	if err != nil {
		return err
	}
	opts := metav1.PatchOptions{FieldManager: FieldManager, Force: ptr.To(true)}
	ns, name := meta.GetNamespace(), meta.GetName()
	switch obj.(type) {
	case *v1.Namespace:
		_, err = client.CoreV1().Namespaces().Patch(ctx, name, types.ApplyPatchType, data, opts)
	case *v1.ServiceAccount:
		_, err = client.CoreV1().ServiceAccounts(ns).Patch(ctx, name, types.ApplyPatchType, data, opts)
	case *v1.ConfigMap:
		_, err = client.CoreV1().ConfigMaps(ns).Patch(ctx, name, types.ApplyPatchType, data, opts)
	case *v1.Service:
		_, err = client.CoreV1().Services(ns).Patch(ctx, name, types.ApplyPatchType, data, opts)
	case *rbacv1.ClusterRole:
		_, err = client.RbacV1().ClusterRoles().Patch(ctx, name, types.ApplyPatchType, data, opts)
	case *rbacv1.ClusterRoleBinding:
		_, err = client.RbacV1().ClusterRoleBindings().Patch(ctx, name, types.ApplyPatchType, data, opts)
	case *rbacv1.Role:
		_, err = client.RbacV1().Roles(ns).Patch(ctx, name, types.ApplyPatchType, data, opts)
	case *rbacv1.RoleBinding:
		_, err = client.RbacV1().RoleBindings(ns).Patch(ctx, name, types.ApplyPatchType, data, opts)
	case *networkingv1.IngressClass:
		_, err = client.NetworkingV1().IngressClasses().Patch(ctx, name, types.ApplyPatchType, data, opts)
	case *autoscalingv1.HorizontalPodAutoscaler:
		_, err = client.AutoscalingV1().HorizontalPodAutoscalers(ns).Patch(ctx, name, types.ApplyPatchType, data, opts)
	case *autoscalingv2.HorizontalPodAutoscaler:
		_, err = client.AutoscalingV2().HorizontalPodAutoscalers(ns).Patch(ctx, name, types.ApplyPatchType, data, opts)
	case *admissionregistrationv1.ValidatingAdmissionPolicy:
		_, err = client.AdmissionregistrationV1().ValidatingAdmissionPolicies().Patch(ctx, name, types.ApplyPatchType, data, opts)
	case *admissionregistrationv1.ValidatingAdmissionPolicyBinding:
		_, err = client.AdmissionregistrationV1().ValidatingAdmissionPolicyBindings().Patch(ctx, name, types.ApplyPatchType, data, opts)
	case *policyv1.PodDisruptionBudget:
		_, err = client.PolicyV1().PodDisruptionBudgets(ns).Patch(ctx, name, types.ApplyPatchType, data, opts)
	case *appsv1.DaemonSet:
		_, err = client.AppsV1().DaemonSets(ns).Patch(ctx, name, types.ApplyPatchType, data, opts)
	case *appsv1.Deployment:
		_, err = client.AppsV1().Deployments(ns).Patch(ctx, name, types.ApplyPatchType, data, opts)
	default:
		return fmt.Errorf("apply: %T is not a kind minaks applies", obj)
	}
	if err != nil {
		return fmt.Errorf("apply %s %s: %w", gvks[0].Kind, types.NamespacedName{Namespace: ns, Name: name}, err)
	}
	return nil
}

// APIService applies s, a kind of the aggregation layer that client-go's clientset does not
// have, through a REST client of the API server (a clientset's Discovery().RESTClient()), with
// the same field manager and force as Objects.
func APIService(ctx context.Context, rc rest.Interface, s *apiregistrationv1.APIService) error {
	s = s.DeepCopy()
	s.TypeMeta = metav1.TypeMeta{APIVersion: apiregistrationv1.SchemeGroupVersion.String(), Kind: "APIService"}
	data, err := json.Marshal(s)
	if err != nil {
		return err
	}
	err = rc.Patch(types.ApplyPatchType).
		AbsPath("/apis", apiregistrationv1.GroupName, "v1", "apiservices", s.Name).
		Param("fieldManager", FieldManager).Param("force", "true").
		Body(data).Do(ctx).Error()
	if err != nil {
		return fmt.Errorf("apply APIService %s: %w", s.Name, err)
	}
	return nil
}

// Resource applies obj, an object of a kind the typed client does not know (a custom
// resource, such as a Gateway API GatewayClass), as resource gvr through the dynamic client,
// with the same field manager and force as Objects. obj must carry its apiVersion and kind;
// its status, if any, is left out (the status subresource is its controller's).
//
//	apply.Resource(ctx, dyn, schema.GroupVersionResource{Group: "gateway.networking.k8s.io",
//		Version: "v1", Resource: "gatewayclasses"}, gatewayClass)
func Resource(ctx context.Context, dyn dynamic.Interface, gvr schema.GroupVersionResource, obj runtime.Object) error {
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return fmt.Errorf("apply %s: %w", gvr.Resource, err)
	}
	delete(u, "status")
	us := &unstructured.Unstructured{Object: u}
	if us.GetAPIVersion() == "" || us.GetKind() == "" {
		return fmt.Errorf("apply %s %s: the object has no apiVersion or kind", gvr.Resource, us.GetName())
	}
	data, err := json.Marshal(u)
	if err != nil {
		return fmt.Errorf("apply %s %s: %w", gvr.Resource, us.GetName(), err)
	}
	opts := metav1.PatchOptions{FieldManager: FieldManager, Force: ptr.To(true)}
	ns, name := us.GetNamespace(), us.GetName()
	var ri dynamic.ResourceInterface = dyn.Resource(gvr)
	if ns != "" {
		ri = dyn.Resource(gvr).Namespace(ns)
	}
	if _, err := ri.Patch(ctx, name, types.ApplyPatchType, data, opts); err != nil {
		return fmt.Errorf("apply %s %s: %w", us.GetKind(), types.NamespacedName{Namespace: ns, Name: name}, err)
	}
	return nil
}
