package e2e

import (
	"archive/tar"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/minaks/minaks/pkg/netstack/netnstest"
	"github.com/minaks/minaks/pkg/nodes/imagestore/imagestoretest"
)

// imageApp is the program of the test's images: it serves, on :8080, what the container sees
// of itself — user, groups, working directory, an environment variable and files of the
// image's layers.
const imageApp = `package main

import (
	"encoding/json"
	"net/http"
	"os"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "hog" {
		var held [][]byte
		for {
			b := make([]byte, 1<<20)
			for i := range b {
				b[i] = 1
			}
			held = append(held, b)
		}
	}
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		wd, _ := os.Getwd()
		base, _ := os.ReadFile("/etc/base-release")
		_, gone := os.Stat("/etc/old")
		opaque, _ := os.ReadDir("/opt/opaque")
		var names []string
		for _, e := range opaque {
			names = append(names, e.Name())
		}
		json.NewEncoder(w).Encode(map[string]any{
			"uid": os.Getuid(), "gid": os.Getgid(), "cwd": wd, "greeting": os.Getenv("GREETING"),
			"args": os.Args[1:], "base": string(base), "oldGone": os.IsNotExist(gone), "opaque": names,
		})
	})
	http.ListenAndServe(":8080", nil)
}
`

// buildImageApp builds imageApp as a static binary.
func buildImageApp(t *testing.T) []byte {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(imageApp), 0o644); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module app\n\ngo 1.22\n"), 0o644)
	cmd := exec.Command("go", "build", "-o", "app", ".")
	cmd.Dir, cmd.Env = dir, append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build the test image's program: %v\n%s", err, out)
	}
	b, err := os.ReadFile(filepath.Join(dir, "app"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// tarLayer is a layer of files (name → content; a name ending in / is a directory).
func tarLayer(t *testing.T, files map[string]string, modes map[string]int64) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, n := range slices.Sorted(maps.Keys(files)) { // a directory before what it holds
		hdr := &tar.Header{Name: n, Mode: 0o644, Size: int64(len(files[n])), Typeflag: tar.TypeReg, ModTime: time.Unix(1700000000, 0)}
		if strings.HasSuffix(n, "/") {
			hdr.Typeflag, hdr.Mode, hdr.Size = tar.TypeDir, 0o755, 0
		}
		if m, ok := modes[n]; ok {
			hdr.Mode = m
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(files[n]))
	}
	tw.Close()
	b := buf.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// testAppImage is the test's image for arch: a base layer (passwd, group, files), a layer with
// the program that deletes a base file (whiteout) and empties a directory (opaque), a non-root
// USER by name, a working directory, an environment and a command.
func testAppImage(t *testing.T, app []byte, arch string) v1.Image {
	t.Helper()
	base := tarLayer(t, map[string]string{
		"etc/":             "",
		"etc/passwd":       "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/data:/bin/sh\n",
		"etc/group":        "root:x:0:\napp:x:1000:\nextra:x:2000:app\n",
		"etc/base-release": "base layer\n",
		"etc/old":          "deleted by the next layer\n",
		"opt/":             "",
		"opt/opaque/":      "",
		"opt/opaque/below": "hidden by the opaque directory\n",
	}, nil)
	top := tarLayer(t, map[string]string{
		"app":                     string(app),
		"etc/":                    "",
		"etc/.wh.old":             "",
		"opt/":                    "",
		"opt/opaque/":             "",
		"opt/opaque/.wh..wh..opq": "",
		"opt/opaque/above":        "kept\n",
		"data/":                   "",
	}, map[string]int64{"app": 0o755, "data/": 0o777})
	img, err := mutate.AppendLayers(empty.Image, base, top)
	if err != nil {
		t.Fatal(err)
	}
	cf, _ := img.ConfigFile()
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", arch
	cf.Config = v1.Config{
		Entrypoint: []string{"/app"}, Cmd: []string{"from-image-cmd"}, User: "app", WorkingDir: "/data",
		Env: []string{"PATH=/", "GREETING=hello from the image"}, ExposedPorts: map[string]struct{}{"8080/tcp": {}},
	}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	return img
}

// TestImages runs images from a registry on loopback and from a tarball: layers with
// whiteouts and opaque directories, the image's user, working directory, environment and
// command, pull secrets, the pull policies, and `minaks load` / `minaks image`.
func TestImages(t *testing.T) {
	c := newTestCluster(t)
	app := buildImageApp(t)
	reg := imagestoretest.NewRegistry(t, "", "")
	ref := reg.Push(t, "team/app:v1", testAppImage(t, app, runtime.GOARCH))
	c.mustMinaks("up", "--node-count", "2")

	nodeNS := "minaks." + c.name + "." + c.nodes().Items[0].Metadata.Name
	fetch := func(t *testing.T, addr string) map[string]any {
		t.Helper()
		var got map[string]any
		eventually(t, 30*time.Second, "GET "+addr, func() error {
			out, err := netnstest.Fetch(nodeNS, addr, "GET / HTTP/1.0\r\n\r\n")
			if err != nil {
				return err
			}
			_, body, _ := strings.Cut(out, "\r\n\r\n")
			return json.Unmarshal([]byte(body), &got)
		})
		return got
	}

	t.Run("a Deployment from a registry serves through a Service, as its image says", func(t *testing.T) {
		c.kubectlApply(t, fmt.Sprintf(`
apiVersion: apps/v1
kind: Deployment
metadata: {name: app}
spec:
  replicas: 2
  selector: {matchLabels: {app: app}}
  template:
    metadata: {labels: {app: app}}
    spec:
      containers: [{name: app, image: %s, ports: [{containerPort: 8080}]}]
---
apiVersion: v1
kind: Service
metadata: {name: app}
spec:
  selector: {app: app}
  ports: [{port: 80, targetPort: 8080}]
`, ref))
		c.mustKubectl("rollout", "status", "deployment/app", "--timeout=90s")
		ip := c.mustKubectl("get", "svc", "app", "-o", "jsonpath={.spec.clusterIP}")
		got := fetch(t, ip+":80")
		want := map[string]any{
			"uid": 1000.0, "gid": 1000.0, "cwd": "/data", "greeting": "hello from the image",
			"args": []any{"from-image-cmd"}, "base": "base layer\n", "oldGone": true, "opaque": []any{"above"},
		}
		for k, v := range want {
			if fmt.Sprint(got[k]) != fmt.Sprint(v) {
				t.Errorf("%s = %v, want %v", k, got[k], v)
			}
		}
		events := c.mustKubectl("get", "events", "--field-selector", "reason=Pulled", "-o", "jsonpath={.items[*].message}")
		if !strings.Contains(events, "Successfully pulled image") {
			t.Errorf("Pulled events: %s", events)
		}
		imageID := c.mustKubectl("get", "pod", "-l", "app=app", "-o", "jsonpath={.items[0].status.containerStatuses[0].imageID}")
		if !strings.HasPrefix(imageID, reg.Host+"/team/app@sha256:") {
			t.Errorf("imageID %q", imageID)
		}
	})

	t.Run("IfNotPresent does not pull again; the node lists the image", func(t *testing.T) {
		before := reg.Requests.Load()
		c.mustKubectl("run", "again", "--image="+ref, "--image-pull-policy=IfNotPresent", "--command", "--", "/app", "second")
		c.mustKubectl("wait", "--for=condition=Ready", "pod/again", "--timeout=60s")
		if n := reg.Requests.Load() - before; n != 0 {
			t.Errorf("%d registry requests for an image present on the node", n)
		}
		if got := fetch(t, c.mustKubectl("get", "pod", "again", "-o", "jsonpath={.status.podIP}")+":8080"); fmt.Sprint(got["args"]) != "[second]" {
			t.Errorf("command and args over the image's: %v", got["args"])
		}
		eventually(t, 30*time.Second, "node status images", func() error {
			if out := c.mustKubectl("get", "nodes", "-o", "jsonpath={.items[*].status.images[*].names}"); !strings.Contains(out, reg.Host+"/team/app:v1") {
				return fmt.Errorf("status.images: %s", out)
			}
			return nil
		})
	})

	t.Run("pull secrets: a wrong one gives ErrImagePull naming the registry's answer", func(t *testing.T) {
		private := imagestoretest.NewRegistry(t, "ci", "s3cret")
		pref := private.Push(t, "private/app:v1", testAppImage(t, app, runtime.GOARCH))
		secret := func(name, pwd string) string {
			cfg, _ := json.Marshal(map[string]any{"auths": map[string]any{private.Host: map[string]string{
				"auth": base64.StdEncoding.EncodeToString([]byte("ci:" + pwd)),
			}}})
			return fmt.Sprintf(`
apiVersion: v1
kind: Secret
metadata: {name: %s}
type: kubernetes.io/dockerconfigjson
data: {.dockerconfigjson: %s}
`, name, base64.StdEncoding.EncodeToString(cfg))
		}
		pod := func(name, secret string) string {
			return fmt.Sprintf(`
apiVersion: v1
kind: Pod
metadata: {name: %s}
spec:
  imagePullSecrets: [{name: %s}]
  containers: [{name: app, image: %s}]
`, name, secret, pref)
		}
		c.kubectlApply(t, secret("wrong", "guess")+"---"+pod("denied", "wrong"))
		eventually(t, 30*time.Second, "ErrImagePull", func() error {
			w := c.mustKubectl("get", "pod", "denied", "-o", "jsonpath={.status.containerStatuses[0].state.waiting.reason} {.status.containerStatuses[0].state.waiting.message}")
			if !strings.HasPrefix(w, "ErrImagePull ") && !strings.HasPrefix(w, "ImagePullBackOff ") || !strings.Contains(w, "UNAUTHORIZED") || !strings.Contains(w, "Failed to pull image") {
				return fmt.Errorf("waiting: %s", w)
			}
			return nil
		})
		c.kubectlApply(t, secret("right", "s3cret")+"---"+pod("allowed", "right"))
		c.mustKubectl("wait", "--for=condition=Ready", "pod/allowed", "--timeout=60s")
	})

	t.Run("minaks load: a docker-archive runs with imagePullPolicy Never", func(t *testing.T) {
		archive := filepath.Join(t.TempDir(), "app.tar")
		tag, _ := name.NewTag("example.test/ci/app:local")
		img := testAppImage(t, app, runtime.GOARCH)
		img, _ = mutate.Config(img, v1.Config{Entrypoint: []string{"/app"}, Cmd: []string{"loaded"}, Env: []string{"GREETING=loaded"}})
		if err := tarball.WriteToFile(archive, tag, img); err != nil {
			t.Fatal(err)
		}
		if out := c.mustMinaks("load", archive); !strings.Contains(out, "Loaded image: example.test/ci/app:local") {
			t.Errorf("minaks load: %s", out)
		}
		c.mustKubectl("run", "loaded", "--image=example.test/ci/app:local", "--image-pull-policy=Never")
		c.mustKubectl("wait", "--for=condition=Ready", "pod/loaded", "--timeout=60s")
		if got := fetch(t, c.mustKubectl("get", "pod", "loaded", "-o", "jsonpath={.status.podIP}")+":8080"); got["greeting"] != "loaded" || got["uid"] != 0.0 {
			t.Errorf("loaded image: %v", got)
		}
		c.mustKubectl("run", "never", "--image=example.test/ci/absent:v1", "--image-pull-policy=Never")
		eventually(t, 30*time.Second, "ErrImageNeverPull", func() error {
			if w := c.mustKubectl("get", "pod", "never", "-o", "jsonpath={.status.containerStatuses[0].state.waiting.reason}"); w != "ErrImageNeverPull" {
				return fmt.Errorf("waiting: %q", w)
			}
			return nil
		})
		ls := c.mustMinaks("image", "ls")
		for _, want := range []string{"example.test/ci/app:local", reg.Host + "/team/app:v1"} {
			if !strings.Contains(ls, want) {
				t.Errorf("minaks image ls lacks %s:\n%s", want, ls)
			}
		}
		if out, err := c.minaks("image", "rm", ref); err == nil || !strings.Contains(out, "running container") {
			t.Errorf("minaks image rm of an image in use: %v\n%s", err, out)
		}
	})

	t.Run("a multi-platform index runs the host's platform", func(t *testing.T) {
		var idx v1.ImageIndex = empty.Index
		for _, arch := range []string{"arm64", "amd64", "s390x"} {
			img, _ := mutate.Config(testAppImage(t, app, arch), v1.Config{Entrypoint: []string{"/app"}, Env: []string{"GREETING=" + arch}})
			idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img,
				Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: arch}}})
		}
		iref := reg.PushIndex(t, "team/multi:v1", idx)
		digest, _ := idx.Digest()
		c.mustKubectl("run", "multi", "--image="+iref)
		c.mustKubectl("wait", "--for=condition=Ready", "pod/multi", "--timeout=60s")
		if got := fetch(t, c.mustKubectl("get", "pod", "multi", "-o", "jsonpath={.status.podIP}")+":8080"); got["greeting"] != runtime.GOARCH {
			t.Errorf("the index ran %v, want the %s image", got["greeting"], runtime.GOARCH)
		}
		if id := c.mustKubectl("get", "pod", "multi", "-o", "jsonpath={.status.containerStatuses[0].imageID}"); id != reg.Host+"/team/multi@"+digest.String() {
			t.Errorf("imageID %q, want the index's digest %s", id, digest)
		}
	})

	t.Run("minaks load - reads an OCI layout from stdin; minaks image prune keeps what runs", func(t *testing.T) {
		// The Deployment's image with a layer more: prune keeps the layers they share.
		img, _ := mutate.AppendLayers(testAppImage(t, app, runtime.GOARCH), tarLayer(t, map[string]string{"etc/stdin": "loaded from stdin\n"}, nil))
		img, _ = mutate.Config(img, v1.Config{Entrypoint: []string{"/app"}, Env: []string{"GREETING=from stdin"}})
		dir := t.TempDir()
		lp, err := layout.Write(dir, empty.Index)
		if err != nil {
			t.Fatal(err)
		}
		if err := lp.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": "example.test/ci/stdin:v1"})); err != nil {
			t.Fatal(err)
		}
		var archive bytes.Buffer
		tarDir(t, &archive, dir)
		load := exec.Command(minaksBin, "load", "-", "--state-dir", c.stateDir)
		load.Stdin = &archive
		if out, err := load.CombinedOutput(); err != nil || !strings.Contains(string(out), "Loaded image: example.test/ci/stdin:v1") {
			t.Fatalf("minaks load -: %v\n%s", err, out)
		}
		c.mustKubectl("run", "stdin", "--image=example.test/ci/stdin:v1", "--image-pull-policy=Never")
		c.mustKubectl("wait", "--for=condition=Ready", "pod/stdin", "--timeout=60s")
		if got := fetch(t, c.mustKubectl("get", "pod", "stdin", "-o", "jsonpath={.status.podIP}")+":8080"); got["greeting"] != "from stdin" {
			t.Errorf("the image from stdin: %v", got)
		}

		// Once its pod is gone, prune removes the image; the Deployment's stays.
		c.mustKubectl("delete", "pod", "stdin", "--wait=true")
		out := ""
		eventually(t, 30*time.Second, "minaks image prune", func() error {
			out = c.mustMinaks("image", "prune")
			if ls := c.mustMinaks("image", "ls"); strings.Contains(ls, "example.test/ci/stdin") {
				return fmt.Errorf("still listed after prune (%s):\n%s", out, ls)
			}
			return nil
		})
		if ls := c.mustMinaks("image", "ls"); !strings.Contains(ls, reg.Host+"/team/app:v1") {
			t.Errorf("prune removed an image in use:\n%s", ls)
		}
		// The Deployment's pods keep running on the layers they share with the pruned image.
		ip := c.mustKubectl("get", "svc", "app", "-o", "jsonpath={.spec.clusterIP}")
		if got := fetch(t, ip+":80"); got["base"] != "base layer\n" {
			t.Errorf("after prune, the Deployment's pods read %v", got)
		}
	})

	t.Run("limits: over its memory limit a container is OOMKilled; limits.cpu is a CFS quota", func(t *testing.T) {
		c.kubectlApply(t, fmt.Sprintf(`
apiVersion: v1
kind: Pod
metadata: {name: hog}
spec:
  restartPolicy: Never
  containers:
  - name: hog
    image: %s
    command: [/app, hog]
    resources: {limits: {memory: 32Mi, cpu: 500m}}
`, ref))
		eventually(t, 60*time.Second, "OOMKilled", func() error {
			got := c.mustKubectl("get", "pod", "hog", "-o", "jsonpath={.status.containerStatuses[0].state.terminated.reason} {.status.containerStatuses[0].state.terminated.exitCode}")
			if got != "OOMKilled 137" {
				return fmt.Errorf("terminated: %q", got)
			}
			return nil
		})
		c.kubectlApply(t, fmt.Sprintf(`
apiVersion: v1
kind: Pod
metadata: {name: capped}
spec:
  containers:
  - name: app
    image: %s
    resources: {limits: {memory: 64Mi, cpu: 250m}, requests: {cpu: 100m}}
`, ref))
		c.mustKubectl("wait", "--for=condition=Ready", "pod/capped", "--timeout=60s")
		uid := c.mustKubectl("get", "pod", "capped", "-o", "jsonpath={.metadata.uid}")
		dir := "minaks/" + c.name + "/" + uid + "_app"
		read := func(p string) string { b, _ := os.ReadFile(p); return strings.TrimSpace(string(b)) }
		if v2 := read("/sys/fs/cgroup/" + dir + "/cpu.max"); v2 != "" {
			if v2 != "25000 100000" || read("/sys/fs/cgroup/"+dir+"/memory.max") != "67108864" {
				t.Errorf("cpu.max %q, memory.max %q", v2, read("/sys/fs/cgroup/"+dir+"/memory.max"))
			}
		} else if q, m, sh := read("/sys/fs/cgroup/cpu/"+dir+"/cpu.cfs_quota_us"), read("/sys/fs/cgroup/memory/"+dir+"/memory.limit_in_bytes"), read("/sys/fs/cgroup/cpu/"+dir+"/cpu.shares"); q != "25000" || m != "67108864" || sh != "102" {
			t.Errorf("cgroup v1: cfs_quota_us %q, memory.limit_in_bytes %q, cpu.shares %q", q, m, sh)
		}
	})

	t.Run("an image volume: the image's files, read-only, a sub path of them too", func(t *testing.T) {
		c.kubectlApply(t, fmt.Sprintf(`
apiVersion: v1
kind: Pod
metadata: {name: imgvol}
spec:
  containers:
  - name: shell
    image: busybox
    command: [sleep, "3600"]
    volumeMounts:
    - {name: app, mountPath: /img}
    - {name: app, mountPath: /opt-only, subPath: opt}
  volumes:
  - name: app
    image: {reference: %s, pullPolicy: IfNotPresent}
`, ref))
		c.mustKubectl("wait", "--for=condition=Ready", "pod/imgvol", "--timeout=60s")
		out := c.mustKubectl("exec", "imgvol", "--", "sh", "-c",
			"cat /img/etc/base-release; test -e /img/etc/old || echo whited-out; ls /img/opt/opaque /opt-only/opaque; touch /img/x 2>/dev/null || echo read-only")
		if want := "base layer\nwhited-out\n/img/opt/opaque:\nabove\n\n/opt-only/opaque:\nabove\nread-only"; strings.TrimSpace(out) != want {
			t.Errorf("image volume:\n%s\nwant:\n%s", out, want)
		}
	})
}

// tarDir writes dir as a tar archive to w.
func tarDir(t *testing.T, w io.Writer, dir string) {
	t.Helper()
	tw := tar.NewWriter(w)
	if err := tw.AddFS(os.DirFS(dir)); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
}
