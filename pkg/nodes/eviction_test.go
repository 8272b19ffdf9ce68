package nodes

import (
	"os"
	"path/filepath"
	"testing"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/minaks/minaks/pkg/apiserver/config"
)

// TestStorageEviction: a pod is evicted with the kubelet's message once an emptyDir outgrows its
// sizeLimit, the pod the sum of its containers' limits, or a container its own — measured
// in blocks the files take, a container's writable layer and logs counted.
func TestStorageEviction(t *testing.T) {
	limit := func(q string) v1.ResourceRequirements {
		return v1.ResourceRequirements{Limits: v1.ResourceList{v1.ResourceEphemeralStorage: resource.MustParse(q)}}
	}
	size := resource.MustParse("1Mi")
	for _, tc := range []struct {
		name       string
		a, b       v1.ResourceRequirements
		sizeLimit  *resource.Quantity
		writeA     string // a file of 2 MiB in a's writable layer, in its logs, or in the emptyDir
		want       string
		wantLimits bool
	}{
		{name: "no limits", writeA: "upper"},
		{name: "under the limit", a: limit("5Mi"), writeA: "upper", wantLimits: true},
		// The pod's limit is the sum of those its containers set: the pod's check comes first.
		{name: "one container's limit", a: limit("1Mi"), writeA: "upper", wantLimits: true,
			want: "Pod ephemeral local storage usage exceeds the total limit of containers 1Mi. "},
		{name: "container layer", a: limit("1Mi"), b: limit("10Mi"), writeA: "upper", wantLimits: true,
			want: `Container a exceeded its local ephemeral storage limit "1Mi". `},
		{name: "container logs", a: limit("1Mi"), b: limit("4Mi"), writeA: "logs", wantLimits: true,
			want: `Container a exceeded its local ephemeral storage limit "1Mi". `},
		{name: "pod total", a: limit("1Mi"), b: limit("1Mi"), writeA: "volume", wantLimits: true,
			want: "Pod ephemeral local storage usage exceeds the total limit of containers 2Mi. "},
		{name: "emptyDir", sizeLimit: &size, writeA: "volume", wantLimits: true,
			want: `Usage of EmptyDir volume "scratch" exceeds the limit "1Mi". `},
	} {
		t.Run(tc.name, func(t *testing.T) {
			state := t.TempDir()
			pod := &v1.Pod{
				ObjectMeta: metav1.ObjectMeta{Namespace: "ns1", Name: "p", UID: "uid-1"},
				Spec: v1.PodSpec{
					Containers: []v1.Container{{Name: "a", Resources: tc.a}, {Name: "b", Resources: tc.b}},
					Volumes:    []v1.Volume{{Name: "scratch", VolumeSource: v1.VolumeSource{EmptyDir: &v1.EmptyDirVolumeSource{SizeLimit: tc.sizeLimit}}}},
				},
			}
			agent := &Agent{ID: Identity{Cluster: &config.Cluster{StateDir: state}}}
			w := &podWorker{rt: &runtime{agent: agent}, pod: pod,
				vols: &volumes{pod: pod, dir: filepath.Join(state, "volumes")},
				ctrs: []*ctr{{spec: pod.Spec.Containers[0], dir: filepath.Join(state, "a")}, {spec: pod.Spec.Containers[1], dir: filepath.Join(state, "b")}},
			}
			dir := map[string]string{
				"upper":  filepath.Join(state, "a", "upper"),
				"logs":   filepath.Join(agent.podLogDir(pod), "a"),
				"volume": w.vols.path("scratch"),
			}[tc.writeA]
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			// Random bytes: a file system that compresses still allocates them.
			data := make([]byte, 2<<20)
			for i := range data {
				data[i] = byte(i*7919 + i>>8)
			}
			if err := os.WriteFile(filepath.Join(dir, "file"), data, 0o644); err != nil {
				t.Fatal(err)
			}
			if got := hasStorageLimits(pod); got != tc.wantLimits {
				t.Errorf("hasStorageLimits = %v, want %v", got, tc.wantLimits)
			}
			if got := w.storageEviction(pod); got != tc.want {
				t.Errorf("storageEviction = %q, want %q", got, tc.want)
			}
		})
	}
	if n := diskUsage("/no/such/dir"); n != 0 {
		t.Errorf("diskUsage of a missing directory = %d", n)
	}
}
