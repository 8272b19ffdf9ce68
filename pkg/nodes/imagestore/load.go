package imagestore

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// Annotations naming an image in an OCI layout: containerd's (the whole reference) and the
// OCI spec's (a whole reference, or a tag alone).
const (
	annotationContainerdName = "io.containerd.image.name"
	annotationRefName        = "org.opencontainers.image.ref.name"
)

// Load adds the images of an archive read from r: a docker-archive (`docker save`, `podman
// save`: a manifest.json listing each image's config, layers and tags) or an OCI image layout
// (`podman save --format oci-archive`, `crane pull --format oci`: index.json), the images
// named by their RepoTags or their layout annotations. It returns the images added.
func (s *Store) Load(ctx context.Context, r io.Reader) ([]*Image, error) {
	dir, err := os.MkdirTemp(filepath.Join(s.root, "tmp"), "load-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	// A file of its own: the archive is read more than once, and r may be a pipe.
	archive := filepath.Join(dir, "archive.tar")
	f, err := os.Create(archive)
	if err != nil {
		return nil, err
	}
	_, err = io.Copy(f, &ctxReader{ctx, r})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("read the archive: %w", err)
	}
	names, err := tarNames(archive)
	if err != nil {
		return nil, fmt.Errorf("read the archive: %w", err)
	}
	platform := HostPlatform()
	switch {
	case names["manifest.json"]:
		return s.loadDockerArchive(ctx, archive, platform)
	case names["index.json"]:
		layoutDir := filepath.Join(dir, "layout")
		if err := extract(archive, layoutDir); err != nil {
			return nil, fmt.Errorf("read the archive: %w", err)
		}
		return s.loadLayout(ctx, layoutDir, platform)
	}
	return nil, errors.New("the archive is neither a docker-archive (manifest.json) nor an OCI image layout (index.json)")
}

// loadDockerArchive adds the images of the docker-archive at path.
func (s *Store) loadDockerArchive(ctx context.Context, path string, platform v1.Platform) ([]*Image, error) {
	opener := func() (io.ReadCloser, error) { return os.Open(path) }
	m, err := tarball.LoadManifest(opener)
	if err != nil {
		return nil, fmt.Errorf("manifest.json: %w", err)
	}
	var out []*Image
	for i, d := range m {
		var tag *name.Tag
		rec := &Image{}
		if len(d.RepoTags) > 0 {
			t, err := name.NewTag(d.RepoTags[0])
			if err != nil {
				return out, fmt.Errorf("manifest.json: image %d: tag %q: %w", i, d.RepoTags[0], err)
			}
			tag = &t
			for _, rt := range d.RepoTags {
				named, err := Normalize(rt)
				if err != nil {
					return out, fmt.Errorf("manifest.json: image %d: %w", i, err)
				}
				rec.RepoTags = append(rec.RepoTags, named.String())
			}
		} else if len(m) > 1 {
			return out, fmt.Errorf("manifest.json: image %d (%s) has no RepoTags, and the archive has %d images: give it a tag", i, d.Config, len(m))
		}
		img, err := tarball.Image(opener, tag)
		if err != nil {
			return out, fmt.Errorf("manifest.json: image %d: %w", i, err)
		}
		added, err := s.addImage(ctx, img, rec, platform, false)
		if err != nil {
			return out, err
		}
		out = append(out, added)
	}
	return out, nil
}

// loadLayout adds the images of an OCI image layout at dir: each of index.json's manifests,
// an index resolved to the platform.
func (s *Store) loadLayout(ctx context.Context, dir string, platform v1.Platform) ([]*Image, error) {
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return nil, err
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	var out []*Image
	for _, d := range im.Manifests {
		rec := &Image{}
		ref := d.Annotations[annotationContainerdName]
		if ref == "" && !isLocalTag(d.Annotations[annotationRefName]) {
			ref = d.Annotations[annotationRefName]
		}
		if ref != "" {
			named, err := Normalize(ref)
			if err != nil {
				return out, fmt.Errorf("index.json: %w", err)
			}
			rec.RepoTags = []string{named.String()}
		}
		var img v1.Image
		switch {
		case d.MediaType.IsIndex():
			child, err := idx.ImageIndex(d.Digest)
			if err != nil {
				return out, err
			}
			if img, err = forPlatform(child, platform); err != nil {
				return out, fmt.Errorf("index %s: %w", d.Digest, err)
			}
		case d.MediaType.IsImage():
			if img, err = idx.Image(d.Digest); err != nil {
				return out, err
			}
		default:
			continue
		}
		added, err := s.addImage(ctx, img, rec, platform, true)
		if err != nil {
			return out, err
		}
		out = append(out, added)
	}
	if len(out) == 0 {
		return nil, errors.New("index.json lists no image")
	}
	return out, nil
}

// isLocalTag reports whether s names a tag only ("latest").
func isLocalTag(s string) bool { return !strings.ContainsAny(s, "/:@") }

// forPlatform is the image of idx for platform.
func forPlatform(idx v1.ImageIndex, platform v1.Platform) (v1.Image, error) {
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	var have []string
	for _, d := range im.Manifests {
		if d.Platform == nil {
			continue
		}
		if d.Platform.OS == platform.OS && d.Platform.Architecture == platform.Architecture {
			return idx.Image(d.Digest)
		}
		have = append(have, d.Platform.String())
	}
	return nil, fmt.Errorf("no image for %s (it has %v)", platform.String(), have)
}

// tarNames are the names of the files of the tar at path, cleaned.
func tarNames(path string) (map[string]bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	names := map[string]bool{}
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return names, nil
		}
		if err != nil {
			return nil, err
		}
		names[filepath.Clean(hdr.Name)] = true
	}
}

// extract writes the regular files and directories of the tar at path under dir.
func extract(path, dir string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		target := filepath.Join(dir, filepath.Clean("/"+hdr.Name))
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o700); err != nil {
				return err
			}
		case tar.TypeReg, tar.TypeRegA:
			if err := os.MkdirAll(filepath.Dir(target), 0o700); err != nil {
				return err
			}
			out, err := os.Create(target)
			if err != nil {
				return err
			}
			_, err = io.Copy(out, tr)
			if cerr := out.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
		}
	}
}
