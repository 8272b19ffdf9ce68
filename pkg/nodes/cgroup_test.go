package nodes

import (
	"testing"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/minaks/minaks/pkg/nodes/container"
)

// The kubelet's numbers: a CFS quota of limits.cpu per 100 ms, shares of requests.cpu (2
// without one), the memory limit in bytes.
func TestCgroupResources(t *testing.T) {
	pod := &v1.Pod{ObjectMeta: metav1.ObjectMeta{UID: "u1"}}
	q := resource.MustParse
	for _, tc := range []struct {
		name string
		res  v1.ResourceRequirements
		want container.Resources
	}{
		{"none", v1.ResourceRequirements{}, container.Resources{CPUShares: 2}},
		{"limits", v1.ResourceRequirements{Limits: v1.ResourceList{v1.ResourceCPU: q("500m"), v1.ResourceMemory: q("32Mi")}},
			container.Resources{MemoryLimit: 32 << 20, CPUQuota: 50000, CPUPeriod: 100000, CPUShares: 2}},
		{"requests", v1.ResourceRequirements{Requests: v1.ResourceList{v1.ResourceCPU: q("1")}}, container.Resources{CPUShares: 1024}},
		{"tiny limit", v1.ResourceRequirements{Limits: v1.ResourceList{v1.ResourceCPU: q("1m")}}, container.Resources{CPUQuota: 1000, CPUPeriod: 100000, CPUShares: 2}},
	} {
		got := cgroupResources("c1", pod, &v1.Container{Name: "app", Resources: tc.res})
		tc.want.Path = "/minaks/c1/u1_app"
		if *got != tc.want {
			t.Errorf("%s: %+v, want %+v", tc.name, *got, tc.want)
		}
	}
}
