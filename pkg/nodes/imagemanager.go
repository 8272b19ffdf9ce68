package nodes

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/record"
	"k8s.io/kubernetes/pkg/credentialprovider"
	"k8s.io/kubernetes/pkg/credentialprovider/secrets"

	"github.com/minaks/minaks/images"
	"github.com/minaks/minaks/pkg/apiserver/config"
	"github.com/minaks/minaks/pkg/netstack/netns"
	"github.com/minaks/minaks/pkg/nodes/imagestore"
)

// The kubelet's waiting reasons for images.
const (
	reasonErrImagePull      = "ErrImagePull"
	reasonImagePullBackOff  = "ImagePullBackOff"
	reasonErrImageNeverPull = "ErrImageNeverPull"
	reasonInvalidImageName  = "InvalidImageName"
)

// reachTTL is how long a registry's answer to a ping (or its silence) is remembered.
const (
	reachTTL     = time.Minute
	reachTimeout = 3 * time.Second
)

// imageManager gives containers their images, as the kubelet's image manager does with a CRI
// runtime: the pull policy, pull secrets and the host's credentials, the Events. Images minaks
// emulates (pause, agnhost, kube-proxy, CoreDNS, …) are its built-ins; general-purpose ones it
// has a stand-in for (nginx, busybox, …) come from where --image-source says; any other image
// is pulled into the host's store.
type imageManager struct {
	store   *imagestore.Store
	source  string
	client  kubernetes.Interface
	keyring credentialprovider.DockerKeyring
	// transport reaches the registries (nodeTransport); nil is go-containerregistry's default.
	transport http.RoundTripper
	// pulled is told when an image was added to the store.
	pulled func()

	mu    sync.Mutex
	reach map[string]reachability // by registry
}

type reachability struct {
	err error
	at  time.Time
}

// containerImage is what a container runs: a built-in image, an image of the store, or
// (neither) the container's own command with minaks's tools (the tools root).
type containerImage struct {
	builtin *images.Image
	stored  *imagestore.Image
	// id is the status's imageID.
	id string
}

// imageError is a failure to get an image, with the kubelet's waiting reason.
type imageError struct {
	reason string
	err    error
}

func (e *imageError) Error() string { return e.err.Error() }

func newImageManager(store *imagestore.Store, source string, client kubernetes.Interface, transport http.RoundTripper, pulled func()) *imageManager {
	if source == "" {
		source = config.ImageSourceAuto // a cluster saved before --image-source
	}
	return &imageManager{
		store: store, source: source, client: client, transport: transport, pulled: pulled,
		keyring: credentialprovider.NewDefaultDockerKeyring(),
		reach:   map[string]reachability{},
	}
}

// nodeTransport reaches registries from the host, as the node's container runtime would from
// the node, but for a registry at a loopback address: that one is tried first from the node's
// network namespace ns, whose localhost is the node's own — kube-proxy answers its NodePorts
// there, so an image is pulled from a registry exposed as localhost:<nodePort> as on AKS —
// and, when nothing answers there, from the host's, where people run a local registry.
func nodeTransport(ns string) http.RoundTripper {
	t := remote.DefaultTransport.(*http.Transport).Clone()
	dialer := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	t.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if host, _, err := net.SplitHostPort(addr); err == nil && isLoopback(host) {
			var conn net.Conn
			err := netns.Do(ns, func() (err error) {
				conn, err = dialer.DialContext(ctx, network, addr)
				return err
			})
			if !errors.Is(err, syscall.ECONNREFUSED) {
				return conn, err
			}
		}
		return dialer.DialContext(ctx, network, addr)
	}
	return t
}

// isLoopback reports whether host is localhost or a loopback address.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// get gives container c of pod its image, telling what it does in Events as the kubelet does.
// A general-purpose image's stand-in (its built-in, or for a container with a command that
// command on the tools root) runs with --image-source builtin, and with auto when the image cannot be
// pulled.
func (m *imageManager) get(ctx context.Context, rec record.EventRecorder, pod *v1.Pod, c *v1.Container) (*containerImage, error) {
	builtin, _ := images.Lookup(c.Image)
	if builtin != nil && (!builtin.General || m.source == config.ImageSourceBuiltin) {
		return m.builtin(rec, pod, c, builtin, fmt.Sprintf("already present on machine: built into minaks as %q", builtin.Name)), nil
	}
	standIn := builtin != nil || len(c.Command) > 0
	switch {
	case m.source == config.ImageSourceBuiltin && standIn:
		if img, err := m.store.Resolve(c.Image); err == nil {
			return m.present(rec, pod, c, img), nil
		}
		return m.hostTools(rec, pod, c, "--image-source builtin"), nil
	case m.source == config.ImageSourceAuto && standIn:
		img, err := m.fromStore(ctx, rec, pod, c, true)
		if err == nil {
			return img, nil
		}
		if builtin != nil {
			return m.builtin(rec, pod, c, builtin, fmt.Sprintf("not pulled (%v): running minaks's built-in %q in its place", err, builtin.Name)), nil
		}
		return m.hostTools(rec, pod, c, err.Error()), nil
	}
	return m.fromStore(ctx, rec, pod, c, false)
}

// volumeLayers are the layer directories of the image of an image volume, pulled by its pull
// policy as the kubelet pulls it before the pod's containers start: from the store or a
// registry only, as a built-in image is a program with no files to mount.
func (m *imageManager) volumeLayers(ctx context.Context, rec record.EventRecorder, pod *v1.Pod, src *v1.ImageVolumeSource) ([]string, error) {
	c := &v1.Container{Image: src.Reference, ImagePullPolicy: src.PullPolicy}
	img, err := m.fromStore(ctx, rec, pod, c, m.source != config.ImageSourcePull)
	if err != nil {
		return nil, err
	}
	return m.store.LayerDirs(img.stored), nil
}

// builtin is the built-in image of container c, told in a Pulled event: "Container image
// <ref> <how>".
func (m *imageManager) builtin(rec record.EventRecorder, pod *v1.Pod, c *v1.Container, img *images.Image, how string) *containerImage {
	rec.Eventf(pod, v1.EventTypeNormal, "Pulled", "Container image %q %s", c.Image, how)
	return &containerImage{builtin: img, id: images.ImageID(img, c.Image)}
}

// hostTools is the stand-in of an image that is not built in, for a container with a command:
// the command runs with minaks's tools (the tools root).
func (m *imageManager) hostTools(rec record.EventRecorder, pod *v1.Pod, c *v1.Container, why string) *containerImage {
	rec.Eventf(pod, v1.EventTypeNormal, "Pulled", "Container image %q not pulled (%s): its command runs with minaks's tools (BusyBox)", c.Image, why)
	return &containerImage{id: images.HostToolsImageID(c.Image)}
}

func (m *imageManager) present(rec record.EventRecorder, pod *v1.Pod, c *v1.Container, img *imagestore.Image) *containerImage {
	rec.Eventf(pod, v1.EventTypeNormal, "Pulled", "Container image %q already present on machine", c.Image)
	return stored(img)
}

func stored(img *imagestore.Image) *containerImage {
	id := img.ID
	if len(img.RepoDigests) > 0 {
		id = img.RepoDigests[0]
	}
	return &containerImage{stored: img, id: id}
}

// fromStore applies the pull policy: the store's image, or one pulled into it. With probe,
// an unreachable registry fails at once (after reachTimeout, remembered for reachTTL).
func (m *imageManager) fromStore(ctx context.Context, rec record.EventRecorder, pod *v1.Pod, c *v1.Container, probe bool) (*containerImage, error) {
	if _, err := imagestore.Normalize(c.Image); err != nil {
		return nil, &imageError{reasonInvalidImageName, fmt.Errorf("Failed to apply default image tag %q: %v", c.Image, err)}
	}
	img, err := m.store.Resolve(c.Image)
	present := err == nil
	if err != nil && !errors.Is(err, imagestore.ErrNotFound) {
		return nil, &imageError{reasonErrImagePull, err}
	}
	switch c.ImagePullPolicy {
	case v1.PullNever:
		if present {
			return m.present(rec, pod, c, img), nil
		}
		msg := fmt.Sprintf("Container image %q is not present with pull policy of Never", c.Image)
		rec.Event(pod, v1.EventTypeWarning, reasonErrImageNeverPull, msg)
		return nil, &imageError{reasonErrImageNeverPull, errors.New(msg)}
	case v1.PullIfNotPresent:
		if present {
			return m.present(rec, pod, c, img), nil
		}
	}
	if probe {
		if err := m.reachable(ctx, c.Image); err != nil {
			return nil, err
		}
	}
	keyring, err := m.podKeyring(ctx, rec, pod)
	if err != nil {
		return nil, &imageError{reasonErrImagePull, err}
	}
	rec.Eventf(pod, v1.EventTypeNormal, "Pulling", "Pulling image %q", c.Image)
	start := time.Now()
	pulled, err := m.store.Pull(ctx, c.Image, imagestore.PullOptions{Keyring: keyring, Transport: m.transport})
	if err != nil {
		return nil, &imageError{reasonErrImagePull, fmt.Errorf("Failed to pull image %q: %w", c.Image, err)}
	}
	m.pulled()
	took := time.Since(start).Round(time.Millisecond)
	rec.Eventf(pod, v1.EventTypeNormal, "Pulled", "Successfully pulled image %q in %s (%s including waiting). Image size: %d bytes.", c.Image, took, took, pulled.Size)
	return stored(pulled), nil
}

// podKeyring is the pod's image pull secrets' credentials, then the host's.
func (m *imageManager) podKeyring(ctx context.Context, rec record.EventRecorder, pod *v1.Pod) (credentialprovider.DockerKeyring, error) {
	var found []v1.Secret
	var missing []string
	for _, ref := range pod.Spec.ImagePullSecrets {
		s, err := m.client.CoreV1().Secrets(pod.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
		if err != nil {
			missing = append(missing, ref.Name)
			continue
		}
		found = append(found, *s)
	}
	if len(missing) > 0 {
		rec.Eventf(pod, v1.EventTypeWarning, "FailedToRetrieveImagePullSecret",
			"Unable to retrieve some image pull secrets (%v); attempting to pull the image may not succeed.", missing)
	}
	return secrets.MakeDockerKeyring(found, m.keyring)
}

// reachable pings the registry of ref (GET /v2/): nil once it answers at all.
func (m *imageManager) reachable(ctx context.Context, ref string) error {
	host := imagestore.RegistryOf(ref)
	m.mu.Lock()
	r, ok := m.reach[host]
	m.mu.Unlock()
	if ok && time.Since(r.at) < reachTTL {
		return r.err
	}
	reg, err := name.NewRegistry(host)
	if err == nil {
		ctx, cancel := context.WithTimeout(ctx, reachTimeout)
		defer cancel()
		t := m.transport
		if t == nil {
			t = remote.DefaultTransport
		}
		_, err = transport.Ping(ctx, reg, t)
	}
	if err != nil {
		err = fmt.Errorf("registry %s unreachable: %w", host, err)
	}
	m.mu.Lock()
	m.reach[host] = reachability{err: err, at: time.Now()}
	m.mu.Unlock()
	return err
}

// imageUser is the user a container of a stored image runs as: runAsUser and runAsGroup (uid,
// gid) over the image's USER, with the user's groups in the image, and runAsNonRoot checked as
// the kubelet checks it.
func imageUser(store *imagestore.Store, img *imagestore.Image, pod *v1.Pod, c *v1.Container, uid, gid *int64, groups []uint32) (*int64, *int64, []uint32, error) {
	u, g, extra, err := store.User(img, uid, gid)
	if err != nil {
		return nil, nil, nil, err
	}
	if runAsNonRoot(pod, c) {
		who := fmt.Sprintf("pod: %q, container: %s", pod.Name+"_"+pod.Namespace+"("+string(pod.UID)+")", c.Name)
		user, _, _ := strings.Cut(img.Config.User, ":")
		if _, numeric := strconv.Atoi(user); uid == nil && user != "" && numeric != nil {
			return nil, nil, nil, fmt.Errorf("container has runAsNonRoot and image has non-numeric user (%s), cannot verify user is non-root (%s)", user, who)
		}
		if u == 0 {
			return nil, nil, nil, fmt.Errorf("container has runAsNonRoot and image will run as root (%s)", who)
		}
	}
	return &u, &g, append(groups, extra...), nil
}

// runAsNonRoot is the container's runAsNonRoot, else the pod's.
func runAsNonRoot(pod *v1.Pod, c *v1.Container) bool {
	if sc := c.SecurityContext; sc != nil && sc.RunAsNonRoot != nil {
		return *sc.RunAsNonRoot
	}
	if psc := pod.Spec.SecurityContext; psc != nil && psc.RunAsNonRoot != nil {
		return *psc.RunAsNonRoot
	}
	return false
}
