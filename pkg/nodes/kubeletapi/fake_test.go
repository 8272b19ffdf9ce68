package kubeletapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/cri-streaming/pkg/streaming/remotecommand"
	statsapi "k8s.io/kubelet/pkg/apis/stats/v1alpha1"
	utilexec "k8s.io/utils/exec"
)

// fakeRuntime is a node with pods whose containers understand a few commands (see Exec), keep a
// fixed log, and echo on port 80. It refuses to act on pods and containers it does not have, and
// records what it was asked.
type fakeRuntime struct {
	mu      sync.Mutex
	pods    []*v1.Pod
	logs    map[string][]logLine // by namespace/pod/container
	logOpts []*v1.PodLogOptions
	execs   [][]string
	ttys    []bool
	resizes []remotecommand.TerminalSize
	ports   []int32
}

type logLine struct {
	stderr bool
	text   string
}

var _ Runtime = &fakeRuntime{}

// logTime is the time of every line of the fake's logs.
var logTime = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func newFakeRuntime() *fakeRuntime {
	return &fakeRuntime{logs: map[string][]logLine{}}
}

// addPod adds a running pod with the given containers.
func (f *fakeRuntime) addPod(namespace, name string, uid types.UID, containers ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	pod := &v1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name, UID: uid}}
	for _, c := range containers {
		pod.Spec.Containers = append(pod.Spec.Containers, v1.Container{Name: c, Image: "busybox"})
	}
	pod.Status.Phase = v1.PodRunning
	f.pods = append(f.pods, pod)
}

// addLog appends lines to a container's log.
func (f *fakeRuntime) addLog(namespace, pod, container string, lines ...logLine) {
	f.mu.Lock()
	defer f.mu.Unlock()
	key := namespace + "/" + pod + "/" + container
	f.logs[key] = append(f.logs[key], lines...)
}

func (f *fakeRuntime) Pods() []*v1.Pod {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*v1.Pod(nil), f.pods...)
}

// Summary says each container has used one second of CPU and holds 10 MiB.
func (f *fakeRuntime) Summary(context.Context) (*statsapi.Summary, error) {
	ts := metav1.NewTime(logTime)
	stats := func(n int) (*statsapi.CPUStats, *statsapi.MemoryStats) {
		cpu, mem := uint64(n)*uint64(time.Second), uint64(n)*10<<20
		return &statsapi.CPUStats{Time: ts, UsageCoreNanoSeconds: &cpu}, &statsapi.MemoryStats{Time: ts, WorkingSetBytes: &mem}
	}
	s := &statsapi.Summary{Node: statsapi.NodeStats{NodeName: testNode}}
	total := 0
	for _, p := range f.Pods() {
		ps := statsapi.PodStats{PodRef: statsapi.PodReference{Name: p.Name, Namespace: p.Namespace, UID: string(p.UID)}}
		for _, c := range p.Spec.Containers {
			cs := statsapi.ContainerStats{Name: c.Name, StartTime: ts}
			cs.CPU, cs.Memory = stats(1)
			ps.Containers = append(ps.Containers, cs)
		}
		ps.CPU, ps.Memory = stats(len(p.Spec.Containers))
		total += len(p.Spec.Containers)
		s.Pods = append(s.Pods, ps)
	}
	s.Node.CPU, s.Node.Memory = stats(total)
	return s, nil
}

// check refuses a pod or container the node does not run, or a uid that is not the pod's.
func (f *fakeRuntime) check(namespace, pod string, uid types.UID, container string) error {
	for _, p := range f.Pods() {
		if p.Namespace != namespace || p.Name != pod {
			continue
		}
		if uid != "" && uid != p.UID {
			return fmt.Errorf("pod %s/%s has uid %s, not %s", namespace, pod, p.UID, uid)
		}
		if container == "" || hasContainer(p, container) {
			return nil
		}
		return fmt.Errorf("no container %q in pod %s/%s", container, namespace, pod)
	}
	return fmt.Errorf("no pod %s/%s", namespace, pod)
}

// ContainerLogs writes the log, honouring tailLines and timestamps; with follow it then waits
// for ctx.
func (f *fakeRuntime) ContainerLogs(ctx context.Context, namespace, pod, container string, opts *v1.PodLogOptions, stdout, stderr io.Writer) error {
	if err := f.check(namespace, pod, "", container); err != nil {
		return err
	}
	f.mu.Lock()
	f.logOpts = append(f.logOpts, opts.DeepCopy())
	lines := append([]logLine(nil), f.logs[namespace+"/"+pod+"/"+container]...)
	f.mu.Unlock()
	if opts.Previous {
		return fmt.Errorf("previous terminated container %q in pod %q not found", container, pod)
	}
	if opts.TailLines != nil && int(*opts.TailLines) < len(lines) {
		lines = lines[len(lines)-int(*opts.TailLines):]
	}
	for _, l := range lines {
		w := stdout
		if l.stderr {
			w = stderr
		}
		text := l.text + "\n"
		if opts.Timestamps {
			text = logTime.Format(time.RFC3339Nano) + " " + text
		}
		if _, err := io.WriteString(w, text); err != nil {
			return err
		}
	}
	if opts.Follow {
		<-ctx.Done()
	}
	return nil
}

// Exec understands:
//
//	echo ARGS...  prints ARGS to stdout
//	cat           copies stdin to stdout
//	warn ARGS...  prints ARGS to stderr
//	exit N        exits with N (a utilexec.CodeExitError)
//	sh -c SCRIPT  runs a real sh (its *exec.ExitError, wrapped)
//	tty           prints whether it has a terminal and the first size it was given
func (f *fakeRuntime) Exec(ctx context.Context, namespace, pod string, uid types.UID, container string, cmd []string, stdin io.Reader, stdout, stderr io.WriteCloser, tty bool, resize <-chan remotecommand.TerminalSize) error {
	if err := f.check(namespace, pod, uid, container); err != nil {
		return err
	}
	if len(cmd) == 0 {
		return errors.New("no command")
	}
	f.mu.Lock()
	f.execs = append(f.execs, cmd)
	f.ttys = append(f.ttys, tty)
	f.mu.Unlock()
	switch cmd[0] {
	case "echo":
		_, err := fmt.Fprintln(stdout, strings.Join(cmd[1:], " "))
		return err
	case "warn":
		_, err := fmt.Fprintln(stderr, strings.Join(cmd[1:], " "))
		return err
	case "cat":
		_, err := io.Copy(stdout, stdin)
		return err
	case "exit":
		code, err := strconv.Atoi(cmd[1])
		if err != nil {
			return err
		}
		return utilexec.CodeExitError{Err: fmt.Errorf("exit status %d", code), Code: code}
	case "sh":
		if err := exec.CommandContext(ctx, "sh", cmd[1:]...).Run(); err != nil {
			return fmt.Errorf("run %v: %w", cmd, err)
		}
		return nil
	case "tty":
		var size remotecommand.TerminalSize
		select {
		case size = <-resize:
			f.mu.Lock()
			f.resizes = append(f.resizes, size)
			f.mu.Unlock()
		case <-time.After(5 * time.Second):
		}
		_, err := fmt.Fprintf(stdout, "tty=%v size=%dx%d\n", tty, size.Width, size.Height)
		return err
	}
	return fmt.Errorf("%s: executable file not found in $PATH", cmd[0])
}

// Attach echoes stdin to stdout, as a main process running cat.
func (f *fakeRuntime) Attach(ctx context.Context, namespace, pod string, uid types.UID, container string, stdin io.Reader, stdout, stderr io.WriteCloser, tty bool, resize <-chan remotecommand.TerminalSize) error {
	if err := f.check(namespace, pod, uid, container); err != nil {
		return err
	}
	_, err := io.Copy(stdout, stdin)
	return err
}

// PortForward echoes on port 80 and refuses other ports.
func (f *fakeRuntime) PortForward(ctx context.Context, namespace, pod string, uid types.UID, port int32, stream io.ReadWriteCloser) error {
	if err := f.check(namespace, pod, uid, ""); err != nil {
		return err
	}
	f.mu.Lock()
	f.ports = append(f.ports, port)
	f.mu.Unlock()
	defer stream.Close()
	if port != 80 {
		return fmt.Errorf("connect to port %d: connection refused", port)
	}
	_, err := io.Copy(stream, stream)
	return err
}

func (f *fakeRuntime) lastLogOptions() *v1.PodLogOptions {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.logOpts) == 0 {
		return nil
	}
	return f.logOpts[len(f.logOpts)-1]
}
