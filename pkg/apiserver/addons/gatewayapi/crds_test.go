package gatewayapi

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	extfake "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset/fake"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	kubefake "k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
	"sigs.k8s.io/yaml"
)

// moduleDir is the gateway-api module's directory in the module cache, or skips the test when
// the go command cannot tell.
func moduleDir(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command to find the gateway-api module")
	}
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "sigs.k8s.io/gateway-api").Output()
	if err != nil {
		t.Skipf("go list -m sigs.k8s.io/gateway-api: %v", err)
	}
	dir := strings.TrimSpace(string(out))
	if dir == "" {
		t.Skip("the gateway-api module is not downloaded")
	}
	return dir
}

// TestBundleIsTheModules checks that crds/ holds the module's standard channel byte for byte,
// that the module's version is the bundle version, and that bundleFiles is the order of the
// module's kustomization.
func TestBundleIsTheModules(t *testing.T) {
	dir := moduleDir(t)
	if v := filepath.Base(dir); !strings.HasSuffix(v, "@"+BundleVersion) {
		t.Errorf("module directory %s is not version %s", dir, BundleVersion)
	}
	std := filepath.Join(dir, "config", "crd", "standard")
	entries, err := os.ReadDir(std)
	if err != nil {
		t.Fatal(err)
	}
	var moduleFiles []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".yaml") && e.Name() != "kustomization.yaml" {
			moduleFiles = append(moduleFiles, e.Name())
		}
	}
	embedded, err := crdFiles.ReadDir("crds")
	if err != nil {
		t.Fatal(err)
	}
	var ours []string
	for _, e := range embedded {
		ours = append(ours, e.Name())
	}
	if !slices.Equal(moduleFiles, ours) {
		t.Errorf("crds/ holds %v, the module's standard channel %v", ours, moduleFiles)
	}
	for _, name := range moduleFiles {
		want, err := os.ReadFile(filepath.Join(std, name))
		if err != nil {
			t.Fatal(err)
		}
		got, err := crdFiles.ReadFile("crds/" + name)
		if err != nil {
			t.Errorf("crds/%s: %v", name, err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("crds/%s differs from the module's (copy it again from %s)", name, std)
		}
	}

	kust, err := os.ReadFile(filepath.Join(dir, "config", "crd", "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var k struct {
		Resources []string `json:"resources"`
	}
	if err := yaml.Unmarshal(kust, &k); err != nil {
		t.Fatal(err)
	}
	var listed []string
	for _, r := range k.Resources {
		listed = append(listed, strings.TrimPrefix(r, "standard/"))
	}
	if !slices.Equal(listed, bundleFiles) {
		t.Errorf("bundleFiles %v, the kustomization lists %v", bundleFiles, listed)
	}
}

func TestBundle(t *testing.T) {
	objs, err := Bundle()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range objs {
		got = append(got, o.Kind+" "+o.Name)
	}
	want := []string{
		"CustomResourceDefinition gatewayclasses.gateway.networking.k8s.io",
		"CustomResourceDefinition gateways.gateway.networking.k8s.io",
		"CustomResourceDefinition grpcroutes.gateway.networking.k8s.io",
		"CustomResourceDefinition httproutes.gateway.networking.k8s.io",
		"CustomResourceDefinition referencegrants.gateway.networking.k8s.io",
		"CustomResourceDefinition backendtlspolicies.gateway.networking.k8s.io",
		"CustomResourceDefinition listenersets.gateway.networking.k8s.io",
		"CustomResourceDefinition tlsroutes.gateway.networking.k8s.io",
		"ValidatingAdmissionPolicy safe-upgrades.gateway.networking.k8s.io",
		"ValidatingAdmissionPolicyBinding safe-upgrades.gateway.networking.k8s.io",
	}
	if !slices.Equal(got, want) {
		t.Errorf("bundle:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	crds, err := CRDs()
	if err != nil {
		t.Fatal(err)
	}
	for _, crd := range crds {
		if crd.Spec.Group != Group {
			t.Errorf("%s: group %s", crd.Name, crd.Spec.Group)
		}
		if v := crd.Annotations[BundleVersionAnnotation]; v != BundleVersion {
			t.Errorf("%s: bundle version %q, want %s", crd.Name, v, BundleVersion)
		}
		if ch := crd.Annotations[ChannelAnnotation]; ch != Channel {
			t.Errorf("%s: channel %q, want %s", crd.Name, ch, Channel)
		}
		if !slices.ContainsFunc(crd.Spec.Versions, func(v apiextensionsv1.CustomResourceDefinitionVersion) bool { return v.Storage && v.Served }) {
			t.Errorf("%s: no served storage version", crd.Name)
		}
	}
	policy, binding, err := SafeUpgrades()
	if err != nil {
		t.Fatal(err)
	}
	if policy.Name != SafeUpgradesPolicy || binding.Spec.PolicyName != SafeUpgradesPolicy {
		t.Errorf("policy %s, binding of %s", policy.Name, binding.Spec.PolicyName)
	}
}

// apiServer is the fake clients with what the API server adds: a CRD is Established once it
// exists, and server-side apply creates or replaces (the fakes' trackers do the rest).
type apiServer struct {
	ext  *extfake.Clientset
	kube *kubefake.Clientset
}

func newAPIServer(t *testing.T, crds ...runtime.Object) *apiServer {
	s := &apiServer{ext: extfake.NewClientset(crds...), kube: kubefake.NewClientset()}
	s.ext.PrependReactor("get", "customresourcedefinitions", func(action clienttesting.Action) (bool, runtime.Object, error) {
		get := action.(clienttesting.GetAction)
		obj, err := s.ext.Tracker().Get(action.GetResource(), "", get.GetName())
		if err != nil {
			return true, nil, err
		}
		crd := obj.(*apiextensionsv1.CustomResourceDefinition).DeepCopy()
		crd.Status.Conditions = []apiextensionsv1.CustomResourceDefinitionCondition{
			{Type: apiextensionsv1.NamesAccepted, Status: apiextensionsv1.ConditionTrue},
			{Type: apiextensionsv1.Established, Status: apiextensionsv1.ConditionTrue},
		}
		return true, crd, nil
	})
	return s
}

func TestInstallAndUninstallCRDs(t *testing.T) {
	ctx := context.Background()
	s := newAPIServer(t)
	for range 2 { // idempotent
		if err := InstallCRDs(ctx, s.ext, s.kube); err != nil {
			t.Fatal(err)
		}
	}
	list, err := s.ext.ApiextensionsV1().CustomResourceDefinitions().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 8 {
		t.Errorf("%d CRDs installed, want 8", len(list.Items))
	}
	for _, crd := range list.Items {
		for k, want := range map[string]string{BundleVersionAnnotation: BundleVersion, ChannelAnnotation: Channel, ManagedByAnnotation: ManagedByAKS} {
			if got := crd.Annotations[k]; got != want {
				t.Errorf("%s: annotation %s=%q, want %q", crd.Name, k, got, want)
			}
		}
	}
	if _, err := s.kube.AdmissionregistrationV1().ValidatingAdmissionPolicies().Get(ctx, SafeUpgradesPolicy, metav1.GetOptions{}); err != nil {
		t.Errorf("policy: %v", err)
	}
	if _, err := s.kube.AdmissionregistrationV1().ValidatingAdmissionPolicyBindings().Get(ctx, SafeUpgradesPolicy, metav1.GetOptions{}); err != nil {
		t.Errorf("policy binding: %v", err)
	}

	for range 2 { // what is gone stays gone without error
		if err := UninstallCRDs(ctx, s.ext, s.kube); err != nil {
			t.Fatal(err)
		}
	}
	list, err = s.ext.ApiextensionsV1().CustomResourceDefinitions().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 0 {
		t.Errorf("%d CRDs left", len(list.Items))
	}
	if _, err := s.kube.AdmissionregistrationV1().ValidatingAdmissionPolicies().Get(ctx, SafeUpgradesPolicy, metav1.GetOptions{}); err == nil {
		t.Error("the policy is left")
	}
}

func TestInstallCRDsRefusesOtherChannels(t *testing.T) {
	crd := func(name, channel string) *apiextensionsv1.CustomResourceDefinition {
		c := &apiextensionsv1.CustomResourceDefinition{
			ObjectMeta: metav1.ObjectMeta{Name: name + "." + Group},
			Spec:       apiextensionsv1.CustomResourceDefinitionSpec{Group: Group},
		}
		if channel != "" {
			c.Annotations = map[string]string{ChannelAnnotation: channel}
		}
		return c
	}
	for _, tc := range []struct {
		name    string
		crds    []runtime.Object
		wantErr []string
	}{
		{name: "standard CRDs of an older bundle are upgraded", crds: []runtime.Object{crd("gateways", "standard")}},
		{name: "an experimental CRD", crds: []runtime.Object{crd("gateways", "experimental")}, wantErr: []string{"gateways.gateway.networking.k8s.io", `"experimental"`}},
		{name: "an experimental-only kind", crds: []runtime.Object{crd("tcproutes", "experimental")}, wantErr: []string{"tcproutes.gateway.networking.k8s.io"}},
		{name: "no channel annotation", crds: []runtime.Object{crd("httproutes", "")}, wantErr: []string{"httproutes.gateway.networking.k8s.io", `channel ""`}},
		{name: "another group is not ours to judge", crds: []runtime.Object{&apiextensionsv1.CustomResourceDefinition{
			ObjectMeta: metav1.ObjectMeta{Name: "tcproutes.gateway.networking.x-k8s.io"}, Spec: apiextensionsv1.CustomResourceDefinitionSpec{Group: "gateway.networking.x-k8s.io"},
		}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newAPIServer(t, tc.crds...)
			err := InstallCRDs(context.Background(), s.ext, s.kube)
			if len(tc.wantErr) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil {
				t.Fatal("installed over another channel")
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}
