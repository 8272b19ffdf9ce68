package nodes

import (
	"context"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	internalapi "k8s.io/cri-api/pkg/apis"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	crilogs "k8s.io/cri-client/pkg/logs"
	"k8s.io/cri-streaming/pkg/streaming/remotecommand"

	"github.com/minaks/minaks/pkg/netstack/netns"
	"github.com/minaks/minaks/pkg/nodes/container"
	"github.com/minaks/minaks/pkg/nodes/kubeletapi"
)

// Sandboxes is the runtime behind the node's kubelet API.
var _ kubeletapi.Runtime = &Sandboxes{}

// Pods returns the pods bound to the node.
func (s *Sandboxes) Pods() []*v1.Pod {
	if s.store == nil {
		return nil
	}
	var out []*v1.Pod
	for _, obj := range s.store.List() {
		out = append(out, obj.(*v1.Pod))
	}
	return out
}

// lookup finds a pod's worker and one of its containers.
func (s *Sandboxes) lookup(namespace, pod string, uid types.UID, name string) (*podWorker, *ctr, error) {
	s.mu.Lock()
	w := s.byName[namespace+"/"+pod]
	s.mu.Unlock()
	if w == nil || (uid != "" && w.uid != uid) {
		return nil, nil, fmt.Errorf("pod %s/%s not found", namespace, pod)
	}
	for _, c := range w.all() {
		if c.spec.Name == name || name == "" {
			return w, c, nil
		}
	}
	return nil, nil, fmt.Errorf("container %s is not valid for pod %s", name, pod)
}

// running finds a running container's process, environment and user.
func (s *Sandboxes) running(namespace, pod string, uid types.UID, name string) (*podWorker, *ctr, *container.Process, error) {
	w, c, err := s.lookup(namespace, pod, uid, name)
	if err != nil {
		return nil, nil, nil, err
	}
	w.mu.Lock()
	proc := c.proc
	w.mu.Unlock()
	if proc == nil {
		return nil, nil, nil, fmt.Errorf("container %s in pod %s/%s is not running", c.spec.Name, namespace, pod)
	}
	return w, c, proc, nil
}

// ContainerLogs reads a container's log file with the kubelet's own reader (the CRI log
// format, follow, tail, since, timestamps, limitBytes).
func (s *Sandboxes) ContainerLogs(ctx context.Context, namespace, pod, name string, opts *v1.PodLogOptions, stdout, stderr io.Writer) error {
	w, c, err := s.lookup(namespace, pod, "", name)
	if err != nil {
		return err
	}
	w.mu.Lock()
	path, id := c.logPath, c.id
	if opts.Previous {
		path = c.prevLogPath
	}
	w.mu.Unlock()
	if path == "" {
		if opts.Previous {
			return fmt.Errorf("previous terminated container %q in pod %q not found", name, pod)
		}
		return fmt.Errorf("container %q in pod %q is waiting to start", name, pod)
	}
	status := &containerStatus{w: w, c: c, id: id, previous: opts.Previous}
	return crilogs.ReadLogs(ctx, path, id, logOptions(opts, time.Now()), status, stdout, stderr)
}

// logOptions converts the API's log options as the kubelet does (kuberuntime ReadLogs).
func logOptions(api *v1.PodLogOptions, now time.Time) *crilogs.LogOptions {
	opts := &crilogs.LogOptions{TailLines: api.TailLines, LimitBytes: api.LimitBytes, Follow: api.Follow, Timestamp: api.Timestamps}
	if api.SinceSeconds != nil {
		opts.Since = now.Add(-time.Duration(*api.SinceSeconds) * time.Second)
	}
	if api.SinceTime != nil && api.SinceTime.After(opts.Since) {
		opts.Since = api.SinceTime.Time
	}
	return opts
}

// containerStatus answers the log reader's one question, whether the container still runs (to
// know when following ends).
type containerStatus struct {
	internalapi.RuntimeService
	w        *podWorker
	c        *ctr
	id       string
	previous bool
}

func (s *containerStatus) ContainerStatus(context.Context, string, bool) (*runtimeapi.ContainerStatusResponse, error) {
	s.w.mu.Lock()
	running := !s.previous && s.c.proc != nil && s.c.id == s.id
	s.w.mu.Unlock()
	state := runtimeapi.ContainerState_CONTAINER_EXITED
	if running {
		state = runtimeapi.ContainerState_CONTAINER_RUNNING
	}
	return &runtimeapi.ContainerStatusResponse{Status: &runtimeapi.ContainerStatus{Id: s.id, State: state}}, nil
}

// Exec runs a command in a running container.
func (s *Sandboxes) Exec(ctx context.Context, namespace, pod string, uid types.UID, name string, cmd []string,
	stdin io.Reader, stdout, stderr io.WriteCloser, tty bool, resize <-chan remotecommand.TerminalSize) error {
	w, c, proc, err := s.running(namespace, pod, uid, name)
	if err != nil {
		return err
	}
	w.mu.Lock()
	env := c.env
	w.mu.Unlock()
	command := proc.Command(cmd, env)
	command.Stdin, command.Stdout, command.Stderr = stdin, stdout, stderr
	if tty {
		return runWithTTY(ctx, command, stdin, stdout, resize)
	}
	return command.Run()
}

// Attach connects the streams to a running container's process: its output from now on, and
// its standard input (or terminal) when the container has one (stdin: true, tty: true).
func (s *Sandboxes) Attach(ctx context.Context, namespace, pod string, uid types.UID, name string,
	stdin io.Reader, stdout, stderr io.WriteCloser, tty bool, resize <-chan remotecommand.TerminalSize) error {
	w, c, proc, err := s.running(namespace, pod, uid, name)
	if err != nil {
		return err
	}
	if stdin != nil && proc.Stdin() == nil {
		return fmt.Errorf("container %s in pod %s/%s has no stdin: set stdin: true to attach to it", name, namespace, pod)
	}
	w.mu.Lock()
	outFan, errFan, once := c.stdout, c.stderr, c.spec.StdinOnce
	w.mu.Unlock()
	if stdout != nil {
		defer outFan.attach(stdout)()
	}
	if stderr != nil {
		defer errFan.attach(stderr)()
	}
	if resize != nil {
		go func() {
			for size := range resize {
				_ = proc.Resize(size.Width, size.Height)
			}
		}()
	}
	if stdin != nil {
		go func() {
			_, _ = io.Copy(proc.Stdin(), stdin)
			if once {
				proc.Stdin().Close()
			}
		}()
	}
	// The output keeps coming until the container exits or the client goes.
	select {
	case <-proc.Done():
	case <-ctx.Done():
	}
	return nil
}

// PortForward connects stream to a port of the pod, dialled from inside the pod's network
// namespace (localhost there), as the kubelet does.
func (s *Sandboxes) PortForward(ctx context.Context, namespace, pod string, uid types.UID, port int32, stream io.ReadWriteCloser) error {
	w, _, err := s.lookup(namespace, pod, uid, "")
	if err != nil {
		return err
	}
	w.mu.Lock()
	ns := netnsOfPod(s.agent, w.pod)
	w.mu.Unlock()
	var conn net.Conn
	if err := netns.Do(ns, func() (err error) {
		conn, err = (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(int(port))))
		return err
	}); err != nil {
		return fmt.Errorf("failed to connect to localhost:%d inside namespace of pod %s/%s: %w", port, namespace, pod, err)
	}
	defer conn.Close()
	errc := make(chan error, 2)
	go func() {
		_, err := io.Copy(conn, stream)
		if tc, ok := conn.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
		errc <- err
	}()
	go func() {
		_, err := io.Copy(stream, conn)
		errc <- err
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}
