package netns

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/vishvananda/netlink"
	vnetns "github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Dir is where named namespaces are bind-mounted, as by `ip netns add`.
const Dir = "/run/netns"

// Path returns the bind-mount path of a named namespace.
func Path(name string) string { return filepath.Join(Dir, name) }

// Exists reports whether a named namespace exists.
func Exists(name string) bool {
	var st unix.Statfs_t
	// A name whose file exists but is not a nsfs mount is a leftover, not a namespace.
	return unix.Statfs(Path(name), &st) == nil && st.Type == unix.NSFS_MAGIC
}

// Create makes a named network namespace, like `ip netns add NAME`. It is idempotent: an
// existing namespace of that name is kept.
func Create(name string) error {
	if Exists(name) {
		return nil
	}
	if err := prepareDir(); err != nil {
		return err
	}
	path := Path(name)
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE, 0o444)
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	f.Close()

	enter := func() error {
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			return fmt.Errorf("unshare: %w", err)
		}
		return nil
	}
	err = onOwnThread(enter, func() error {
		self := fmt.Sprintf("/proc/%d/task/%d/ns/net", os.Getpid(), unix.Gettid())
		if err := unix.Mount(self, path, "none", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("bind-mount %s on %s: %w", self, path, err)
		}
		return nil
	})
	if err != nil {
		os.Remove(path)
		return fmt.Errorf("create netns %s: %w", name, err)
	}
	return nil
}

// prepareDir makes /run/netns a shared mount point, as iproute2 does, so that namespace mounts
// propagate into mount namespaces created later.
func prepareDir() error {
	if err := os.MkdirAll(Dir, 0o755); err != nil {
		return err
	}
	err := unix.Mount("", Dir, "none", unix.MS_SHARED|unix.MS_REC, "")
	if err == nil {
		return nil
	}
	if !errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("make %s shared: %w", Dir, err)
	}
	// Not a mount point yet: bind it onto itself, then make it shared.
	if err := unix.Mount(Dir, Dir, "none", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("bind %s: %w", Dir, err)
	}
	if err := unix.Mount("", Dir, "none", unix.MS_SHARED|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("make %s shared: %w", Dir, err)
	}
	return nil
}

// Delete removes a named namespace, like `ip netns delete NAME`. A missing one is not an error.
// The namespace itself goes away once nothing (process, socket, mount) holds it any more.
func Delete(name string) error {
	path := Path(name)
	if err := unix.Unmount(path, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("unmount %s: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", path, err)
	}
	return nil
}

// List returns the names of the named namespaces that start with prefix.
func List(prefix string) ([]string, error) {
	entries, err := os.ReadDir(Dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), prefix) {
			out = append(out, e.Name())
		}
	}
	return out, nil
}

// Open returns a handle (file descriptor) to a named namespace. Close it when done.
func Open(name string) (vnetns.NsHandle, error) {
	h, err := vnetns.GetFromPath(Path(name))
	if err != nil {
		return vnetns.None(), fmt.Errorf("open netns %s: %w", name, err)
	}
	return h, nil
}

// Netlink returns a netlink handle whose requests act in the named namespace. Close it when done.
func Netlink(name string) (*netlink.Handle, error) {
	ns, err := Open(name)
	if err != nil {
		return nil, err
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return nil, fmt.Errorf("netlink in %s: %w", name, err)
	}
	return h, nil
}

// Do runs fn with its thread in the named namespace, or simply runs it when name is empty (the
// host's namespace). See the package documentation for what fn may do.
func Do(name string, fn func() error) error {
	if name == "" {
		return fn()
	}
	target, err := Open(name)
	if err != nil {
		return err
	}
	defer target.Close()
	return onOwnThread(func() error {
		if err := vnetns.Set(target); err != nil {
			return fmt.Errorf("enter netns %s: %w", name, err)
		}
		return nil
	}, fn)
}

// onOwnThread runs enter (which moves the thread into another namespace) and then fn on a fresh
// goroutine locked to its thread, and moves the thread back. The thread is unlocked only if
// that succeeded; otherwise it stays locked and the runtime discards it with the goroutine.
// (Merely exiting locked is not enough for the main thread, which the runtime keeps, wedged,
// and whose namespace /proc/self/net shows.)
func onOwnThread(enter, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		origin, err := vnetns.GetFromPath(fmt.Sprintf("/proc/%d/task/%d/ns/net", os.Getpid(), unix.Gettid()))
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer origin.Close()
		if err := enter(); err != nil {
			// enter failed before or after switching: switch back to be sure.
			if vnetns.Set(origin) == nil {
				runtime.UnlockOSThread()
			}
			errc <- err
			return
		}
		fnErr := fn()
		if err := vnetns.Set(origin); err != nil {
			errc <- errors.Join(fnErr, fmt.Errorf("return to the original netns: %w", err))
			return
		}
		runtime.UnlockOSThread()
		errc <- fnErr
	}()
	return <-errc
}

// Sysctl sets /proc/sys/<key> (dots as separators) inside the named namespace.
func Sysctl(name string, values map[string]string) error {
	return Do(name, func() error {
		var errs []error
		for k, v := range values {
			path := "/proc/sys/" + strings.ReplaceAll(k, ".", "/")
			if err := os.WriteFile(path, []byte(v), 0o644); err != nil {
				errs = append(errs, fmt.Errorf("sysctl %s=%s: %w", k, v, err))
			}
		}
		return errors.Join(errs...)
	})
}

// EnterForExec locks the calling goroutine to its thread and moves the thread into the named
// namespace for good: what the thread execs next runs there. It is for processes about to exec
// (a container's init); the thread is never switched back, and on failure the process is
// expected to exit.
func EnterForExec(name string) error {
	target, err := Open(name)
	if err != nil {
		return err
	}
	defer target.Close()
	runtime.LockOSThread()
	if err := vnetns.Set(target); err != nil {
		return fmt.Errorf("enter netns %s: %w", name, err)
	}
	return nil
}

// Exec replaces the current process with argv[0] run inside the named namespace, as
// `ip netns exec` does: in a mount namespace of its own where each file of binds is
// bind-mounted over its target (a node's /etc/resolv.conf), and, when hostname is not empty,
// a UTS namespace with that hostname. It returns only on failure.
func Exec(name, hostname string, binds map[string]string, argv, env []string) error {
	if err := EnterForExec(name); err != nil {
		return err
	}
	flags := unix.CLONE_NEWNS
	if hostname != "" {
		flags |= unix.CLONE_NEWUTS
	}
	if err := unix.Unshare(flags); err != nil {
		return fmt.Errorf("unshare: %w", err)
	}
	// Nothing mounted here may propagate back to the host.
	if err := unix.Mount("", "/", "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("make / a slave mount: %w", err)
	}
	for dst, src := range binds {
		if err := unix.Mount(src, dst, "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("bind-mount %s on %s: %w", src, dst, err)
		}
	}
	if hostname != "" {
		if err := unix.Sethostname([]byte(hostname)); err != nil {
			return fmt.Errorf("sethostname %s: %w", hostname, err)
		}
	}
	return unix.Exec(argv[0], argv, env)
}

// Run runs a command inside the named namespace and returns its combined output, the way the
// CNI plugins run iptables: the process is forked from the thread that Do moved into the
// namespace, so it starts there. (The goroutines that copy its output do not care where they run.)
// An empty name runs it on the host.
func Run(name string, stdin string, argv ...string) ([]byte, error) {
	var out []byte
	err := Do(name, func() error {
		cmd := exec.Command(argv[0], argv[1:]...)
		if stdin != "" {
			cmd.Stdin = strings.NewReader(stdin)
		}
		var err error
		out, err = cmd.CombinedOutput()
		if err != nil {
			where := "on the host"
			if name != "" {
				where = "in netns " + name
			}
			return fmt.Errorf("%s (%s): %w: %s", strings.Join(argv, " "), where, err, bytes.TrimSpace(out))
		}
		return nil
	})
	return out, err
}
