package approuting

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestDefaultController(t *testing.T) {
	for _, tc := range []struct {
		mode        string
		annotations map[string]string
		none        bool
		err         bool
	}{
		{mode: ModeAnnotationControlled},
		{mode: ModeExternal, annotations: map[string]string{InternalAnnotation: "false"}},
		{mode: ModeInternal, annotations: map[string]string{InternalAnnotation: "true"}},
		{mode: ModeNone, none: true},
		{mode: "internal", err: true},
		{mode: "", err: true},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			nic, err := DefaultController(tc.mode)
			switch {
			case tc.err:
				if err == nil {
					t.Fatalf("mode %q accepted", tc.mode)
				}
				return
			case err != nil:
				t.Fatal(err)
			case tc.none:
				if nic != nil {
					t.Fatalf("a default controller for None: %+v", nic)
				}
				return
			}
			want := NginxIngressControllerSpec{
				IngressClassName:        "webapprouting.kubernetes.azure.com",
				ControllerNamePrefix:    "nginx",
				LoadBalancerAnnotations: tc.annotations,
			}
			if nic.Name != "default" || !IsDefault(nic) {
				t.Errorf("named %q, IsDefault %v", nic.Name, IsDefault(nic))
			}
			if d := cmp.Diff(want, nic.Spec); d != "" {
				t.Errorf("spec (-want +got):\n%s", d)
			}
		})
	}
}

func TestValid(t *testing.T) {
	nic := func(name, prefix, class string) *NginxIngressController {
		return &NginxIngressController{ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: NginxIngressControllerSpec{ControllerNamePrefix: prefix, IngressClassName: class}}
	}
	for _, tc := range []struct {
		name string
		nic  *NginxIngressController
		want string
	}{
		{"valid", nic("x", "nginx", "nginx.approuting.kubernetes.azure.com"), ""},
		{"no prefix", nic("x", "", "c"), "spec.controllerNamePrefix must be specified"},
		{"prefix starts with a dash", nic("x", "-a", "c"), "spec.controllerNamePrefix " + subdomainReason},
		{"prefix with an uppercase letter", nic("x", "aB", "c"), "spec.controllerNamePrefix " + subdomainReason},
		{"prefix too long", nic("x", strings.Repeat("a", 61), "c"), "spec.controllerNamePrefix length must be less than or equal to 60 characters"},
		{"no class", nic("x", "p", ""), "spec.ingressClassName must be specified"},
		{"class with an underscore", nic("x", "p", "a_b"), "spec.ingressClassName " + subdomainReason},
		{"name too long", nic(strings.Repeat("n", 101), "p", "c"), "Name length must be less than or equal to 100 characters"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.nic.Valid(); got != tc.want {
				t.Errorf("Valid() = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestCollides(t *testing.T) {
	nic := func(name, class string) *NginxIngressController {
		return &NginxIngressController{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: NginxIngressControllerSpec{IngressClassName: class}}
	}
	class := func(name string) *networkingv1.IngressClass {
		return &networkingv1.IngressClass{ObjectMeta: metav1.ObjectMeta{Name: name}}
	}
	for _, tc := range []struct {
		name    string
		others  []*NginxIngressController
		classes []*networkingv1.IngressClass
		want    string
	}{
		{"nothing in the way", []*NginxIngressController{nic("default", DefaultIngressClass)}, []*networkingv1.IngressClass{class(DefaultIngressClass)}, ""},
		{"itself in the list", []*NginxIngressController{nic("new", "mine")}, nil, ""},
		{"another controller's class", []*NginxIngressController{nic("default", "mine")}, []*networkingv1.IngressClass{class("mine")},
			`spec.ingressClassName "mine" is invalid because NginxIngressController "default" already uses IngressClass "mine"`},
		{"an existing IngressClass", nil, []*networkingv1.IngressClass{class("mine")},
			`spec.ingressClassName "mine" is invalid because IngressClass "mine" already exists`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			collides, reason := nic("new", "mine").Collides(tc.others, tc.classes)
			if collides != (tc.want != "") || reason != tc.want {
				t.Errorf("Collides() = %v, %q; want %q", collides, reason, tc.want)
			}
		})
	}
}
