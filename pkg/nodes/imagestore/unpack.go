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
	"unsafe"

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
	// parents are the directories already resolved within dir (by their name in the layer):
	// most entries share their parent with the one before. Forgotten when a symbolic link is
	// made or anything removed, either of which may change what a name resolves to.
	parents := map[string]string{}
	remove := func(path string) error {
		clear(parents)
		return os.RemoveAll(path)
	}
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
		parentPath, ok := parents[parent]
		if !ok {
			// The parent resolved within dir: a symbolic link of the layer cannot take an
			// entry out of it.
			if parentPath, err = securejoin.SecureJoin(dir, parent); err != nil {
				return fmt.Errorf("layer entry %q: %w", hdr.Name, err)
			}
			if err := os.MkdirAll(parentPath, 0o755); err != nil {
				return fmt.Errorf("layer entry %q: %w", hdr.Name, err)
			}
			parents[parent] = parentPath
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
			if err := remove(hidden); err != nil {
				return err
			}
			if err := unix.Mknod(hidden, unix.S_IFCHR, 0); err != nil {
				return fmt.Errorf("whiteout %q: %w", hdr.Name, err)
			}
			continue
		}

		// Each entry is made at once; one in the way (a later entry of the same path
		// replaces an earlier one) is removed first, directories merging.
		replace := func(make func() error) error {
			err := make()
			if errors.Is(err, os.ErrExist) {
				if err = remove(path); err == nil {
					err = make()
				}
			}
			return err
		}
		switch hdr.Typeflag {
		case tar.TypeDir:
			err := os.Mkdir(path, 0o700)
			if errors.Is(err, os.ErrExist) {
				if fi, serr := os.Lstat(path); serr == nil && fi.IsDir() {
					err = nil
				} else if err = remove(path); err == nil {
					err = os.Mkdir(path, 0o700)
				}
			}
			if err != nil {
				return err
			}
			dirs = append(dirs, dirTimes{path, hdr.AccessTime, hdr.ModTime})
		case tar.TypeReg, tar.TypeRegA:
			var f *os.File
			if err := replace(func() (err error) {
				f, err = os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
				return err
			}); err != nil {
				return err
			}
			if err := writeFile(f, tr, hdr); err != nil {
				return fmt.Errorf("layer entry %q: %w", hdr.Name, err)
			}
			continue
		case tar.TypeSymlink:
			if err := replace(func() error { return os.Symlink(hdr.Linkname, path) }); err != nil {
				return err
			}
			clear(parents)
		case tar.TypeLink:
			target, err := securejoin.SecureJoin(dir, filepath.Clean("/"+hdr.Linkname))
			if err != nil {
				return fmt.Errorf("hard link %q: %w", hdr.Name, err)
			}
			if err := replace(func() error { return os.Link(target, path) }); err != nil {
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

// writeFile writes a regular file's content from r into f, then its owner, extended
// attributes, mode and times, through the open file as tar does, and closes it.
func writeFile(f *os.File, r io.Reader, hdr *tar.Header) error {
	_, err := io.Copy(f, r)
	if err == nil {
		err = f.Chown(hdr.Uid, hdr.Gid)
	}
	fd := int(f.Fd())
	for k, v := range hdr.PAXRecords {
		if name, ok := strings.CutPrefix(k, "SCHILY.xattr."); ok && err == nil {
			err = xattrErr(unix.Fsetxattr(fd, name, []byte(v), 0), name, hdr)
		}
	}
	if err == nil {
		err = f.Chmod(fileMode(hdr))
	}
	if err == nil {
		// futimens: utimensat(fd, NULL, …).
		ts := timespecs(hdr.AccessTime, hdr.ModTime)
		if _, _, errno := unix.Syscall6(unix.SYS_UTIMENSAT, uintptr(fd), 0, uintptr(unsafe.Pointer(&ts[0])), 0, 0, 0); errno != 0 {
			err = fmt.Errorf("times: %w", errno)
		}
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// attributes sets path's owner, extended attributes and mode (in that order: chown clears
// set-user-ID bits) as hdr has them.
func attributes(path string, hdr *tar.Header) error {
	if err := os.Lchown(path, hdr.Uid, hdr.Gid); err != nil {
		return err
	}
	for k, v := range hdr.PAXRecords {
		if name, ok := strings.CutPrefix(k, "SCHILY.xattr."); ok {
			if err := xattrErr(unix.Lsetxattr(path, name, []byte(v), 0), name, hdr); err != nil {
				return err
			}
		}
	}
	if hdr.Typeflag == tar.TypeSymlink {
		return nil
	}
	return os.Chmod(path, fileMode(hdr))
}

// xattrErr is the error of setting extended attribute name, none when the filesystem or the
// kernel does not allow it (as for trusted.* names without CAP_SYS_ADMIN).
func xattrErr(err error, name string, hdr *tar.Header) error {
	if err == nil || errors.Is(err, unix.ENOTSUP) || errors.Is(err, unix.EPERM) {
		return nil
	}
	return fmt.Errorf("xattr %s of %q: %w", name, hdr.Name, err)
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
	ts := timespecs(atime, mtime)
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, path, ts[:], unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("times of %s: %w", path, err)
	}
	return nil
}

// timespecs are the access and modification times of a tar entry (no access time: its
// modification time).
func timespecs(atime, mtime time.Time) [2]unix.Timespec {
	if atime.IsZero() {
		atime = mtime
	}
	return [2]unix.Timespec{unix.NsecToTimespec(atime.UnixNano()), unix.NsecToTimespec(mtime.UnixNano())}
}
