package kubeletapi

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/apimachinery/pkg/util/proxy"
	translator "k8s.io/apiserver/pkg/util/proxy"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/tools/remotecommand"
	"k8s.io/client-go/transport/spdy"
	"k8s.io/client-go/util/exec"
	compbasemetrics "k8s.io/component-base/metrics"
	statsapi "k8s.io/kubelet/pkg/apis/stats/v1alpha1"
	"k8s.io/streaming/pkg/httpstream/wsstream"
	"k8s.io/utils/ptr"

	"github.com/minaks/minaks/pkg/apiserver/pki"
)

const testNode = "aks-nodepool1-12345678-vmss000000"

// testEnv is a node's kubelet API on 127.0.0.1 with a fake runtime, its authentication backed
// by a stand-in API server that knows one bearer token and allows system:masters.
type testEnv struct {
	rt    *fakeRuntime
	url   *url.URL
	pki   pki.Dir
	other pki.Dir // a second cluster, whose CA the node does not trust
	// logDir is the pods' log directory /logs/ serves.
	logDir string

	mu   sync.Mutex
	sars []authorizationv1.SubjectAccessReviewSpec
}

// goodToken is the only bearer token the fake TokenReview accepts.
const goodToken = "metrics-token"

func newTestEnv(t *testing.T, disableAuth bool) *testEnv {
	t.Helper()
	e := &testEnv{rt: newFakeRuntime(), pki: pki.Dir(t.TempDir()), other: pki.Dir(t.TempDir()), logDir: t.TempDir()}
	names := pki.ServingNames{DNSNames: []string{"localhost"}, IPs: []net.IP{net.IPv4(127, 0, 0, 1)}}
	for _, d := range []pki.Dir{e.pki, e.other} {
		if _, err := d.Ensure(pki.Leaves(names), time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	e.rt.addPod("default", "web", "uid-web", "nginx", "sidecar")

	reviews := httptest.NewServer(http.HandlerFunc(e.serveReviews))
	t.Cleanup(reviews.Close)
	api, err := kubernetes.NewForConfig(&rest.Config{Host: reviews.URL})
	if err != nil {
		t.Fatal(err)
	}

	cert, err := tls.LoadX509KeyPair(e.pki.CertPath(pki.APIServer), e.pki.KeyPath(pki.APIServer))
	if err != nil {
		t.Fatal(err)
	}
	ca, err := os.ReadFile(e.pki.CertPath(pki.CA))
	if err != nil {
		t.Fatal(err)
	}
	// The node's registries, each with a metric of its own.
	metrics, probes := compbasemetrics.NewKubeRegistry(), compbasemetrics.NewKubeRegistry()
	for r, name := range map[compbasemetrics.KubeRegistry]string{metrics: "node_metric", probes: "probe_metric"} {
		g := compbasemetrics.NewGauge(&compbasemetrics.GaugeOpts{Name: "test_" + name, Help: "A test metric."})
		r.MustRegister(g)
		g.Set(1)
	}
	srv, err := New(Config{NodeName: testNode, Cert: cert, ClientCA: ca, Client: api, DisableAuth: disableAuth,
		Metrics: metrics, ProbeMetrics: probes, LogDir: e.logDir}, e.rt)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, l) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	e.url = &url.URL{Scheme: "https", Host: l.Addr().String()}
	return e
}

// serveReviews answers TokenReviews (goodToken is a system:masters service account) and
// SubjectAccessReviews (system:masters may do anything, nobody else anything), and records the
// latter.
func (e *testEnv) serveReviews(w http.ResponseWriter, req *http.Request) {
	var out any
	switch req.URL.Path {
	case "/apis/authentication.k8s.io/v1/tokenreviews":
		tr := &authenticationv1.TokenReview{}
		if err := json.NewDecoder(req.Body).Decode(tr); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if tr.Spec.Token == goodToken {
			tr.Status = authenticationv1.TokenReviewStatus{Authenticated: true, User: authenticationv1.UserInfo{
				Username: "system:serviceaccount:kube-system:metrics-server", Groups: []string{"system:masters"},
			}}
		}
		out = tr
	case "/apis/authorization.k8s.io/v1/subjectaccessreviews":
		sar := &authorizationv1.SubjectAccessReview{}
		if err := json.NewDecoder(req.Body).Decode(sar); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		e.mu.Lock()
		e.sars = append(e.sars, sar.Spec)
		e.mu.Unlock()
		sar.Status.Allowed = slices.Contains(sar.Spec.Groups, "system:masters")
		out = sar
	default:
		http.NotFound(w, req)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	json.NewEncoder(w).Encode(out)
}

// restConfig is a client of the node with a client certificate of dir (the API server's kubelet
// client certificate, unless said otherwise).
func (e *testEnv) restConfig(dir pki.Dir, cert string) *rest.Config {
	cfg := &rest.Config{Host: e.url.String(), TLSClientConfig: rest.TLSClientConfig{CAFile: e.pki.CertPath(pki.CA)}}
	if cert != "" {
		cfg.CertFile, cfg.KeyFile = dir.CertPath(cert), dir.KeyPath(cert)
	}
	return cfg
}

// get sends a GET with a client of cfg and returns the status and body.
func (e *testEnv) get(t *testing.T, cfg *rest.Config, path string) (int, string) {
	t.Helper()
	client, err := rest.HTTPClientFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Get(e.url.String() + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

func (e *testEnv) kubeletClient() *rest.Config {
	return e.restConfig(e.pki, pki.APIServerKubeletClient)
}

// kubeletTransport is the API server's transport to kubelets: the kubelet client certificate,
// and (as minaks's API server has no --kubelet-certificate-authority) no check of the kubelet's.
func (e *testEnv) kubeletTransport(t *testing.T) *http.Transport {
	t.Helper()
	cert, err := tls.LoadX509KeyPair(e.pki.CertPath(pki.APIServerKubeletClient), e.pki.KeyPath(pki.APIServerKubeletClient))
	if err != nil {
		t.Fatal(err)
	}
	return &http.Transport{TLSClientConfig: &tls.Config{Certificates: []tls.Certificate{cert}, InsecureSkipVerify: true}}
}

// apiServer stands in for the API server's pods/exec, pods/attach and pods/portforward proxy
// (pkg/registry/core/pod/rest/subresources.go) for a node that does not declare
// ExtendWebSocketsToKubelet: a v5.channel.k8s.io WebSocket is translated to SPDY
// (StreamTranslatorHandler), a SPDY-over-WebSocket port-forward is unwrapped (TunnelingHandler),
// anything else is proxied as it is (UpgradeAwareHandler). Paths are the kubelet's.
func (e *testEnv) apiServer(t *testing.T) *httptest.Server {
	t.Helper()
	transport := e.kubeletTransport(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		location := *e.url
		location.Path, location.RawQuery = req.URL.Path, req.URL.RawQuery
		var handler http.Handler = proxy.NewUpgradeAwareHandler(&location, transport, false, true, errorResponder{t})
		if strings.HasPrefix(req.URL.Path, "/portForward/") {
			handler = translator.NewTranslatingHandler(handler, translator.NewTunnelingHandler(handler), wsstream.IsWebSocketRequestWithTunnelingProtocol)
		} else {
			q := req.URL.Query()
			opts := translator.Options{Stdin: q.Get("input") == "1", Stdout: q.Get("output") == "1", Stderr: q.Get("error") == "1", Tty: q.Get("tty") == "1"}
			handler = translator.NewTranslatingHandler(handler, translator.NewStreamTranslatorHandler(&location, transport, 0, opts), wsstream.IsWebSocketRequestWithStreamCloseProtocol)
		}
		handler.ServeHTTP(w, req)
	}))
	t.Cleanup(srv.Close)
	return srv
}

type errorResponder struct{ t *testing.T }

func (r errorResponder) Error(w http.ResponseWriter, req *http.Request, err error) {
	r.t.Logf("proxy %s: %v", req.URL, err)
	http.Error(w, err.Error(), http.StatusBadGateway)
}

// streamURL is an exec or attach URL with the kubelet's query parameters.
func streamURL(base *url.URL, path string, cmd []string, stdin, stdout, stderr, tty bool) *url.URL {
	u := *base
	u.Path = path
	q := url.Values{}
	for _, c := range cmd {
		q.Add("command", c)
	}
	for name, on := range map[string]bool{"input": stdin, "output": stdout, "error": stderr, "tty": tty} {
		if on {
			q.Set(name, "1")
		}
	}
	u.RawQuery = q.Encode()
	return &u
}

// fixedSize is a terminal that reports one size.
type fixedSize struct{ sent bool }

func (s *fixedSize) Next() *remotecommand.TerminalSize {
	if s.sent {
		return nil
	}
	s.sent = true
	return &remotecommand.TerminalSize{Width: 120, Height: 40}
}

func TestExec(t *testing.T) {
	e := newTestEnv(t, false)
	apiServer := e.apiServer(t)

	// executors are the ways a command reaches the kubelet.
	executors := map[string]func(t *testing.T, u *url.URL) remotecommand.Executor{
		// kubectl's fallback, straight to the kubelet, as the API server proxies SPDY.
		"spdy": func(t *testing.T, u *url.URL) remotecommand.Executor {
			ex, err := remotecommand.NewSPDYExecutor(e.kubeletClient(), "POST", u)
			if err != nil {
				t.Fatal(err)
			}
			return ex
		},
		// kubectl's default (v5 WebSocket), through the API server, which translates it to SPDY.
		"websocket via apiserver": func(t *testing.T, u *url.URL) remotecommand.Executor {
			pu, _ := url.Parse(apiServer.URL)
			pu.Path, pu.RawQuery = u.Path, u.RawQuery
			ex, err := remotecommand.NewWebSocketExecutor(&rest.Config{Host: apiServer.URL}, "GET", pu.String())
			if err != nil {
				t.Fatal(err)
			}
			return ex
		},
		// kubectl's default straight to the kubelet, as the API server proxies it to a node that
		// declares ExtendWebSocketsToKubelet (and as nodes/proxy always does).
		"websocket": func(t *testing.T, u *url.URL) remotecommand.Executor {
			ex, err := remotecommand.NewWebSocketExecutor(e.kubeletClient(), "GET", u.String())
			if err != nil {
				t.Fatal(err)
			}
			return ex
		},
		// a v4 WebSocket straight to the kubelet, which cri-streaming serves itself.
		"websocket v4": func(t *testing.T, u *url.URL) remotecommand.Executor {
			ex, err := remotecommand.NewWebSocketExecutorForProtocols(e.kubeletClient(), "GET", u.String(), "v4.channel.k8s.io")
			if err != nil {
				t.Fatal(err)
			}
			return ex
		},
	}
	cases := []struct {
		name       string
		path       string
		cmd        []string
		stdin      string
		tty        bool
		wantStdout string
		wantStderr string
		wantCode   int // exit code; -1: any other error
	}{
		{name: "stdout", path: "/exec/default/web/nginx", cmd: []string{"echo", "hello", "world"}, wantStdout: "hello world\n"},
		{name: "stdin", path: "/exec/default/web/nginx", cmd: []string{"cat"}, stdin: "from stdin\nsecond line\n", wantStdout: "from stdin\nsecond line\n"},
		{name: "stderr", path: "/exec/default/web/sidecar", cmd: []string{"warn", "careful"}, wantStderr: "careful\n"},
		{name: "with uid", path: "/exec/default/web/uid-web/nginx", cmd: []string{"echo", "ok"}, wantStdout: "ok\n"},
		{name: "exit code", path: "/exec/default/web/nginx", cmd: []string{"exit", "3"}, wantCode: 3},
		{name: "exit code of a process", path: "/exec/default/web/nginx", cmd: []string{"sh", "-c", "exit 4"}, wantCode: 4},
		{name: "runtime error", path: "/exec/default/web/nginx", cmd: []string{"nosuchcmd"}, wantCode: -1},
		{name: "tty", path: "/exec/default/web/nginx", cmd: []string{"tty"}, tty: true, wantStdout: "tty=true size=120x40\n"}, // no line discipline in the fake
	}
	for ename, newExecutor := range executors {
		for _, tc := range cases {
			t.Run(ename+"/"+tc.name, func(t *testing.T) {
				if ename == "websocket v4" && tc.stdin != "" {
					t.Skip("v4 WebSockets cannot close stdin: that is what v5 added")
				}
				u := streamURL(e.url, tc.path, tc.cmd, tc.stdin != "", true, !tc.tty, tc.tty)
				var stdout, stderr strings.Builder
				opts := remotecommand.StreamOptions{Stdout: &stdout, Tty: tc.tty}
				if !tc.tty {
					opts.Stderr = &stderr
				} else {
					opts.TerminalSizeQueue = &fixedSize{}
				}
				if tc.stdin != "" {
					opts.Stdin = strings.NewReader(tc.stdin)
				}
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				err := newExecutor(t, u).StreamWithContext(ctx, opts)
				var exitErr exec.CodeExitError
				switch {
				case tc.wantCode > 0:
					if !errors.As(err, &exitErr) || exitErr.Code != tc.wantCode {
						t.Fatalf("err = %v (%T), want exit code %d", err, err, tc.wantCode)
					}
				case tc.wantCode < 0:
					if err == nil || errors.As(err, &exitErr) {
						t.Fatalf("err = %v, want an error without exit code", err)
					}
				case err != nil:
					t.Fatalf("exec: %v", err)
				}
				if stdout.String() != tc.wantStdout || stderr.String() != tc.wantStderr {
					t.Errorf("stdout %q, stderr %q; want %q, %q", stdout.String(), stderr.String(), tc.wantStdout, tc.wantStderr)
				}
			})
		}
	}
}

func TestAttach(t *testing.T) {
	e := newTestEnv(t, false)
	u := streamURL(e.url, "/attach/default/web/nginx", nil, true, true, false, false)
	spdyExec, err := remotecommand.NewSPDYExecutor(e.kubeletClient(), "POST", u)
	if err != nil {
		t.Fatal(err)
	}
	wsExec, err := remotecommand.NewWebSocketExecutor(e.kubeletClient(), "GET", u.String())
	if err != nil {
		t.Fatal(err)
	}
	for name, ex := range map[string]remotecommand.Executor{"spdy": spdyExec, "websocket": wsExec} {
		var stdout strings.Builder
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		err := ex.StreamWithContext(ctx, remotecommand.StreamOptions{Stdin: strings.NewReader("typed\n"), Stdout: &stdout})
		cancel()
		if err != nil || stdout.String() != "typed\n" {
			t.Errorf("%s: stdout %q, %v", name, stdout.String(), err)
		}
	}
}

// TestStreamRequestErrors checks the answers given before any upgrade.
func TestStreamRequestErrors(t *testing.T) {
	e := newTestEnv(t, false)
	cases := []struct {
		path     string
		wantCode int
		wantBody string
	}{
		{"/exec/default/nope/nginx?command=ls&output=1", http.StatusNotFound, "pod does not exist"},
		{"/exec/default/web/nope?command=ls&output=1", http.StatusNotFound, `container "nope" not found in pod "web"`},
		{"/exec/default/web/other-uid/nginx?command=ls&output=1", http.StatusNotFound, "pod not found"},
		{"/exec/default/web/nginx?command=ls", http.StatusBadRequest, "you must specify at least 1 of stdin, stdout, stderr"},
		{"/attach/other/web/nginx?output=1", http.StatusNotFound, "pod does not exist"},
		{"/portForward/default/nope", http.StatusNotFound, "pod does not exist"},
		{"/portForward/default/web/other-uid", http.StatusNotFound, "pod not found"},
		{"/exec/default/web", http.StatusNotFound, "404 page not found"},
	}
	for _, tc := range cases {
		code, body := e.get(t, e.kubeletClient(), tc.path)
		if code != tc.wantCode || strings.TrimSpace(body) != tc.wantBody {
			t.Errorf("GET %s: %d %q, want %d %q", tc.path, code, body, tc.wantCode, tc.wantBody)
		}
	}
}

func TestRun(t *testing.T) {
	e := newTestEnv(t, false)
	client, err := rest.HTTPClientFor(e.kubeletClient())
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Post(e.url.String()+"/run/default/web/nginx?cmd="+url.QueryEscape("echo hi there"), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || string(body) != "hi there\n" {
		t.Errorf("run: %d %q", resp.StatusCode, body)
	}
}

func TestPortForward(t *testing.T) {
	e := newTestEnv(t, false)
	apiServer := e.apiServer(t)
	dialers := map[string]func(t *testing.T) httpstream.Dialer{
		// kubectl's fallback: SPDY, proxied as it is by the API server.
		"spdy": func(t *testing.T) httpstream.Dialer {
			transport, upgrader, err := spdy.RoundTripperFor(e.kubeletClient())
			if err != nil {
				t.Fatal(err)
			}
			u := *e.url
			u.Path = "/portForward/default/web"
			return spdy.NewDialer(upgrader, &http.Client{Transport: transport}, "POST", &u)
		},
		// kubectl's default: SPDY tunnelled in a WebSocket, unwrapped by the API server.
		"websocket tunnel via apiserver": func(t *testing.T) httpstream.Dialer {
			u, _ := url.Parse(apiServer.URL + "/portForward/default/web/uid-web")
			d, err := portforward.NewSPDYOverWebsocketDialer(u, &rest.Config{Host: apiServer.URL})
			if err != nil {
				t.Fatal(err)
			}
			return d
		},
		// kubectl's default straight to the kubelet, as for a node that declares
		// ExtendWebSocketsToKubelet.
		"websocket tunnel": func(t *testing.T) httpstream.Dialer {
			u := *e.url
			u.Path = "/portForward/default/web"
			d, err := portforward.NewSPDYOverWebsocketDialer(&u, e.kubeletClient())
			if err != nil {
				t.Fatal(err)
			}
			return d
		},
	}
	for name, newDialer := range dialers {
		t.Run(name, func(t *testing.T) {
			stop, ready := make(chan struct{}), make(chan struct{})
			defer close(stop)
			pf, err := portforward.NewOnAddresses(newDialer(t), []string{"127.0.0.1"}, []string{"0:80"}, stop, ready, io.Discard, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			errc := make(chan error, 1)
			go func() { errc <- pf.ForwardPorts() }()
			select {
			case <-ready:
			case err := <-errc:
				t.Fatalf("ForwardPorts: %v", err)
			case <-time.After(10 * time.Second):
				t.Fatal("port forward not ready")
			}
			ports, err := pf.GetPorts()
			if err != nil {
				t.Fatal(err)
			}
			for i := range 2 { // two connections over one forward
				msg := fmt.Sprintf("ping %d", i)
				conn, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", ports[0].Local))
				if err != nil {
					t.Fatal(err)
				}
				conn.SetDeadline(time.Now().Add(10 * time.Second))
				if _, err := io.WriteString(conn, msg); err != nil {
					t.Fatal(err)
				}
				conn.(*net.TCPConn).CloseWrite()
				got, err := io.ReadAll(conn)
				conn.Close()
				if err != nil || string(got) != msg {
					t.Errorf("echo: %q, %v; want %q", got, err, msg)
				}
			}
		})
	}
}

func TestContainerLogs(t *testing.T) {
	e := newTestEnv(t, false)
	e.rt.addLog("default", "web", "nginx", logLine{text: "one"}, logLine{text: "two", stderr: true}, logLine{text: "three"})
	stamp := logTime.Format(time.RFC3339Nano) + " "
	cases := []struct {
		query    string
		wantCode int
		wantBody string
		wantOpts *v1.PodLogOptions
	}{
		{query: "", wantCode: 200, wantBody: "one\ntwo\nthree\n", wantOpts: &v1.PodLogOptions{}},
		{query: "tailLines=2&timestamps=true", wantCode: 200, wantBody: stamp + "two\n" + stamp + "three\n",
			wantOpts: &v1.PodLogOptions{TailLines: ptr.To[int64](2), Timestamps: true}},
		{query: "tail=1", wantCode: 200, wantBody: "three\n", wantOpts: &v1.PodLogOptions{TailLines: ptr.To[int64](1)}},
		{query: "tail=all", wantCode: 200, wantBody: "one\ntwo\nthree\n", wantOpts: &v1.PodLogOptions{}},
		{query: "sinceSeconds=10&limitBytes=100", wantCode: 200, wantBody: "one\ntwo\nthree\n",
			wantOpts: &v1.PodLogOptions{SinceSeconds: ptr.To[int64](10), LimitBytes: ptr.To[int64](100)}},
		{query: "stream=Stdout", wantCode: 200, wantBody: "one\nthree\n", wantOpts: &v1.PodLogOptions{Stream: ptr.To(v1.LogStreamStdout)}},
		{query: "stream=Stderr", wantCode: 200, wantBody: "two\n", wantOpts: &v1.PodLogOptions{Stream: ptr.To(v1.LogStreamStderr)}},
		{query: "previous=true", wantCode: 400, wantBody: `previous terminated container "nginx" in pod "web" not found`},
		{query: "tailLines=x", wantCode: 400, wantBody: `{"message": "Unable to decode query."}`},
		{query: "tailLines=-1", wantCode: 422},
		{query: "stream=Both", wantCode: 422},
	}
	for _, tc := range cases {
		e.rt.mu.Lock()
		e.rt.logOpts = nil
		e.rt.mu.Unlock()
		code, body := e.get(t, e.kubeletClient(), "/containerLogs/default/web/nginx?"+tc.query)
		if code != tc.wantCode || (tc.wantBody != "" && strings.TrimSuffix(body, "\n") != strings.TrimSuffix(tc.wantBody, "\n")) {
			t.Errorf("%q: %d %q, want %d %q", tc.query, code, body, tc.wantCode, tc.wantBody)
		}
		if tc.wantOpts != nil {
			if diff := cmp.Diff(tc.wantOpts, e.rt.lastLogOptions()); diff != "" {
				t.Errorf("%q: options (-want +got):\n%s", tc.query, diff)
			}
		}
	}

	for path, want := range map[string]string{
		"/containerLogs/default/web/nope": `container "nope" not found in pod "web"`,
		"/containerLogs/default/nope/x":   `pod "nope" does not exist`,
	} {
		if code, body := e.get(t, e.kubeletClient(), path); code != http.StatusNotFound || strings.TrimSpace(body) != want {
			t.Errorf("%s: %d %q, want 404 %q", path, code, body, want)
		}
	}
}

// TestContainerLogsFollow checks that a followed log streams before it ends and ends with the
// request.
func TestContainerLogsFollow(t *testing.T) {
	e := newTestEnv(t, false)
	e.rt.addLog("default", "web", "nginx", logLine{text: "first"})
	client, err := rest.HTTPClientFor(e.kubeletClient())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.url.String()+"/containerLogs/default/web/nginx?follow=true&sinceTime=2026-01-02T03:04:05Z", nil)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil || line != "first\n" {
		t.Fatalf("first line %q, %v", line, err)
	}
	cancel()
	resp.Body.Close()
	opts := e.rt.lastLogOptions()
	if !opts.Follow || opts.SinceTime == nil || !opts.SinceTime.Time.Equal(logTime.Truncate(time.Second)) {
		t.Errorf("options %+v", opts)
	}
}

func TestPodsAndHealthz(t *testing.T) {
	e := newTestEnv(t, false)
	e.rt.addPod("kube-system", "coredns-abc", "uid-dns", "coredns")
	code, body := e.get(t, e.kubeletClient(), "/pods")
	if code != http.StatusOK {
		t.Fatalf("/pods: %d %s", code, body)
	}
	var list v1.PodList
	if err := json.Unmarshal([]byte(body), &list); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range list.Items {
		names = append(names, p.Namespace+"/"+p.Name)
	}
	if list.Kind != "PodList" || list.APIVersion != "v1" || !slices.Equal(names, []string{"default/web", "kube-system/coredns-abc"}) {
		t.Errorf("/pods: %s %s %v", list.APIVersion, list.Kind, names)
	}
	for _, path := range []string{"/healthz", "/healthz/ping"} {
		if code, body := e.get(t, e.kubeletClient(), path); code != http.StatusOK || body != "ok" {
			t.Errorf("%s: %d %q", path, code, body)
		}
	}
}

// TestLogs: /logs/ lists and serves the logs of the node's pods, and nothing of another node's.
func TestLogs(t *testing.T) {
	e := newTestEnv(t, false)
	for dir, content := range map[string]string{
		"pods/default_web_uid-web/nginx/0.log":     "a log line\n",
		"pods/default_other_uid-other/app/0.log":   "another node's\n",
		"pods/default_web_uid-web/sidecar/0.log":   "",
		"pods/default_other_uid-other/app/1.log":   "",
		"pods/default_web_uid-web/nginx/1.log.tmp": "",
	} {
		p := filepath.Join(e.logDir, dir)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		path, want string
		code       int
	}{
		{"/logs/", `<a href="pods/">pods/</a>`, http.StatusOK},
		{"/logs/pods/", `<a href="default_web_uid-web/">default_web_uid-web/</a>`, http.StatusOK},
		{"/logs/pods/default_web_uid-web/nginx/", `<a href="0.log">0.log</a>`, http.StatusOK},
		{"/logs/pods/default_web_uid-web/nginx/0.log", "a log line\n", http.StatusOK},
		{"/logs/pods/default_other_uid-other/app/0.log", "", http.StatusNotFound},
		{"/logs/pods/../pods/default_other_uid-other/app/0.log", "", http.StatusNotFound},
		{"/logs/other", "", http.StatusNotFound},
	} {
		code, body := e.get(t, e.kubeletClient(), tc.path)
		if code != tc.code || !strings.Contains(body, tc.want) {
			t.Errorf("%s: %d %q; want %d with %q", tc.path, code, body, tc.code, tc.want)
		}
		if strings.Contains(body, "other") {
			t.Errorf("%s shows another node's pod: %q", tc.path, body)
		}
	}
}

// TestStatsAndMetrics: /stats/summary is the runtime's summary, /metrics/resource the
// kubelet's resource metrics made from it (what metrics-server scrapes), and /metrics and
// /metrics/probes the node's registries.
func TestStatsAndMetrics(t *testing.T) {
	e := newTestEnv(t, false)
	code, body := e.get(t, e.kubeletClient(), "/stats/summary?only_cpu_and_memory=true")
	var s statsapi.Summary
	if code != http.StatusOK || json.Unmarshal([]byte(body), &s) != nil {
		t.Fatalf("/stats/summary: %d %s", code, body)
	}
	if s.Node.NodeName != testNode || len(s.Pods) != 1 || len(s.Pods[0].Containers) != 2 || *s.Node.Memory.WorkingSetBytes != 20<<20 {
		t.Errorf("/stats/summary: %s", body)
	}
	code, body = e.get(t, e.kubeletClient(), "/metrics/resource")
	for _, want := range []string{
		`container_cpu_usage_seconds_total{container="nginx",namespace="default",pod="web"} 1 1767323045000`,
		`container_memory_working_set_bytes{container="sidecar",namespace="default",pod="web"} 1.048576e+07 1767323045000`,
		`pod_memory_working_set_bytes{namespace="default",pod="web"} 2.097152e+07 1767323045000`,
		`node_cpu_usage_seconds_total 2 1767323045000`,
		`scrape_error 0`,
	} {
		if code != http.StatusOK || !strings.Contains(body, want) {
			t.Errorf("/metrics/resource: %d, no %q in\n%s", code, want, body)
		}
	}
	for path, want := range map[string]string{"/metrics": "test_node_metric 1", "/metrics/probes": "test_probe_metric 1"} {
		if code, body := e.get(t, e.kubeletClient(), path); code != http.StatusOK || !strings.Contains(body, want) {
			t.Errorf("%s: %d, no %q in\n%s", path, code, want, body)
		}
	}
}

func TestAuth(t *testing.T) {
	e := newTestEnv(t, false)
	token := func(tok string) *rest.Config {
		cfg := e.restConfig(e.pki, "")
		cfg.BearerToken = tok
		return cfg
	}
	cases := []struct {
		name     string
		client   *rest.Config
		path     string
		wantCode int
		wantBody string
	}{
		{"anonymous", e.restConfig(e.pki, ""), "/pods", http.StatusUnauthorized, "Unauthorized"},
		{"anonymous healthz", e.restConfig(e.pki, ""), "/healthz", http.StatusUnauthorized, "Unauthorized"},
		{"apiserver kubelet client", e.kubeletClient(), "/pods", http.StatusOK, ""},
		{"admin", e.restConfig(e.pki, pki.Admin), "/healthz", http.StatusOK, "ok"},
		{"not allowed", e.restConfig(e.pki, pki.Scheduler), "/pods", http.StatusForbidden,
			"Forbidden (user=system:kube-scheduler, verb=get, resource=nodes, subresource(s)=[pods proxy])"},
		{"other cluster's CA", e.restConfig(e.other, pki.APIServerKubeletClient), "/pods", http.StatusUnauthorized, "Unauthorized"},
		{"good token", token(goodToken), "/healthz", http.StatusOK, "ok"},
		{"bad token", token("nope"), "/healthz", http.StatusUnauthorized, "Unauthorized"},
	}
	for _, tc := range cases {
		code, body := e.get(t, tc.client, tc.path)
		if code != tc.wantCode || (tc.wantBody != "" && strings.TrimSpace(body) != tc.wantBody) {
			t.Errorf("%s: GET %s: %d %q, want %d %q", tc.name, tc.path, code, body, tc.wantCode, tc.wantBody)
		}
	}

	// The API server's kubelet client was authorized as the kubelet authorizes it.
	e.mu.Lock()
	defer e.mu.Unlock()
	var got *authorizationv1.SubjectAccessReviewSpec
	for i := range e.sars {
		if e.sars[i].User == "kube-apiserver-kubelet-client" {
			got = &e.sars[i]
		}
	}
	want := &authorizationv1.SubjectAccessReviewSpec{
		User:   "kube-apiserver-kubelet-client",
		Groups: []string{"system:masters", "system:authenticated"},
		ResourceAttributes: &authorizationv1.ResourceAttributes{
			Verb: "get", Version: "v1", Resource: "nodes", Subresource: "pods", Name: testNode,
		},
	}
	if got != nil {
		got.Extra = nil // the certificate's credential-id
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("SubjectAccessReview (-want +got):\n%s", diff)
	}
}

func TestDisableAuth(t *testing.T) {
	e := newTestEnv(t, true)
	if code, body := e.get(t, e.restConfig(e.pki, ""), "/healthz"); code != http.StatusOK || body != "ok" {
		t.Errorf("/healthz: %d %q", code, body)
	}
}

func TestRequestAttributes(t *testing.T) {
	cases := []struct {
		method, path string
		want         []string // verb, then subresources
	}{
		{"GET", "/pods", []string{"get", "pods", "proxy"}},
		{"GET", "/pods/", []string{"get", "pods", "proxy"}},
		{"GET", "/healthz/ping", []string{"get", "healthz", "proxy"}},
		{"GET", "/containerLogs/default/web/nginx", []string{"get", "proxy"}},
		{"POST", "/exec/default/web/nginx", []string{"create", "proxy"}},
		{"GET", "/portForward/default/web", []string{"get", "proxy"}},
		{"GET", "/logs/syslog", []string{"get", "log"}},
		{"GET", "/logsfoo", []string{"get", "proxy"}},
		{"GET", "/stats/summary", []string{"get", "stats"}},
		{"GET", "/metrics/cadvisor", []string{"get", "metrics"}},
		{"GET", "/configz", []string{"get", "configz", "proxy"}},
	}
	for _, tc := range cases {
		req := httptest.NewRequest(tc.method, tc.path, nil)
		attrs := requestAttributes(testNode, nil, req)
		got := []string{attrs[0].Verb}
		for _, a := range attrs {
			got = append(got, a.Subresource)
			if a.Resource != "nodes" || a.Name != testNode || a.APIVersion != "v1" || !a.ResourceRequest {
				t.Errorf("%s %s: attributes %+v", tc.method, tc.path, a)
			}
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s %s: %v, want %v", tc.method, tc.path, got, tc.want)
		}
	}
}
