package nodes

import (
	"fmt"
	"slices"
	"strings"
	"time"

	v1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	resourcehelper "k8s.io/component-helpers/resource"
	"k8s.io/klog/v2"
	"k8s.io/kubernetes/pkg/kubelet/events"
)

// resize applies an in-place resize of the pod's containers (the pod's resize subresource
// changed their resources), as the kubelet's allocation manager and runtime do: admitted when
// the node has room for the pod's new requests (Deferred when the other pods' leave none,
// Infeasible beyond the node's allocatable), then a running container's cgroup is given its
// new limits, or, for a resource whose resizePolicy is RestartContainer, the container is
// restarted with them. A container that is not running takes them when it starts. A memory
// limit below what its container uses is refused, as the kubelet does, with nothing applied.
func (w *podWorker) resize(pod *v1.Pod) {
	type change struct {
		c    *ctr
		want v1.Container
	}
	var changes []change
	for _, c := range slices.Concat(w.init, w.ctrs) {
		want, ok := specContainer(pod, c.spec.Name)
		if ok && !(apiequality.Semantic.DeepEqual(want.Resources, c.spec.Resources) && apiequality.Semantic.DeepEqual(want.ResizePolicy, c.spec.ResizePolicy)) {
			changes = append(changes, change{c, want})
		}
	}
	if len(changes) == 0 {
		w.mu.Lock()
		w.resizePending = nil // done, or undone before it was admitted
		done := w.resizeInProgress != nil && w.resizeInProgress.Reason == "" &&
			!slices.ContainsFunc(slices.Concat(w.init, w.ctrs), func(c *ctr) bool { return c.resizeRestart })
		if done {
			w.resizeInProgress = nil
		}
		w.mu.Unlock()
		if done {
			w.rt.recorder.Eventf(pod, v1.EventTypeNormal, events.ResizeCompleted, "%s", events.PodResizeCompletedMsg(klog.Background(), pod, pod.Generation))
		}
		return
	}
	if reason, msg := w.admitResize(pod); reason != "" {
		if w.setResizeCondition(&v1.PodCondition{Type: v1.PodResizePending, Status: v1.ConditionTrue, Reason: reason, Message: msg}) {
			event := events.ResizeDeferred
			if reason == v1.PodReasonInfeasible {
				event = events.ResizeInfeasible
			}
			w.rt.recorder.Eventf(pod, v1.EventTypeWarning, event, "%s", events.PodResizePendingMsg(klog.Background(), pod, reason, msg, pod.Generation))
		}
		return
	}
	// As the kubelet, no memory limit goes below what its container uses: nothing is applied.
	var below []string
	for _, ch := range changes {
		have, want := ch.c.spec.Resources.Limits.Memory(), ch.want.Resources.Limits.Memory()
		if ch.c.proc == nil || want.IsZero() || (!have.IsZero() && want.Cmp(*have) >= 0) {
			continue
		}
		if u, err := ch.c.proc.Usage(); err != nil {
			below = append(below, fmt.Sprintf("missing container %q memory usage", ch.c.spec.Name))
		} else if u.Memory >= uint64(want.Value()) {
			below = append(below, fmt.Sprintf("attempting to set container %q memory limit (%d) below current usage (%d)", ch.c.spec.Name, want.Value(), u.Memory))
		}
	}
	if len(below) > 0 {
		msg := "cannot decrease memory limits: " + strings.Join(below, ", ")
		if w.setResizeCondition(&v1.PodCondition{Type: v1.PodResizeInProgress, Status: v1.ConditionTrue, Reason: v1.PodReasonError, Message: msg}) {
			w.rt.recorder.Eventf(pod, v1.EventTypeWarning, events.ResizeError, "Pod resize error: %s", msg)
		}
		return
	}
	if w.resizeStarted != pod.Generation {
		w.resizeStarted = pod.Generation
		w.rt.recorder.Eventf(pod, v1.EventTypeNormal, events.ResizeStarted, "%s", events.PodResizeStartedMsg(klog.Background(), pod, pod.Generation))
	}
	var failed []string
	for _, ch := range changes {
		c, want := ch.c, ch.want
		restart := c.proc != nil && needsRestart(&c.spec, &want)
		if c.proc != nil && !restart {
			if err := c.proc.Update(cgroupResources(w.rt.agent.ID.Cluster.Name, pod, &want)); err != nil {
				failed = append(failed, fmt.Sprintf("container %s: %v", c.spec.Name, err))
				continue
			}
		}
		w.mu.Lock()
		c.spec.Resources, c.spec.ResizePolicy, c.resizeRestart = want.Resources, want.ResizePolicy, restart
		w.mu.Unlock()
		if restart {
			w.rt.recorder.Eventf(pod, v1.EventTypeNormal, "Killing", "Container %s resize requires restart", c.spec.Name)
			c.proc.Stop(gracePeriod(pod))
		}
	}
	inProgress := &v1.PodCondition{Type: v1.PodResizeInProgress, Status: v1.ConditionTrue}
	if len(failed) > 0 {
		inProgress.Reason, inProgress.Message = v1.PodReasonError, strings.Join(failed, "; ")
	}
	if w.setResizeCondition(inProgress) && len(failed) > 0 {
		w.rt.recorder.Eventf(pod, v1.EventTypeWarning, events.ResizeError, "Pod resize error: %s", inProgress.Message)
	}
}

// setResizeCondition sets the resize condition of cond's type (an admitted resize is no
// longer pending: PodResizeInProgress clears PodResizePending) and tells whether it differs
// from the one before, for its Event to be told once.
func (w *podWorker) setResizeCondition(cond *v1.PodCondition) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	slot := &w.resizePending
	if cond.Type == v1.PodResizeInProgress {
		slot, w.resizePending = &w.resizeInProgress, nil
	}
	old := *slot
	*slot = cond
	return old == nil || old.Reason != cond.Reason || old.Message != cond.Message
}

// resizeNext is how soon the worker looks again at a resize under way: one waiting for room
// or that failed is tried again, one that restarts containers is complete once they run.
func (w *podWorker) resizeNext() time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case w.resizePending != nil || (w.resizeInProgress != nil && w.resizeInProgress.Reason != ""):
		return 5 * time.Second
	case w.resizeInProgress != nil:
		return time.Second
	}
	return resyncPeriod
}

// specContainer is the pod's container or init container of that name.
func specContainer(pod *v1.Pod, name string) (v1.Container, bool) {
	for _, c := range slices.Concat(pod.Spec.InitContainers, pod.Spec.Containers) {
		if c.Name == name {
			return c, true
		}
	}
	return v1.Container{}, false
}

// needsRestart tells whether going from the resources of have to those of want restarts the
// container: a resource whose requests or limits change and whose resizePolicy is
// RestartContainer.
func needsRestart(have, want *v1.Container) bool {
	for _, p := range want.ResizePolicy {
		if p.RestartPolicy != v1.RestartContainer {
			continue
		}
		if !have.Resources.Requests[p.ResourceName].Equal(want.Resources.Requests[p.ResourceName]) ||
			!have.Resources.Limits[p.ResourceName].Equal(want.Resources.Limits[p.ResourceName]) {
			return true
		}
	}
	return false
}

// admitResize is the kubelet's admission of a resize: "" when the node has room for the pod's
// new requests; Infeasible when they are beyond its allocatable, Deferred when the other pods'
// requests leave too little, with the kubelet's message.
func (w *podWorker) admitResize(pod *v1.Pod) (reason, message string) {
	allocatable := w.rt.env.allocatable
	wanted := resourcehelper.PodRequests(pod, resourcehelper.PodResourcesOptions{})
	used := v1.ResourceList{}
	for _, other := range w.rt.agent.sandboxes.workersExcept(w) {
		for name, q := range other.allocatedRequests() {
			sum := used[name]
			sum.Add(q)
			used[name] = sum
		}
	}
	for _, name := range []v1.ResourceName{v1.ResourceCPU, v1.ResourceMemory} {
		value := func(q resource.Quantity) int64 {
			if name == v1.ResourceCPU {
				return q.MilliValue()
			}
			return q.Value()
		}
		want, capacity, inUse := value(wanted[name]), value(allocatable[name]), value(used[name])
		if want > capacity {
			return v1.PodReasonInfeasible, fmt.Sprintf("Node didn't have enough capacity: %s, requested: %d, capacity: %d", name, want, capacity)
		}
		if want+inUse > capacity {
			return v1.PodReasonDeferred, fmt.Sprintf("Node didn't have enough resource: %s, requested: %d, used: %d, capacity: %d", name, want, inUse, capacity)
		}
	}
	return "", ""
}

// allocatedRequests are the requests of the pod as its containers run (their resources before
// any resize not yet applied); none once the pod is done.
func (w *podWorker) allocatedRequests() v1.ResourceList {
	w.mu.Lock()
	defer w.mu.Unlock()
	if p := w.pod.Status.Phase; p == v1.PodSucceeded || p == v1.PodFailed {
		return nil
	}
	pod := w.pod.DeepCopy()
	for _, c := range slices.Concat(w.init, w.ctrs) {
		for i := range pod.Spec.InitContainers {
			if pod.Spec.InitContainers[i].Name == c.spec.Name {
				pod.Spec.InitContainers[i].Resources = c.spec.Resources
			}
		}
		for i := range pod.Spec.Containers {
			if pod.Spec.Containers[i].Name == c.spec.Name {
				pod.Spec.Containers[i].Resources = c.spec.Resources
			}
		}
	}
	return resourcehelper.PodRequests(pod, resourcehelper.PodResourcesOptions{})
}

// resizeConditions are the pod's resize conditions for its status, with the generation they
// were observed at. w.mu is held.
func (w *podWorker) resizeConditions(generation int64) []v1.PodCondition {
	var conds []v1.PodCondition
	for _, c := range []*v1.PodCondition{w.resizePending, w.resizeInProgress} {
		if c != nil {
			cond := *c
			cond.ObservedGeneration = generation
			conds = append(conds, cond)
		}
	}
	return conds
}
