package nodes

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/vishvananda/netlink"
	v1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/record"

	_ "github.com/minaks/minaks/images/all"
	"github.com/minaks/minaks/pkg/apiserver/config"
	"github.com/minaks/minaks/pkg/netstack/netns"
	"github.com/minaks/minaks/pkg/netstack/netnstest"
	"github.com/minaks/minaks/pkg/nodes/imagestore"
)

// toLoopback sends every registry request to a loopback server (or, down, fails it): the
// image manager can be tried with Docker Hub's references without leaving the host.
type toLoopback struct {
	host     string
	down     bool
	requests atomic.Int64
}

func (t *toLoopback) RoundTrip(req *http.Request) (*http.Response, error) {
	t.requests.Add(1)
	if t.down {
		return nil, errors.New("dial tcp: connect: network is unreachable")
	}
	req = req.Clone(req.Context())
	req.URL.Scheme, req.URL.Host, req.Host = "http", t.host, t.host
	return http.DefaultTransport.RoundTrip(req)
}

func TestImageManagerSources(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the store keeps layers' owners")
	}
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(reg)
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: "real-nginx", Mode: 0o644, Typeflag: tar.TypeReg})
	tw.Close()
	layer, _ := tarball.LayerFromReader(bytes.NewReader(buf.Bytes()))
	img, _ := mutate.AppendLayers(empty.Image, layer)
	cf, _ := img.ConfigFile()
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", imagestore.HostPlatform().Architecture
	img, _ = mutate.ConfigFile(img, cf)
	for _, repo := range []string{"library/nginx:1.27", "team/app:v1"} {
		ref, _ := name.ParseReference(host + "/" + repo)
		if err := remote.Write(ref, img); err != nil {
			t.Fatal(err)
		}
	}

	for _, tc := range []struct {
		name, source, image string
		command             []string
		policy              v1.PullPolicy
		down                bool
		// want: "builtin", "stored", "host" or a waiting reason.
		want, event string
		requests    bool
	}{
		{name: "auto pulls a general image", source: config.ImageSourceAuto, image: "nginx:1.27", want: "stored", event: "Successfully pulled image", requests: true},
		{name: "auto: unreachable registry, the built-in", source: config.ImageSourceAuto, image: "nginx:1.27", down: true, want: "builtin", event: "running minaks's built-in \"nginx\" in its place", requests: true},
		{name: "auto: absent image, the built-in", source: config.ImageSourceAuto, image: "nginx:0.0", want: "builtin", event: "not pulled", requests: true},
		{name: "builtin never asks", source: config.ImageSourceBuiltin, image: "nginx:1.27", want: "builtin", event: "built into minaks"},
		{name: "pull pulls", source: config.ImageSourcePull, image: "nginx:1.27", want: "stored", requests: true},
		{name: "pull: unreachable registry", source: config.ImageSourcePull, image: "nginx:1.27", down: true, want: reasonErrImagePull, requests: true},
		{name: "emulated images are built in", source: config.ImageSourcePull, image: "registry.k8s.io/pause:3.10", want: "builtin"},
		{name: "auto: a command, minaks's tools", source: config.ImageSourceAuto, image: "example.test/tools:v1", command: []string{"sh"}, down: true, want: "host", event: "minaks's tools (BusyBox)", requests: true},
		{name: "another image is pulled", source: config.ImageSourceBuiltin, image: "example.test/team/app:v1", want: "stored", requests: true},
		{name: "Never, absent", source: config.ImageSourceAuto, image: "example.test/absent:v1", policy: v1.PullNever, want: reasonErrImageNeverPull},
		{name: "invalid name", source: config.ImageSourcePull, image: "Bad:Name", want: reasonInvalidImageName},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store, err := imagestore.Open(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			tr := &toLoopback{host: host, down: tc.down}
			m := newImageManager(store, tc.source, fake.NewClientset(), tr, func() {})
			rec := record.NewFakeRecorder(10)
			policy := tc.policy
			if policy == "" {
				policy = v1.PullIfNotPresent
			}
			pod := &v1.Pod{}
			got, err := m.get(context.Background(), rec, pod, &v1.Container{Name: "c", Image: tc.image, Command: tc.command, ImagePullPolicy: policy})
			var kind string
			var ie *imageError
			switch {
			case errors.As(err, &ie):
				kind = ie.reason
			case err != nil:
				t.Fatal(err)
			case got.builtin != nil:
				kind = "builtin"
			case got.stored != nil:
				kind = "stored"
			default:
				kind = "host"
			}
			if kind != tc.want {
				t.Errorf("got %s (%v), want %s", kind, err, tc.want)
			}
			close(rec.Events)
			var events []string
			for e := range rec.Events {
				events = append(events, e)
			}
			if !strings.Contains(strings.Join(events, "\n"), tc.event) {
				t.Errorf("events %q lack %q", events, tc.event)
			}
			if (tr.requests.Load() > 0) != tc.requests {
				t.Errorf("%d registry requests", tr.requests.Load())
			}
		})
	}
}

// TestNodeTransportLoopback: a registry at a loopback address is reached in the node's network
// namespace when something answers there (a NodePort on the node's localhost), else on the
// host's loopback; other addresses from the host.
func TestNodeTransportLoopback(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	ns := fmt.Sprintf("mk-test-pull-%d", os.Getpid())
	if err := netns.Create(ns); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = netns.Delete(ns) })
	if err := netns.Do(ns, func() error {
		lo, err := netlink.LinkByName("lo")
		if err != nil {
			return err
		}
		return netlink.LinkSetUp(lo)
	}); err != nil {
		t.Fatal(err)
	}
	// Port both listens on the host and in the node; hostOnly on the host only.
	both, hostOnly := listenLoopback(t, "host"), listenLoopback(t, "host only")
	netnstest.Serve(t, ns, both, netnstest.Text("node"))

	dial := nodeTransport(ns).(*http.Transport).DialContext
	for _, tc := range []struct{ addr, want string }{
		{both, "node"},
		{strings.Replace(both, "127.0.0.1", "localhost", 1), "node"},
		{hostOnly, "host only"},
	} {
		conn, err := dial(context.Background(), "tcp", tc.addr)
		if err != nil {
			t.Fatalf("dial %s: %v", tc.addr, err)
		}
		got, _ := io.ReadAll(conn)
		conn.Close()
		if string(got) != tc.want {
			t.Errorf("dial %s reached %q, want %q", tc.addr, got, tc.want)
		}
	}
}

// listenLoopback answers every connection to a free port of the host's 127.0.0.1 with reply.
func listenLoopback(t *testing.T, reply string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	netnstest.Serve(t, "", addr, netnstest.Text(reply))
	return addr
}
