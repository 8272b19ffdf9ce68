package nodes

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	authenticationv1 "k8s.io/api/authentication/v1"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/utils/ptr"
)

// volumeTree describes what a reader of an atomically written volume directory sees: each
// regular file reached through the top-level names, by path, with its content and mode.
func volumeTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "..") {
			continue
		}
		if e.Type()&os.ModeSymlink == 0 {
			t.Errorf("top-level %s is not a symlink (%s)", e.Name(), e.Type())
			continue
		}
		target, _ := os.Readlink(filepath.Join(dir, e.Name()))
		if want := filepath.Join("..data", e.Name()); target != want {
			t.Errorf("top-level %s -> %s, want -> %s", e.Name(), target, want)
		}
		// Follow the link, then walk what it leads to.
		root := filepath.Join(dir, e.Name())
		if fi, err := os.Stat(root); err == nil && fi.IsDir() {
			root += "/."
		}
		err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			fi, err := os.Stat(p)
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(dir, filepath.Clean(p))
			out[rel] = string(b) + " " + fi.Mode().Perm().String()
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// dotDirs are the names starting with ".." in dir, but ..data.
func dotDirs(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "..") && e.Name() != "..data" {
			out = append(out, e.Name())
		}
	}
	return out
}

func fileInode(t *testing.T, path string) uint64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Ino
}

func TestWriteAtomic(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "vol")
	first := map[string]file{
		"a.conf":     {[]byte("a=1\n"), 0o644},
		"secret":     {[]byte("s3cr3t"), 0o400},
		"sub/inner":  {[]byte("inner"), 0o640},
		"sub/deep/x": {[]byte("x"), 0o600},
	}
	if err := writeAtomic(dir, first); err != nil {
		t.Fatal(err)
	}

	// Layout: ..data -> ..<timestamp>.<random>, one symlink per top-level name.
	data, err := os.Readlink(filepath.Join(dir, "..data"))
	if err != nil {
		t.Fatalf("..data: %v", err)
	}
	if !strings.HasPrefix(data, ".."+time.Now().UTC().Format("2006_01_02_")) || strings.Contains(data, "/") {
		t.Errorf("..data -> %s, want ..<yyyy_mm_dd_hh_mm_ss>.<random> in the volume", data)
	}
	if fi, err := os.Lstat(filepath.Join(dir, data)); err != nil || !fi.IsDir() {
		t.Errorf("..data target %s: %v", data, err)
	}
	if diff := cmp.Diff([]string{data}, dotDirs(t, dir)); diff != "" {
		t.Errorf("timestamped directories (-want +got):\n%s", diff)
	}
	want := map[string]string{
		"a.conf":     "a=1\n -rw-r--r--",
		"secret":     "s3cr3t -r--------",
		"sub/inner":  "inner -rw-r-----",
		"sub/deep/x": "x -rw-------",
	}
	if diff := cmp.Diff(want, volumeTree(t, dir)); diff != "" {
		t.Errorf("first write (-want +got):\n%s", diff)
	}

	// The same content again changes nothing.
	ino := fileInode(t, filepath.Join(dir, "a.conf"))
	if err := writeAtomic(dir, first); err != nil {
		t.Fatal(err)
	}
	if again, _ := os.Readlink(filepath.Join(dir, "..data")); again != data {
		t.Errorf("unchanged write moved ..data from %s to %s", data, again)
	}
	if got := fileInode(t, filepath.Join(dir, "a.conf")); got != ino {
		t.Errorf("unchanged write replaced a.conf (inode %d, was %d)", got, ino)
	}

	// A changed mode alone is a change.
	modeOnly := map[string]file{}
	for k, v := range first {
		modeOnly[k] = v
	}
	modeOnly["secret"] = file{[]byte("s3cr3t"), 0o440}
	if err := writeAtomic(dir, modeOnly); err != nil {
		t.Fatal(err)
	}
	if got := volumeTree(t, dir)["secret"]; got != "s3cr3t -r--r-----" {
		t.Errorf("after a mode change, secret is %q", got)
	}
	data, _ = os.Readlink(filepath.Join(dir, "..data"))

	// Changed content: a new directory behind ..data, the old one and stale names gone.
	second := map[string]file{
		"a.conf":  {[]byte("a=2\n"), 0o644},
		"new":     {[]byte("new"), 0o644},
		"sub/new": {[]byte("sub new"), 0o644},
	}
	if err := writeAtomic(dir, second); err != nil {
		t.Fatal(err)
	}
	data2, _ := os.Readlink(filepath.Join(dir, "..data"))
	if data2 == data {
		t.Errorf("changed content kept ..data at %s", data)
	}
	if diff := cmp.Diff([]string{data2}, dotDirs(t, dir)); diff != "" {
		t.Errorf("timestamped directories after a change (-want +got):\n%s", diff)
	}
	want = map[string]string{
		"a.conf":  "a=2\n -rw-r--r--",
		"new":     "new -rw-r--r--",
		"sub/new": "sub new -rw-r--r--",
	}
	if diff := cmp.Diff(want, volumeTree(t, dir)); diff != "" {
		t.Errorf("second write (-want +got):\n%s", diff)
	}
	if _, err := os.Lstat(filepath.Join(dir, "secret")); !os.IsNotExist(err) {
		t.Errorf("stale top-level name secret: %v", err)
	}

	// Nothing at all: an empty volume.
	if err := writeAtomic(dir, map[string]file{}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]string{}, volumeTree(t, dir)); diff != "" {
		t.Errorf("empty write (-want +got):\n%s", diff)
	}
}

func TestProject(t *testing.T) {
	data := map[string][]byte{"a": []byte("A"), "b": []byte("B"), "c": []byte("C")}
	type out = map[string]string
	render := func(files map[string]file) out {
		o := out{}
		for p, f := range files {
			o[p] = string(f.data) + " " + f.mode.String()
		}
		return o
	}
	for _, tc := range []struct {
		name    string
		items   []v1.KeyToPath
		opt     *bool
		want    out
		wantErr string
	}{
		{name: "all keys, default mode", want: out{"a": "A -rw-r-----", "b": "B -rw-r-----", "c": "C -rw-r-----"}},
		{name: "items at their paths with modes",
			items: []v1.KeyToPath{{Key: "a", Path: "conf/a.txt"}, {Key: "c", Path: "c", Mode: ptr.To[int32](0o400)}},
			want:  out{"conf/a.txt": "A -rw-r-----", "c": "C -r--------"}},
		{name: "missing key", items: []v1.KeyToPath{{Key: "a", Path: "a"}, {Key: "nope", Path: "n"}},
			wantErr: `configuration error: key "nope" not found in ConfigMap cm`},
		{name: "optional missing key", opt: ptr.To(true), items: []v1.KeyToPath{{Key: "a", Path: "a"}, {Key: "nope", Path: "n"}},
			want: out{"a": "A -rw-r-----"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			files := map[string]file{}
			err := project(files, "ConfigMap", "cm", data, tc.items, tc.opt, 0o640)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, render(files)); diff != "" {
				t.Errorf("files (-want +got):\n%s", diff)
			}
		})
	}
}

func TestHostPathTypes(t *testing.T) {
	tmp := t.TempDir()
	existingDir := filepath.Join(tmp, "dir")
	existingFile := filepath.Join(tmp, "file")
	if err := os.Mkdir(existingDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(existingFile, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		path    string
		typ     *v1.HostPathType
		wantErr bool
		// wantDir / wantFile: what is at path afterwards.
		wantDir, wantFile bool
	}{
		{name: "unset, missing path passes", path: filepath.Join(tmp, "nothing")},
		{name: "unset, empty type passes", path: filepath.Join(tmp, "nothing"), typ: ptr.To(v1.HostPathUnset)},
		{name: "DirectoryOrCreate makes it", path: filepath.Join(tmp, "made/deep"), typ: ptr.To(v1.HostPathDirectoryOrCreate), wantDir: true},
		{name: "DirectoryOrCreate on a directory", path: existingDir, typ: ptr.To(v1.HostPathDirectoryOrCreate), wantDir: true},
		{name: "DirectoryOrCreate on a file", path: existingFile, typ: ptr.To(v1.HostPathDirectoryOrCreate), wantErr: true},
		{name: "Directory", path: existingDir, typ: ptr.To(v1.HostPathDirectory), wantDir: true},
		{name: "Directory missing", path: filepath.Join(tmp, "nothing"), typ: ptr.To(v1.HostPathDirectory), wantErr: true},
		{name: "FileOrCreate makes it", path: filepath.Join(tmp, "newfile"), typ: ptr.To(v1.HostPathFileOrCreate), wantFile: true},
		{name: "File", path: existingFile, typ: ptr.To(v1.HostPathFile), wantFile: true},
		{name: "File on a directory", path: existingDir, typ: ptr.To(v1.HostPathFile), wantErr: true},
		{name: "Socket on a file", path: existingFile, typ: ptr.To(v1.HostPathSocket), wantErr: true},
		{name: "CharDevice on a file", path: existingFile, typ: ptr.To(v1.HostPathCharDev), wantErr: true},
		{name: "BlockDevice on a directory", path: existingDir, typ: ptr.To(v1.HostPathBlockDev), wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := hostPath(&v1.HostPathVolumeSource{Path: tc.path, Type: tc.typ})
			if tc.wantErr {
				if err == nil || !strings.Contains(err.Error(), "hostPath type check failed") || !strings.Contains(err.Error(), tc.path) {
					t.Errorf("error %v, want a failed type check naming %s", err, tc.path)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			fi, err := os.Stat(tc.path)
			switch {
			case tc.wantDir && (err != nil || !fi.IsDir()):
				t.Errorf("%s is not a directory: %v", tc.path, err)
			case tc.wantFile && (err != nil || !fi.Mode().IsRegular()):
				t.Errorf("%s is not a file: %v", tc.path, err)
			}
		})
	}
}

// tokenReactor answers TokenRequests with token-<n>, valid for the requested lifetime, and
// records the requests.
type tokenReactor struct {
	requests []*authenticationv1.TokenRequest
	names    []string
}

func (r *tokenReactor) react(action k8stesting.Action) (bool, k8sruntime.Object, error) {
	create := action.(k8stesting.CreateAction)
	if action.GetSubresource() != "token" {
		return false, nil, nil
	}
	req := create.GetObject().(*authenticationv1.TokenRequest).DeepCopy()
	r.requests = append(r.requests, req)
	r.names = append(r.names, action.GetNamespace()+"/"+create.(k8stesting.CreateActionImpl).Name)
	secs := int64(3600)
	if req.Spec.ExpirationSeconds != nil {
		secs = *req.Spec.ExpirationSeconds
	}
	req.Status = authenticationv1.TokenRequestStatus{
		Token:               "token-" + string(rune('0'+len(r.requests))),
		ExpirationTimestamp: metav1.NewTime(time.Now().Add(time.Duration(secs) * time.Second)),
	}
	return true, req, nil
}

func TestVolumesSetUp(t *testing.T) {
	client := fake.NewClientset(
		&v1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "ns1", Name: "cm"},
			Data: map[string]string{"app.conf": "port=80\n"}, BinaryData: map[string][]byte{"blob": {0, 1, 2}}},
		&v1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "ns1", Name: "sec"},
			Data: map[string][]byte{"tls.crt": []byte("CERT"), "tls.key": []byte("KEY")}},
	)
	tokens := &tokenReactor{}
	client.PrependReactor("create", "serviceaccounts", tokens.react)
	pod := &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns1", Name: "p", UID: "uid-1",
			Labels:      map[string]string{"app": "web", "tier": `front"end`},
			Annotations: map[string]string{"note": "hello"}},
		Spec: v1.PodSpec{
			ServiceAccountName: "robot",
			Containers: []v1.Container{{Name: "c", Resources: v1.ResourceRequirements{
				Limits: v1.ResourceList{v1.ResourceMemory: resource.MustParse("64Mi")}}}},
			Volumes: []v1.Volume{
				{Name: "scratch", VolumeSource: v1.VolumeSource{EmptyDir: &v1.EmptyDirVolumeSource{}}},
				{Name: "config", VolumeSource: v1.VolumeSource{ConfigMap: &v1.ConfigMapVolumeSource{
					LocalObjectReference: v1.LocalObjectReference{Name: "cm"}}}},
				{Name: "certs", VolumeSource: v1.VolumeSource{Secret: &v1.SecretVolumeSource{
					SecretName:  "sec",
					DefaultMode: ptr.To[int32](0o400),
					Items:       []v1.KeyToPath{{Key: "tls.crt", Path: "pem/cert"}, {Key: "tls.key", Path: "pem/key", Mode: ptr.To[int32](0o600)}},
				}}},
				{Name: "podinfo", VolumeSource: v1.VolumeSource{DownwardAPI: &v1.DownwardAPIVolumeSource{Items: []v1.DownwardAPIVolumeFile{
					{Path: "labels", FieldRef: &v1.ObjectFieldSelector{FieldPath: "metadata.labels"}},
					{Path: "app", FieldRef: &v1.ObjectFieldSelector{FieldPath: "metadata.labels['app']"}},
					{Path: "annotations", FieldRef: &v1.ObjectFieldSelector{FieldPath: "metadata.annotations"}},
					{Path: "name", FieldRef: &v1.ObjectFieldSelector{FieldPath: "metadata.name"}},
					{Path: "mem", ResourceFieldRef: &v1.ResourceFieldSelector{ContainerName: "c", Resource: "limits.memory", Divisor: resource.MustParse("1Mi")}},
				}}}},
				{Name: "kube-api-access", VolumeSource: v1.VolumeSource{Projected: &v1.ProjectedVolumeSource{
					DefaultMode: ptr.To[int32](0o644),
					Sources: []v1.VolumeProjection{
						{ServiceAccountToken: &v1.ServiceAccountTokenProjection{Path: "token", ExpirationSeconds: ptr.To[int64](3607), Audience: "api"}},
						{ConfigMap: &v1.ConfigMapProjection{LocalObjectReference: v1.LocalObjectReference{Name: "cm"},
							Items: []v1.KeyToPath{{Key: "app.conf", Path: "ca.crt"}}}},
						{DownwardAPI: &v1.DownwardAPIProjection{Items: []v1.DownwardAPIVolumeFile{
							{Path: "namespace", FieldRef: &v1.ObjectFieldSelector{FieldPath: "metadata.namespace"}}}}},
					},
				}}},
			},
		},
	}
	env := &envSource{client: client}
	dir := t.TempDir()
	vols := &volumes{env: env, pod: pod, dir: dir, tokens: map[string]*authenticationv1.TokenRequestStatus{}}
	if err := vols.setUp(context.Background()); err != nil {
		t.Fatal(err)
	}

	// World-writable whatever the umask, as the kubelet makes it.
	if fi, err := os.Stat(filepath.Join(dir, "scratch")); err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o777 {
		t.Errorf("emptyDir: %v, %v", fi.Mode(), err)
	}
	for name, want := range map[string]map[string]string{
		"config": {"app.conf": "port=80\n -rw-r--r--", "blob": "\x00\x01\x02 -rw-r--r--"},
		"certs":  {"pem/cert": "CERT -r--------", "pem/key": "KEY -rw-------"},
		"podinfo": {
			"labels":      "app=\"web\"\ntier=\"front\\\"end\" -rw-r--r--",
			"app":         "web -rw-r--r--",
			"annotations": "note=\"hello\" -rw-r--r--",
			"name":        "p -rw-r--r--",
			"mem":         "64 -rw-r--r--",
		},
		"kube-api-access": {"token": "token-1 -rw-r--r--", "ca.crt": "port=80\n -rw-r--r--", "namespace": "ns1 -rw-r--r--"},
	} {
		if diff := cmp.Diff(want, volumeTree(t, filepath.Join(dir, name))); diff != "" {
			t.Errorf("volume %s (-want +got):\n%s", name, diff)
		}
	}

	// The token is bound to the pod, for the projection's audience and lifetime.
	if len(tokens.requests) != 1 {
		t.Fatalf("%d token requests, want 1", len(tokens.requests))
	}
	wantSpec := authenticationv1.TokenRequestSpec{
		Audiences:         []string{"api"},
		ExpirationSeconds: ptr.To[int64](3607),
		BoundObjectRef:    &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: "p", UID: "uid-1"},
	}
	if diff := cmp.Diff(wantSpec, tokens.requests[0].Spec); diff != "" {
		t.Errorf("token request (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"ns1/robot"}, tokens.names); diff != "" {
		t.Errorf("token requested for (-want +got):\n%s", diff)
	}

	// Until 80% of its lifetime has passed, the token is reused.
	st := vols.tokens["kube-api-access/token"]
	if st == nil {
		t.Fatalf("no cached token, cache: %v", vols.tokens)
	}
	lifetime := 3607 * time.Second
	st.ExpirationTimestamp = metav1.NewTime(time.Now().Add(lifetime/5 + time.Minute))
	if err := vols.setUp(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(tokens.requests) != 1 {
		t.Errorf("token requested again with more than 20%% of its lifetime left")
	}
	// After, a new one is requested and written.
	st.ExpirationTimestamp = metav1.NewTime(time.Now().Add(lifetime/5 - time.Minute))
	if err := vols.setUp(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(tokens.requests) != 2 {
		t.Errorf("%d token requests with less than 20%% of the lifetime left, want 2", len(tokens.requests))
	}
	if got := volumeTree(t, filepath.Join(dir, "kube-api-access"))["token"]; got != "token-2 -rw-r--r--" {
		t.Errorf("token file after rotation: %q", got)
	}
	if next := vols.tokens["kube-api-access/token"]; next == nil || next.Token != "token-2" || time.Until(next.ExpirationTimestamp.Time) < lifetime-time.Minute {
		t.Errorf("cached token after rotation: %+v", next)
	}
}

func TestVolumesSetUpErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		vol  v1.VolumeSource
		want []string
	}{
		{"unsupported", v1.VolumeSource{PersistentVolumeClaim: &v1.PersistentVolumeClaimVolumeSource{ClaimName: "data"}},
			[]string{`volume "v"`, "unsupported volume type"}},
		{"missing configMap", v1.VolumeSource{ConfigMap: &v1.ConfigMapVolumeSource{LocalObjectReference: v1.LocalObjectReference{Name: "gone"}}},
			[]string{`volume "v"`, `configmap "gone" not found`}},
		{"missing secret", v1.VolumeSource{Secret: &v1.SecretVolumeSource{SecretName: "gone"}},
			[]string{`volume "v"`, `secret "gone" not found`}},
		{"missing key", v1.VolumeSource{Secret: &v1.SecretVolumeSource{SecretName: "sec", Items: []v1.KeyToPath{{Key: "nope", Path: "n"}}}},
			[]string{`volume "v"`, `key "nope" not found in Secret sec`}},
		{"unsupported projection", v1.VolumeSource{Projected: &v1.ProjectedVolumeSource{Sources: []v1.VolumeProjection{
			{ClusterTrustBundle: &v1.ClusterTrustBundleProjection{Path: "b"}}}}},
			[]string{`volume "v"`, "unsupported volume type"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			client := fake.NewClientset(&v1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "ns1", Name: "sec"}, Data: map[string][]byte{"k": nil}})
			pod := &v1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns1", Name: "p"},
				Spec: v1.PodSpec{Volumes: []v1.Volume{{Name: "v", VolumeSource: tc.vol}}}}
			vols := &volumes{env: &envSource{client: client}, pod: pod, dir: t.TempDir(), tokens: map[string]*authenticationv1.TokenRequestStatus{}}
			err := vols.setUp(context.Background())
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}

	// Optional sources that do not exist make an empty volume.
	client := fake.NewClientset()
	pod := &v1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns1", Name: "p"}, Spec: v1.PodSpec{Volumes: []v1.Volume{
		{Name: "cm", VolumeSource: v1.VolumeSource{ConfigMap: &v1.ConfigMapVolumeSource{
			LocalObjectReference: v1.LocalObjectReference{Name: "gone"}, Optional: ptr.To(true)}}},
		{Name: "sec", VolumeSource: v1.VolumeSource{Secret: &v1.SecretVolumeSource{SecretName: "gone", Optional: ptr.To(true)}}},
	}}}
	dir := t.TempDir()
	vols := &volumes{env: &envSource{client: client}, pod: pod, dir: dir, tokens: map[string]*authenticationv1.TokenRequestStatus{}}
	if err := vols.setUp(context.Background()); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, v := range []string{"cm", "sec"} {
		if _, err := os.Readlink(filepath.Join(dir, v, "..data")); err != nil {
			t.Errorf("optional volume %s: %v", v, err)
		}
		names = append(names, volumeTreeKeys(t, filepath.Join(dir, v))...)
	}
	if len(names) != 0 {
		t.Errorf("optional missing sources wrote %v", names)
	}
}

// TestImageVolumePull: an image volume's image is pulled once, at the first set-up, and its
// layers kept for the containers to mount; a failed pull fails the set-up, and is tried again.
func TestImageVolumePull(t *testing.T) {
	pod := &v1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns1", Name: "p"}, Spec: v1.PodSpec{Volumes: []v1.Volume{
		{Name: "data", VolumeSource: v1.VolumeSource{Image: &v1.ImageVolumeSource{Reference: "localhost:5000/data:1", PullPolicy: v1.PullIfNotPresent}}},
	}}}
	pulls := 0
	fail := true
	vols := &volumes{pod: pod, dir: t.TempDir(), layers: map[string][]string{},
		images: func(_ context.Context, src *v1.ImageVolumeSource) ([]string, error) {
			pulls++
			if fail {
				return nil, errors.New("registry unreachable")
			}
			return []string{"/store/layers/b", "/store/layers/a"}, nil
		}}
	if err := vols.setUp(context.Background()); err == nil || !strings.Contains(err.Error(), `volume "data" : registry unreachable`) {
		t.Errorf("set-up with a failing pull: %v", err)
	}
	fail = false
	for range 2 {
		if err := vols.setUp(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if got := vols.layers["data"]; pulls != 2 || len(got) != 2 || got[0] != "/store/layers/b" {
		t.Errorf("after %d pulls, layers %v; want 2 pulls, the image's layers", pulls, got)
	}
}

func volumeTreeKeys(t *testing.T, dir string) []string {
	t.Helper()
	var keys []string
	for k := range volumeTree(t, dir) {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// TestSubPath checks a mount's sub path as the kubelet resolves it: subPath taken as written,
// subPathExpr expanded from the container's environment, and the cases the kubelet refuses
// (a variable without a value, an absolute path, a step out of the volume).
func TestSubPath(t *testing.T) {
	env := map[string]string{"POD_NAME": "web-0", "EMPTY": "", "UP": ".."}
	for _, tc := range []struct {
		name    string
		vm      v1.VolumeMount
		want    string
		wantErr string
	}{
		{"none", v1.VolumeMount{}, "", ""},
		{"subPath as written", v1.VolumeMount{SubPath: "logs/$(POD_NAME)"}, "logs/$(POD_NAME)", ""},
		{"subPathExpr", v1.VolumeMount{SubPathExpr: "logs/$(POD_NAME)"}, "logs/web-0", ""},
		{"missing variable", v1.VolumeMount{SubPathExpr: "$(ANNOTATION)/$(POD_NAME)"}, "", "missing value for ANNOTATION"},
		{"empty variable", v1.VolumeMount{SubPathExpr: "$(EMPTY)"}, "", "missing value for EMPTY"},
		{"absolute", v1.VolumeMount{SubPath: "/tmp"}, "", "must not be an absolute path"},
		{"back steps", v1.VolumeMount{SubPathExpr: "a/$(UP)/$(UP)"}, "", "must not contain '..'"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := subPath(tc.vm, env)
			switch {
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("subPath(%+v) = %q, %v; want an error containing %q", tc.vm, got, err, tc.wantErr)
			case tc.wantErr == "" && (err != nil || got != tc.want):
				t.Errorf("subPath(%+v) = %q, %v; want %q", tc.vm, got, err, tc.want)
			}
		})
	}
}
