package metricsserver

import (
	"testing"

	"k8s.io/kube-openapi/pkg/validation/spec"
	metricsv1beta1 "k8s.io/metrics/pkg/apis/metrics/v1beta1"
	generatedopenapi "sigs.k8s.io/metrics-server/pkg/api/generated/openapi"
)

// TestModelNames: the definitions metrics-server serves are found by the model names of the
// types the API machinery names them by, and still by their Go names (dependencies use those).
func TestModelNames(t *testing.T) {
	defs := modelNames(generatedopenapi.GetOpenAPIDefinitions)(func(string) spec.Ref { return spec.Ref{} })
	for _, name := range []string{
		metricsv1beta1.NodeMetrics{}.OpenAPIModelName(),
		metricsv1beta1.PodMetricsList{}.OpenAPIModelName(),
		"k8s.io/metrics/pkg/apis/metrics/v1beta1.NodeMetrics",
		"k8s.io/apimachinery/pkg/apis/meta/v1.ObjectMeta",
	} {
		if _, ok := defs[name]; !ok {
			t.Errorf("no definition for %s", name)
		}
	}
}
