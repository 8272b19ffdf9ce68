package apply

import (
	"context"
	"strings"
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	v1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
)

func TestObjects(t *testing.T) {
	ctx := context.Background()
	client := fake.NewClientset()
	cm := &v1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "kube-proxy"}, Data: map[string]string{"config.conf": "a"}}
	if err := Objects(ctx, client, cm); err != nil {
		t.Fatal(err)
	}
	cm.Data["config.conf"] = "b"
	if err := Objects(ctx, client, cm); err != nil {
		t.Fatal(err)
	}
	got, err := client.CoreV1().ConfigMaps("kube-system").Get(ctx, "kube-proxy", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Data["config.conf"] != "b" {
		t.Errorf("second apply not taken: %v", got.Data)
	}
	if cm.Kind != "" {
		t.Error("Objects changed its argument")
	}
	if err := Objects(ctx, client, &v1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"}}); err == nil {
		t.Error("a Pod was applied")
	}
}

// TestObjectsKinds applies one object of each kind the add-ons use, twice (create, then update).
func TestObjectsKinds(t *testing.T) {
	ctx := context.Background()
	client := fake.NewClientset()
	meta := func(ns, name string) metav1.ObjectMeta { return metav1.ObjectMeta{Namespace: ns, Name: name} }
	for _, obj := range []runtime.Object{
		&v1.Namespace{ObjectMeta: meta("", "app-routing-system")},
		&rbacv1.Role{ObjectMeta: meta("app-routing-system", "nginx")},
		&rbacv1.RoleBinding{ObjectMeta: meta("app-routing-system", "nginx"), RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "nginx"}},
		&networkingv1.IngressClass{ObjectMeta: meta("", "webapprouting.kubernetes.azure.com"), Spec: networkingv1.IngressClassSpec{Controller: "webapprouting.kubernetes.azure.com/nginx"}},
		&autoscalingv1.HorizontalPodAutoscaler{ObjectMeta: meta("app-routing-system", "nginx"), Spec: autoscalingv1.HorizontalPodAutoscalerSpec{MaxReplicas: 100}},
		&policyv1.PodDisruptionBudget{ObjectMeta: meta("app-routing-system", "nginx")},
		&autoscalingv2.HorizontalPodAutoscaler{ObjectMeta: meta("aks-istio-system", "istiod"), Spec: autoscalingv2.HorizontalPodAutoscalerSpec{MaxReplicas: 5}},
		&admissionregistrationv1.ValidatingAdmissionPolicy{ObjectMeta: meta("", "safe-upgrades.gateway.networking.k8s.io")},
		&admissionregistrationv1.ValidatingAdmissionPolicyBinding{ObjectMeta: meta("", "safe-upgrades.gateway.networking.k8s.io")},
	} {
		for range 2 {
			if err := Objects(ctx, client, obj); err != nil {
				t.Errorf("%T: %v", obj, err)
			}
		}
	}
	if _, err := client.NetworkingV1().IngressClasses().Get(ctx, "webapprouting.kubernetes.azure.com", metav1.GetOptions{}); err != nil {
		t.Errorf("IngressClass not applied: %v", err)
	}
}

// TestResource applies a custom resource (a GatewayClass, as unstructured) through the
// dynamic client, twice, and checks that both are apply patches without the status.
func TestResource(t *testing.T) {
	ctx := context.Background()
	gvr := schema.GroupVersionResource{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "gatewayclasses"}
	dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[schema.GroupVersionResource]string{gvr: "GatewayClassList"})
	gc := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "gateway.networking.k8s.io/v1",
		"kind":       "GatewayClass",
		"metadata":   map[string]any{"name": "approuting-istio"},
		"spec":       map[string]any{"controllerName": "istio.io/gateway-controller"},
		"status":     map[string]any{"conditions": []any{}},
	}}
	var patches []string
	dyn.PrependReactor("patch", "gatewayclasses", func(action clienttesting.Action) (bool, runtime.Object, error) {
		p := action.(clienttesting.PatchAction)
		if p.GetPatchType() != types.ApplyPatchType {
			t.Errorf("patch type %s, want apply", p.GetPatchType())
		}
		patches = append(patches, string(p.GetPatch()))
		// The fake's tracker has no server-side apply: create or replace, as an apply by the
		// sole field manager does.
		obj := &unstructured.Unstructured{}
		if err := obj.UnmarshalJSON(p.GetPatch()); err != nil {
			return true, nil, err
		}
		tracker := dyn.Tracker()
		if _, err := tracker.Get(gvr, "", p.GetName()); err != nil {
			return true, obj, tracker.Create(gvr, obj, "")
		}
		return true, obj, tracker.Update(gvr, obj, "")
	})
	for range 2 {
		if err := Resource(ctx, dyn, gvr, gc); err != nil {
			t.Fatal(err)
		}
	}
	if len(patches) != 2 {
		t.Fatalf("%d patches, want 2", len(patches))
	}
	for _, p := range patches {
		if strings.Contains(p, "status") {
			t.Errorf("status sent: %s", p)
		}
	}
	got, err := dyn.Resource(gvr).Get(ctx, "approuting-istio", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if c, _, _ := unstructured.NestedString(got.Object, "spec", "controllerName"); c != "istio.io/gateway-controller" {
		t.Errorf("controllerName %q", c)
	}
	if err := Resource(ctx, dyn, gvr, &unstructured.Unstructured{Object: map[string]any{"metadata": map[string]any{"name": "x"}}}); err == nil {
		t.Error("an object without kind was applied")
	}
}
