package nodes

import (
	"fmt"
	"io/fs"
	"path/filepath"
	"syscall"
	"time"

	v1 "k8s.io/api/core/v1"
	resourcehelper "k8s.io/component-helpers/resource"
)

// storageCheckInterval is how often a pod with local ephemeral storage limits has its usage
// measured, as the kubelet's eviction manager monitors every 10 s.
const storageCheckInterval = 10 * time.Second

// evictedGrace is the grace period of an evicted pod's containers: the eviction manager's
// immediateEvictionGracePeriodSeconds.
const evictedGrace = time.Second

// hasStorageLimits reports whether the pod limits its local ephemeral storage: an emptyDir's
// sizeLimit or a container's ephemeral-storage limit.
func hasStorageLimits(pod *v1.Pod) bool {
	for _, vol := range pod.Spec.Volumes {
		if vol.EmptyDir != nil && vol.EmptyDir.SizeLimit != nil && vol.EmptyDir.SizeLimit.Sign() > 0 {
			return true
		}
	}
	_, ok := resourcehelper.PodLimits(pod, resourcehelper.PodResourcesOptions{})[v1.ResourceEphemeralStorage]
	return ok
}

// storageEviction returns the kubelet's eviction message when the pod uses more local
// ephemeral storage than it may, in the order the eviction manager looks: an emptyDir volume
// beyond its sizeLimit, the pod beyond the sum of its containers' limits, a container (its
// writable layer and its logs) beyond its own; "" when it does not. minaks has no image
// filesystem apart from the node's, so a container's writable layer counts, as on a node
// without a dedicated image filesystem. A memory-backed emptyDir is a directory here, not a
// tmpfs that the kernel bounds, so its sizeLimit is enforced by eviction too.
func (w *podWorker) storageEviction(pod *v1.Pod) string {
	var total int64
	for _, vol := range pod.Spec.Volumes {
		if vol.EmptyDir == nil {
			continue
		}
		used := diskUsage(w.vols.path(vol.Name))
		if limit := vol.EmptyDir.SizeLimit; limit != nil && limit.Sign() > 0 && used > limit.Value() {
			return fmt.Sprintf("Usage of EmptyDir volume %q exceeds the limit %q. ", vol.Name, limit.String())
		}
		if vol.EmptyDir.Medium != v1.StorageMediumMemory {
			total += used
		}
	}
	used := map[string]int64{}
	for _, c := range w.all() {
		if c.dir == "" {
			continue
		}
		n := diskUsage(filepath.Join(c.dir, "upper")) + diskUsage(filepath.Join(w.rt.agent.podLogDir(pod), c.spec.Name))
		used[c.spec.Name] = n
		total += n
	}
	if limit, ok := resourcehelper.PodLimits(pod, resourcehelper.PodResourcesOptions{})[v1.ResourceEphemeralStorage]; ok && total > limit.Value() {
		return fmt.Sprintf("Pod ephemeral local storage usage exceeds the total limit of containers %s. ", limit.String())
	}
	limited := append(append([]v1.Container{}, pod.Spec.Containers...), sidecars(pod)...)
	for _, c := range limited {
		if limit := c.Resources.Limits.StorageEphemeral(); limit.Value() != 0 && used[c.Name] > limit.Value() {
			return fmt.Sprintf("Container %s exceeded its local ephemeral storage limit %q. ", c.Name, limit.String())
		}
	}
	return ""
}

// sidecars are the pod's init containers that restart Always.
func sidecars(pod *v1.Pod) []v1.Container {
	var out []v1.Container
	for _, c := range pod.Spec.InitContainers {
		if isSidecar(&c) {
			out = append(out, c)
		}
	}
	return out
}

// diskUsage is the space the files under dir take, as du counts it: allocated blocks, each
// inode once. A directory that is not there uses nothing.
func diskUsage(dir string) int64 {
	var total int64
	seen := map[uint64]bool{}
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		if st, ok := info.Sys().(*syscall.Stat_t); ok && !seen[st.Ino] {
			seen[st.Ino] = true
			total += st.Blocks * 512
		}
		return nil
	})
	return total
}
