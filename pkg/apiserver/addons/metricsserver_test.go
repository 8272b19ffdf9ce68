package addons

import (
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	v1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/minaks/minaks/images"
	_ "github.com/minaks/minaks/images/metricsserver"
)

// TestMetricsServerObjects checks that the add-on's objects fit together: the APIService names
// the Service, whose target port the container serves and probes on; metrics-server may read
// the kubelets' metrics; its image is a built-in one.
func TestMetricsServerObjects(t *testing.T) {
	var svc *v1.Service
	var dep *appsv1.Deployment
	api := MetricsServerAPIService()
	var nodeMetrics bool
	for _, obj := range MetricsServerObjects() {
		switch o := obj.(type) {
		case *v1.Service:
			svc = o
		case *appsv1.Deployment:
			dep = o
		case *rbacv1.ClusterRole:
			for _, r := range o.Rules {
				nodeMetrics = nodeMetrics || slices.Contains(r.Resources, "nodes/metrics") && slices.Contains(r.Verbs, "get")
			}
		}
	}
	if svc == nil || dep == nil {
		t.Fatalf("missing objects: Service %v, Deployment %v", svc != nil, dep != nil)
	}
	if api.Name != api.Spec.Version+"."+api.Spec.Group || api.Spec.Service.Name != svc.Name || api.Spec.Service.Namespace != svc.Namespace || *api.Spec.Service.Port != svc.Spec.Ports[0].Port {
		t.Errorf("APIService %s points at %+v, not Service %s/%s:%d", api.Name, api.Spec.Service, svc.Namespace, svc.Name, svc.Spec.Ports[0].Port)
	}
	c := dep.Spec.Template.Spec.Containers[0]
	target := svc.Spec.Ports[0].TargetPort
	served := slices.ContainsFunc(c.Ports, func(p v1.ContainerPort) bool {
		return target.Type == intstr.String && p.Name == target.StrVal
	})
	if !served || !slices.Contains(c.Args, "--secure-port=4443") || c.Ports[0].ContainerPort != 4443 {
		t.Errorf("the Service's target port %v is not what the container serves: ports %+v, args %v", target, c.Ports, c.Args)
	}
	for _, p := range []*v1.Probe{c.LivenessProbe, c.ReadinessProbe} {
		if p.HTTPGet.Port != target || p.HTTPGet.Scheme != v1.URISchemeHTTPS {
			t.Errorf("probe %+v: not HTTPS on %v", p.HTTPGet, target)
		}
	}
	for k, v := range dep.Spec.Selector.MatchLabels {
		if dep.Spec.Template.Labels[k] != v || svc.Spec.Selector[k] != v {
			t.Errorf("selector %s=%s does not select the pods (%v) or is not the Service's (%v)", k, v, dep.Spec.Template.Labels, svc.Spec.Selector)
		}
	}
	if !nodeMetrics {
		t.Error("no ClusterRole grants get on nodes/metrics, which the kubelets require")
	}
	if img, err := images.Lookup(c.Image); err != nil || img.Name != "metrics-server" {
		t.Errorf("image %s is not the built-in metrics-server", c.Image)
	}
	if !strings.Contains(c.Image, ":v0.8.0") {
		t.Errorf("image %s: not the metrics-server minaks builds in", c.Image)
	}
}
