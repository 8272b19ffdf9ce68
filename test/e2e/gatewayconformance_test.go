package e2e

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"k8s.io/apimachinery/pkg/util/sets"
	"sigs.k8s.io/gateway-api/conformance"
	confv1 "sigs.k8s.io/gateway-api/conformance/apis/v1"
	"sigs.k8s.io/gateway-api/conformance/utils/suite"
	"sigs.k8s.io/gateway-api/pkg/features"

	"github.com/minaks/minaks/images/istio/translate"
	"github.com/minaks/minaks/pkg/apiserver/addons/gatewayapi"
)

// conformanceReport is where the Gateway API conformance report is kept, in the repository.
const conformanceReport = "../conformance/gateway-api-" + gatewayapi.BundleVersion + "-report.yaml"

// conformanceClass is the GatewayClass the suite runs with: the same controller as
// approuting-istio (istio.io/gateway-controller, which istiod implements for every class), under
// the short name Istio's own conformance runs use. With approuting-istio, istiod names a
// Gateway's objects <gateway>-approuting-istio, and several of the suite's Gateways have names
// for which that is longer than the 63 characters Kubernetes allows a Service (istiod reports
// them with a Warning Event, as it would on AKS).
const conformanceClass = `
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: istio}
spec: {controllerName: istio.io/gateway-controller}
`

// TestGatewayAPIConformance runs the upstream Gateway API conformance suite (the version of the
// installed CRDs) against app routing's Gateway API implementation: profile GATEWAY-HTTP with
// the extended features the translation supports, traffic from the host to the Gateways' load
// balancer addresses. The report goes to test/conformance.
func TestGatewayAPIConformance(t *testing.T) {
	c := newTestCluster(t)
	c.mustMinaks("up", "--enable-gateway-api", "--enable-app-routing-istio")
	t.Setenv("KUBECONFIG", c.kubeconfig)
	class := filepath.Join(t.TempDir(), "class.yaml")
	if err := os.WriteFile(class, []byte(conformanceClass), 0o600); err != nil {
		t.Fatal(err)
	}
	c.mustKubectl("apply", "-f", class)

	opts := conformance.DefaultOptions(t)
	opts.GatewayClassName = "istio"
	opts.ConformanceProfiles = sets.New(suite.GatewayHTTPConformanceProfileName)
	opts.SupportedFeatures = sets.New[features.FeatureName]()
	for _, f := range translate.SupportedFeatures() {
		opts.SupportedFeatures.Insert(features.FeatureName(f))
	}
	opts.CleanupBaseResources = true
	opts.Implementation = confv1.Implementation{
		Organization: "minaks",
		Project:      "minaks",
		URL:          "https://github.com/minaks/minaks",
		Version:      "app routing Istio (approuting-istio) on minaks, " + runtime.Version(),
		Contact:      []string{"@minaks/maintainers"},
	}
	opts.Mode = "default"
	_, self, _, _ := runtime.Caller(0)
	opts.ReportOutputPath = filepath.Join(filepath.Dir(self), conformanceReport)
	if err := os.MkdirAll(filepath.Dir(opts.ReportOutputPath), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("supported features: %v", sets.List(opts.SupportedFeatures))
	conformance.RunConformanceWithOptions(t, opts)
}
