package imagestore

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/compression"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/kubernetes/pkg/credentialprovider"
	"k8s.io/kubernetes/pkg/credentialprovider/secrets"

	"github.com/minaks/minaks/pkg/nodes/container"
	"github.com/minaks/minaks/pkg/nodes/imagestore/imagestoretest"
)

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: layers keep owners, whiteouts are device nodes")
	}
}

// entry is a tar entry of a test layer.
type entry struct {
	name, body, link string
	typ              byte
	mode             int64
	uid              int
	xattrs           map[string]string
}

func layerTar(t *testing.T, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		typ := e.typ
		if typ == 0 {
			typ = tar.TypeReg
		}
		mode := e.mode
		if mode == 0 {
			mode = 0o644
			if typ == tar.TypeDir {
				mode = 0o755
			}
		}
		hdr := &tar.Header{Name: e.name, Typeflag: typ, Mode: mode, Size: int64(len(e.body)), Linkname: e.link,
			Uid: e.uid, Gid: e.uid, ModTime: time.Unix(1700000000, 0), Format: tar.FormatPAX}
		if typ != tar.TypeReg {
			hdr.Size = 0
		}
		for k, v := range e.xattrs {
			if hdr.PAXRecords == nil {
				hdr.PAXRecords = map[string]string{}
			}
			hdr.PAXRecords["SCHILY.xattr."+k] = v
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if hdr.Size > 0 {
			tw.Write([]byte(e.body))
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestUnpack(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	err := unpack(bytes.NewReader(layerTar(t,
		entry{name: "etc/", typ: tar.TypeDir},
		entry{name: "etc/passwd", body: "root:x:0:0::/root:/bin/sh\n"},
		entry{name: "bin/", typ: tar.TypeDir},
		entry{name: "bin/su", body: "su", mode: 0o4755},
		entry{name: "bin/sh", typ: tar.TypeSymlink, link: "busybox"},
		entry{name: "bin/busybox", body: "bb", uid: 1000, xattrs: map[string]string{"user.minaks": "yes"}},
		entry{name: "bin/ash", typ: tar.TypeLink, link: "bin/busybox"},
		entry{name: "dev/null", typ: tar.TypeChar},
		entry{name: "gone/.wh.file"},
		entry{name: "opaque/", typ: tar.TypeDir},
		entry{name: "opaque/.wh..wh..opq"},
		// Out of the layer, by name and through a symbolic link: both land inside.
		entry{name: "../../escape", body: "x"},
		entry{name: "up", typ: tar.TypeSymlink, link: "/"},
		entry{name: "up/etc/through", body: "y"},
	)), dir)
	if err != nil {
		t.Fatal(err)
	}
	read := func(p string) string { b, _ := os.ReadFile(filepath.Join(dir, p)); return string(b) }
	if read("etc/passwd") == "" || read("escape") != "x" || read("etc/through") != "y" {
		t.Errorf("files: passwd %q, escape %q, through %q", read("etc/passwd"), read("escape"), read("etc/through"))
	}
	if fi, err := os.Stat(filepath.Join(dir, "bin/su")); err != nil || fi.Mode()&os.ModeSetuid == 0 {
		t.Errorf("bin/su: %v %v, want set-user-ID", fi.Mode(), err)
	}
	var st, st2 unix.Stat_t
	unix.Lstat(filepath.Join(dir, "bin/busybox"), &st)
	unix.Lstat(filepath.Join(dir, "bin/ash"), &st2)
	if st.Uid != 1000 || st.Ino != st2.Ino || st.Mtim.Sec != 1700000000 {
		t.Errorf("bin/busybox: uid %d, mtime %d; bin/ash inode %d vs %d", st.Uid, st.Mtim.Sec, st2.Ino, st.Ino)
	}
	if v := make([]byte, 8); true {
		n, err := unix.Lgetxattr(filepath.Join(dir, "bin/busybox"), "user.minaks", v)
		if err != nil && err != unix.ENOTSUP || err == nil && string(v[:n]) != "yes" {
			t.Errorf("xattr user.minaks: %q %v", v[:n], err)
		}
	}
	if l, _ := os.Readlink(filepath.Join(dir, "bin/sh")); l != "busybox" {
		t.Errorf("bin/sh → %q", l)
	}
	if _, err := os.Lstat(filepath.Join(dir, "dev/null")); err == nil {
		t.Error("a device node was made")
	}
	unix.Lstat(filepath.Join(dir, "gone/file"), &st)
	if st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != 0 {
		t.Errorf("whiteout gone/file: mode %o rdev %d, want a 0/0 character device", st.Mode, st.Rdev)
	}
	v := make([]byte, 2)
	if n, err := unix.Lgetxattr(filepath.Join(dir, "opaque"), "trusted.overlay.opaque", v); err != nil || string(v[:n]) != "y" {
		t.Errorf("opaque: %q %v", v[:n], err)
	}
}

// testImage is an image of layers (tars) whose config runs cmd.
func testImage(t *testing.T, arch string, cmd []string, layers ...[]byte) v1.Image {
	t.Helper()
	img := empty.Image
	for _, l := range layers {
		layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(l)), nil })
		if err != nil {
			t.Fatal(err)
		}
		if img, err = mutate.AppendLayers(img, layer); err != nil {
			t.Fatal(err)
		}
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", arch
	cf.Config.Cmd, cf.Config.User, cf.Config.Env = cmd, "1000", []string{"PATH=/bin"}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func TestPull(t *testing.T) {
	needRoot(t)
	reg := imagestoretest.NewRegistry(t, "", "")
	base := layerTar(t, entry{name: "etc/", typ: tar.TypeDir}, entry{name: "etc/os-release", body: "ID=test\n"}, entry{name: "etc/old", body: "old"})
	top := layerTar(t, entry{name: "etc/", typ: tar.TypeDir}, entry{name: "etc/.wh.old"}, entry{name: "app", body: "#!/bin/sh\n", mode: 0o755})
	img := testImage(t, HostPlatform().Architecture, []string{"/app"}, base, top)
	reg.Push(t, "team/app:v1", img)

	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	got, err := s.Pull(ctx, reg.Host+"/team/app:v1", PullOptions{})
	if err != nil {
		t.Fatal(err)
	}
	id, _ := img.ConfigName()
	if got.ID != id.String() || len(got.Layers) != 2 || got.Config.User != "1000" || got.Config.Cmd[0] != "/app" {
		t.Errorf("pulled %+v", got)
	}
	if reg.BlobGets.Load() != 3 {
		t.Errorf("%d blob downloads, want 3 (config and two layers)", reg.BlobGets.Load())
	}
	dirs := s.LayerDirs(got)
	if _, err := os.Stat(filepath.Join(dirs[0], "app")); err != nil {
		t.Errorf("the top layer is not first: %v", dirs)
	}
	for _, ref := range []string{reg.Host + "/team/app:v1", got.ID, got.RepoDigests[0]} {
		if r, err := s.Resolve(ref); err != nil || r.ID != got.ID {
			t.Errorf("Resolve(%s) = %v, %v", ref, r, err)
		}
	}
	// The same image under another tag: no layer downloaded again.
	reg.Push(t, "team/app:v2", img)
	before := reg.BlobGets.Load()
	again, err := s.Pull(ctx, reg.Host+"/team/app:v2", PullOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if n := reg.BlobGets.Load() - before; n > 1 || len(again.RepoTags) != 2 {
		t.Errorf("second tag: %d blob downloads (want the config only), tags %v", n, again.RepoTags)
	}

	// Overlayfs reads the layers as a container sees them: the whiteout hides etc/old.
	// Removing the image is refused while a container has its layers mounted, whichever way
	// (a "lowerdir+=" each, or the classic "lowerdir=" of them all).
	for _, mount := range []struct {
		how string
		do  func(merged, upper, work string) error
	}{
		{"fsconfig", func(merged, upper, work string) error { return container.MountOverlay(merged, dirs, upper, work) }},
		{"classic", func(merged, upper, work string) error {
			return unix.Mount("overlay", merged, "overlay", 0, fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", strings.Join(dirs, ":"), upper, work))
		}},
	} {
		merged := t.TempDir()
		if err := mount.do(merged, t.TempDir(), t.TempDir()); err != nil {
			t.Fatalf("overlay (%s): %v", mount.how, err)
		}
		if _, err := os.Stat(filepath.Join(merged, "etc/old")); !os.IsNotExist(err) {
			t.Errorf("%s: etc/old through the whiteout: %v", mount.how, err)
		}
		if b, _ := os.ReadFile(filepath.Join(merged, "etc/os-release")); string(b) != "ID=test\n" {
			t.Errorf("%s: etc/os-release: %q", mount.how, b)
		}
		if _, err := s.Remove(reg.Host + "/team/app:v1"); err == nil || !strings.Contains(err.Error(), "running container") {
			t.Errorf("%s: removed an image in use: %v", mount.how, err)
		}
		if removed, _, err := s.Prune(nil); err != nil || len(removed) != 0 {
			t.Errorf("%s: pruned an image in use: %v %v", mount.how, removed, err)
		}
		// An image that only shares a layer with the one running is not in use: it goes,
		// and the layer stays while mounted.
		baseRef := reg.Push(t, "team/base:"+mount.how, testImage(t, HostPlatform().Architecture, []string{"/bin/sh"}, base))
		if _, err := s.Pull(ctx, baseRef, PullOptions{}); err != nil {
			t.Fatal(err)
		}
		if removed, _, err := s.Prune(nil); err != nil || len(removed) != 1 || removed[0].RepoTags[0] != baseRef {
			t.Errorf("%s: prune removed %v (%v), want the image sharing a layer", mount.how, removed, err)
		}
		if _, err := os.Stat(dirs[1]); err != nil {
			t.Errorf("%s: a mounted layer was freed: %v", mount.how, err)
		}
		unix.Unmount(merged, unix.MNT_DETACH)
	}
	// Then it is removed; prune frees the layers. (A process of another test that cloned its
	// mount namespace while the overlay was mounted holds a copy for a moment.)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		_, err := s.Remove(reg.Host + "/team/app:v1")
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
	}
	if _, err := s.Resolve(got.ID); err == nil {
		t.Error("the image outlived its removal by one of its names")
	}
	if _, freed, err := s.Prune(nil); err != nil || freed == 0 {
		t.Errorf("prune freed %d: %v", freed, err)
	}
	if left, _ := os.ReadDir(filepath.Join(s.Root(), "layers")); len(left) != 0 {
		t.Errorf("layers left: %v", left)
	}
}

// TestPullZstd: a layer a registry ships zstd-compressed is unpacked as a gzip one is.
func TestPullZstd(t *testing.T) {
	needRoot(t)
	reg := imagestoretest.NewRegistry(t, "", "")
	tarBytes := layerTar(t, entry{name: "etc/", typ: tar.TypeDir}, entry{name: "etc/zstd", body: "zstd layer\n"})
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(tarBytes)), nil },
		tarball.WithCompression(compression.ZStd), tarball.WithMediaType(types.OCILayerZStd))
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(testImage(t, HostPlatform().Architecture, []string{"/bin/true"}), layer)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := layer.Compressed()
	if err != nil {
		t.Fatal(err)
	}
	magic := make([]byte, 4)
	io.ReadFull(rc, magic)
	rc.Close()
	if !bytes.Equal(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}) {
		t.Fatalf("the layer's blob starts % x, not zstd's magic", magic)
	}
	ref := reg.Push(t, "team/zstd:v1", img)
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Pull(context.Background(), ref, PullOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if b, err := s.File(got, "/etc/zstd"); err != nil || string(b) != "zstd layer\n" {
		t.Errorf("/etc/zstd: %q, %v", b, err)
	}
}

// TestPullSharedAndCancelled: a pull cancelled mid-download ends at once, and a second pull
// of the same layer that was waiting for that download does not inherit its cancellation.
func TestPullSharedAndCancelled(t *testing.T) {
	needRoot(t)
	reg := imagestoretest.NewRegistry(t, "", "")
	layer := layerTar(t, entry{name: "data", body: strings.Repeat("x", 1<<16)})
	img := testImage(t, HostPlatform().Architecture, []string{"/data"}, layer)
	ref := reg.Push(t, "team/slow:v1", img)
	layers, _ := img.Layers()
	digest, _ := layers[0].Digest()
	held, release := make(chan struct{}, 4), make(chan struct{})
	reg.OnBlob(func(req *http.Request) {
		if strings.HasSuffix(req.URL.Path, digest.String()) {
			held <- struct{}{}
			select {
			case <-release:
			case <-req.Context().Done():
			}
		}
	})
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctxA, cancelA := context.WithCancel(context.Background())
	errA, errB := make(chan error, 1), make(chan error, 1)
	go func() { _, err := s.Pull(ctxA, ref, PullOptions{}); errA <- err }()
	<-held // A downloads the layer
	before := reg.Requests.Load()
	go func() { _, err := s.Pull(context.Background(), ref, PullOptions{}); errB <- err }()
	// B has its manifest and config, and waits for A's download.
	for reg.Requests.Load() < before+2 {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	cancelA()
	select {
	case err := <-errA:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled pull: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a cancelled pull did not end")
	}
	<-held // B downloads it again
	close(release)
	if err := <-errB; err != nil {
		t.Fatalf("the pull waiting for a cancelled one: %v", err)
	}
	if _, err := s.Resolve(ref); err != nil {
		t.Error(err)
	}
}

func TestPullIndexAndAuth(t *testing.T) {
	needRoot(t)
	reg := imagestoretest.NewRegistry(t, "ci", "s3cret")
	host := HostPlatform().Architecture
	other := "arm64"
	if host == other {
		other = "amd64"
	}
	l := layerTar(t, entry{name: "arch", body: host})
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: testImage(t, other, []string{"/x"}, layerTar(t, entry{name: "arch", body: other})), Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: other}}},
		mutate.IndexAddendum{Add: testImage(t, host, []string{"/x"}, l), Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: host}}},
	)
	idx = mutate.IndexMediaType(idx, types.OCIImageIndex)
	n, _ := name.ParseReference(reg.Host + "/multi:1")
	if err := remote.WriteIndex(n, idx, remote.WithAuth(reg.Auth())); err != nil {
		t.Fatal(err)
	}
	s, _ := Open(t.TempDir())
	keyring := func(user, pwd string) credentialprovider.DockerKeyring {
		cfg, _ := json.Marshal(map[string]any{"auths": map[string]any{reg.Host: map[string]string{
			"auth": base64.StdEncoding.EncodeToString([]byte(user + ":" + pwd)),
		}}})
		k, err := secrets.MakeDockerKeyring([]corev1.Secret{{Type: corev1.SecretTypeDockerConfigJson, Data: map[string][]byte{corev1.DockerConfigJsonKey: cfg}}}, &credentialprovider.BasicDockerKeyring{})
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	_, err := s.Pull(context.Background(), reg.Host+"/multi:1", PullOptions{Keyring: keyring("ci", "wrong")})
	if err == nil || !strings.Contains(err.Error(), "UNAUTHORIZED") {
		t.Errorf("wrong password: %v, want the registry's UNAUTHORIZED", err)
	}
	got, err := s.Pull(context.Background(), reg.Host+"/multi:1", PullOptions{Keyring: keyring("ci", "s3cret")})
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(s.LayerDirs(got)[0], "arch")); string(b) != host {
		t.Errorf("the index gave the %q image, want %s", b, host)
	}
	d, _ := idx.Digest()
	if got.RepoDigests[0] != reg.Host+"/multi@"+d.String() || got.Platform != "linux/"+host {
		t.Errorf("repo digests %v (want the index's %s), platform %s", got.RepoDigests, d, got.Platform)
	}
}

func TestLoad(t *testing.T) {
	needRoot(t)
	img := testImage(t, HostPlatform().Architecture, []string{"/app"}, layerTar(t, entry{name: "app", body: "x", mode: 0o755}))
	id, _ := img.ConfigName()
	s, _ := Open(t.TempDir())

	// docker-archive, as docker save writes it.
	var docker bytes.Buffer
	tag, _ := name.NewTag("example.test/ci/app:dev")
	if err := tarball.Write(tag, img, &docker); err != nil {
		t.Fatal(err)
	}
	got, err := s.Load(context.Background(), &docker)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].ID != id.String() || got[0].RepoTags[0] != "example.test/ci/app:dev" {
		t.Errorf("docker-archive: %+v", got)
	}

	// OCI layout, named by containerd's annotation.
	dir := t.TempDir()
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{annotationContainerdName: "example.test/ci/app:oci"})); err != nil {
		t.Fatal(err)
	}
	var oci bytes.Buffer
	tw := tar.NewWriter(&oci)
	if err := tw.AddFS(os.DirFS(dir)); err != nil {
		t.Fatal(err)
	}
	tw.Close()
	if got, err = s.Load(context.Background(), &oci); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].ID != id.String() || len(got[0].RepoTags) != 2 {
		t.Errorf("OCI layout: %+v", got)
	}
	if _, err := s.Load(context.Background(), strings.NewReader("not a tar")); err == nil {
		t.Error("loaded garbage")
	}
}

// GC removes unused images, the least recently used first, while the filesystem is over the
// low threshold (here: always, with thresholds below any use).
func TestGC(t *testing.T) {
	needRoot(t)
	s, _ := Open(t.TempDir())
	var ids []string
	for i, arch := range []string{"old", "new"} {
		var buf bytes.Buffer
		tag, _ := name.NewTag("example.test/gc:" + arch)
		img := testImage(t, HostPlatform().Architecture, []string{arch}, layerTar(t, entry{name: arch, body: arch}))
		if err := tarball.Write(tag, img, &buf); err != nil {
			t.Fatal(err)
		}
		loaded, err := s.Load(context.Background(), &buf)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, loaded[0].ID)
		if i == 1 {
			if err := s.Touch(loaded[0].ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	if removed, _, err := s.GC(100, 100); err != nil || len(removed) != 0 {
		t.Errorf("GC under the high threshold removed %v: %v", removed, err)
	}
	removed, freed, err := s.GC(-1, -1)
	if err != nil || len(removed) != 2 || removed[0].ID != ids[0] || freed == 0 {
		t.Errorf("GC removed %v (want the old one first, then the new), freed %d: %v", removed, freed, err)
	}
}

func TestUser(t *testing.T) {
	needRoot(t)
	s, _ := Open(t.TempDir())
	var buf bytes.Buffer
	tag, _ := name.NewTag("example.test/user:v1")
	img := testImage(t, HostPlatform().Architecture, nil,
		layerTar(t, entry{name: "etc/", typ: tar.TypeDir},
			entry{name: "etc/passwd", body: "root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n"},
			entry{name: "etc/group", body: "root:x:0:\napp:x:1000:\nwheel:x:10:app,root\nstaff:x:50:\n"}))
	if err := tarball.Write(tag, img, &buf); err != nil {
		t.Fatal(err)
	}
	loaded, err := s.Load(context.Background(), &buf)
	if err != nil {
		t.Fatal(err)
	}
	rec := loaded[0]
	i64 := func(v int64) *int64 { return &v }
	for _, tc := range []struct {
		user             string
		runAsUser, group *int64
		uid, gid         int64
		groups           string
		err              string
	}{
		{user: "", uid: 0, gid: 0, groups: "[]"},
		{user: "app", uid: 1000, gid: 1000, groups: "[10]"},
		{user: "1000", uid: 1000, gid: 1000, groups: "[10]"},
		{user: "app:staff", uid: 1000, gid: 50, groups: "[10]"},
		{user: "4242:4343", uid: 4242, gid: 4343, groups: "[]"},
		{user: "app", runAsUser: i64(0), uid: 0, gid: 0, groups: "[10]"},
		{user: "app", runAsUser: i64(3000), group: i64(3001), uid: 3000, gid: 3001, groups: "[]"},
		{user: "nobody", err: "unable to find user nobody"},
		{user: "app:nogroup", err: "unable to find group nogroup"},
	} {
		rec.Config.User = tc.user
		uid, gid, groups, err := s.User(rec, tc.runAsUser, tc.group)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("USER %q: err %v, want %q", tc.user, err, tc.err)
			}
			continue
		}
		if err != nil || uid != tc.uid || gid != tc.gid || fmt.Sprint(groups) != tc.groups {
			t.Errorf("USER %q runAsUser %v: %d:%d %v %v; want %d:%d %s", tc.user, tc.runAsUser, uid, gid, groups, err, tc.uid, tc.gid, tc.groups)
		}
	}
}
