package imagestore

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"

	"github.com/distribution/reference"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/klauspost/compress/zstd"
	"github.com/klauspost/pgzip"
	"golang.org/x/sync/errgroup"
	"k8s.io/kubernetes/pkg/credentialprovider"
)

// PullOptions are how Pull reaches a registry.
type PullOptions struct {
	// Keyring has the credentials to try, as the kubelet's: the pod's image pull secrets, then
	// the host's (credentialprovider.NewDefaultDockerKeyring). Each matching one is tried in
	// turn; with none, the pull is anonymous.
	Keyring credentialprovider.DockerKeyring
	// Platform is the image to take from a multi-platform index; the host's (linux/GOARCH)
	// when empty.
	Platform *v1.Platform
	// Transport reaches the registry; nil is go-containerregistry's default, which honours the
	// proxy environment (HTTPS_PROXY, NO_PROXY).
	Transport http.RoundTripper
}

// HostPlatform is the platform images run on here.
func HostPlatform() v1.Platform { return v1.Platform{OS: "linux", Architecture: runtime.GOARCH} }

// Pull fetches the image ref names (normalized as Normalize does) from its registry: the
// manifest (an index resolved to the platform), then each layer the store does not have,
// unpacked as it downloads and checked against its digests.
func (s *Store) Pull(ctx context.Context, ref string, o PullOptions) (*Image, error) {
	named, err := Normalize(ref)
	if err != nil {
		return nil, err
	}
	r, err := name.ParseReference(named.String())
	if err != nil {
		return nil, fmt.Errorf("image reference %q: %w", ref, err)
	}
	var auths []authn.Authenticator
	if o.Keyring != nil {
		creds, _ := o.Keyring.Lookup(named.Name())
		for _, c := range creds {
			auths = append(auths, authn.FromConfig(authn.AuthConfig{
				Username: c.Username, Password: c.Password, Auth: c.Auth,
				IdentityToken: c.IdentityToken, RegistryToken: c.RegistryToken,
			}))
		}
	}
	if len(auths) == 0 {
		auths = []authn.Authenticator{authn.Anonymous}
	}
	var errs []error
	for _, auth := range auths {
		img, err := s.pull(ctx, named, r, auth, o)
		if err == nil {
			return img, nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return nil, errors.Join(errs...)
}

func (s *Store) pull(ctx context.Context, named reference.Named, r name.Reference, auth authn.Authenticator, o PullOptions) (*Image, error) {
	platform := HostPlatform()
	if o.Platform != nil {
		platform = *o.Platform
	}
	opts := []remote.Option{remote.WithContext(ctx), remote.WithAuth(auth), remote.WithPlatform(platform)}
	if o.Transport != nil {
		opts = append(opts, remote.WithTransport(o.Transport))
	}
	desc, err := remote.Get(r, opts...)
	if err != nil {
		return nil, err
	}
	img, err := desc.Image()
	if err != nil {
		return nil, err
	}
	rec := &Image{RepoDigests: []string{named.Name() + "@" + desc.Digest.String()}}
	if _, byDigest := named.(reference.Digested); !byDigest {
		rec.RepoTags = []string{named.String()}
	}
	return s.addImage(ctx, img, rec, platform, true)
}

// addImage unpacks the layers of img the store does not have and records it with the names
// rec has. With blobs, its layers are blobs as registries ship them (compressed or not).
func (s *Store) addImage(ctx context.Context, img v1.Image, rec *Image, platform v1.Platform, blobs bool) (*Image, error) {
	unlockGC, err := s.gcLock(false)
	if err != nil {
		return nil, err
	}
	defer unlockGC()
	id, err := img.ConfigName()
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	if cf.OS != platform.OS || cf.Architecture != platform.Architecture {
		return nil, fmt.Errorf("image %s is for %s/%s, not %s/%s", id, cf.OS, cf.Architecture, platform.OS, platform.Architecture)
	}
	layers, err := img.Layers()
	if err != nil {
		return nil, err
	}
	if len(layers) != len(cf.RootFS.DiffIDs) {
		return nil, fmt.Errorf("image %s: %d layers but %d diff IDs in its config", id, len(layers), len(cf.RootFS.DiffIDs))
	}
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(3)
	for i, l := range layers {
		diffID := cf.RootFS.DiffIDs[i].String()
		size, err := l.Size()
		if err != nil {
			return nil, err
		}
		rec.Size += size
		rec.Layers = append(rec.Layers, diffID)
		g.Go(func() error { return s.ensureLayer(ctx, l, diffID, blobs) })
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	rec.ID, rec.Config = id.String(), cf.Config
	rec.Platform = cf.OS + "/" + cf.Architecture
	if cf.Variant != "" {
		rec.Platform += "/" + cf.Variant
	}
	return s.add(rec)
}

// ensureLayer unpacks l unless the store has it. Two pulls of one layer in this process share
// one download, each waiting only as long as its own ctx lets it; when the one downloading is
// cancelled, the other starts over. Across processes the first to finish wins.
func (s *Store) ensureLayer(ctx context.Context, l v1.Layer, diffID string, blob bool) error {
	dir := s.layerDir(diffID)
	for {
		if _, err := os.Stat(dir); err == nil {
			return nil
		}
		// ours: this call's own download ran (a timeout of its own is a failure, not a
		// reason to start over). Set before ch delivers.
		ours := false
		ch := s.layers.DoChan(diffID, func() (any, error) {
			ours = true
			return nil, s.unpackLayer(ctx, l, diffID, dir, blob)
		})
		select {
		case <-ctx.Done():
			return ctx.Err()
		case r := <-ch:
			if r.Err != nil && !ours && ctx.Err() == nil && (errors.Is(r.Err, context.Canceled) || errors.Is(r.Err, context.DeadlineExceeded)) {
				continue // another pull's download, cancelled
			}
			return r.Err
		}
	}
}

// unpackLayer unpacks l into tmp/, checks it against diffID, then moves it to dir at once.
func (s *Store) unpackLayer(ctx context.Context, l v1.Layer, diffID, dir string, blob bool) error {
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	tmp, err := os.MkdirTemp(filepath.Join(s.root, "tmp"), "layer-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	rc, err := layerStream(l, blob)
	if err != nil {
		return fmt.Errorf("layer %s: %w", diffID, err)
	}
	defer rc.Close()
	h := sha256.New()
	tee := io.TeeReader(&ctxReader{ctx, rc}, h)
	if err := unpack(tee, tmp); err != nil {
		return fmt.Errorf("layer %s: %w", diffID, err)
	}
	// The rest (the tar's end blocks): reading to the end checks the compressed digest.
	if _, err := io.Copy(io.Discard, tee); err != nil {
		return fmt.Errorf("layer %s: %w", diffID, err)
	}
	if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); got != diffID {
		return fmt.Errorf("layer %s: its content has digest %s", diffID, got)
	}
	if err := os.Rename(tmp, dir); err != nil {
		if _, serr := os.Stat(dir); serr == nil {
			return nil // another process put it there first
		}
		return err
	}
	return nil
}

// layerStream is l's content, a tar stream. A blob (from a registry or an OCI layout: its
// compressed digest checked as it is read, for a registry's) is decompressed here by
// klauspost's packages, in a goroutine of their own that reads ahead while the files are
// written: gzip by pgzip, zstd by compress/zstd; other layers (a docker-archive's) as
// go-containerregistry gives them.
func layerStream(l v1.Layer, blob bool) (io.ReadCloser, error) {
	if !blob {
		return l.Uncompressed()
	}
	rc, err := l.Compressed()
	if err != nil {
		return nil, err
	}
	br := bufio.NewReaderSize(rc, 1<<16)
	magic, _ := br.Peek(4)
	var r io.Reader = br
	closing := rc.Close
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		zr, err := pgzip.NewReader(br)
		if err != nil {
			rc.Close()
			return nil, err
		}
		r, closing = zr, func() error { zr.Close(); return rc.Close() }
	case bytes.HasPrefix(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		zr, err := zstd.NewReader(br)
		if err != nil {
			rc.Close()
			return nil, err
		}
		r, closing = zr, func() error { zr.Close(); return rc.Close() }
	}
	return struct {
		io.Reader
		io.Closer
	}{r, closerFunc(closing)}, nil
}

type closerFunc func() error

func (f closerFunc) Close() error { return f() }

// ctxReader stops reading once ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// RegistryOf is the registry host of ref, as the kubelet's messages name it.
func RegistryOf(ref string) string {
	named, err := Normalize(ref)
	if err != nil {
		return ""
	}
	return reference.Domain(named)
}
