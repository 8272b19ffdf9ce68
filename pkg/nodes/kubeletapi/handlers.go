package kubeletapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apiserver/pkg/util/flushwriter"
	"k8s.io/cri-streaming/pkg/streaming/portforward"
	"k8s.io/cri-streaming/pkg/streaming/remotecommand"
	"k8s.io/klog/v2"
	"k8s.io/kubernetes/pkg/api/legacyscheme"
	_ "k8s.io/kubernetes/pkg/apis/core/install" // v1 defaults and query conversions in legacyscheme
	"k8s.io/kubernetes/pkg/apis/core/v1/validation"
	"k8s.io/streaming/pkg/httpstream/wsstream"
	utilexec "k8s.io/utils/exec"
)

// getPods serves /pods: the pods bound to the node, as a v1 PodList.
func (s *Server) getPods(w http.ResponseWriter, req *http.Request) {
	list := &v1.PodList{}
	for _, p := range s.rt.Pods() {
		list.Items = append(list.Items, *p)
	}
	data, err := runtime.Encode(legacyscheme.Codecs.LegacyCodec(v1.SchemeGroupVersion), list)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(data)
}

// getContainerLogs serves /containerLogs as the kubelet's getContainerLogs: the query decodes to
// a v1 PodLogOptions (the legacy "tail" included), invalid options are 422, a missing pod or
// container 404, and a runtime error before any output 400.
func (s *Server) getContainerLogs(w http.ResponseWriter, req *http.Request) {
	namespace, podName, container := req.PathValue("namespace"), req.PathValue("pod"), req.PathValue("container")
	query := req.URL.Query()
	if tail := query.Get("tail"); tail != "" {
		query["tailLines"] = []string{tail}
		if tail == "all" {
			delete(query, "tailLines")
		}
	}
	opts := &v1.PodLogOptions{}
	if err := legacyscheme.ParameterCodec.DecodeParameters(query, v1.SchemeGroupVersion, opts); err != nil {
		http.Error(w, `{"message": "Unable to decode query."}`, http.StatusBadRequest)
		return
	}
	opts.TypeMeta = metav1.TypeMeta{}
	if errs := validation.ValidatePodLogOptions(opts); len(errs) > 0 {
		http.Error(w, fmt.Sprintf(`{"message": "Invalid request: %s"}`, errs.ToAggregate()), http.StatusUnprocessableEntity)
		return
	}
	pod := s.findPod(namespace, podName)
	if pod == nil {
		http.Error(w, fmt.Sprintf("pod %q does not exist", podName), http.StatusNotFound)
		return
	}
	if !hasContainer(pod, container) {
		http.Error(w, fmt.Sprintf("container %q not found in pod %q", container, podName), http.StatusNotFound)
		return
	}
	out := &firstWrite{w: flushwriter.Wrap(w)}
	var stdout, stderr io.Writer = out, out
	if opts.Stream != nil {
		switch *opts.Stream {
		case v1.LogStreamAll:
		case v1.LogStreamStdout:
			stderr = io.Discard
		case v1.LogStreamStderr:
			stdout = io.Discard
		default:
			http.Error(w, fmt.Sprintf("invalid stream type %q", *opts.Stream), http.StatusBadRequest)
			return
		}
	}
	if err := s.rt.ContainerLogs(req.Context(), namespace, podName, container, opts, stdout, stderr); err != nil {
		if out.written {
			klog.FromContext(req.Context()).Error(err, "Container logs ended", "pod", klog.KRef(namespace, podName), "container", container)
			return
		}
		http.Error(w, err.Error(), http.StatusBadRequest)
	}
}

// firstWrite notes whether the response was started.
type firstWrite struct {
	w       io.Writer
	written bool
}

func (f *firstWrite) Write(p []byte) (int, error) {
	f.written = true
	return f.w.Write(p)
}

// getExec serves /exec with cri-streaming's ServeExec (SPDY or v4 WebSocket), or a v5
// WebSocket through the API server's stream translator (see websocket.go).
func (s *Server) getExec(w http.ResponseWriter, req *http.Request) {
	opts, err := remotecommand.NewOptions(req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	target, ok := s.target(w, req, true)
	if !ok {
		return
	}
	if wsstream.IsWebSocketRequestWithStreamCloseProtocol(req) {
		s.translateRemoteCommand(w, req, opts)
		return
	}
	remotecommand.ServeExec(w, req, target, target.pod, string(target.uid), target.container,
		req.URL.Query()[v1.ExecCommandParam], opts, streamIdleTimeout, streamCreationTimeout,
		remotecommand.SupportedStreamingProtocols)
}

// getAttach serves /attach with cri-streaming's ServeAttach.
func (s *Server) getAttach(w http.ResponseWriter, req *http.Request) {
	opts, err := remotecommand.NewOptions(req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	target, ok := s.target(w, req, true)
	if !ok {
		return
	}
	if wsstream.IsWebSocketRequestWithStreamCloseProtocol(req) {
		s.translateRemoteCommand(w, req, opts)
		return
	}
	remotecommand.ServeAttach(w, req, target, target.pod, string(target.uid), target.container,
		opts, streamIdleTimeout, streamCreationTimeout, remotecommand.SupportedStreamingProtocols)
}

// getPortForward serves /portForward with cri-streaming's ServePortForward: SPDY, where the
// client opens a stream pair per connection and names the port in a header, or v4 WebSocket
// with the ports in the query; or SPDY tunnelled in a WebSocket, unwrapped by the API server's
// tunneling handler (see websocket.go).
func (s *Server) getPortForward(w http.ResponseWriter, req *http.Request) {
	tunnel := wsstream.IsWebSocketRequestWithTunnelingProtocol(req)
	opts := &portforward.V4Options{}
	if !tunnel {
		var err error
		if opts, err = portforward.NewV4Options(req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
	}
	target, ok := s.target(w, req, false)
	if !ok {
		return
	}
	if tunnel {
		s.tunnelPortForward(w, req)
		return
	}
	portforward.ServePortForward(w, req, target, target.pod, string(target.uid), opts,
		streamIdleTimeout, streamCreationTimeout, portforward.SupportedProtocols)
}

// getRun serves /run: the command (the "cmd" parameter split at spaces) runs to completion and
// its combined output is the answer.
func (s *Server) getRun(w http.ResponseWriter, req *http.Request) {
	target, ok := s.target(w, req, true)
	if !ok {
		return
	}
	var out bytes.Buffer
	cmd := strings.Split(req.URL.Query().Get("cmd"), " ")
	err := s.rt.Exec(req.Context(), target.namespace, target.pod, target.uid, target.container, cmd,
		nil, nopCloser{&out}, nopCloser{&out}, false, nil)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(out.Bytes())
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

// target resolves the pod (and container) of a streaming request, or answers 404 as the kubelet
// does.
func (s *Server) target(w http.ResponseWriter, req *http.Request, withContainer bool) (*podTarget, bool) {
	t := &podTarget{
		rt:        s.rt,
		namespace: req.PathValue("namespace"),
		pod:       req.PathValue("pod"),
		uid:       types.UID(req.PathValue("uid")),
		container: req.PathValue("container"),
	}
	pod := s.findPod(t.namespace, t.pod)
	if pod == nil {
		http.Error(w, "pod does not exist", http.StatusNotFound)
		return nil, false
	}
	if t.uid != "" && pod.UID != t.uid {
		http.Error(w, "pod not found", http.StatusNotFound)
		return nil, false
	}
	if withContainer && !hasContainer(pod, t.container) {
		http.Error(w, fmt.Sprintf("container %q not found in pod %q", t.container, t.pod), http.StatusNotFound)
		return nil, false
	}
	return t, true
}

func (s *Server) findPod(namespace, name string) *v1.Pod {
	for _, p := range s.rt.Pods() {
		if p.Namespace == namespace && p.Name == name {
			return p
		}
	}
	return nil
}

// hasContainer reports whether pod has a container, init container or ephemeral container name.
func hasContainer(pod *v1.Pod, name string) bool {
	for _, c := range pod.Spec.Containers {
		if c.Name == name {
			return true
		}
	}
	for _, c := range pod.Spec.InitContainers {
		if c.Name == name {
			return true
		}
	}
	for _, c := range pod.Spec.EphemeralContainers {
		if c.Name == name {
			return true
		}
	}
	return false
}

// podTarget adapts a Runtime to cri-streaming's Executor, Attacher and PortForwarder for one
// request: they name a pod without its namespace.
type podTarget struct {
	rt        Runtime
	namespace string
	pod       string
	uid       types.UID
	container string
}

var (
	_ remotecommand.Executor    = &podTarget{}
	_ remotecommand.Attacher    = &podTarget{}
	_ portforward.PortForwarder = &podTarget{}
)

// ExecInContainer runs the command; ServeExec reports an exit code only for an error that is a
// utilexec.ExitError itself (not one wrapping it), so the runtime's error is unwrapped here.
func (t *podTarget) ExecInContainer(ctx context.Context, _, _, _ string, cmd []string, in io.Reader, out, errOut io.WriteCloser, tty bool, resize <-chan remotecommand.TerminalSize, _ time.Duration) error {
	return exitError(t.rt.Exec(ctx, t.namespace, t.pod, t.uid, t.container, cmd, in, out, errOut, tty, resize))
}

// AttachContainer attaches to the container's main process.
func (t *podTarget) AttachContainer(ctx context.Context, _, _, _ string, in io.Reader, out, errOut io.WriteCloser, tty bool, resize <-chan remotecommand.TerminalSize) error {
	return t.rt.Attach(ctx, t.namespace, t.pod, t.uid, t.container, in, out, errOut, tty, resize)
}

// PortForward forwards one connection.
func (t *podTarget) PortForward(ctx context.Context, _, _ string, port int32, stream io.ReadWriteCloser) error {
	return t.rt.PortForward(ctx, t.namespace, t.pod, t.uid, port, stream)
}

// exitError turns an error carrying a process's exit status into the utilexec.ExitError that
// ServeExec looks for, and leaves other errors alone.
func exitError(err error) error {
	if err == nil {
		return nil
	}
	var ee utilexec.ExitError
	if errors.As(err, &ee) {
		return ee
	}
	var osErr *exec.ExitError
	if errors.As(err, &osErr) {
		return &utilexec.ExitErrorWrapper{ExitError: osErr}
	}
	return err
}
