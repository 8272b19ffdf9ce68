package apply

import (
	"context"
	"testing"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	v1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
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
