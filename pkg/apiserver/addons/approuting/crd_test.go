package approuting

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	crdvalidation "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/validation"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	structuraldefaulting "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	"sigs.k8s.io/yaml"
)

// internalCRD is CRD() defaulted and converted as the API server stores it.
func internalCRD(t *testing.T) *apiextensions.CustomResourceDefinition {
	t.Helper()
	v1crd := CRD()
	apiextensionsv1.SetObjectDefaults_CustomResourceDefinition(v1crd)
	out := &apiextensions.CustomResourceDefinition{}
	if err := apiextensionsv1.Convert_v1_CustomResourceDefinition_To_apiextensions_CustomResourceDefinition(v1crd, out, nil); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestCRDIsValid runs the API server's CRD validation: a structural schema, defaults that
// validate, CEL rules that compile within their cost budget.
func TestCRDIsValid(t *testing.T) {
	if errs := crdvalidation.ValidateCustomResourceDefinition(context.Background(), internalCRD(t)); len(errs) > 0 {
		t.Errorf("the API server would reject the CRD: %v", errs.ToAggregate())
	}
}

func TestCRDGolden(t *testing.T) {
	got, err := yaml.Marshal(CRD())
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", "crd.yaml")
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
		t.Errorf("CRD differs from %s (-want +got):\n%s", path, d)
	}
}

// TestCRDAdmits runs objects through the CRD as the API server does on create or update:
// defaulting, the OpenAPI schema, then the CEL rules. Each case names what it checks.
func TestCRDAdmits(t *testing.T) {
	crd := internalCRD(t)
	// The internal version keeps a schema shared by all versions at the top.
	openAPI := crd.Spec.Validation.OpenAPIV3Schema
	s, err := structuralschema.NewStructural(openAPI)
	if err != nil {
		t.Fatal(err)
	}
	schemaValidator, _, err := validation.NewSchemaValidator(openAPI)
	if err != nil {
		t.Fatal(err)
	}
	celValidator := cel.NewValidator(s, true, celconfig.PerCallLimit)

	admit := func(obj, old map[string]any) (map[string]any, field.ErrorList) {
		structuraldefaulting.Default(obj, s)
		var errs field.ErrorList
		if old == nil {
			errs = validation.ValidateCustomResource(nil, obj, schemaValidator)
		} else {
			structuraldefaulting.Default(old, s)
			errs = validation.ValidateCustomResourceUpdate(nil, obj, old, schemaValidator)
		}
		var oldObj any
		if old != nil {
			oldObj = old
		}
		celErrs, _ := celValidator.Validate(context.Background(), nil, s, obj, oldObj, celconfig.RuntimeCELCostBudget)
		return obj, append(errs, celErrs...)
	}
	nic := func(spec map[string]any) map[string]any {
		obj := map[string]any{"apiVersion": SchemeGroupVersion.String(), "kind": Kind, "metadata": map[string]any{"name": "x"}}
		if spec != nil {
			obj["spec"] = spec
		}
		return obj
	}

	for _, tc := range []struct {
		name     string
		obj, old map[string]any
		wantSpec map[string]any // after defaulting, when admitted
		wantErr  string         // in the errors, when not
	}{
		{
			name:     "no spec: CRD defaults",
			obj:      nic(nil),
			wantSpec: map[string]any{"ingressClassName": "nginx.approuting.kubernetes.azure.com", "controllerNamePrefix": "nginx"},
		},
		{
			name:     "prefix only: class defaulted",
			obj:      nic(map[string]any{"controllerNamePrefix": "mine"}),
			wantSpec: map[string]any{"ingressClassName": "nginx.approuting.kubernetes.azure.com", "controllerNamePrefix": "mine"},
		},
		{
			name: "certificate without forceSSLRedirect: defaulted false",
			obj:  nic(map[string]any{"defaultSSLCertificate": map[string]any{"secret": map[string]any{"name": "tls", "namespace": "web"}}}),
			wantSpec: map[string]any{"ingressClassName": "nginx.approuting.kubernetes.azure.com", "controllerNamePrefix": "nginx",
				"defaultSSLCertificate": map[string]any{"secret": map[string]any{"name": "tls", "namespace": "web"}, "forceSSLRedirect": false}},
		},
		{
			name:    "uppercase class name",
			obj:     nic(map[string]any{"ingressClassName": "Nginx"}),
			wantErr: "spec.ingressClassName",
		},
		{
			name:    "dot in the prefix",
			obj:     nic(map[string]any{"controllerNamePrefix": "a.b"}),
			wantErr: "spec.controllerNamePrefix",
		},
		{
			name:    "prefix over 60 characters",
			obj:     nic(map[string]any{"controllerNamePrefix": strings.Repeat("a", 61)}),
			wantErr: "spec.controllerNamePrefix",
		},
		{
			name:    "ingressClassName is immutable",
			obj:     nic(map[string]any{"ingressClassName": "b"}),
			old:     nic(map[string]any{"ingressClassName": "a"}),
			wantErr: "Value is immutable",
		},
		{
			name:    "controllerNamePrefix is immutable",
			obj:     nic(map[string]any{"controllerNamePrefix": "b"}),
			old:     nic(map[string]any{"controllerNamePrefix": "a"}),
			wantErr: "Value is immutable",
		},
		{
			name:    "forceSSLRedirect without a certificate",
			obj:     nic(map[string]any{"defaultSSLCertificate": map[string]any{"forceSSLRedirect": true}}),
			wantErr: "self.forceSSLRedirect",
		},
		{
			name:    "keyVaultURI not a URL",
			obj:     nic(map[string]any{"defaultSSLCertificate": map[string]any{"keyVaultURI": "not a url"}}),
			wantErr: "isURL",
		},
		{
			name: "secret and keyVaultURI both",
			obj: nic(map[string]any{"defaultSSLCertificate": map[string]any{
				"secret": map[string]any{"name": "tls", "namespace": "web"}, "keyVaultURI": "https://v.vault.azure.net/certificates/c"}}),
			wantErr: "spec.defaultSSLCertificate",
		},
		{
			name:    "minReplicas above maxReplicas",
			obj:     nic(map[string]any{"scaling": map[string]any{"minReplicas": int64(5), "maxReplicas": int64(3)}}),
			wantErr: "self.minReplicas <= self.maxReplicas",
		},
		{
			name:    "unknown threshold",
			obj:     nic(map[string]any{"scaling": map[string]any{"threshold": "fast"}}),
			wantErr: "spec.scaling.threshold",
		},
		{
			name:    "default backend without namespace",
			obj:     nic(map[string]any{"defaultBackendService": map[string]any{"name": "b"}}),
			wantErr: "spec.defaultBackendService.namespace",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, errs := admit(runtime.DeepCopyJSON(tc.obj), tc.old)
			if tc.wantErr == "" {
				if len(errs) > 0 {
					t.Fatalf("rejected: %v", errs.ToAggregate())
				}
				if d := cmp.Diff(tc.wantSpec, got["spec"]); d != "" {
					t.Errorf("spec after defaulting (-want +got):\n%s", d)
				}
				return
			}
			if errs.ToAggregate() == nil || !strings.Contains(errs.ToAggregate().Error(), tc.wantErr) {
				t.Errorf("errors %v, want one about %q", errs.ToAggregate(), tc.wantErr)
			}
		})
	}
}
