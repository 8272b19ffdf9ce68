package nodes

import (
	"context"
	"fmt"
	"sort"
	"strings"

	v1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// writeStatus computes the pod's status and writes it when it changed.
func (w *podWorker) writeStatus(ctx context.Context) error {
	w.mu.Lock()
	pod := w.pod
	st := w.status(pod)
	w.mu.Unlock()
	if w.lastStatus != nil && apiequality.Semantic.DeepEqual(w.lastStatus, st) {
		return nil
	}
	p := pod.DeepCopy()
	p.Status = *st
	updated, err := w.rt.agent.Client.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, p, metav1.UpdateOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return nil
	case apierrors.IsConflict(err):
		// Someone else wrote the pod: take its version and write again.
		fresh, gerr := w.rt.agent.Client.CoreV1().Pods(pod.Namespace).Get(ctx, pod.Name, metav1.GetOptions{})
		if gerr != nil {
			return gerr
		}
		w.update(fresh)
		return err
	case err != nil:
		return err
	}
	w.lastStatus = st
	w.update(updated)
	return nil
}

// status is the pod's status as the kubelet reports it (generateAPIPodStatus), from what the
// worker knows. w.mu is held.
func (w *podWorker) status(pod *v1.Pod) *v1.PodStatus {
	st := &v1.PodStatus{
		QOSClass:           pod.Status.QOSClass,
		StartTime:          &w.startTime,
		ObservedGeneration: pod.Generation,
	}
	for _, ip := range w.podIPs {
		st.PodIPs = append(st.PodIPs, v1.PodIP{IP: ip.String()})
	}
	in := w.rt.agent.ID.Instance
	st.HostIPs = []v1.HostIP{{IP: in.IP.String()}}
	if in.IPv6.IsValid() {
		st.HostIPs = append(st.HostIPs, v1.HostIP{IP: in.IPv6.String()})
	}
	st.HostIP, st.PodIP = st.HostIPs[0].IP, st.PodIPs[0].IP

	initDone := w.initialized
	var initPending, unready []string
	for _, c := range w.init {
		cs := c.status()
		sidecar := isSidecar(&c.spec)
		if !sidecar && c.proc == nil && c.term != nil && c.term.ExitCode == 0 {
			cs.Ready = true // as the kubelet's prober marks an init container that completed
		}
		st.InitContainerStatuses = append(st.InitContainerStatuses, cs)
		if !initDone && !(sidecar && c.proc != nil && c.startupOK) && !(c.term != nil && c.term.ExitCode == 0) {
			initPending = append(initPending, c.spec.Name)
		}
		if sidecar && !cs.Ready {
			// A sidecar's readiness counts with the containers'.
			unready = append(unready, c.spec.Name)
		}
	}
	for _, c := range w.ctrs {
		cs := c.status()
		if !initDone && !c.started {
			cs.State = v1.ContainerState{Waiting: &v1.ContainerStateWaiting{Reason: "PodInitializing"}}
		}
		st.ContainerStatuses = append(st.ContainerStatuses, cs)
		if !cs.Ready {
			unready = append(unready, c.spec.Name)
		}
	}
	for _, c := range w.eph {
		st.EphemeralContainerStatuses = append(st.EphemeralContainerStatuses, c.status())
	}
	st.Phase = w.phase(pod, initDone)
	if w.failed {
		st.Reason, st.Message = w.failReason, w.failMessage
	}

	// Conditions, keeping the transition times of those that did not change.
	conds := []v1.PodCondition{{Type: v1.PodReadyToStartContainers, Status: v1.ConditionTrue}}
	initialized := v1.PodCondition{Type: v1.PodInitialized, Status: v1.ConditionTrue}
	if st.Phase == v1.PodSucceeded {
		initialized.Reason = "PodCompleted"
	}
	if !initDone {
		initialized = v1.PodCondition{Type: v1.PodInitialized, Status: v1.ConditionFalse, Reason: "ContainersNotInitialized",
			Message: fmt.Sprintf("containers with incomplete status: [%s]", strings.Join(initPending, " "))}
	}
	conds = append(conds, initialized)
	ready := v1.PodCondition{Type: v1.ContainersReady, Status: v1.ConditionTrue}
	if len(unready) > 0 || st.Phase != v1.PodRunning {
		ready = v1.PodCondition{Type: v1.ContainersReady, Status: v1.ConditionFalse, Reason: "ContainersNotReady",
			Message: fmt.Sprintf("containers with unready status: [%s]", strings.Join(unready, " "))}
		switch st.Phase {
		case v1.PodSucceeded:
			ready.Reason, ready.Message = "PodCompleted", ""
		case v1.PodFailed:
			ready.Reason, ready.Message = "PodFailed", ""
		}
	}
	conds = append(conds, ready)
	podReady := ready
	podReady.Type = v1.PodReady
	if podReady.Status == v1.ConditionTrue {
		// Readiness gates are conditions that others set on the pod (the kubelet's messages).
		var notReady []string
		for _, g := range pod.Spec.ReadinessGates {
			found := false
			for _, c := range pod.Status.Conditions {
				if c.Type == g.ConditionType {
					found = true
					if c.Status != v1.ConditionTrue {
						notReady = append(notReady, fmt.Sprintf("the status of pod readiness gate %q is not \"True\", but %v", g.ConditionType, c.Status))
					}
				}
			}
			if !found {
				notReady = append(notReady, fmt.Sprintf("corresponding condition of pod readiness gate %q does not exist.", g.ConditionType))
			}
		}
		if len(notReady) > 0 {
			podReady = v1.PodCondition{Type: v1.PodReady, Status: v1.ConditionFalse, Reason: "ReadinessGatesNotReady",
				Message: strings.Join(notReady, ", ")}
		}
	}
	conds = append(conds, podReady)
	for i := range conds {
		conds[i].ObservedGeneration = pod.Generation
	}
	conds = append(conds, w.resizeConditions(pod.Generation)...)
	ours := map[v1.PodConditionType]bool{v1.PodResizePending: true, v1.PodResizeInProgress: true}
	for i := range conds {
		ours[conds[i].Type] = true
		conds[i].LastTransitionTime = metav1.Now()
		for _, old := range pod.Status.Conditions {
			if old.Type == conds[i].Type && old.Status == conds[i].Status {
				conds[i].LastTransitionTime = old.LastTransitionTime
			}
		}
	}
	for _, old := range pod.Status.Conditions {
		if !ours[old.Type] {
			conds = append(conds, old) // PodScheduled, readiness gates, DisruptionTarget
		}
	}
	sort.SliceStable(conds, func(i, j int) bool { return condOrder(conds[i].Type) < condOrder(conds[j].Type) })
	st.Conditions = conds
	return st
}

func condOrder(t v1.PodConditionType) int {
	for i, o := range []v1.PodConditionType{v1.PodReadyToStartContainers, v1.PodInitialized, v1.PodReady, v1.ContainersReady, v1.PodScheduled} {
		if t == o {
			return i
		}
	}
	return 10
}

// phase is the kubelet's getPhase.
func (w *podWorker) phase(pod *v1.Pod, initDone bool) v1.PodPhase {
	if w.failed {
		return v1.PodFailed
	}
	if !initDone {
		return v1.PodPending
	}
	var running, waiting, stopped, succeeded int
	for _, c := range w.ctrs {
		switch {
		case c.proc != nil:
			running++
		case c.term != nil && c.started:
			stopped++
			if c.term.ExitCode == 0 {
				succeeded++
			}
		case c.last != nil:
			stopped++
		default:
			waiting++
		}
	}
	switch {
	case waiting > 0:
		return v1.PodPending
	case running > 0:
		return v1.PodRunning
	case stopped > 0:
		switch pod.Spec.RestartPolicy {
		case v1.RestartPolicyAlways:
			return v1.PodRunning
		case v1.RestartPolicyOnFailure:
			if succeeded == stopped {
				return v1.PodSucceeded
			}
			return v1.PodRunning
		}
		if succeeded == stopped {
			return v1.PodSucceeded
		}
		return v1.PodFailed
	}
	return v1.PodPending
}

// status is one container's status.
func (c *ctr) status() v1.ContainerStatus {
	cs := v1.ContainerStatus{
		Name:         c.spec.Name,
		Image:        c.spec.Image,
		ImageID:      c.imageID,
		ContainerID:  c.id,
		RestartCount: c.restarts,
		Ready:        c.proc != nil && c.ready,
		Started:      ptr.To(c.proc != nil && c.startupOK),
	}
	if !c.ephemeral {
		// What it runs with (a resize applied), as the kubelet reports it.
		cs.Resources, cs.AllocatedResources = c.spec.Resources.DeepCopy(), c.spec.Resources.Requests
	}
	switch {
	case c.proc != nil:
		cs.State.Running = &v1.ContainerStateRunning{StartedAt: c.startedAt}
	case c.waiting != nil:
		cs.State.Waiting = c.waiting
	case c.term != nil:
		cs.State.Terminated = c.term
	}
	if c.last != nil {
		cs.LastTerminationState.Terminated = c.last
	}
	if c.term != nil && c.waiting != nil {
		// Waiting to restart: the exit is the last state.
		cs.LastTerminationState.Terminated = c.term
	}
	return cs
}
