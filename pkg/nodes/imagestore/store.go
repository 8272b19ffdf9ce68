package imagestore

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/distribution/reference"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sync/singleflight"
	"golang.org/x/sys/unix"
)

// ErrNotFound is what Resolve returns for an image the store does not have.
var ErrNotFound = errors.New("image not found")

// Image is an image of the store.
type Image struct {
	// ID is the digest of the image's config, as the kubelet and CRI runtimes report it.
	ID string `json:"id"`
	// RepoTags ("registry/repo:tag") and RepoDigests ("registry/repo@sha256:…": the digest
	// it was pulled by, an index's when the reference named an index) name it.
	RepoTags    []string `json:"repoTags,omitempty"`
	RepoDigests []string `json:"repoDigests,omitempty"`
	// Size is the bytes of its layers as shipped (compressed).
	Size int64 `json:"size"`
	// Layers are the diff IDs of its layers, the lowest first.
	Layers []string `json:"layers"`
	// Config is what the image says a container runs: Entrypoint, Cmd, Env, WorkingDir, User,
	// ExposedPorts.
	Config   v1.Config `json:"config"`
	Platform string    `json:"platform"`
	// Added is when the store got it; LastUsed when a container last started from it.
	Added    time.Time `json:"added"`
	LastUsed time.Time `json:"lastUsed,omitzero"`
}

// Store is the host's images: those minaks pulled or loaded, shared by every node of every
// cluster on the host, so that a layer is downloaded and unpacked once. Every process that
// opens the store sees the others' changes: records are files, changed under a lock file.
//
//	ROOT/lock               flock(2): held while records change and while pruning
//	ROOT/layers/HEX/        a layer unpacked (HEX: its diff ID), an overlay lower directory
//	ROOT/images/HEX.json    an image (HEX: its ID)
//	ROOT/tmp/               layers being unpacked
type Store struct {
	root   string
	layers singleflight.Group // layers being unpacked by this process, by diff ID
}

// Open opens (making it if needed) the store at root.
func Open(root string) (*Store, error) {
	for _, d := range []string{"layers", "images", "tmp"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o700); err != nil {
			return nil, err
		}
	}
	return &Store{root: root}, nil
}

// Root is the store's directory.
func (s *Store) Root() string { return s.root }

// Normalize reads ref as the kubelet does: no registry means Docker Hub, a single name means
// library/<name>, no tag and no digest means :latest. It returns the normalized name.
func Normalize(ref string) (reference.Named, error) {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return nil, fmt.Errorf("image reference %q: %w", ref, err)
	}
	return reference.TagNameOnly(named), nil
}

// LayerDirs are img's unpacked layers as overlayfs's lowerdir lists them: the top-most first.
func (s *Store) LayerDirs(img *Image) []string {
	dirs := make([]string, len(img.Layers))
	for i, l := range img.Layers {
		dirs[len(dirs)-1-i] = s.layerDir(l)
	}
	return dirs
}

func (s *Store) layerDir(diffID string) string {
	return filepath.Join(s.root, "layers", strings.TrimPrefix(diffID, "sha256:"))
}

func (s *Store) recordPath(id string) string {
	return filepath.Join(s.root, "images", strings.TrimPrefix(id, "sha256:")+".json")
}

// List returns the store's images, by ID.
func (s *Store) List() ([]*Image, error) {
	entries, err := os.ReadDir(filepath.Join(s.root, "images"))
	if err != nil {
		return nil, err
	}
	var out []*Image
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		img, err := s.read("sha256:" + strings.TrimSuffix(e.Name(), ".json"))
		if errors.Is(err, fs.ErrNotExist) {
			continue // removed meanwhile
		}
		if err != nil {
			return nil, err
		}
		out = append(out, img)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

func (s *Store) read(id string) (*Image, error) {
	b, err := os.ReadFile(s.recordPath(id))
	if err != nil {
		return nil, err
	}
	img := &Image{}
	if err := json.Unmarshal(b, img); err != nil {
		return nil, fmt.Errorf("image record %s: %w", id, err)
	}
	return img, nil
}

// write writes img's record, atomically. The caller holds the lock.
func (s *Store) write(img *Image) error {
	b, err := json.MarshalIndent(img, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Join(s.root, "tmp"), "image-*.json")
	if err != nil {
		return err
	}
	_, err = tmp.Write(b)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), s.recordPath(img.ID))
	}
	if err != nil {
		os.Remove(tmp.Name())
	}
	return err
}

// Resolve returns the image that ref names: an image ID (sha256:… or its hex), a digest
// reference, or a tag (normalized as Normalize does).
func (s *Store) Resolve(ref string) (*Image, error) {
	if id, ok := asID(ref); ok {
		img, err := s.read(id)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w: %s", ErrNotFound, ref)
		}
		return img, err
	}
	named, err := Normalize(ref)
	if err != nil {
		return nil, err
	}
	all, err := s.List()
	if err != nil {
		return nil, err
	}
	name := named.String()
	for _, img := range all {
		if slices.Contains(img.RepoTags, name) || slices.Contains(img.RepoDigests, name) {
			return img, nil
		}
	}
	// name:tag@digest: the digest decides, as for the kubelet.
	if d, ok := named.(reference.Digested); ok {
		byDigest := named.Name() + "@" + d.Digest().String()
		for _, img := range all {
			if slices.Contains(img.RepoDigests, byDigest) {
				return img, nil
			}
		}
	}
	return nil, fmt.Errorf("%w: %s", ErrNotFound, name)
}

// asID reads ref as an image ID: sha256:<64 hex> or the 64 hex digits alone.
func asID(ref string) (string, bool) {
	hex := strings.TrimPrefix(ref, "sha256:")
	if len(hex) != 64 || strings.Trim(hex, "0123456789abcdef") != "" {
		return "", false
	}
	return "sha256:" + hex, true
}

// add records img under its names, taking each of its tags from any other image that had it;
// an image left without names is kept (dangling) until pruned, as Docker keeps it.
func (s *Store) add(img *Image) (*Image, error) {
	unlock, err := s.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	all, err := s.List()
	if err != nil {
		return nil, err
	}
	for _, other := range all {
		if other.ID == img.ID {
			img.RepoTags = union(other.RepoTags, img.RepoTags)
			img.RepoDigests = union(other.RepoDigests, img.RepoDigests)
			img.Added = other.Added
			img.LastUsed = other.LastUsed
			continue
		}
		tags := slices.DeleteFunc(slices.Clone(other.RepoTags), func(t string) bool { return slices.Contains(img.RepoTags, t) })
		if len(tags) != len(other.RepoTags) {
			other.RepoTags = tags
			if err := s.write(other); err != nil {
				return nil, err
			}
		}
	}
	if img.Added.IsZero() {
		img.Added = time.Now().UTC()
	}
	return img, s.write(img)
}

func union(a, b []string) []string {
	out := slices.Concat(a, b)
	slices.Sort(out)
	return slices.Compact(out)
}

// Touch records that a container started from image id now.
func (s *Store) Touch(id string) error {
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	img, err := s.read(id)
	if err != nil {
		return err
	}
	img.LastUsed = time.Now().UTC()
	return s.write(img)
}

// Remove removes the image ref names (a name or an ID) with all its names, as crictl rmi
// does; not while a running container uses it. Its layers are freed by Prune.
func (s *Store) Remove(ref string) (*Image, error) {
	unlock, err := s.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	img, err := s.Resolve(ref)
	if err != nil {
		return nil, err
	}
	mounted, err := s.mounted()
	if err != nil {
		return nil, err
	}
	if mounted.uses(img) {
		return nil, fmt.Errorf("image %s (%s) is used by a running container", ref, img.ID)
	}
	return img, os.Remove(s.recordPath(img.ID))
}

// Prune removes the images no container uses and that keep (if not nil) does not keep, then
// every layer no image left uses and no container has mounted. It returns the images removed
// and the bytes freed on disk.
func (s *Store) Prune(keep func(img *Image) bool) ([]*Image, int64, error) {
	all, err := s.List()
	if err != nil {
		return nil, 0, err
	}
	return s.remove(all, keep)
}

// remove removes the images of candidates (in their order) that are not in use and that keep
// does not keep, while more is true, then the layers nothing uses.
func (s *Store) remove(candidates []*Image, keep func(img *Image) bool) ([]*Image, int64, error) {
	unlockGC, err := s.gcLock(true)
	if err != nil {
		return nil, 0, err
	}
	defer unlockGC()
	unlock, err := s.lock()
	if err != nil {
		return nil, 0, err
	}
	defer unlock()
	mounted, err := s.mounted()
	if err != nil {
		return nil, 0, err
	}
	var removed []*Image
	gone := map[string]bool{}
	for _, img := range candidates {
		if mounted.uses(img) || keep != nil && keep(img) {
			continue
		}
		if err := os.Remove(s.recordPath(img.ID)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return removed, 0, err
		}
		removed = append(removed, img)
		gone[img.ID] = true
	}
	used := map[string]bool{}
	all, err := s.List()
	if err != nil {
		return removed, 0, err
	}
	for _, img := range all {
		for _, l := range img.Layers {
			used[strings.TrimPrefix(l, "sha256:")] = true
		}
	}
	layers, err := os.ReadDir(filepath.Join(s.root, "layers"))
	if err != nil {
		return removed, 0, err
	}
	var freed int64
	for _, l := range layers {
		if used[l.Name()] || mounted.layers[l.Name()] {
			continue
		}
		dir := filepath.Join(s.root, "layers", l.Name())
		freed += diskUsage(dir)
		if err := os.RemoveAll(dir); err != nil {
			return removed, freed, err
		}
	}
	return removed, freed, nil
}

// mounts is what the overlay mounts of running containers hold of the store.
type mounts struct {
	// layers are the layers (by diff ID's hex) mounted as a lower directory.
	layers map[string]bool
	// stacks are the mounts' lists of layers, the hexes top-most first, joined by ":".
	stacks map[string]bool
}

// uses reports whether a container runs img: its root is an overlay of exactly img's layers.
// (An image with the same layers as another but its own config counts as used by the
// other's containers too.) An image that only shares layers with one that runs is not in
// use; its shared layers stay as long as they are mounted.
func (m *mounts) uses(img *Image) bool {
	stack := make([]string, len(img.Layers))
	for i, l := range img.Layers {
		stack[len(stack)-1-i] = strings.TrimPrefix(l, "sha256:")
	}
	return m.stacks[strings.Join(stack, ":")]
}

// mounted finds the overlay mounts of the store's layers in every mount namespace of the
// host's processes: the kernel, not a record, says what is in use.
func (s *Store) mounted() (*mounts, error) {
	layers := filepath.Join(s.root, "layers") + "/"
	procs, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{} // mount namespaces read
	m := &mounts{layers: map[string]bool{}, stacks: map[string]bool{}}
	for _, p := range procs {
		if p.Name()[0] < '0' || p.Name()[0] > '9' {
			continue
		}
		ns, err := os.Readlink(filepath.Join("/proc", p.Name(), "ns", "mnt"))
		if err != nil || seen[ns] {
			continue
		}
		seen[ns] = true
		b, err := os.ReadFile(filepath.Join("/proc", p.Name(), "mountinfo"))
		if err != nil {
			continue // gone meanwhile
		}
		for _, line := range strings.Split(string(b), "\n") {
			_, opts, ok := strings.Cut(line, " - overlay ")
			if !ok {
				continue
			}
			var stack []string
			for _, opt := range strings.Split(opts, ",") {
				// One "lowerdir=" of them all (the classic mount), or a "lowerdir+=" each
				// (fsconfig, Linux 6.8).
				lower, ok := strings.CutPrefix(opt, "lowerdir=")
				if !ok {
					if lower, ok = strings.CutPrefix(opt, "lowerdir+="); !ok {
						continue
					}
				}
				for _, dir := range strings.Split(lower, ":") {
					if hex, ok := strings.CutPrefix(dir, layers); ok {
						m.layers[hex] = true
						stack = append(stack, hex)
					}
				}
			}
			if len(stack) > 0 {
				m.stacks[strings.Join(stack, ":")] = true
			}
		}
	}
	return m, nil
}

// GC removes images no container uses, the least recently used first, while the filesystem of
// the store is used above low percent, once it is above high percent: the kubelet's image
// garbage collection (--image-gc-high-threshold 85, --image-gc-low-threshold 80).
func (s *Store) GC(high, low int) ([]*Image, int64, error) {
	used := func() (int, error) {
		var st unix.Statfs_t
		if err := unix.Statfs(s.root, &st); err != nil {
			return 0, err
		}
		return int(100 - st.Bavail*100/max(st.Blocks, 1)), nil
	}
	pct, err := used()
	if err != nil || pct <= high {
		return nil, 0, err
	}
	all, err := s.List()
	if err != nil {
		return nil, 0, err
	}
	lastUsed := func(img *Image) time.Time {
		if img.LastUsed.After(img.Added) {
			return img.LastUsed
		}
		return img.Added
	}
	slices.SortFunc(all, func(a, b *Image) int { return lastUsed(a).Compare(lastUsed(b)) })
	var removed []*Image
	var freed int64
	for _, img := range all {
		if pct, err = used(); err != nil || pct <= low {
			break
		}
		r, f, err := s.remove([]*Image{img}, nil)
		removed, freed = append(removed, r...), freed+f
		if err != nil {
			return removed, freed, err
		}
	}
	return removed, freed, err
}

// DiskUsage is the bytes the store's unpacked layers take on disk.
func (s *Store) DiskUsage() int64 { return diskUsage(filepath.Join(s.root, "layers")) }

// diskUsage is the bytes the files under dir take on disk, each hard-linked file once.
func diskUsage(dir string) int64 {
	var total int64
	seen := map[uint64]bool{}
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return nil
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			if st.Nlink > 1 {
				if seen[st.Ino] {
					return nil
				}
				seen[st.Ino] = true
			}
			total += st.Blocks * 512
		}
		return nil
	})
	return total
}

// lock takes the store's lock on its records, shared by every process that opens the store.
func (s *Store) lock() (func(), error) { return s.flock("lock", unix.LOCK_EX) }

// gcLock is held shared while layers are added (a pull, a load) and exclusively while they are
// pruned, so that a layer unpacked for an image not yet recorded is not taken for garbage.
func (s *Store) gcLock(exclusive bool) (func(), error) {
	if exclusive {
		return s.flock("gc.lock", unix.LOCK_EX)
	}
	return s.flock("gc.lock", unix.LOCK_SH)
}

func (s *Store) flock(name string, how int) (func(), error) {
	f, err := os.OpenFile(filepath.Join(s.root, name), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), how); err != nil {
		f.Close()
		return nil, err
	}
	return func() { f.Close() }, nil
}
