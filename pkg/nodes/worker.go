package nodes

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/record"
	"k8s.io/klog/v2"
	"k8s.io/kubernetes/pkg/kubelet/network/dns"
	"k8s.io/kubernetes/pkg/kubelet/qos"
	volumevalidation "k8s.io/kubernetes/pkg/volume/validation"
	"k8s.io/kubernetes/third_party/forked/golang/expansion"
	"k8s.io/utils/ptr"

	"github.com/minaks/minaks/images"
	"github.com/minaks/minaks/pkg/nodes/container"
	"github.com/minaks/minaks/pkg/nodes/endpoint"
	"github.com/minaks/minaks/pkg/nodes/imagestore"
	"github.com/minaks/minaks/pkg/nodes/netpolicy"
)

// Restart back-off, as the kubelet's: the first restart at once, then 10 s doubling to 5 min,
// forgotten after a container has run for 10 min. Image pulls back off alike, on their own.
const (
	backoffInitial = 10 * time.Second
	backoffMax     = 5 * time.Minute
	backoffReset   = 10 * time.Minute
	// pullFailureShown is how long a failed pull shows ErrImagePull before ImagePullBackOff.
	pullFailureShown = time.Second
	// resyncPeriod is how often a pod's API-backed volumes are refreshed.
	resyncPeriod = time.Minute
)

// runtime is what every pod worker of a node shares.
type runtime struct {
	agent    *Agent
	images   *imageManager
	env      *envSource
	dns      *dns.Configurer
	recorder record.EventRecorder
	// metrics are the node's; nil in tests.
	metrics *nodeMetrics
	// memoryCapacity is the node's memory, in bytes.
	memoryCapacity int64
}

// podWorker runs one pod's containers, as the kubelet's pod worker does: volumes, then init
// containers one by one, then the containers, each restarted by the pod's restartPolicy with
// back-off, and the pod's status written whenever it changes. It is one goroutine; others talk
// to it through update and terminate, and read its containers under mu.
type podWorker struct {
	rt     *runtime
	uid    types.UID
	podIPs []netip.Addr

	mu   sync.Mutex
	pod  *v1.Pod
	init []*ctr
	ctrs []*ctr
	// eph are the pod's ephemeral containers (kubectl debug), added as the pod gets them.
	eph []*ctr

	kick        chan struct{}
	terminating chan struct{}
	terminate   sync.Once
	grace       time.Duration
	done        chan struct{}

	// Owned by the worker goroutine.
	files     podFiles
	vols      *volumes
	volErr    error
	volumesAt time.Time
	// volumesReady is whether every volume has been set up once; volRetry the current wait
	// between attempts until then.
	volumesReady bool
	volRetry     time.Duration
	// policyReady is whether the node's policy agent enforces the pod's policy (awaitPolicy);
	// policyWarned whether the wait for it has been told in an Event.
	policyReady, policyWarned bool
	failed                    bool
	// failReason and failMessage say why the pod failed, when the worker failed it (its
	// activeDeadlineSeconds passed, or it was evicted).
	failReason, failMessage string
	// storageAt is when the pod's local ephemeral storage was last measured (storageEviction).
	storageAt time.Time
	// initialized is whether the init containers have been through once: every one that runs
	// to completion has, and every sidecar (an init container that restarts Always) has
	// started. The containers start then, and the sidecars restart beside them.
	initialized bool
	startTime   metav1.Time
	lastStatus  *v1.PodStatus
	// resizePending (Deferred, Infeasible) and resizeInProgress (with reason Error when a
	// container's new limits could not be set) are the pod's resize conditions; under mu.
	resizePending, resizeInProgress *v1.PodCondition
	// resizeStarted is the pod generation whose resize was last started (told in an Event).
	resizeStarted int64
}

// ctr is one container of a pod and its history.
type ctr struct {
	spec   v1.Container
	isInit bool
	// ephemeral is whether it is an ephemeral container: run once, never restarted; in the
	// PID namespace of the container named target, if any.
	ephemeral bool
	target    string
	restarts  int32
	// started is whether it ever ran in this pod (since the daemon started).
	started bool
	proc    *container.Process
	id      string
	// image is its built-in image, stored its image from the store; neither when its
	// command runs with minaks's tools (the tools root).
	image     *images.Image
	stored    *imagestore.Image
	imageID   string
	pulled    bool
	startedAt metav1.Time
	waiting   *v1.ContainerStateWaiting
	term      *v1.ContainerStateTerminated
	last      *v1.ContainerStateTerminated
	// backoff is the restart back-off, pullBackoff the image pull's, each the kubelet's;
	// notBefore is when either allows the next attempt. pullFailure is the last pull's
	// failure ("ErrImagePull: <message>") and pullFailedAt its time.
	backoff, pullBackoff time.Duration
	notBefore            time.Time
	pullFailure          string
	pullFailedAt         time.Time
	ready                bool
	// startupOK is whether the startup probe (if any) has passed.
	startupOK bool
	// resizeRestart is whether it was stopped to start again with resized resources.
	resizeRestart bool
	// env is the running process's environment, for exec.
	env []string
	// stdout and stderr carry the running process's output to its log and to attached clients.
	stdout, stderr *fanout
	// logPath is the current log file, prevLogPath the one of the run before.
	logPath, prevLogPath string
	dir                  string
}

// newRuntime prepares what the node's pod workers share: the event recorder (as component
// "kubelet" on this node), the kubelet's DNS configurer, and the sources of environments.
func newRuntime(ctx context.Context, a *Agent, services corelisters.ServiceLister) (*runtime, error) {
	broadcaster := record.NewBroadcaster(record.WithContext(ctx))
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: a.creds.Events.CoreV1().Events("")})
	go func() {
		<-ctx.Done()
		broadcaster.Shutdown()
	}()
	recorder := broadcaster.NewRecorder(scheme.Scheme, v1.EventSource{Component: "kubelet", Host: a.ID.Instance.Name})
	node := a.ID.Status()
	return &runtime{
		agent:          a,
		images:         newImageManager(a.Images, a.ID.Cluster.ImageSource, a.Client, nodeTransport(a.NS()), a.refreshStatus),
		env:            &envSource{client: a.Client, services: services, allocatable: node.Allocatable},
		dns:            a.newDNSConfigurer(recorder),
		recorder:       recorder,
		metrics:        a.sandboxes.metrics,
		memoryCapacity: node.Capacity.Memory().Value(),
	}, nil
}

func newPodWorker(rt *runtime, pod *v1.Pod, podIPs []netip.Addr) *podWorker {
	w := &podWorker{
		rt: rt, uid: pod.UID, podIPs: podIPs, pod: pod,
		kick: make(chan struct{}, 1), terminating: make(chan struct{}), done: make(chan struct{}),
		startTime: metav1.Now(),
	}
	if pod.Status.StartTime != nil {
		w.startTime = *pod.Status.StartTime
	}
	for _, c := range pod.Spec.InitContainers {
		w.init = append(w.init, w.newCtr(c, true))
	}
	for _, c := range pod.Spec.Containers {
		w.ctrs = append(w.ctrs, w.newCtr(c, false))
	}
	return w
}

// newCtr makes a container's record, continuing the restart count of an earlier run of the
// daemon: its processes did not survive, so it starts again as a restart.
func (w *podWorker) newCtr(c v1.Container, isInit bool) *ctr {
	x := &ctr{spec: c, isInit: isInit, waiting: &v1.ContainerStateWaiting{Reason: "ContainerCreating"}}
	statuses := w.pod.Status.ContainerStatuses
	if isInit {
		statuses = w.pod.Status.InitContainerStatuses
		x.waiting.Reason = "PodInitializing"
	}
	for _, s := range statuses {
		if s.Name == c.Name && (s.State.Running != nil || s.State.Terminated != nil || s.LastTerminationState.Terminated != nil) {
			x.restarts = s.RestartCount + 1
			if s.State.Terminated != nil && isInit && !isSidecar(&c) && s.State.Terminated.ExitCode == 0 {
				x.restarts, x.term, x.started = s.RestartCount, s.State.Terminated, true
			}
		}
	}
	return x
}

// all is every container of the pod: init containers, containers, ephemeral containers.
func (w *podWorker) all() []*ctr {
	return slices.Concat(w.init, w.ctrs, w.eph)
}

// update hands the worker the pod's latest version.
func (w *podWorker) update(pod *v1.Pod) {
	w.mu.Lock()
	w.pod = pod
	w.mu.Unlock()
	w.wake()
}

func (w *podWorker) wake() {
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// stop asks the worker to stop the pod's containers within grace; done closes when they are.
func (w *podWorker) stop(grace time.Duration) {
	w.terminate.Do(func() {
		w.grace = grace
		close(w.terminating)
	})
}

// run is the worker's goroutine.
func (w *podWorker) run(ctx context.Context) {
	defer close(w.done)
	logger := klog.FromContext(ctx).WithValues("pod", klog.KObj(w.pod))
	ctx = klog.NewContext(ctx, logger)
	// A step (a pull above all) ends early when the pod is going, as the kubelet's pod worker
	// cancels the sync in flight.
	stepCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-w.terminating:
			cancel()
		case <-stepCtx.Done():
		}
	}()
	for {
		next := w.step(stepCtx)
		if err := w.writeStatus(ctx); err != nil && ctx.Err() == nil {
			logger.Error(err, "Updating pod status")
			next = min(next, time.Second)
		}
		if w.finished() {
			return
		}
		t := time.NewTimer(next)
		select {
		case <-ctx.Done():
			t.Stop()
			w.stopAll(0)
			return
		case <-w.terminating:
			t.Stop()
			w.stopping(ctx)
			return
		case <-w.kick:
		case <-t.C:
		}
		t.Stop()
	}
}

// stopping stops the pod's containers within the grace period, writing the status meanwhile
// whenever a probe changes it, as the kubelet's probes and status manager go on while a pod
// terminates: a container whose readiness probe fails once it is told to stop leaves its
// Services' endpoints, or stays in them as terminating when it serves on.
func (w *podWorker) stopping(ctx context.Context) {
	stopped := make(chan struct{})
	var writer sync.WaitGroup
	writer.Go(func() {
		for {
			select {
			case <-stopped:
				return
			case <-w.kick:
				if err := w.writeStatus(ctx); err != nil && ctx.Err() == nil {
					klog.FromContext(ctx).Error(err, "Updating pod status")
				}
			}
		}
	})
	w.stopAll(w.grace)
	close(stopped)
	writer.Wait()
	_ = w.writeStatus(context.WithoutCancel(ctx))
}

// finished reports whether the pod has reached a terminal phase: nothing runs or will.
func (w *podWorker) finished() bool {
	return w.lastStatus != nil && (w.lastStatus.Phase == v1.PodSucceeded || w.lastStatus.Phase == v1.PodFailed)
}

// step moves the pod's containers forward and returns when to look again.
func (w *podWorker) step(ctx context.Context) time.Duration {
	w.mu.Lock()
	pod := w.pod
	w.mu.Unlock()
	next := resyncPeriod
	if d := pod.Spec.ActiveDeadlineSeconds; d != nil && !w.failed {
		// As the kubelet's active deadline handler: the pod fails, its containers stop.
		left := time.Until(w.startTime.Add(time.Duration(*d) * time.Second))
		if left <= 0 {
			const msg = "Pod was active on the node longer than the specified deadline"
			w.rt.recorder.Event(pod, v1.EventTypeNormal, "DeadlineExceeded", msg)
			w.failed, w.failReason, w.failMessage = true, "DeadlineExceeded", msg
			w.stopAll(gracePeriod(pod))
			return next
		}
		next = min(next, left)
	}
	if !w.failed && w.vols != nil && hasStorageLimits(pod) {
		// As the kubelet's eviction manager: a pod beyond its local ephemeral storage limits
		// is evicted.
		if time.Since(w.storageAt) >= storageCheckInterval {
			w.storageAt = time.Now()
			if msg := w.storageEviction(pod); msg != "" {
				w.rt.recorder.Event(pod, v1.EventTypeWarning, "Evicted", msg)
				w.failed, w.failReason, w.failMessage = true, "Evicted", msg
				w.stopAll(evictedGrace)
				return next
			}
		}
		next = min(next, time.Until(w.storageAt.Add(storageCheckInterval)))
	}

	// Volumes and the pod's files first, then again now and then (configMaps, secrets and
	// tokens change).
	if w.vols == nil || w.volErr != nil || time.Since(w.volumesAt) >= resyncPeriod {
		if err := w.setUpVolumes(ctx, pod); err != nil {
			if w.volErr == nil || w.volErr.Error() != err.Error() {
				w.rt.recorder.Event(pod, v1.EventTypeWarning, "FailedMount", err.Error())
			}
			w.volErr = err
			if !w.volumesReady {
				// Containers start only once every volume is there. Retry soon at first: the
				// commonest failure is transient (NodeRestriction's view of a pod just bound
				// lags, and refuses its token for a moment).
				w.volRetry = min(max(2*w.volRetry, 100*time.Millisecond), 2*time.Second)
				return w.volRetry
			}
		} else {
			w.volErr, w.volumesReady, w.volRetry = nil, true, 0
		}
	}

	if !w.policyReady {
		if wait := w.awaitPolicy(ctx, pod); wait > 0 {
			return wait
		}
	}

	for _, c := range w.all() {
		w.reap(c)
	}
	w.resize(pod)
	next = min(next, w.resizeNext())
	policy := pod.Spec.RestartPolicy
	if !w.initialized {
		for _, c := range w.init {
			switch {
			case isSidecar(&c.spec):
				if c.proc == nil {
					return min(next, w.startWhenDue(ctx, pod, c))
				}
				if !w.hasStarted(c) {
					return next // its startup probe first, as the kubelet waits
				}
				continue
			case c.term != nil && c.term.ExitCode == 0 && c.started:
				continue
			case c.proc != nil:
				return next // wait for it
			case c.term != nil && policy == v1.RestartPolicyNever:
				w.failed = true
				w.stopSidecars(pod)
				return next
			}
			return min(next, w.startWhenDue(ctx, pod, c))
		}
		w.initialized = true
	}
	// exited is whether every container has exited for good: the pod is done, and its
	// sidecars stop.
	exited := true
	for _, c := range w.ctrs {
		if c.proc != nil {
			exited = false
			continue
		}
		if c.term != nil && c.started {
			restart := policy == v1.RestartPolicyAlways || (policy == v1.RestartPolicyOnFailure && c.term.ExitCode != 0) || c.resizeRestart
			if !restart {
				continue
			}
		}
		exited = false
		next = min(next, w.startWhenDue(ctx, pod, c))
	}
	if exited {
		w.stopSidecars(pod)
		return next
	}
	for _, c := range w.init {
		if isSidecar(&c.spec) && c.proc == nil {
			next = min(next, w.startWhenDue(ctx, pod, c))
		}
	}
	// Ephemeral containers start once each, as the pod gets them, and are never restarted.
	for _, ec := range pod.Spec.EphemeralContainers[min(len(w.eph), len(pod.Spec.EphemeralContainers)):] {
		c := &ctr{spec: v1.Container(ec.EphemeralContainerCommon), ephemeral: true, target: ec.TargetContainerName,
			waiting: &v1.ContainerStateWaiting{Reason: "ContainerCreating"}}
		w.mu.Lock()
		w.eph = append(w.eph, c)
		w.mu.Unlock()
	}
	for _, c := range w.eph {
		if !c.started && c.proc == nil {
			next = min(next, w.startWhenDue(ctx, pod, c))
		}
	}
	return next
}

// isSidecar reports whether an init container is a sidecar: one that restarts Always and runs
// beside the pod's containers.
func isSidecar(c *v1.Container) bool {
	return c.RestartPolicy != nil && *c.RestartPolicy == v1.ContainerRestartPolicyAlways
}

// hasStarted reports whether a running container has started: its postStart hook and its
// startup probe (if any) have passed.
func (w *podWorker) hasStarted(c *ctr) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return c.proc != nil && c.startupOK
}

// awaitPolicy holds the pod's containers until the node's network policy agent enforces the
// policy that selects the pod (package endpoint), as a CNI ADD waits for Cilium's agent: a
// pod under a default-deny policy is isolated from its first packet. It returns 0 once the
// agent has answered (at once without a policy engine, or for a hostNetwork pod), and when to
// ask again otherwise.
func (w *podWorker) awaitPolicy(ctx context.Context, pod *v1.Pod) time.Duration {
	engine := netpolicy.Engine(w.rt.agent.ID.Cluster).Name
	if engine == "" || pod.Spec.HostNetwork {
		w.policyReady = true
		return 0
	}
	actx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	err := endpoint.Announce(actx, w.rt.agent.NS(), endpoint.Endpoint{Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID, IPs: w.podIPs})
	if err == nil {
		w.policyReady = true
		return 0
	}
	if !w.policyWarned && ctx.Err() == nil {
		w.policyWarned = true
		w.rt.recorder.Eventf(pod, v1.EventTypeWarning, "FailedCreatePodSandBox",
			"Failed to create pod sandbox: the node's network policy agent (%s) has not taken the pod's addresses %v yet: %v; waiting for it", engine, w.podIPs, err)
	}
	return 250 * time.Millisecond
}

// reap notices a container's exit.
func (w *podWorker) reap(c *ctr) {
	if c.proc == nil {
		return
	}
	select {
	case <-c.proc.Done():
	default:
		return
	}
	code, at, _ := c.proc.Exit()
	reason := "Completed"
	switch {
	case c.proc.OOMKilled():
		reason = "OOMKilled"
	case code != 0:
		reason = "Error"
	}
	term := &v1.ContainerStateTerminated{
		ExitCode: int32(code), Reason: reason, StartedAt: c.startedAt, FinishedAt: metav1.NewTime(at), ContainerID: c.id,
	}
	if msg, err := os.ReadFile(filepath.Join(c.dir, "termination-log")); err == nil && len(msg) > 0 {
		term.Message = truncate(string(msg), 4096)
	} else if c.spec.TerminationMessagePolicy == v1.TerminationMessageFallbackToLogsOnError && code != 0 {
		term.Message = tailFile(c.logPath, 80, 2048)
	}
	w.mu.Lock()
	c.proc, c.term, c.ready = nil, term, false
	w.mu.Unlock()
	if at.Sub(c.startedAt.Time) >= backoffReset {
		c.backoff = 0
	}
}

// startWhenDue starts a container unless it is in back-off, and returns when to look again.
func (w *podWorker) startWhenDue(ctx context.Context, pod *v1.Pod, c *ctr) time.Duration {
	if wait := time.Until(c.notBefore); wait > 0 {
		if c.waiting != nil && c.waiting.Reason == reasonErrImagePull {
			// As the kubelet's next sync finds the image in back-off: ErrImagePull is shown
			// for a moment, then ImagePullBackOff with the failure until the next attempt.
			if shown := time.Since(c.pullFailedAt); shown < pullFailureShown {
				return min(wait, pullFailureShown-shown)
			}
			c.waiting = &v1.ContainerStateWaiting{Reason: reasonImagePullBackOff,
				Message: fmt.Sprintf("Back-off pulling image %q: %s", c.spec.Image, c.pullFailure)}
			w.rt.recorder.Eventf(pod, v1.EventTypeNormal, "BackOff", "Back-off pulling image %q", c.spec.Image)
		}
		if c.term != nil && (c.waiting == nil || c.waiting.Reason != "CrashLoopBackOff") {
			c.waiting = &v1.ContainerStateWaiting{Reason: "CrashLoopBackOff",
				Message: fmt.Sprintf("back-off %s restarting failed container=%s pod=%s_%s(%s)", c.backoff, c.spec.Name, pod.Name, pod.Namespace, pod.UID)}
			w.rt.recorder.Eventf(pod, v1.EventTypeWarning, "BackOff", "Back-off restarting failed container %s in pod %s_%s(%s)", c.spec.Name, pod.Name, pod.Namespace, pod.UID)
		}
		return wait
	}
	if c.term != nil {
		c.backoff = nextBackoff(c.backoff)
		c.notBefore = time.Now().Add(c.backoff)
	}
	if err := w.start(ctx, pod, c); err != nil {
		klog.FromContext(ctx).V(2).Info("Container did not start", "container", c.spec.Name, "err", err)
		switch {
		case ctx.Err() != nil:
			return 0 // the pod is going
		case errors.Is(err, errImagePull):
			return pullFailureShown
		}
		reason := "CreateContainerError"
		if errors.As(err, new(configError)) {
			reason = "CreateContainerConfigError"
		}
		c.waiting = &v1.ContainerStateWaiting{Reason: reason, Message: err.Error()}
		w.rt.recorder.Eventf(pod, v1.EventTypeWarning, "Failed", "Error: %v", err)
		c.backoff = nextBackoff(c.backoff)
		c.notBefore = time.Now().Add(c.backoff)
		return max(time.Until(c.notBefore), 100*time.Millisecond)
	}
	return resyncPeriod
}

func nextBackoff(b time.Duration) time.Duration {
	if b == 0 {
		return backoffInitial
	}
	return min(2*b, backoffMax)
}

// image gives a container its image (imageManager), or puts it in ErrImagePull and then
// ImagePullBackOff with the kubelet's back-off and Events.
func (w *podWorker) image(ctx context.Context, pod *v1.Pod, c *ctr) error {
	if c.pulled {
		return nil
	}
	img, err := w.rt.images.get(ctx, w.rt.recorder, pod, &c.spec)
	if err != nil {
		if ctx.Err() != nil {
			return err // the pod is going: no failure to tell
		}
		reason := reasonErrImagePull
		var ie *imageError
		if errors.As(err, &ie) {
			reason = ie.reason
		}
		c.waiting = &v1.ContainerStateWaiting{Reason: reason, Message: err.Error()}
		if reason != reasonErrImageNeverPull {
			w.rt.recorder.Event(pod, v1.EventTypeWarning, "Failed", err.Error())
			w.rt.recorder.Eventf(pod, v1.EventTypeWarning, "Failed", "Error: %s", reason)
		}
		c.pullFailure, c.pullFailedAt = reason+": "+err.Error(), time.Now()
		c.pullBackoff = nextBackoff(c.pullBackoff)
		c.notBefore = c.pullFailedAt.Add(c.pullBackoff)
		return errImagePull
	}
	c.image, c.stored, c.imageID = img.builtin, img.stored, img.id
	c.pulled, c.pullBackoff = true, 0
	return nil
}

var errImagePull = errors.New("image pull failed")

// configError is an error in what a container is given (its environment, its mounts' sub
// paths): the kubelet's CreateContainerConfigError, retried with back-off as the pod changes.
type configError struct{ error }

func (e configError) Unwrap() error { return e.error }

// subPath is the path below its volume that the mount vm gives a container with the
// environment env, as the kubelet finds it: subPath as written, or subPathExpr with every
// variable it names expanded (each must have a value); neither absolute nor stepping out of
// the volume.
func subPath(vm v1.VolumeMount, env map[string]string) (string, error) {
	p := vm.SubPath
	if vm.SubPathExpr != "" {
		var missing []string
		p = expansion.Expand(vm.SubPathExpr, func(name string) string {
			if env[name] == "" && !slices.Contains(missing, name) {
				missing = append(missing, name)
			}
			return env[name]
		})
		if len(missing) > 0 {
			slices.Sort(missing)
			return "", fmt.Errorf("missing value for %s", strings.Join(missing, ", "))
		}
	}
	if p == "" {
		return "", nil
	}
	if filepath.IsAbs(p) {
		return "", fmt.Errorf("error SubPath `%s` must not be an absolute path", p)
	}
	if err := volumevalidation.ValidatePathNoBacksteps(p); err != nil {
		return "", fmt.Errorf("unable to provision SubPath `%s`: %w", p, err)
	}
	return p, nil
}

// start starts one container.
func (w *podWorker) start(ctx context.Context, pod *v1.Pod, c *ctr) error {
	if err := w.image(ctx, pod, c); err != nil {
		return err
	}
	rt := w.rt
	var imageEnv []string
	switch {
	case c.image != nil:
		imageEnv = c.image.Env
	case c.stored != nil:
		imageEnv = c.stored.Config.Env
	}
	if !slices.ContainsFunc(imageEnv, func(kv string) bool { return strings.HasPrefix(kv, "PATH=") }) {
		// As containerd does for an image without PATH (most built-in images).
		imageEnv = append([]string{"PATH=" + container.DefaultPath}, imageEnv...)
	}
	env, err := rt.env.containerEnv(ctx, w.withAddresses(pod), &c.spec, imageEnv)
	if err != nil {
		return configError{err}
	}
	hostname, _ := podHostname(pod)
	netNS := netnsOfPod(rt.agent, pod)
	if pod.Spec.HostNetwork {
		hostname = rt.agent.ID.Instance.Name
	}
	env = append(env, "HOSTNAME="+hostname)
	argv := w.argv(c, env)
	if len(argv) == 0 {
		return fmt.Errorf("no command specified for container %q and image %q has none", c.spec.Name, c.spec.Image)
	}

	attempt := c.restarts
	if c.term != nil && c.started {
		attempt++
	}
	base := filepath.Join(rt.agent.podDir(string(pod.UID)), "containers", c.spec.Name)
	_ = os.RemoveAll(base) // the previous attempt's writable layer
	c.dir = filepath.Join(base, fmt.Sprint(attempt))
	if err := os.MkdirAll(c.dir, 0o755); err != nil {
		return err
	}
	termLog := filepath.Join(c.dir, "termination-log")
	if err := os.WriteFile(termLog, nil, 0o666); err != nil {
		return err
	}
	// Writable whatever user the container runs as, as the kubelet makes it (past the umask).
	if err := os.Chmod(termLog, 0o666); err != nil {
		return err
	}
	mounts := []container.Mount{}
	for _, target := range []string{"/etc/hosts", "/etc/hostname", "/etc/resolv.conf"} {
		mounts = append(mounts, container.Mount{Source: w.files[target], Target: target})
	}
	if p := c.spec.TerminationMessagePath; p != "" {
		mounts = append(mounts, container.Mount{Source: termLog, Target: p})
	}
	vars := envMap(env)
	for _, vm := range c.spec.VolumeMounts {
		src := w.vols.path(vm.Name)
		sub, err := subPath(vm, vars)
		if err != nil {
			return configError{err}
		}
		if layers, ok := w.vols.layers[vm.Name]; ok {
			mounts = append(mounts, container.Mount{Layers: layers, SubPath: sub, Target: vm.MountPath, ReadOnly: true})
			continue
		}
		if sub != "" {
			src = filepath.Join(src, sub)
			if err := os.MkdirAll(src, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
				return err
			}
		}
		mounts = append(mounts, container.Mount{Source: src, Target: vm.MountPath, ReadOnly: vm.ReadOnly})
	}
	if c.image != nil {
		// The image's program, where the image has it, and the other programs it carries.
		programs := []images.Carried{}
		for _, p := range c.image.Paths {
			programs = append(programs, images.Carried{Path: p, Binary: c.image.Binary})
		}
		for i, p := range append(programs, c.image.Carries...) {
			exe, err := container.Binary(p.Binary)
			if c.image.SetUID && i < len(c.image.Paths) {
				exe, err = container.SetUIDBinary()
			}
			if err != nil {
				return err
			}
			mounts = append(mounts, container.Mount{Source: exe, Target: p.Path, ReadOnly: true})
		}
	}
	workingDir := c.spec.WorkingDir
	switch {
	case workingDir != "":
	case c.image != nil:
		workingDir = c.image.WorkingDir
	case c.stored != nil:
		workingDir = c.stored.Config.WorkingDir
	}
	spec := &container.Spec{
		NetNS: netNS, Hostname: hostname, Dir: c.dir, Mounts: mounts,
		Argv: argv, Env: env, WorkingDir: workingDir,
	}
	spec.UID, spec.GID, spec.Groups = user(pod, &c.spec)
	if spec.Capabilities, spec.NoNewPrivileges, err = privileges(&c.spec); err != nil {
		return configError{err}
	}
	if spec.Sysctls, err = sysctls(pod); err != nil {
		return configError{err}
	}
	if c.target != "" {
		all := w.all()
		i := slices.IndexFunc(all, func(t *ctr) bool { return t.spec.Name == c.target && !t.ephemeral })
		if i < 0 || all[i].proc == nil {
			return fmt.Errorf("the target container %q is not running", c.target)
		}
		spec.PIDNamespaceOf = all[i].proc.PID()
	}
	if container.CgroupsAvailable() == nil {
		spec.Resources = cgroupResources(rt.agent.ID.Cluster.Name, pod, &c.spec)
	}
	// As the kubelet ranks containers for the kernel's OOM killer, by QoS class.
	spec.OOMScoreAdj = ptr.To(qos.GetContainerOOMScoreAdjust(pod, &c.spec, rt.memoryCapacity))
	if (c.image == nil || !c.image.HostRoot) && rt.agent.ToolsRoot != "" {
		// A built-in image, or a command standing in for an image: the tools root.
		spec.Lower = []string{rt.agent.ToolsRoot}
	}
	if c.stored != nil {
		spec.Lower = rt.images.store.LayerDirs(c.stored)
		if spec.UID, spec.GID, spec.Groups, err = imageUser(rt.images.store, c.stored, pod, &c.spec, spec.UID, spec.GID, spec.Groups); err != nil {
			return err
		}
	}

	logPath := filepath.Join(rt.agent.podLogDir(pod), c.spec.Name, fmt.Sprintf("%d.log", attempt))
	log, err := openLog(logPath)
	if err != nil {
		return err
	}
	stdout, stderr := log.Stream("stdout").(*logStream), log.Stream("stderr").(*logStream)
	sum := sha256.Sum256([]byte(fmt.Sprintf("%s/%s/%d/%d", pod.UID, c.spec.Name, attempt, time.Now().UnixNano())))
	id := "minaks://" + hex.EncodeToString(sum[:])
	rt.recorder.Eventf(pod, v1.EventTypeNormal, "Created", "Created container: %s", c.spec.Name)
	outFan, errFan := &fanout{primary: stdout}, &fanout{primary: stderr}
	proc, err := container.Start(spec, container.IO{Stdout: outFan, Stderr: errFan, Stdin: c.spec.Stdin, TTY: c.spec.TTY})
	var startErr *container.StartError
	if errors.As(err, &startErr) {
		// It was created and failed at once: an exit like any other, restarted by the policy.
		log.Close()
		rt.recorder.Eventf(pod, v1.EventTypeWarning, "Failed", "Error: failed to start container %q: %s", c.spec.Name, startErr.Msg)
		w.mu.Lock()
		if c.term != nil && c.started {
			c.last = c.term
		}
		c.prevLogPath, c.logPath, c.restarts, c.id, c.started, c.waiting = c.logPath, logPath, attempt, id, true, nil
		c.term = &v1.ContainerStateTerminated{ExitCode: 128, Reason: "StartError", Message: startErr.Msg, FinishedAt: metav1.Now(), ContainerID: id}
		w.mu.Unlock()
		return nil
	}
	if err != nil {
		log.Close()
		return err
	}
	go func() {
		<-proc.Done()
		_ = stdout.Flush()
		_ = stderr.Flush()
		log.Close()
		w.wake()
	}()
	rt.recorder.Eventf(pod, v1.EventTypeNormal, "Started", "Started container %s", c.spec.Name)

	w.mu.Lock()
	if c.term != nil && c.started {
		c.last = c.term
	}
	c.prevLogPath, c.logPath, c.restarts = c.logPath, logPath, attempt
	c.proc, c.id, c.started, c.term, c.waiting, c.env = proc, id, true, nil, nil, env
	c.resizeRestart = false
	c.stdout, c.stderr = outFan, errFan
	c.startedAt = metav1.Now()
	c.ready = c.spec.ReadinessProbe == nil && c.spec.StartupProbe == nil
	c.startupOK = c.spec.StartupProbe == nil
	w.mu.Unlock()
	if h := c.spec.Lifecycle; h != nil && h.PostStart != nil {
		// As the kubelet, the container counts as started only once its postStart hook is done;
		// a failed hook kills it.
		if err := w.runHook(pod, c, proc, h.PostStart, gracePeriod(pod)); err != nil {
			rt.recorder.Eventf(pod, v1.EventTypeWarning, "FailedPostStartHook", "PostStartHook failed: %v", err)
			rt.recorder.Eventf(pod, v1.EventTypeNormal, "Killing", "FailedPostStartHook")
			proc.Stop(gracePeriod(pod))
			return nil
		}
	}
	if c.spec.StartupProbe != nil || c.spec.LivenessProbe != nil || c.spec.ReadinessProbe != nil {
		// Not ctx, which ends as the pod starts terminating: the probes go on while the
		// container runs out its grace period, as the kubelet's do.
		go w.runProbes(context.WithoutCancel(ctx), pod, c, proc, env)
	}
	return nil
}

// runHook runs a lifecycle hook (exec, httpGet, tcpSocket or sleep) within timeout, as a probe
// of the container would be run.
func (w *podWorker) runHook(pod *v1.Pod, c *ctr, proc *container.Process, h *v1.LifecycleHandler, timeout time.Duration) error {
	if h.Sleep != nil {
		time.Sleep(min(time.Duration(h.Sleep.Seconds)*time.Second, timeout))
		return nil
	}
	w.mu.Lock()
	env := c.env
	w.mu.Unlock()
	pr := &prober{w: w, pod: pod, c: c, proc: proc, env: env}
	probe := &v1.Probe{ProbeHandler: v1.ProbeHandler{Exec: h.Exec, HTTPGet: h.HTTPGet, TCPSocket: h.TCPSocket},
		TimeoutSeconds: int32(max(timeout/time.Second, 1))}
	if ok, why := pr.probe(context.Background(), probe); !ok {
		return errors.New(why)
	}
	return nil
}

// withAddresses is the pod with the addresses its status will report, for the downward API
// before that status is written.
func (w *podWorker) withAddresses(pod *v1.Pod) *v1.Pod {
	p := pod.DeepCopy()
	p.Status.PodIPs, p.Status.HostIPs = nil, nil
	for _, ip := range w.podIPs {
		p.Status.PodIPs = append(p.Status.PodIPs, v1.PodIP{IP: ip.String()})
	}
	in := w.rt.agent.ID.Instance
	p.Status.HostIPs = append(p.Status.HostIPs, v1.HostIP{IP: in.IP.String()})
	if in.IPv6.IsValid() {
		p.Status.HostIPs = append(p.Status.HostIPs, v1.HostIP{IP: in.IPv6.String()})
	}
	p.Status.PodIP, p.Status.HostIP = p.Status.PodIPs[0].IP, p.Status.HostIPs[0].IP
	return p
}

// argv is the container's command line: the pod's command and args over the image's
// entrypoint and cmd, with $(VAR) references expanded.
func (w *podWorker) argv(c *ctr, env []string) []string {
	var entry, cmd []string
	switch {
	case c.image != nil:
		entry, cmd = c.image.Entrypoint, c.image.Cmd
	case c.stored != nil:
		entry, cmd = c.stored.Config.Entrypoint, c.stored.Config.Cmd
	}
	switch {
	case len(c.spec.Command) > 0:
		entry, cmd = c.spec.Command, c.spec.Args
	case len(c.spec.Args) > 0:
		cmd = c.spec.Args
	}
	mapping := expansion.MappingFuncFor(envMap(env))
	var argv []string
	for _, a := range append(append([]string{}, entry...), cmd...) {
		argv = append(argv, expansion.Expand(a, mapping))
	}
	return argv
}

// The kubelet's CFS period, and its CPU shares for a container without a CPU request.
const (
	cpuPeriod = 100_000
	minShares = 2
)

// cgroupResources are the limits of container c as the kubelet sets them: memory.limit (no
// swap), a CFS quota for limits.cpu, CPU shares for requests.cpu.
func cgroupResources(cluster string, pod *v1.Pod, c *v1.Container) *container.Resources {
	r := &container.Resources{
		Path:      filepath.Join(container.CgroupRoot, cluster, string(pod.UID)+"_"+c.Name),
		CPUShares: minShares,
	}
	if m := c.Resources.Limits.Memory(); !m.IsZero() {
		r.MemoryLimit = m.Value()
	}
	if cpu := c.Resources.Limits.Cpu(); !cpu.IsZero() {
		r.CPUPeriod = cpuPeriod
		r.CPUQuota = max(cpu.MilliValue()*cpuPeriod/1000, 1000)
	}
	if cpu := c.Resources.Requests.Cpu(); !cpu.IsZero() {
		r.CPUShares = uint64(max(cpu.MilliValue()*1024/1000, minShares))
	}
	return r
}

func envMap(env []string) map[string]string {
	m := make(map[string]string, len(env))
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return m
}

// safeSysctls are the sysctls the kubelet allows a pod by default (pkg/kubelet/sysctl's safe
// set): namespaced, and without effect outside the pod.
var safeSysctls = []string{
	"kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.tcp_syncookies",
	"net.ipv4.ping_group_range", "net.ipv4.ip_unprivileged_port_start", "net.ipv4.ip_local_reserved_ports",
	"net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
	"net.ipv4.tcp_keepalive_probes", "net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem",
}

// sysctls are the pod's securityContext.sysctls, by name ("/" separators read as "."), each of
// the kubelet's safe set: minaks's kubelet allows no unsafe sysctl, as a kubelet without
// --allowed-unsafe-sysctls.
func sysctls(pod *v1.Pod) (map[string]string, error) {
	if pod.Spec.SecurityContext == nil || len(pod.Spec.SecurityContext.Sysctls) == 0 {
		return nil, nil
	}
	out := map[string]string{}
	for _, s := range pod.Spec.SecurityContext.Sysctls {
		name := strings.ReplaceAll(s.Name, "/", ".")
		if !slices.Contains(safeSysctls, name) {
			return nil, fmt.Errorf("forbidden sysctl: %q not allowlisted", s.Name)
		}
		if pod.Spec.HostNetwork && strings.HasPrefix(name, "net.") {
			return nil, fmt.Errorf("forbidden sysctl: %q not allowed with host net enabled", s.Name)
		}
		out[name] = s.Value
	}
	return out, nil
}

// privileges are the capabilities a container may have (nil: every one, when privileged) and
// whether it may not gain more (allowPrivilegeEscalation: false), from its securityContext.
func privileges(c *v1.Container) ([]string, bool, error) {
	sc := c.SecurityContext
	if sc == nil {
		return container.DefaultCapabilities, false, nil
	}
	if sc.Privileged != nil && *sc.Privileged {
		return nil, false, nil
	}
	var add, drop []string
	if sc.Capabilities != nil {
		for _, a := range sc.Capabilities.Add {
			add = append(add, string(a))
		}
		for _, d := range sc.Capabilities.Drop {
			drop = append(drop, string(d))
		}
	}
	caps, err := container.Capabilities(add, drop)
	if err != nil {
		return nil, false, fmt.Errorf("securityContext.capabilities: %w", err)
	}
	return caps, sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation, nil
}

// user is the container's runAsUser, runAsGroup and supplementary groups (fsGroup included).
func user(pod *v1.Pod, c *v1.Container) (uid, gid *int64, groups []uint32) {
	if psc := pod.Spec.SecurityContext; psc != nil {
		uid, gid = psc.RunAsUser, psc.RunAsGroup
		for _, g := range psc.SupplementalGroups {
			groups = append(groups, uint32(g))
		}
		if psc.FSGroup != nil {
			groups = append(groups, uint32(*psc.FSGroup))
		}
	}
	if sc := c.SecurityContext; sc != nil {
		if sc.RunAsUser != nil {
			uid = sc.RunAsUser
		}
		if sc.RunAsGroup != nil {
			gid = sc.RunAsGroup
		}
	}
	return uid, gid, groups
}

// setUpVolumes writes the pod's files and sets up its volumes.
func (w *podWorker) setUpVolumes(ctx context.Context, pod *v1.Pod) error {
	files, err := w.rt.agent.writePodFiles(ctx, w.rt.dns, pod, w.podIPs)
	if err != nil {
		return err
	}
	w.files = files
	if w.vols == nil {
		w.vols = &volumes{env: w.rt.env, dir: filepath.Join(w.rt.agent.podDir(string(pod.UID)), "volumes"), tokens: map[string]*authenticationv1.TokenRequestStatus{},
			layers: map[string][]string{},
			images: func(ctx context.Context, src *v1.ImageVolumeSource) ([]string, error) {
				return w.rt.images.volumeLayers(ctx, w.rt.recorder, pod, src)
			}}
	}
	w.vols.pod = w.withAddresses(pod)
	w.volumesAt = time.Now()
	return w.vols.setUp(ctx)
}

// stopAll stops every running container within grace, all at once.
func (w *podWorker) stopAll(grace time.Duration) {
	w.mu.Lock()
	pod := w.pod
	w.mu.Unlock()
	deadline := time.Now().Add(grace)
	var wg sync.WaitGroup
	for _, c := range w.all() {
		if c.proc == nil || isSidecar(&c.spec) {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.stopCtr(pod, c, deadline)
		}()
	}
	wg.Wait()
	// As the kubelet, sidecars last, in the reverse of their order, within what is left of
	// the grace period.
	for _, c := range slices.Backward(w.init) {
		if c.proc != nil && isSidecar(&c.spec) {
			w.stopCtr(pod, c, deadline)
		}
	}
	for _, c := range w.all() {
		w.reap(c)
	}
}

// stopSidecars stops a pod's running ephemeral containers and sidecars (the last first), once
// its containers have exited for good (or an init container failed): the pod is done.
func (w *podWorker) stopSidecars(pod *v1.Pod) {
	deadline := time.Now().Add(gracePeriod(pod))
	beside := slices.Clone(w.eph)
	for _, c := range slices.Backward(w.init) {
		beside = append(beside, c)
	}
	for _, c := range beside {
		if c.proc != nil && (c.ephemeral || isSidecar(&c.spec)) {
			w.stopCtr(pod, c, deadline)
			w.reap(c)
		}
	}
}

// stopCtr stops a running container by deadline: its preStop hook, then SIGTERM, then SIGKILL.
func (w *podWorker) stopCtr(pod *v1.Pod, c *ctr, deadline time.Time) {
	p := c.proc
	w.rt.recorder.Eventf(pod, v1.EventTypeNormal, "Killing", "Stopping container %s", c.spec.Name)
	if h := c.spec.Lifecycle; h != nil && h.PreStop != nil && time.Until(deadline) > 0 {
		if err := w.runHook(pod, c, p, h.PreStop, time.Until(deadline)); err != nil {
			w.rt.recorder.Eventf(pod, v1.EventTypeWarning, "FailedPreStopHook", "PreStopHook failed: %v", err)
		}
	}
	p.Stop(max(time.Until(deadline), 0))
}

// netnsOfPod is the network namespace a pod's containers run in.
func netnsOfPod(a *Agent, pod *v1.Pod) string {
	if pod.Spec.HostNetwork {
		return a.NS()
	}
	return PodNSName(a.ID.Cluster.Name, string(pod.UID))
}

// tailFile returns up to the last n lines (at most max bytes) of a CRI log file's text.
func tailFile(path string, n, max int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	var out []string
	for _, l := range lines {
		// <time> <stream> <tag> <text>
		if parts := strings.SplitN(l, " ", 4); len(parts) == 4 {
			out = append(out, parts[3])
		}
	}
	s := strings.Join(out, "\n")
	if len(s) > max {
		s = s[len(s)-max:]
	}
	return s
}

// fanout writes a container's output to its log and to the clients attached to it.
type fanout struct {
	primary io.Writer
	mu      sync.Mutex
	clients []io.Writer
}

func (f *fanout) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	kept := f.clients[:0]
	for _, c := range f.clients {
		if _, err := c.Write(p); err == nil {
			kept = append(kept, c)
		}
	}
	f.clients = kept
	return f.primary.Write(p)
}

// attach adds a client until the returned function is called.
func (f *fanout) attach(w io.Writer) (detach func()) {
	f.mu.Lock()
	f.clients = append(f.clients, w)
	f.mu.Unlock()
	return func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		for i, c := range f.clients {
			if c == w {
				f.clients = append(f.clients[:i], f.clients[i+1:]...)
				return
			}
		}
	}
}
