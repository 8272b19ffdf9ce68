package imagestore

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	securejoin "github.com/cyphar/filepath-securejoin"
	"golang.org/x/sys/unix"
)

// The OCI image spec's whiteouts: a file .wh.NAME deletes NAME of the layers below, a file
// .wh..wh..opq in a directory hides everything below it.
const (
	whiteoutPrefix = ".wh."
	whiteoutOpaque = ".wh..wh..opq"
)

// unpack writes the layer tar r into dir (empty) as an overlayfs layer: whiteouts become what
// overlayfs reads (a 0/0 character device, the trusted.overlay.opaque xattr), owners, modes,
// extended attributes and times as the tar has them. Device files and FIFOs are skipped, as
// rootless runtimes skip them (a container has /dev of its own). No entry is written outside
// dir: names and hard links are resolved within it, and symbolic links in the layer are
// followed within it.
func unpack(r io.Reader, dir string) error {
	tr := tar.NewReader(r)
	type dirTimes struct {
		path       string
		atime, mod time.Time
	}
	var dirs []dirTimes
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("read layer: %w", err)
		}
		name := filepath.Clean("/" + hdr.Name)
		if name == "/" {
			if hdr.Typeflag == tar.TypeDir {
				// The layer's root: its mode and owner are the container's /.
				if err := attributes(dir, hdr); err != nil {
					return err
				}
				dirs = append(dirs, dirTimes{dir, hdr.AccessTime, hdr.ModTime})
			}
			continue
		}
		parent, base := filepath.Split(name)
		// The parent resolved within dir: a symbolic link of the layer cannot take an entry
		// out of it.
		parentPath, err := securejoin.SecureJoin(dir, parent)
		if err != nil {
			return fmt.Errorf("layer entry %q: %w", hdr.Name, err)
		}
		if err := os.MkdirAll(parentPath, 0o755); err != nil {
			return fmt.Errorf("layer entry %q: %w", hdr.Name, err)
		}
		path := filepath.Join(parentPath, base)

		switch {
		case base == whiteoutOpaque:
			if err := unix.Lsetxattr(parentPath, "trusted.overlay.opaque", []byte("y"), 0); err != nil {
				return fmt.Errorf("opaque directory %q: %w", parent, err)
			}
			continue
		case strings.HasPrefix(base, whiteoutPrefix):
			hidden := filepath.Join(parentPath, strings.TrimPrefix(base, whiteoutPrefix))
			if err := os.RemoveAll(hidden); err != nil {
				return err
			}
			if err := unix.Mknod(hidden, unix.S_IFCHR, 0); err != nil {
				return fmt.Errorf("whiteout %q: %w", hdr.Name, err)
			}
			continue
		}

		// A later entry of the same path replaces an earlier one, directories merging.
		if fi, err := os.Lstat(path); err == nil && !(fi.IsDir() && hdr.Typeflag == tar.TypeDir) {
			if err := os.RemoveAll(path); err != nil {
				return err
			}
		}
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := os.Mkdir(path, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
				return err
			}
			dirs = append(dirs, dirTimes{path, hdr.AccessTime, hdr.ModTime})
		case tar.TypeReg, tar.TypeRegA:
			f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
			if err != nil {
				return err
			}
			_, err = io.Copy(f, tr)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return fmt.Errorf("layer entry %q: %w", hdr.Name, err)
			}
		case tar.TypeSymlink:
			if err := os.Symlink(hdr.Linkname, path); err != nil {
				return err
			}
		case tar.TypeLink:
			target, err := securejoin.SecureJoin(dir, filepath.Clean("/"+hdr.Linkname))
			if err != nil {
				return fmt.Errorf("hard link %q: %w", hdr.Name, err)
			}
			if err := os.Link(target, path); err != nil {
				return fmt.Errorf("hard link %q → %q: %w", hdr.Name, hdr.Linkname, err)
			}
			continue // the target has its attributes already
		case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
			continue
		default:
			continue // pax and GNU extension headers the reader did not fold in
		}
		if err := attributes(path, hdr); err != nil {
			return err
		}
		if hdr.Typeflag != tar.TypeDir {
			if err := times(path, hdr.AccessTime, hdr.ModTime); err != nil {
				return err
			}
		}
	}
	// Directories' times last: writing into a directory changes its mtime.
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := times(dirs[i].path, dirs[i].atime, dirs[i].mod); err != nil {
			return err
		}
	}
	return nil
}

// attributes sets path's owner, extended attributes and mode (in that order: chown clears
// set-user-ID bits) as hdr has them.
func attributes(path string, hdr *tar.Header) error {
	if err := os.Lchown(path, hdr.Uid, hdr.Gid); err != nil {
		return err
	}
	for k, v := range hdr.PAXRecords {
		name, ok := strings.CutPrefix(k, "SCHILY.xattr.")
		if !ok {
			continue
		}
		if err := unix.Lsetxattr(path, name, []byte(v), 0); err != nil && !errors.Is(err, unix.ENOTSUP) && !errors.Is(err, unix.EPERM) {
			return fmt.Errorf("xattr %s of %q: %w", name, hdr.Name, err)
		}
	}
	if hdr.Typeflag == tar.TypeSymlink {
		return nil
	}
	return os.Chmod(path, fileMode(hdr))
}

// fileMode is the tar mode as os.FileMode, with set-user-ID, set-group-ID and sticky bits.
func fileMode(hdr *tar.Header) os.FileMode {
	m := os.FileMode(hdr.Mode & 0o777)
	if hdr.Mode&04000 != 0 {
		m |= os.ModeSetuid
	}
	if hdr.Mode&02000 != 0 {
		m |= os.ModeSetgid
	}
	if hdr.Mode&01000 != 0 {
		m |= os.ModeSticky
	}
	return m
}

// times sets path's access and modification times without following a symbolic link.
func times(path string, atime, mtime time.Time) error {
	if atime.IsZero() {
		atime = mtime
	}
	ts := []unix.Timespec{unix.NsecToTimespec(atime.UnixNano()), unix.NsecToTimespec(mtime.UnixNano())}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, path, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("times of %s: %w", path, err)
	}
	return nil
}
