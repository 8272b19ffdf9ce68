package nodes

import (
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/ptr"

	"github.com/minaks/minaks/pkg/azlb"
	"github.com/minaks/minaks/pkg/nodes/container"
)

var statusTestStart = metav1.NewTime(time.Date(2025, 11, 26, 1, 0, 0, 0, time.UTC))

// Container records in the states the pod worker puts them in.

// waitingCtr was never started (its image, its turn or its volumes are awaited).
func waitingCtr(name string) *ctr {
	return &ctr{spec: v1.Container{Name: name, Image: "img"}, waiting: &v1.ContainerStateWaiting{Reason: "ContainerCreating"}}
}

// runningCtr runs, ready or not (its readiness probe).
func runningCtr(name string, ready bool) *ctr {
	return &ctr{spec: v1.Container{Name: name, Image: "img"}, proc: &container.Process{}, started: true,
		id: "minaks://" + name, startedAt: statusTestStart, ready: ready, startupOK: true}
}

// exitedCtr ran and exited with code, and is not (yet) in back-off.
func exitedCtr(name string, code int32) *ctr {
	reason := "Completed"
	if code != 0 {
		reason = "Error"
	}
	return &ctr{spec: v1.Container{Name: name, Image: "img"}, started: true, id: "minaks://" + name,
		term: &v1.ContainerStateTerminated{ExitCode: code, Reason: reason, ContainerID: "minaks://" + name}}
}

// crashLoopCtr exited with code and waits in back-off to be restarted.
func crashLoopCtr(name string, code int32, restarts int32) *ctr {
	c := exitedCtr(name, code)
	c.restarts = restarts
	c.waiting = &v1.ContainerStateWaiting{Reason: "CrashLoopBackOff", Message: "back-off 40s restarting failed container=" + name}
	return c
}

// sidecarCtr makes c an init container that restarts Always, whose startup probe has passed
// or not.
func sidecarCtr(c *ctr, started bool) *ctr {
	c.spec.RestartPolicy = ptr.To(v1.ContainerRestartPolicyAlways)
	c.startupOK = started
	return c
}

// statusTestWorker is a pod worker on a node at 10.224.0.4 (and fd00:224::4) whose pod has the
// given containers, at 10.244.0.7 and fd00:244::7.
func statusTestWorker(t *testing.T, policy v1.RestartPolicy, init, ctrs []*ctr) (*podWorker, *v1.Pod) {
	t.Helper()
	pod := &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns1", Name: "p", UID: "uid-1"},
		Spec:       v1.PodSpec{RestartPolicy: policy},
		Status:     v1.PodStatus{QOSClass: v1.PodQOSBestEffort},
	}
	for _, c := range init {
		c.isInit = true
		pod.Spec.InitContainers = append(pod.Spec.InitContainers, c.spec)
	}
	for _, c := range ctrs {
		pod.Spec.Containers = append(pod.Spec.Containers, c.spec)
	}
	rt := &runtime{agent: &Agent{ID: Identity{Instance: azlb.Instance{
		Name: "aks-nodepool1-vmss000000",
		IP:   netip.MustParseAddr("10.224.0.4"),
		IPv6: netip.MustParseAddr("fd00:224::4"),
	}}}}
	w := &podWorker{
		rt: rt, uid: pod.UID, pod: pod, init: init, ctrs: ctrs, startTime: statusTestStart,
		podIPs: []netip.Addr{netip.MustParseAddr("10.244.0.7"), netip.MustParseAddr("fd00:244::7")},
	}
	// As step leaves it: initialized once every init container has completed, or started if
	// a sidecar (which may exit later, as the pod's containers finish).
	w.initialized = true
	for _, c := range init {
		if sidecar := isSidecar(&c.spec); !(c.term != nil && (c.term.ExitCode == 0 || sidecar)) && !(sidecar && c.proc != nil && c.startupOK) {
			w.initialized = false
		}
	}
	return w, pod
}

// condLines renders conditions as "Type=Status Reason: Message" lines.
func condLines(conds []v1.PodCondition) []string {
	var out []string
	for _, c := range conds {
		s := fmt.Sprintf("%s=%s", c.Type, c.Status)
		if c.Reason != "" {
			s += " " + c.Reason
		}
		if c.Message != "" {
			s += ": " + c.Message
		}
		out = append(out, s)
	}
	return out
}

func TestPodStatus(t *testing.T) {
	const (
		readyToStart = "PodReadyToStartContainers=True"
		initialized  = "Initialized=True"
		ready        = "Ready=True"
		ctrsReady    = "ContainersReady=True"
	)
	for _, tc := range []struct {
		name   string
		policy v1.RestartPolicy
		init   []*ctr
		ctrs   []*ctr
		failed bool
		phase  v1.PodPhase
		conds  []string
		// states are the containers' states, init containers first: "waiting:<reason>",
		// "running", "terminated:<code>".
		states []string
	}{
		{
			name: "init container running", policy: v1.RestartPolicyAlways,
			init:  []*ctr{runningCtr("init", false), waitingCtr("init2")},
			ctrs:  []*ctr{waitingCtr("a")},
			phase: v1.PodPending,
			conds: []string{readyToStart,
				"Initialized=False ContainersNotInitialized: containers with incomplete status: [init init2]",
				"Ready=False ContainersNotReady: containers with unready status: [a]",
				"ContainersReady=False ContainersNotReady: containers with unready status: [a]"},
			states: []string{"running", "waiting:ContainerCreating", "waiting:PodInitializing"},
		},
		{
			name: "sidecar not started yet", policy: v1.RestartPolicyAlways,
			init:  []*ctr{sidecarCtr(runningCtr("proxy", false), false), waitingCtr("init2")},
			ctrs:  []*ctr{waitingCtr("a")},
			phase: v1.PodPending,
			conds: []string{readyToStart,
				"Initialized=False ContainersNotInitialized: containers with incomplete status: [proxy init2]",
				"Ready=False ContainersNotReady: containers with unready status: [proxy a]",
				"ContainersReady=False ContainersNotReady: containers with unready status: [proxy a]"},
			states: []string{"running", "waiting:ContainerCreating", "waiting:PodInitializing"},
		},
		{
			name: "sidecar started, not ready", policy: v1.RestartPolicyNever,
			init:  []*ctr{sidecarCtr(runningCtr("proxy", false), true), exitedCtr("init2", 0)},
			ctrs:  []*ctr{runningCtr("a", true)},
			phase: v1.PodRunning,
			conds: []string{readyToStart, initialized,
				"Ready=False ContainersNotReady: containers with unready status: [proxy]",
				"ContainersReady=False ContainersNotReady: containers with unready status: [proxy]"},
			states: []string{"running", "terminated:0", "running"},
		},
		{
			name: "sidecar ready", policy: v1.RestartPolicyNever,
			init:   []*ctr{sidecarCtr(runningCtr("proxy", true), true)},
			ctrs:   []*ctr{runningCtr("a", true)},
			phase:  v1.PodRunning,
			conds:  []string{readyToStart, initialized, ready, ctrsReady},
			states: []string{"running", "running"},
		},
		{
			name: "containers done, sidecar stopped", policy: v1.RestartPolicyNever,
			init:  []*ctr{sidecarCtr(exitedCtr("proxy", 137), false)},
			ctrs:  []*ctr{exitedCtr("a", 0)},
			phase: v1.PodSucceeded,
			conds: []string{readyToStart, "Initialized=True PodCompleted",
				"Ready=False PodCompleted", "ContainersReady=False PodCompleted"},
			states: []string{"terminated:137", "terminated:0"},
		},
		{
			name: "second init container running", policy: v1.RestartPolicyAlways,
			init:  []*ctr{exitedCtr("init", 0), runningCtr("init2", false)},
			ctrs:  []*ctr{waitingCtr("a")},
			phase: v1.PodPending,
			conds: []string{readyToStart,
				"Initialized=False ContainersNotInitialized: containers with incomplete status: [init2]",
				"Ready=False ContainersNotReady: containers with unready status: [a]",
				"ContainersReady=False ContainersNotReady: containers with unready status: [a]"},
			states: []string{"terminated:0", "running", "waiting:PodInitializing"},
		},
		{
			name: "initialized, one container running", policy: v1.RestartPolicyAlways,
			init:   []*ctr{exitedCtr("init", 0)},
			ctrs:   []*ctr{runningCtr("a", true)},
			phase:  v1.PodRunning,
			conds:  []string{readyToStart, initialized, ready, ctrsReady},
			states: []string{"terminated:0", "running"},
		},
		{
			name: "one running, one still waiting", policy: v1.RestartPolicyAlways,
			ctrs:  []*ctr{runningCtr("a", true), waitingCtr("b")},
			phase: v1.PodPending,
			conds: []string{readyToStart, initialized,
				"Ready=False ContainersNotReady: containers with unready status: [b]",
				"ContainersReady=False ContainersNotReady: containers with unready status: [b]"},
			states: []string{"running", "waiting:ContainerCreating"},
		},
		{
			name: "not ready by its probe", policy: v1.RestartPolicyAlways,
			ctrs:  []*ctr{runningCtr("a", false), runningCtr("b", true)},
			phase: v1.PodRunning,
			conds: []string{readyToStart, initialized,
				"Ready=False ContainersNotReady: containers with unready status: [a]",
				"ContainersReady=False ContainersNotReady: containers with unready status: [a]"},
			states: []string{"running", "running"},
		},
		{
			name: "Never, all exit 0: Succeeded", policy: v1.RestartPolicyNever,
			ctrs:  []*ctr{exitedCtr("a", 0), exitedCtr("b", 0)},
			phase: v1.PodSucceeded,
			// As the kubelet (status.GeneratePodInitializedCondition): PodCompleted on
			// Initialized too.
			conds:  []string{readyToStart, "Initialized=True PodCompleted", "Ready=False PodCompleted", "ContainersReady=False PodCompleted"},
			states: []string{"terminated:0", "terminated:0"},
		},
		{
			name: "Never, one exits non-zero: Failed", policy: v1.RestartPolicyNever,
			ctrs:  []*ctr{exitedCtr("a", 0), exitedCtr("b", 2)},
			phase: v1.PodFailed,
			// As the kubelet (generateContainersReadyConditionForTerminalPhase): PodFailed.
			conds:  []string{readyToStart, initialized, "Ready=False PodFailed", "ContainersReady=False PodFailed"},
			states: []string{"terminated:0", "terminated:2"},
		},
		{
			name: "Never, one still running", policy: v1.RestartPolicyNever,
			ctrs:  []*ctr{exitedCtr("a", 1), runningCtr("b", true)},
			phase: v1.PodRunning,
			conds: []string{readyToStart, initialized,
				"Ready=False ContainersNotReady: containers with unready status: [a]",
				"ContainersReady=False ContainersNotReady: containers with unready status: [a]"},
			states: []string{"terminated:1", "running"},
		},
		{
			name: "OnFailure, non-zero exit: Running", policy: v1.RestartPolicyOnFailure,
			ctrs:  []*ctr{exitedCtr("a", 1)},
			phase: v1.PodRunning,
			conds: []string{readyToStart, initialized,
				"Ready=False ContainersNotReady: containers with unready status: [a]",
				"ContainersReady=False ContainersNotReady: containers with unready status: [a]"},
			states: []string{"terminated:1"},
		},
		{
			name: "OnFailure, all exit 0: Succeeded", policy: v1.RestartPolicyOnFailure,
			ctrs:   []*ctr{exitedCtr("a", 0)},
			phase:  v1.PodSucceeded,
			conds:  []string{readyToStart, "Initialized=True PodCompleted", "Ready=False PodCompleted", "ContainersReady=False PodCompleted"},
			states: []string{"terminated:0"},
		},
		{
			name: "Always, exit 0: Running", policy: v1.RestartPolicyAlways,
			ctrs:  []*ctr{exitedCtr("a", 0)},
			phase: v1.PodRunning,
			conds: []string{readyToStart, initialized,
				"Ready=False ContainersNotReady: containers with unready status: [a]",
				"ContainersReady=False ContainersNotReady: containers with unready status: [a]"},
			states: []string{"terminated:0"},
		},
		{
			name: "CrashLoopBackOff", policy: v1.RestartPolicyAlways,
			ctrs:  []*ctr{crashLoopCtr("a", 1, 3), runningCtr("b", true)},
			phase: v1.PodRunning,
			conds: []string{readyToStart, initialized,
				"Ready=False ContainersNotReady: containers with unready status: [a]",
				"ContainersReady=False ContainersNotReady: containers with unready status: [a]"},
			states: []string{"waiting:CrashLoopBackOff", "running"},
		},
		{
			name: "failed init container, Never: Failed", policy: v1.RestartPolicyNever,
			init: []*ctr{exitedCtr("init", 1)}, ctrs: []*ctr{waitingCtr("a")}, failed: true,
			phase: v1.PodFailed,
			conds: []string{readyToStart,
				"Initialized=False ContainersNotInitialized: containers with incomplete status: [init]",
				"Ready=False PodFailed", "ContainersReady=False PodFailed"},
			states: []string{"terminated:1", "waiting:PodInitializing"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, pod := statusTestWorker(t, tc.policy, tc.init, tc.ctrs)
			w.failed = tc.failed
			st := w.status(pod)
			if st.Phase != tc.phase {
				t.Errorf("phase %s, want %s", st.Phase, tc.phase)
			}
			if diff := cmp.Diff(tc.conds, condLines(st.Conditions)); diff != "" {
				t.Errorf("conditions (-want +got):\n%s", diff)
			}
			var states []string
			for _, cs := range append(append([]v1.ContainerStatus{}, st.InitContainerStatuses...), st.ContainerStatuses...) {
				switch s := cs.State; {
				case s.Waiting != nil:
					states = append(states, "waiting:"+s.Waiting.Reason)
				case s.Running != nil:
					states = append(states, "running")
				case s.Terminated != nil:
					states = append(states, fmt.Sprintf("terminated:%d", s.Terminated.ExitCode))
				default:
					states = append(states, "none")
				}
			}
			if diff := cmp.Diff(tc.states, states); diff != "" {
				t.Errorf("container states (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPodStatusContainers(t *testing.T) {
	crash := crashLoopCtr("a", 137, 3)
	crash.imageID = "sha256:abc"
	run := runningCtr("b", true)
	run.restarts = 1
	run.last = &v1.ContainerStateTerminated{ExitCode: 1, Reason: "Error"}
	w, pod := statusTestWorker(t, v1.RestartPolicyAlways, nil, []*ctr{crash, run, waitingCtr("c")})
	st := w.status(pod)
	want := []v1.ContainerStatus{
		{
			Name: "a", Image: "img", ImageID: "sha256:abc", ContainerID: "minaks://a", RestartCount: 3, Started: ptr.To(false),
			Resources: &v1.ResourceRequirements{},
			State:     v1.ContainerState{Waiting: &v1.ContainerStateWaiting{Reason: "CrashLoopBackOff", Message: "back-off 40s restarting failed container=a"}},
			LastTerminationState: v1.ContainerState{Terminated: &v1.ContainerStateTerminated{
				ExitCode: 137, Reason: "Error", ContainerID: "minaks://a"}},
		},
		{
			Name: "b", Image: "img", ContainerID: "minaks://b", RestartCount: 1, Ready: true, Started: ptr.To(true),
			Resources:            &v1.ResourceRequirements{},
			State:                v1.ContainerState{Running: &v1.ContainerStateRunning{StartedAt: statusTestStart}},
			LastTerminationState: v1.ContainerState{Terminated: &v1.ContainerStateTerminated{ExitCode: 1, Reason: "Error"}},
		},
		{
			Name: "c", Image: "img", Started: ptr.To(false), Resources: &v1.ResourceRequirements{},
			State: v1.ContainerState{Waiting: &v1.ContainerStateWaiting{Reason: "ContainerCreating"}},
		},
	}
	if diff := cmp.Diff(want, st.ContainerStatuses); diff != "" {
		t.Errorf("container statuses (-want +got):\n%s", diff)
	}

	// Addresses: the pod's, then the node's, both families; start time and QoS kept.
	if st.PodIP != "10.244.0.7" || st.HostIP != "10.224.0.4" {
		t.Errorf("podIP %s hostIP %s", st.PodIP, st.HostIP)
	}
	if diff := cmp.Diff([]v1.PodIP{{IP: "10.244.0.7"}, {IP: "fd00:244::7"}}, st.PodIPs); diff != "" {
		t.Errorf("podIPs (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]v1.HostIP{{IP: "10.224.0.4"}, {IP: "fd00:224::4"}}, st.HostIPs); diff != "" {
		t.Errorf("hostIPs (-want +got):\n%s", diff)
	}
	if st.StartTime == nil || !st.StartTime.Equal(&statusTestStart) || st.QOSClass != v1.PodQOSBestEffort {
		t.Errorf("startTime %v qosClass %s", st.StartTime, st.QOSClass)
	}
}

func TestPodStatusReadinessGates(t *testing.T) {
	const gate = "example.com/lb-ready"
	for _, tc := range []struct {
		name string
		// gateStatus is the gate's condition in the pod's status, "" for none.
		gateStatus v1.ConditionStatus
		want       []string
	}{
		{"gate condition missing", "", []string{
			"PodReadyToStartContainers=True", "Initialized=True",
			`Ready=False ReadinessGatesNotReady: corresponding condition of pod readiness gate "example.com/lb-ready" does not exist.`,
			"ContainersReady=True"}},
		// As the kubelet (status.GeneratePodReadyCondition).
		{"gate condition False", v1.ConditionFalse, []string{
			"PodReadyToStartContainers=True", "Initialized=True",
			`Ready=False ReadinessGatesNotReady: the status of pod readiness gate "example.com/lb-ready" is not "True", but False`,
			"ContainersReady=True", "example.com/lb-ready=False"}},
		{"gate condition True", v1.ConditionTrue, []string{
			"PodReadyToStartContainers=True", "Initialized=True", "Ready=True", "ContainersReady=True", "example.com/lb-ready=True"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, pod := statusTestWorker(t, v1.RestartPolicyAlways, nil, []*ctr{runningCtr("a", true)})
			pod.Spec.ReadinessGates = []v1.PodReadinessGate{{ConditionType: gate}}
			if tc.gateStatus != "" {
				pod.Status.Conditions = []v1.PodCondition{{Type: gate, Status: tc.gateStatus}}
			}
			got := condLines(w.status(pod).Conditions)
			sort.Strings(got)
			want := append([]string{}, tc.want...)
			sort.Strings(want)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("conditions (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPodStatusConditionTimes(t *testing.T) {
	w, pod := statusTestWorker(t, v1.RestartPolicyAlways, nil, []*ctr{runningCtr("a", false)})
	t0 := metav1.NewTime(time.Date(2025, 11, 26, 0, 0, 0, 0, time.UTC))
	pod.Status.Conditions = []v1.PodCondition{
		{Type: v1.PodScheduled, Status: v1.ConditionTrue, LastTransitionTime: t0},
		{Type: v1.PodReadyToStartContainers, Status: v1.ConditionTrue, LastTransitionTime: t0},
		{Type: v1.PodInitialized, Status: v1.ConditionTrue, LastTransitionTime: t0},
		{Type: v1.PodReady, Status: v1.ConditionTrue, LastTransitionTime: t0},
		{Type: v1.ContainersReady, Status: v1.ConditionTrue, LastTransitionTime: t0},
		{Type: v1.DisruptionTarget, Status: v1.ConditionTrue, Reason: "EvictionByEvictionAPI", LastTransitionTime: t0},
	}
	before := time.Now().Add(-time.Second)
	st := w.status(pod)
	got := map[v1.PodConditionType]v1.PodCondition{}
	for _, c := range st.Conditions {
		if _, dup := got[c.Type]; dup {
			t.Errorf("condition %s twice", c.Type)
		}
		got[c.Type] = c
	}
	// Unchanged conditions keep their time, and conditions others own are kept as they are.
	for _, typ := range []v1.PodConditionType{v1.PodScheduled, v1.PodReadyToStartContainers, v1.PodInitialized, v1.DisruptionTarget} {
		if c, ok := got[typ]; !ok || !c.LastTransitionTime.Equal(&t0) || c.Status != v1.ConditionTrue {
			t.Errorf("%s: %+v, want True since %s", typ, c, t0)
		}
	}
	if got[v1.DisruptionTarget].Reason != "EvictionByEvictionAPI" {
		t.Errorf("DisruptionTarget not kept: %+v", got[v1.DisruptionTarget])
	}
	// Changed ones move to now.
	for _, typ := range []v1.PodConditionType{v1.PodReady, v1.ContainersReady} {
		if c := got[typ]; c.Status != v1.ConditionFalse || c.LastTransitionTime.Time.Before(before) {
			t.Errorf("%s: %+v, want False since now", typ, c)
		}
	}
}

func TestNextBackoff(t *testing.T) {
	var got []time.Duration
	b := time.Duration(0)
	for range 8 {
		b = nextBackoff(b)
		got = append(got, b)
	}
	want := []time.Duration{10 * time.Second, 20 * time.Second, 40 * time.Second, 80 * time.Second, 160 * time.Second,
		5 * time.Minute, 5 * time.Minute, 5 * time.Minute}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("back-offs (-want +got):\n%s", diff)
	}
}

// TestResize: a resize is admitted when the node has room for the pod's new requests
// (Infeasible beyond its allocatable, Deferred while the other pods leave too little), and the
// status then reports the new resources; the resize completes, its conditions go.
func TestResize(t *testing.T) {
	a := exitedCtr("a", 0)
	a.spec.Resources = v1.ResourceRequirements{Requests: v1.ResourceList{v1.ResourceCPU: resource.MustParse("100m")}}
	w, pod := statusTestWorker(t, v1.RestartPolicyAlways, nil, []*ctr{a})
	recorder := record.NewFakeRecorder(10)
	w.rt.recorder = recorder
	w.rt.env = &envSource{allocatable: v1.ResourceList{v1.ResourceCPU: resource.MustParse("2"), v1.ResourceMemory: resource.MustParse("4Gi")}}
	other, _ := statusTestWorker(t, v1.RestartPolicyAlways, nil, []*ctr{runningCtr("b", true)})
	other.ctrs[0].spec.Resources.Requests = v1.ResourceList{v1.ResourceCPU: resource.MustParse("1500m")}
	w.rt.agent.sandboxes = &Sandboxes{byName: map[string]*podWorker{"ns1/p": w, "ns1/other": other}}
	other.pod.Spec.Containers[0] = other.ctrs[0].spec

	for _, tc := range []struct {
		cpu, pending, resources, event string
	}{
		{"3", "PodResizePending=True Infeasible: Node didn't have enough capacity: cpu, requested: 3000, capacity: 2000", "100m", "Warning ResizeInfeasible"},
		{"1", "PodResizePending=True Deferred: Node didn't have enough resource: cpu, requested: 1000, used: 1500, capacity: 2000", "100m", "Warning ResizeDeferred"},
		{"400m", "PodResizeInProgress=True", "400m", "Normal ResizeStarted"},
	} {
		pod = pod.DeepCopy()
		pod.Generation++
		pod.Spec.Containers[0].Resources.Requests = v1.ResourceList{v1.ResourceCPU: resource.MustParse(tc.cpu)}
		w.pod = pod
		w.resize(pod)
		st := w.status(pod)
		var resize []string
		for _, c := range condLines(st.Conditions) {
			if strings.HasPrefix(c, "PodResize") {
				resize = append(resize, c)
			}
		}
		if len(resize) != 1 || resize[0] != tc.pending {
			t.Errorf("cpu %s: resize conditions %q, want %q", tc.cpu, resize, tc.pending)
		}
		cs := st.ContainerStatuses[0]
		if got := cs.Resources.Requests.Cpu().String(); got != tc.resources || cs.AllocatedResources.Cpu().String() != tc.resources {
			t.Errorf("cpu %s: status resources %v, allocated %v; want %s", tc.cpu, cs.Resources, cs.AllocatedResources, tc.resources)
		}
		if st.ObservedGeneration != pod.Generation {
			t.Errorf("cpu %s: observedGeneration %d, want %d", tc.cpu, st.ObservedGeneration, pod.Generation)
		}
		if e := <-recorder.Events; !strings.HasPrefix(e, tc.event) {
			t.Errorf("cpu %s: event %q, want %s", tc.cpu, e, tc.event)
		}
	}
	// Applied: the resize completes.
	w.resize(pod)
	if st := w.status(pod); slices.ContainsFunc(st.Conditions, func(c v1.PodCondition) bool { return strings.HasPrefix(string(c.Type), "PodResize") }) {
		t.Errorf("resize conditions once it completed: %v", condLines(st.Conditions))
	}
	if e := <-recorder.Events; !strings.HasPrefix(e, "Normal ResizeCompleted Pod resize completed") {
		t.Errorf("event %q, want ResizeCompleted", e)
	}
}

// TestNeedsRestart: only a resource that changes and whose resizePolicy is RestartContainer
// restarts the container.
func TestNeedsRestart(t *testing.T) {
	have := v1.Container{Resources: v1.ResourceRequirements{
		Requests: v1.ResourceList{v1.ResourceCPU: resource.MustParse("100m"), v1.ResourceMemory: resource.MustParse("64Mi")},
		Limits:   v1.ResourceList{v1.ResourceMemory: resource.MustParse("128Mi")},
	}}
	memRestarts := []v1.ContainerResizePolicy{{ResourceName: v1.ResourceMemory, RestartPolicy: v1.RestartContainer}, {ResourceName: v1.ResourceCPU, RestartPolicy: v1.NotRequired}}
	for _, tc := range []struct {
		name    string
		change  func(c *v1.Container)
		policy  []v1.ContainerResizePolicy
		restart bool
	}{
		{"cpu request, cpu NotRequired", func(c *v1.Container) { c.Resources.Requests[v1.ResourceCPU] = resource.MustParse("200m") }, memRestarts, false},
		{"memory limit, memory RestartContainer", func(c *v1.Container) { c.Resources.Limits[v1.ResourceMemory] = resource.MustParse("256Mi") }, memRestarts, true},
		{"memory limit, no policy", func(c *v1.Container) { c.Resources.Limits[v1.ResourceMemory] = resource.MustParse("256Mi") }, nil, false},
		{"equal memory, RestartContainer", func(c *v1.Container) { c.Resources.Limits[v1.ResourceMemory] = resource.MustParse("134217728") }, memRestarts, false},
	} {
		want := *have.DeepCopy()
		tc.change(&want)
		want.ResizePolicy = tc.policy
		if got := needsRestart(&have, &want); got != tc.restart {
			t.Errorf("%s: restart %v, want %v", tc.name, got, tc.restart)
		}
	}
}

// TestPodStatusDeadlineExceeded: a pod the worker failed for its activeDeadlineSeconds says so.
func TestPodStatusDeadlineExceeded(t *testing.T) {
	w, pod := statusTestWorker(t, v1.RestartPolicyAlways, nil, []*ctr{exitedCtr("a", 137)})
	w.failed, w.failReason, w.failMessage = true, "DeadlineExceeded", "Pod was active on the node longer than the specified deadline"
	if st := w.status(pod); st.Phase != v1.PodFailed || st.Reason != "DeadlineExceeded" || st.Message != w.failMessage {
		t.Errorf("phase %s, reason %q, message %q; want Failed, DeadlineExceeded", st.Phase, st.Reason, st.Message)
	}
}
