package approuting

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// userController is a user's NginxIngressController with everything set.
func userController() *NginxIngressController {
	return &NginxIngressController{
		ObjectMeta: metav1.ObjectMeta{Name: "nginx-public", UID: "nic-uid"},
		Spec: NginxIngressControllerSpec{
			IngressClassName:         "nginx-public",
			ControllerNamePrefix:     "nginx-public",
			LoadBalancerAnnotations:  map[string]string{InternalAnnotation: "true", "service.beta.kubernetes.io/azure-load-balancer-health-probe-request-path": "/healthz"},
			LoadBalancerSourceRanges: []string{"100.0.0.0/22"},
			DefaultSSLCertificate: &DefaultSSLCertificate{
				Secret:           &Secret{Name: "fakesslname", Namespace: "fakesslnamespace"},
				ForceSSLRedirect: true,
			},
			DefaultBackendService: &NICNamespacedName{Name: "fakebackendname", Namespace: "fakebackendnamespace"},
			CustomHTTPErrors:      []int32{404, 503},
			HTTPDisabled:          true,
			Scaling:               &Scaling{MinReplicas: ptr.To[int32](15), MaxReplicas: ptr.To[int32](30), Threshold: ptr.To(RapidThreshold)},
		},
		Status: NginxIngressControllerStatus{CollisionCount: 1},
	}
}

func defaultController(t *testing.T, mode string) *NginxIngressController {
	t.Helper()
	nic, err := DefaultController(mode)
	if err != nil {
		t.Fatal(err)
	}
	nic.UID = "default-uid"
	return nic
}

// TestObjectsGolden compares Objects with testdata/<case>.yaml. Each case is named after the
// operator's fixture (pkg/manifests/fixtures/nginx/default_version/) it mirrors; the goldens
// differ from the fixtures where minaks differs: the image's registry and tag, owner references
// (the fixtures have none), and protocols written out.
func TestObjectsGolden(t *testing.T) {
	logFormat := "$remote_addr [$time_local] $status"
	for _, tc := range []struct {
		name string
		nic  func(t *testing.T) *NginxIngressController
	}{
		// The default controller: the fixtures' ingConfig (full) without and with the
		// internal annotation of each mode.
		{"full-annotationcontrolled", func(t *testing.T) *NginxIngressController { return defaultController(t, ModeAnnotationControlled) }},
		{"full", func(t *testing.T) *NginxIngressController { return defaultController(t, ModeInternal) }},
		{"full-external", func(t *testing.T) *NginxIngressController { return defaultController(t, ModeExternal) }},
		// A user's controller with every field: internal-with-custom-http-errors-cert-and-service,
		// full-with-http-disabled, full-with-other-ip-source-ranges and full-with-replicas at
		// once, under collision suffix 1.
		{"internal-with-custom-http-errors-cert-and-service-http-disabled-source-ranges-and-replicas", func(*testing.T) *NginxIngressController { return userController() }},
		{"full-with-ssl-passthrough", func(t *testing.T) *NginxIngressController {
			nic := defaultController(t, ModeInternal)
			nic.Spec.EnableSSLPassthrough = true
			return nic
		}},
		{"full-with-custom-log-format", func(t *testing.T) *NginxIngressController {
			nic := defaultController(t, ModeInternal)
			nic.Spec.LogFormat = &logFormat
			return nic
		}},
		{"internal-with-nil-ssl-cert-and-force-ssl", func(t *testing.T) *NginxIngressController {
			nic := userController()
			nic.Spec = NginxIngressControllerSpec{
				IngressClassName: "nginx-private", ControllerNamePrefix: "nginx",
				DefaultSSLCertificate: &DefaultSSLCertificate{ForceSSLRedirect: true},
			}
			nic.Status.CollisionCount = 0
			return nic
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := render(t, Objects(tc.nic(t), Options{}))
			path := filepath.Join("testdata", tc.name+".yaml")
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
				t.Errorf("Objects differ from %s (-want +got):\n%s", path, d)
			}
		})
	}
}

// render writes objs as the operator's fixtures are written: YAML documents, each ended by ---.
func render(t *testing.T, objs []runtime.Object) []byte {
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

func TestObjectsNamesAndClasses(t *testing.T) {
	for _, tc := range []struct {
		name                              string
		nic                               *NginxIngressController
		resource, class, controller, args string
	}{
		{
			name: "default controller", nic: must(DefaultController(ModeAnnotationControlled)),
			resource: "nginx", class: "webapprouting.kubernetes.azure.com", controller: "webapprouting.kubernetes.azure.com/nginx",
		},
		{
			name: "CRD defaults",
			nic: &NginxIngressController{ObjectMeta: metav1.ObjectMeta{Name: "mine"},
				Spec: NginxIngressControllerSpec{IngressClassName: DefaultUserIngressClass, ControllerNamePrefix: "nginx"}},
			resource: "nginx-0", class: "nginx.approuting.kubernetes.azure.com", controller: "approuting.kubernetes.azure.com/mine",
		},
		{
			name: "default name with another class is not the default",
			nic: &NginxIngressController{ObjectMeta: metav1.ObjectMeta{Name: "default"},
				Spec: NginxIngressControllerSpec{IngressClassName: "other", ControllerNamePrefix: "nginx"}},
			resource: "nginx-0", class: "other", controller: "approuting.kubernetes.azure.com/default",
		},
		{
			name: "collision suffix",
			nic: &NginxIngressController{ObjectMeta: metav1.ObjectMeta{Name: "b"},
				Spec:   NginxIngressControllerSpec{IngressClassName: "b", ControllerNamePrefix: "shared"},
				Status: NginxIngressControllerStatus{CollisionCount: 3}},
			resource: "shared-3", class: "b", controller: "approuting.kubernetes.azure.com/b",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			objs := Objects(tc.nic, Options{ImageTag: "v9.9.9"})
			if len(objs) != 13 {
				t.Fatalf("%d objects, want 13", len(objs))
			}
			for _, obj := range objs[1:] {
				m := obj.(metav1.Object)
				want := tc.resource
				switch obj.GetObjectKind().GroupVersionKind().Kind {
				case "IngressClass":
					want = tc.class
				case "Service":
					if m.GetName() != tc.resource {
						want += "-metrics"
					}
				}
				if m.GetName() != want {
					t.Errorf("%s named %q, want %q", obj.GetObjectKind().GroupVersionKind().Kind, m.GetName(), want)
				}
				if refs := m.GetOwnerReferences(); len(refs) != 1 || refs[0].Kind != Kind || refs[0].Name != tc.nic.Name || !ptr.Deref(refs[0].Controller, false) {
					t.Errorf("%s owner references %+v", m.GetName(), refs)
				}
			}
			if got := ControllerClass(tc.nic); got != tc.controller {
				t.Errorf("controller class %q, want %q", got, tc.controller)
			}
			d := objs[9].(*appsv1.Deployment)
			if img := d.Spec.Template.Spec.Containers[0].Image; img != Image+":v9.9.9" {
				t.Errorf("image %q", img)
			}
			if args := d.Spec.Template.Spec.Containers[0].Args; !slices.Contains(args, "--controller-class="+tc.controller) ||
				!slices.Contains(args, "--publish-service=$(POD_NAMESPACE)/"+tc.resource) {
				t.Errorf("args %q", args)
			}
		})
	}
}

func TestControllerClassIsCut(t *testing.T) {
	nic := &NginxIngressController{ObjectMeta: metav1.ObjectMeta{Name: string(bytes.Repeat([]byte("a"), 300))}}
	if got := ControllerClass(nic); len(got) != 250 {
		t.Errorf("controller class of %d characters, want 250", len(got))
	}
	nic.Name = "with:colon"
	if got := ControllerClass(nic); got != "approuting.kubernetes.azure.com/with:colon" {
		t.Errorf("controller class %q", got)
	}
}

func TestScaling(t *testing.T) {
	for _, tc := range []struct {
		name                 string
		scaling              *Scaling
		lowest, highest, cpu int32
	}{
		{"unset: 2 to 100, balanced", nil, 2, 100, 70},
		{"rapid", &Scaling{Threshold: ptr.To(RapidThreshold)}, 2, 100, 55},
		{"steady", &Scaling{Threshold: ptr.To(SteadyThreshold)}, 2, 100, 80},
		{"balanced", &Scaling{Threshold: ptr.To(BalancedThreshold)}, 2, 100, 70},
		{"both set", &Scaling{MinReplicas: ptr.To[int32](15), MaxReplicas: ptr.To[int32](30)}, 15, 30, 70},
		{"only max below the default min: min follows", &Scaling{MaxReplicas: ptr.To[int32](1)}, 1, 1, 70},
		{"only min above the default max: max follows", &Scaling{MinReplicas: ptr.To[int32](150)}, 150, 150, 70},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lowest, highest := replicas(tc.scaling)
			if lowest != tc.lowest || highest != tc.highest || targetCPU(tc.scaling) != tc.cpu {
				t.Errorf("replicas %d–%d at %d%% CPU, want %d–%d at %d%%", lowest, highest, targetCPU(tc.scaling), tc.lowest, tc.highest, tc.cpu)
			}
		})
	}
}

func TestHTTPDisabledDropsPort80(t *testing.T) {
	nic := userController()
	objs := Objects(nic, Options{})
	svc := objs[7].(*v1.Service)
	if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Port != 443 {
		t.Errorf("Service ports %+v, want 443 only", svc.Spec.Ports)
	}
	d := objs[9].(*appsv1.Deployment)
	for _, p := range d.Spec.Template.Spec.Containers[0].Ports {
		if p.ContainerPort == 80 {
			t.Errorf("container port 80 with HTTP disabled")
		}
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
