package gatewayapi

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	kubefake "k8s.io/client-go/kubernetes/fake"
	"sigs.k8s.io/yaml"

	"github.com/minaks/minaks/pkg/apiserver/apply"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// render writes objs as YAML documents, each ended by ---.
func render(t *testing.T, objs ...runtime.Object) []byte {
	t.Helper()
	var b bytes.Buffer
	for _, obj := range objs {
		y, err := yaml.Marshal(obj)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(y)
		b.WriteString("---\n")
	}
	return b.Bytes()
}

// golden compares got with testdata/<name>.yaml, rewriting it under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name+".yaml")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to write it)", err)
	}
	if d := cmp.Diff(string(want), string(got)); d != "" {
		t.Errorf("objects differ from %s (-want +got):\n%s", path, d)
	}
}

// TestControlPlaneGolden compares the control plane and the GatewayClass with
// testdata/control-plane.yaml.
func TestControlPlaneGolden(t *testing.T) {
	objs := append(ControlPlaneObjects(ControlPlaneOptions{}), GatewayClass())
	golden(t, "control-plane", render(t, objs...))
}

// TestControlPlaneAsAKSShowsIt checks what AKS's documentation shows of the control plane.
func TestControlPlaneAsAKSShowsIt(t *testing.T) {
	objs := ControlPlaneObjects(ControlPlaneOptions{ImageTag: "v1.28.6-1"})
	byKind := map[string][]metav1.Object{}
	for _, obj := range objs {
		kind := obj.GetObjectKind().GroupVersionKind().Kind
		byKind[kind] = append(byKind[kind], obj.(metav1.Object))
		m := obj.(metav1.Object)
		if kind != "Namespace" && kind != "ClusterRole" && kind != "ClusterRoleBinding" && m.GetNamespace() != IstioNamespace {
			t.Errorf("%s %s in namespace %q", kind, m.GetName(), m.GetNamespace())
		}
	}
	for _, kind := range []string{"Deployment", "Service", "ServiceAccount", "HorizontalPodAutoscaler", "PodDisruptionBudget"} {
		if len(byKind[kind]) != 1 || byKind[kind][0].GetName() != "istiod" {
			t.Errorf("%s: %v, want one named istiod", kind, byKind[kind])
		}
	}
	for _, obj := range objs {
		switch o := obj.(type) {
		case *appsv1.Deployment:
			if img := o.Spec.Template.Spec.Containers[0].Image; img != "mcr.microsoft.com/oss/v2/istio/pilot:v1.28.6-1" {
				t.Errorf("istiod image %s", img)
			}
			if o.Spec.Replicas != nil {
				t.Error("istiod's replicas are set: they are the HPA's")
			}
		case *autoscalingv2.HorizontalPodAutoscaler:
			if *o.Spec.MinReplicas != 2 || o.Spec.MaxReplicas != 5 || *o.Spec.Metrics[0].Resource.Target.AverageUtilization != 80 {
				t.Errorf("istiod HPA %+v, want 2–5 at 80 %% CPU", o.Spec)
			}
		case *v1.ConfigMap:
			if o.Name == ClassDefaultsName && o.Labels[ClassDefaultsLabel] != GatewayClassName {
				t.Errorf("class defaults labels %v", o.Labels)
			}
		}
	}
	// Every object applies with the typed client.
	if err := apply.Objects(context.Background(), kubefake.NewClientset(), objs...); err != nil {
		t.Error(err)
	}
	gc := GatewayClass()
	if gc.Spec.ControllerName != "istio.io/gateway-controller" || gc.Spec.ParametersRef != nil {
		t.Errorf("GatewayClass spec %+v", gc.Spec)
	}
}

func TestApplyGatewayClassCreatesOnly(t *testing.T) {
	ctx := context.Background()
	dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(),
		map[schema.GroupVersionResource]string{GatewayClassResource: "GatewayClassList"})
	if err := ApplyGatewayClass(ctx, dyn, GatewayClass()); err != nil {
		t.Fatal(err)
	}
	// A user's change stays: istiod only recreates a missing class.
	u, err := dyn.Resource(GatewayClassResource).Get(ctx, GatewayClassName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	u.Object["spec"].(map[string]any)["description"] = "mine"
	if _, err := dyn.Resource(GatewayClassResource).Update(ctx, u, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := ApplyGatewayClass(ctx, dyn, GatewayClass()); err != nil {
		t.Fatal(err)
	}
	u, err = dyn.Resource(GatewayClassResource).Get(ctx, GatewayClassName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if d := u.Object["spec"].(map[string]any)["description"]; d != "mine" {
		t.Errorf("description %v: the class was overwritten", d)
	}
}

func TestRemoveControlPlane(t *testing.T) {
	ctx := context.Background()
	client := kubefake.NewClientset()
	dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(),
		map[schema.GroupVersionResource]string{GatewayClassResource: "GatewayClassList"})
	if err := apply.Objects(ctx, client, ControlPlaneObjects(ControlPlaneOptions{})...); err != nil {
		t.Fatal(err)
	}
	if err := ApplyGatewayClass(ctx, dyn, GatewayClass()); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := RemoveControlPlane(ctx, client, dyn); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := dyn.Resource(GatewayClassResource).Get(ctx, GatewayClassName, metav1.GetOptions{}); err == nil {
		t.Error("the GatewayClass is left")
	}
	if _, err := client.CoreV1().Namespaces().Get(ctx, IstioNamespace, metav1.GetOptions{}); err == nil {
		t.Error("the namespace is left")
	}
	if crs, _ := client.RbacV1().ClusterRoles().List(ctx, metav1.ListOptions{}); len(crs.Items) != 0 {
		t.Errorf("%d ClusterRoles left", len(crs.Items))
	}
}
