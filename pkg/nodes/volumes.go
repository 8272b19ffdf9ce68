package nodes

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	podresource "k8s.io/kubernetes/pkg/api/v1/resource"
)

// volumes prepares a pod's volumes in its directory and keeps the API-backed ones current.
type volumes struct {
	env *envSource
	pod *v1.Pod
	dir string // <pod dir>/volumes
	// tokens caches service account tokens by volume and path until they are due for rotation.
	tokens map[string]*authenticationv1.TokenRequestStatus
	// images gets the layers of an image volume's image (imageManager.volumeLayers); layers
	// are those of each image volume, by name, once pulled.
	images func(context.Context, *v1.ImageVolumeSource) ([]string, error)
	layers map[string][]string
}

// file is one file of a volume built from API data.
type file struct {
	data []byte
	mode os.FileMode
}

// errUnsupportedVolume marks a volume type minaks cannot provide.
var errUnsupportedVolume = errors.New("unsupported volume type")

// path is where volume name lives on the host.
func (v *volumes) path(name string) string {
	for _, vol := range v.pod.Spec.Volumes {
		if vol.Name == name && vol.HostPath != nil {
			return vol.HostPath.Path
		}
	}
	return filepath.Join(v.dir, name)
}

// setUp makes every volume ready: directories for emptyDir, host paths checked or made, the
// files of configMap, secret, downwardAPI and projected volumes written (again), and the
// images of image volumes pulled.
func (v *volumes) setUp(ctx context.Context) error {
	for i := range v.pod.Spec.Volumes {
		vol := &v.pod.Spec.Volumes[i]
		if err := v.setUpOne(ctx, vol); err != nil {
			return fmt.Errorf("MountVolume.SetUp failed for volume %q : %w", vol.Name, err)
		}
	}
	return nil
}

func (v *volumes) setUpOne(ctx context.Context, vol *v1.Volume) error {
	dir := filepath.Join(v.dir, vol.Name)
	switch {
	case vol.EmptyDir != nil:
		// medium: Memory is a directory too: minaks mounts nothing on the host. World-writable
		// whatever the umask, as the kubelet makes it, for containers that run as a user.
		if err := os.MkdirAll(dir, 0o777); err != nil {
			return err
		}
		return os.Chmod(dir, 0o777)
	case vol.HostPath != nil:
		return hostPath(vol.HostPath)
	case vol.Image != nil:
		// Pulled once, as the kubelet does; each container mounts the layers' union itself.
		if _, done := v.layers[vol.Name]; done {
			return nil
		}
		layers, err := v.images(ctx, vol.Image)
		if err != nil {
			return err
		}
		v.layers[vol.Name] = layers
		return nil
	case vol.ConfigMap != nil, vol.Secret != nil, vol.DownwardAPI != nil, vol.Projected != nil:
		files, err := v.files(ctx, vol)
		if err != nil {
			return err
		}
		return writeAtomic(dir, files)
	}
	return fmt.Errorf("%w: minaks provides emptyDir, hostPath, configMap, secret, downwardAPI, projected and image volumes", errUnsupportedVolume)
}

// hostPath checks a hostPath volume against its type, making it for the *OrCreate types.
func hostPath(hp *v1.HostPathVolumeSource) error {
	t := v1.HostPathUnset
	if hp.Type != nil {
		t = *hp.Type
	}
	fi, err := os.Stat(hp.Path)
	switch t {
	case v1.HostPathUnset:
		return nil
	case v1.HostPathDirectoryOrCreate:
		if os.IsNotExist(err) {
			return os.MkdirAll(hp.Path, 0o755)
		}
	case v1.HostPathFileOrCreate:
		if os.IsNotExist(err) {
			if err := os.MkdirAll(filepath.Dir(hp.Path), 0o755); err != nil {
				return err
			}
			f, err := os.OpenFile(hp.Path, os.O_CREATE|os.O_WRONLY, 0o644)
			if err != nil {
				return err
			}
			return f.Close()
		}
	}
	if err != nil {
		return fmt.Errorf("hostPath type check failed: %s is not a %s", hp.Path, t)
	}
	want := map[v1.HostPathType]func(os.FileMode) bool{
		v1.HostPathDirectory:         os.FileMode.IsDir,
		v1.HostPathDirectoryOrCreate: os.FileMode.IsDir,
		v1.HostPathFile:              os.FileMode.IsRegular,
		v1.HostPathFileOrCreate:      os.FileMode.IsRegular,
		v1.HostPathSocket:            func(m os.FileMode) bool { return m&os.ModeSocket != 0 },
		v1.HostPathCharDev:           func(m os.FileMode) bool { return m&os.ModeCharDevice != 0 },
		v1.HostPathBlockDev:          func(m os.FileMode) bool { return m&os.ModeDevice != 0 && m&os.ModeCharDevice == 0 },
	}[t]
	if want != nil && !want(fi.Mode()) {
		return fmt.Errorf("hostPath type check failed: %s is not a %s", hp.Path, t)
	}
	return nil
}

// files renders an API-backed volume.
func (v *volumes) files(ctx context.Context, vol *v1.Volume) (map[string]file, error) {
	out := map[string]file{}
	cms, secrets := map[string]*v1.ConfigMap{}, map[string]*v1.Secret{}
	switch {
	case vol.ConfigMap != nil:
		return out, v.configMapFiles(ctx, out, cms, vol.ConfigMap.Name, vol.ConfigMap.Items, vol.ConfigMap.Optional, mode(vol.ConfigMap.DefaultMode))
	case vol.Secret != nil:
		return out, v.secretFiles(ctx, out, secrets, vol.Secret.SecretName, vol.Secret.Items, vol.Secret.Optional, mode(vol.Secret.DefaultMode))
	case vol.DownwardAPI != nil:
		return out, v.downwardFiles(out, vol.DownwardAPI.Items, mode(vol.DownwardAPI.DefaultMode))
	}
	def := mode(vol.Projected.DefaultMode)
	for _, src := range vol.Projected.Sources {
		var err error
		switch {
		case src.ConfigMap != nil:
			err = v.configMapFiles(ctx, out, cms, src.ConfigMap.Name, src.ConfigMap.Items, src.ConfigMap.Optional, def)
		case src.Secret != nil:
			err = v.secretFiles(ctx, out, secrets, src.Secret.Name, src.Secret.Items, src.Secret.Optional, def)
		case src.DownwardAPI != nil:
			err = v.downwardFiles(out, src.DownwardAPI.Items, def)
		case src.ServiceAccountToken != nil:
			err = v.tokenFile(ctx, out, vol.Name, src.ServiceAccountToken, def)
		default:
			err = fmt.Errorf("%w: a projected source other than configMap, secret, downwardAPI, serviceAccountToken", errUnsupportedVolume)
		}
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

func mode(m *int32) os.FileMode {
	if m == nil {
		return 0o644
	}
	return os.FileMode(*m)
}

func itemMode(item v1.KeyToPath, def os.FileMode) os.FileMode {
	if item.Mode != nil {
		return os.FileMode(*item.Mode)
	}
	return def
}

func (v *volumes) configMapFiles(ctx context.Context, out map[string]file, cache map[string]*v1.ConfigMap, name string, items []v1.KeyToPath, opt *bool, def os.FileMode) error {
	cm, err := v.env.configMap(ctx, v.pod.Namespace, name, cache)
	if err != nil {
		if !apierrors.IsNotFound(err) {
			return fmt.Errorf("configmap %q: %w", name, err)
		}
		if optional(opt) {
			return nil
		}
		return fmt.Errorf("configmap %q not found", name)
	}
	data := map[string][]byte{}
	for k, s := range cm.Data {
		data[k] = []byte(s)
	}
	for k, b := range cm.BinaryData {
		data[k] = b
	}
	return project(out, "ConfigMap", name, data, items, opt, def)
}

func (v *volumes) secretFiles(ctx context.Context, out map[string]file, cache map[string]*v1.Secret, name string, items []v1.KeyToPath, opt *bool, def os.FileMode) error {
	s, err := v.env.secret(ctx, v.pod.Namespace, name, cache)
	if err != nil {
		if !apierrors.IsNotFound(err) {
			return fmt.Errorf("secret %q: %w", name, err)
		}
		if optional(opt) {
			return nil
		}
		return fmt.Errorf("secret %q not found", name)
	}
	return project(out, "Secret", name, s.Data, items, opt, def)
}

// project puts keys of data into out: all of them, or the listed items at their paths.
func project(out map[string]file, kind, name string, data map[string][]byte, items []v1.KeyToPath, opt *bool, def os.FileMode) error {
	if len(items) == 0 {
		for k, b := range data {
			out[k] = file{b, def}
		}
		return nil
	}
	for _, it := range items {
		b, ok := data[it.Key]
		if !ok {
			if optional(opt) {
				continue
			}
			return fmt.Errorf("configuration error: key %q not found in %s %s", it.Key, kind, name)
		}
		out[it.Path] = file{b, itemMode(it, def)}
	}
	return nil
}

func (v *volumes) downwardFiles(out map[string]file, items []v1.DownwardAPIVolumeFile, def os.FileMode) error {
	for _, it := range items {
		var (
			s   string
			err error
		)
		switch {
		case it.FieldRef != nil:
			s, err = podFieldValue(v.pod, it.FieldRef.FieldPath)
			if strings.HasPrefix(it.FieldRef.FieldPath, "metadata.labels") || strings.HasPrefix(it.FieldRef.FieldPath, "metadata.annotations") {
				s = formatMap(it.FieldRef.FieldPath, v.pod)
			}
		case it.ResourceFieldRef != nil:
			s, err = podresource.ExtractResourceValueByContainerNameAndNodeAllocatable(it.ResourceFieldRef, v.pod, it.ResourceFieldRef.ContainerName, v.env.allocatable)
		}
		if err != nil {
			return err
		}
		m := def
		if it.Mode != nil {
			m = os.FileMode(*it.Mode)
		}
		out[it.Path] = file{[]byte(s), m}
	}
	return nil
}

// formatMap renders metadata.labels / metadata.annotations (whole, or one key) as the kubelet
// does: key="value" lines, sorted.
func formatMap(path string, pod *v1.Pod) string {
	m := pod.Labels
	if strings.HasPrefix(path, "metadata.annotations") {
		m = pod.Annotations
	}
	if i := strings.Index(path, "['"); i >= 0 {
		return m[strings.TrimSuffix(path[i+2:], "']")]
	}
	var lines []string
	for _, k := range sortedKeys(m) {
		lines = append(lines, fmt.Sprintf("%s=%q", k, m[k]))
	}
	return strings.Join(lines, "\n")
}

// tokenFile requests (or reuses, until 80% of its lifetime has passed) a service account token
// bound to the pod, as the kubelet's token manager does.
func (v *volumes) tokenFile(ctx context.Context, out map[string]file, volName string, src *v1.ServiceAccountTokenProjection, def os.FileMode) error {
	key := volName + "/" + src.Path
	st := v.tokens[key]
	if st == nil || time.Until(st.ExpirationTimestamp.Time) < tokenLifetime(src)/5 {
		req := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{
			ExpirationSeconds: src.ExpirationSeconds,
			BoundObjectRef:    &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: v.pod.Name, UID: v.pod.UID},
		}}
		if src.Audience != "" {
			req.Spec.Audiences = []string{src.Audience}
		}
		sa := v.pod.Spec.ServiceAccountName
		if sa == "" {
			sa = "default"
		}
		tr, err := v.env.client.CoreV1().ServiceAccounts(v.pod.Namespace).CreateToken(ctx, sa, req, metav1.CreateOptions{})
		if err != nil {
			return fmt.Errorf("failed to fetch token: %w", err)
		}
		st = &tr.Status
		v.tokens[key] = st
	}
	out[src.Path] = file{[]byte(st.Token), def}
	return nil
}

func tokenLifetime(src *v1.ServiceAccountTokenProjection) time.Duration {
	if src.ExpirationSeconds != nil {
		return time.Duration(*src.ExpirationSeconds) * time.Second
	}
	return time.Hour
}

// writeAtomic writes files into dir as the kubelet's atomic writer does: into a fresh
// timestamped directory, published by renaming the ..data symlink to it, with each top-level
// name a symlink through ..data. A reader sees the old set or the new one, never a mix; an
// unchanged set is left alone.
func writeAtomic(dir string, files map[string]file) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if same(dir, files) {
		return nil
	}
	ts, err := os.MkdirTemp(dir, ".."+time.Now().UTC().Format("2006_01_02_15_04_05."))
	if err != nil {
		return err
	}
	if err := os.Chmod(ts, 0o755); err != nil {
		return err
	}
	for p, f := range files {
		full := filepath.Join(ts, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(full, f.data, f.mode); err != nil {
			return err
		}
		if err := os.Chmod(full, f.mode); err != nil {
			return err
		}
	}
	old, _ := os.Readlink(filepath.Join(dir, "..data"))
	tmp := filepath.Join(dir, "..data_tmp")
	_ = os.Remove(tmp)
	if err := os.Symlink(filepath.Base(ts), tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(dir, "..data")); err != nil {
		return err
	}
	top := map[string]bool{}
	for p := range files {
		top[strings.SplitN(p, "/", 2)[0]] = true
	}
	// Only the links of keys gone go: anything else is not ours, such as the mount point of a
	// volume mounted inside this one (removing it would unmount that volume in the container).
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if name := e.Name(); !strings.HasPrefix(name, "..") && !top[name] && e.Type()&os.ModeSymlink != 0 {
			_ = os.Remove(filepath.Join(dir, name))
		}
	}
	names := make([]string, 0, len(top))
	for n := range top {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		link := filepath.Join(dir, n)
		if _, err := os.Lstat(link); err == nil {
			continue
		}
		if err := os.Symlink(filepath.Join("..data", n), link); err != nil {
			return err
		}
	}
	if old != "" && old != filepath.Base(ts) {
		return os.RemoveAll(filepath.Join(dir, old))
	}
	return nil
}

// same reports whether dir's current data holds exactly files.
func same(dir string, files map[string]file) bool {
	data := filepath.Join(dir, "..data")
	n := 0
	err := filepath.WalkDir(data+"/", func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(data, p)
		f, ok := files[rel]
		b, rerr := os.ReadFile(p)
		fi, serr := d.Info()
		if !ok || rerr != nil || serr != nil || string(b) != string(f.data) || fi.Mode().Perm() != f.mode.Perm() {
			return errors.New("differs")
		}
		n++
		return nil
	})
	return err == nil && n == len(files)
}
