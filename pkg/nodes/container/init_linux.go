package container

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	"golang.org/x/sys/unix"

	"github.com/minaks/minaks/pkg/netstack/netns"
)

// InitName is argv[0] of a container's init: main runs Init when it sees it.
const InitName = "minaks-container-init"

// The init reads its Spec from specFD and reports a failure to start on statusFD, which is
// closed by a successful exec (exec.Cmd.ExtraFiles).
const (
	specFD   = 3
	statusFD = 4
)

// hostMounts are the host's filesystems that the container sees as they are; everything else
// of the host's root comes through the overlay, read-only underneath the container's writes.
// /proc is the container's own: it runs in a PID namespace of its own.
var hostMounts = []string{"/sys", "/dev"}

// Init turns the current process into the container described on specFD. It returns only on
// failure, after printing the reason where the container's stderr goes, and the process should
// then exit non-zero: the node agent reports it as the container's failure to start.
func Init() error {
	status := os.NewFile(statusFD, "status")
	unix.CloseOnExec(statusFD)
	f := os.NewFile(specFD, "spec")
	var spec Spec
	err := json.NewDecoder(f).Decode(&spec)
	f.Close()
	if err != nil {
		err = fmt.Errorf("read container spec: %w", err)
	} else {
		err = run(&spec)
	}
	_, _ = status.WriteString(err.Error())
	return err
}

// run does the work of Init. The process was cloned with new mount, UTS, IPC and PID namespaces
// (it is PID 1 of its own: when it exits, every process of the container goes with it); the
// network namespace is entered by this (locked) thread, which then execs.
func run(s *Spec) error {
	if err := netns.EnterForExec(s.NetNS); err != nil {
		return err
	}
	// Nothing mounted here may propagate back to the host.
	if err := unix.Mount("", "/", "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("make / a slave mount: %w", err)
	}
	rootfs := filepath.Join(s.Dir, "rootfs")
	lower := s.Lower
	if len(lower) == 0 {
		lower = []string{"/"}
	}
	if err := MountOverlay(rootfs, lower, filepath.Join(s.Dir, "upper"), filepath.Join(s.Dir, "work")); err != nil {
		return fmt.Errorf("mount the container's root: %w", err)
	}
	if len(s.Lower) > 0 {
		// An image need not have the mount points: they go in the writable layer.
		for _, d := range append([]string{"/proc"}, hostMounts...) {
			if err := os.MkdirAll(filepath.Join(rootfs, d), 0o755); err != nil {
				return fmt.Errorf("mount point %s: %w", d, err)
			}
		}
	}
	if err := unix.Mount("proc", filepath.Join(rootfs, "proc"), "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return fmt.Errorf("mount /proc: %w", err)
	}
	for _, m := range hostMounts {
		if err := unix.Mount(m, filepath.Join(rootfs, m), "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("bind-mount %s: %w", m, err)
		}
	}
	if len(s.Cgroups) > 0 {
		if err := mountCgroups(rootfs, s.Cgroups); err != nil {
			return err
		}
	}
	var readOnly []string
	for i, m := range s.Mounts {
		if len(m.Layers) > 0 {
			// An image volume: the union of its layers, in this mount namespace only, whose
			// SubPath is bound into the container.
			union := filepath.Join(s.Dir, "image-volumes", strconv.Itoa(i))
			if err := os.MkdirAll(union, 0o755); err != nil {
				return fmt.Errorf("image volume %s: %w", m.Target, err)
			}
			if err := mountLayers(union, m.Layers); err != nil {
				return fmt.Errorf("image volume %s: %w", m.Target, err)
			}
			src, err := securejoin.SecureJoin(union, m.SubPath)
			if err != nil {
				return fmt.Errorf("image volume %s: %w", m.Target, err)
			}
			m.Source, m.ReadOnly = src, true
		}
		target, err := bind(rootfs, m)
		if err != nil {
			return err
		}
		if m.ReadOnly {
			readOnly = append(readOnly, target)
		}
	}
	// Read-only only once every mount is in place: a volume may be mounted inside another
	// (CoreDNS's custom directory inside its config), and its mount point is made through the
	// outer one, as runtimes do.
	for _, target := range readOnly {
		if err := unix.Mount("", target, "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_RDONLY, ""); err != nil {
			return fmt.Errorf("make %s read-only: %w", strings.TrimPrefix(target, rootfs), err)
		}
	}
	if err := pivot(rootfs); err != nil {
		return err
	}
	for name, value := range s.Sysctls {
		path := "/proc/sys/" + strings.ReplaceAll(name, ".", "/")
		if err := os.WriteFile(path, []byte(value), 0); err != nil {
			return fmt.Errorf("sysctl %s=%s: %w", name, value, err)
		}
	}
	if s.OOMScoreAdj != nil {
		// Going below the node agent's own value takes CAP_SYS_RESOURCE, which a host may not
		// give: the value is kept at the agent's then, as containerd's restrict_oom_score_adj does.
		err := os.WriteFile("/proc/self/oom_score_adj", []byte(strconv.Itoa(*s.OOMScoreAdj)), 0)
		if errors.Is(err, os.ErrPermission) {
			if own, rerr := os.ReadFile("/proc/self/oom_score_adj"); rerr == nil {
				if n, perr := strconv.Atoi(strings.TrimSpace(string(own))); perr == nil && *s.OOMScoreAdj < n {
					err = nil
				}
			}
		}
		if err != nil {
			return fmt.Errorf("oom_score_adj: %w", err)
		}
	}
	if s.Hostname != "" {
		if err := unix.Sethostname([]byte(s.Hostname)); err != nil {
			return fmt.Errorf("sethostname %s: %w", s.Hostname, err)
		}
	}
	if s.WorkingDir != "" {
		if err := os.MkdirAll(s.WorkingDir, 0o755); err != nil {
			return fmt.Errorf("working directory: %w", err)
		}
		if err := os.Chdir(s.WorkingDir); err != nil {
			return fmt.Errorf("working directory: %w", err)
		}
	}
	return execAs(s, unix.SIGKILL)
}

// ExecName is argv[1] of the helper that runs a command in a running container (kubectl exec,
// exec probes): nsenter enters the container's namespaces and root, then runs the helper, which
// takes the container's capabilities and user before it execs the command. runner.Run runs
// ExecMain when it sees it.
const ExecName = "minaks-container-exec"

// ExecMain runs the command of the spec in encoded (JSON: Argv and the user and privileges of
// the container) with the process's environment, as the container's init runs its own. It
// returns only on failure.
func ExecMain(encoded string) error {
	var s Spec
	if err := json.Unmarshal([]byte(encoded), &s); err != nil {
		return fmt.Errorf("read exec spec: %w", err)
	}
	if len(s.Argv) == 0 {
		return errors.New("no command")
	}
	s.Env = os.Environ()
	return execAs(&s, 0)
}

// execAs finds the spec's command in its PATH, takes its capabilities, user, no_new_privs and,
// when not 0, deathSignal as its parent-death signal, and execs it.
func execAs(s *Spec, deathSignal unix.Signal) error {
	path, err := lookPath(s.Argv[0], s.Env)
	if err != nil {
		return err
	}
	if err := limitCapabilities(s.Capabilities); err != nil {
		return err
	}
	if err := setUser(s); err != nil {
		return err
	}
	if deathSignal != 0 {
		// Taken by the thread that execs, after the change of user (which clears it): the
		// container ends with its node agent's daemon.
		if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(deathSignal), 0, 0, 0); err != nil {
			return fmt.Errorf("parent-death signal: %w", err)
		}
	}
	if s.NoNewPrivileges {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return fmt.Errorf("no_new_privs: %w", err)
		}
	}
	if err := unix.Exec(path, s.Argv, s.Env); err != nil {
		return fmt.Errorf("exec %s: %w", path, err)
	}
	return nil
}

// mountLayers mounts the read-only union of layers (the top-most first) at target: an overlay
// without an upper layer, or the one layer itself.
func mountLayers(target string, layers []string) error {
	if len(layers) == 1 {
		if err := unix.Mount(layers[0], target, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("bind-mount %s: %w", layers[0], err)
		}
	} else if err := MountOverlay(target, layers, "", ""); err != nil {
		return err
	}
	return unix.Mount("", target, "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_RDONLY, "")
}

// mountCgroups replaces the host's cgroup hierarchies below rootfs's /sys/fs/cgroup (bound
// with /sys) by the container's own, read-only: the directory itself on cgroup v2, a tmpfs
// with one directory per controller on v1.
func mountCgroups(rootfs string, cgroups []Mount) error {
	root := filepath.Join(rootfs, "sys/fs/cgroup")
	if err := unix.Unmount(root, unix.MNT_DETACH); err != nil {
		return fmt.Errorf("unmount the host's /sys/fs/cgroup: %w", err)
	}
	if len(cgroups) == 1 && cgroups[0].Target == "/sys/fs/cgroup" {
		if _, err := bind(rootfs, cgroups[0]); err != nil {
			return err
		}
		return unix.Mount("", root, "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "")
	}
	if err := unix.Mount("tmpfs", root, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=755"); err != nil {
		return fmt.Errorf("mount /sys/fs/cgroup: %w", err)
	}
	for _, m := range cgroups {
		target, err := bind(rootfs, m)
		if err != nil {
			return err
		}
		if err := unix.Mount("", target, "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
			return fmt.Errorf("make %s read-only: %w", m.Target, err)
		}
	}
	return unix.Mount("", root, "", unix.MS_REMOUNT|unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=755")
}

// bind mounts m.Source at m.Target inside rootfs and returns the target's path, making the
// target (a file or a directory, like the source) in the container's writable layer when it
// does not exist. Symlinks on the
// way are resolved inside rootfs, never on the host (/var/run is a symlink to /run); a target
// that is itself a symlink (/etc/resolv.conf often is) is replaced by a plain file first.
func bind(rootfs string, m Mount) (string, error) {
	st, err := os.Stat(m.Source)
	if err != nil {
		return "", fmt.Errorf("mount %s: %w", m.Target, err)
	}
	parent, err := securejoin.SecureJoin(rootfs, filepath.Dir(m.Target))
	if err != nil {
		return "", fmt.Errorf("mount %s: %w", m.Target, err)
	}
	target := filepath.Join(parent, filepath.Base(m.Target))
	if fi, err := os.Lstat(target); err == nil && fi.Mode()&os.ModeSymlink != 0 {
		if err := os.Remove(target); err != nil {
			return "", fmt.Errorf("mount %s: %w", m.Target, err)
		}
	}
	if st.IsDir() {
		err = os.MkdirAll(target, 0o755)
	} else if err = os.MkdirAll(filepath.Dir(target), 0o755); err == nil {
		var f *os.File
		if f, err = os.OpenFile(target, os.O_CREATE|os.O_RDONLY, 0o644); err == nil {
			f.Close()
		}
	}
	if err != nil {
		return "", fmt.Errorf("mount point %s: %w", m.Target, err)
	}
	if err := unix.Mount(m.Source, target, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return "", fmt.Errorf("bind-mount %s on %s: %w", m.Source, m.Target, err)
	}
	return target, nil
}

// pivot makes rootfs the root and drops the old one (`pivot_root`, then a lazy unmount).
func pivot(rootfs string) error {
	old := filepath.Join(rootfs, ".minaks-oldroot")
	if err := os.MkdirAll(old, 0o700); err != nil {
		return err
	}
	if err := unix.PivotRoot(rootfs, old); err != nil {
		return fmt.Errorf("pivot_root %s: %w", rootfs, err)
	}
	if err := os.Chdir("/"); err != nil {
		return err
	}
	if err := unix.Unmount("/.minaks-oldroot", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("unmount the old root: %w", err)
	}
	return os.Remove("/.minaks-oldroot")
}

// limitCapabilities drops from the bounding set every capability not in caps (nil keeps them
// all). The command's root user gets the rest when it execs; another user gets none, as with
// containerd (setuid clears them, and no ambient capabilities are set).
func limitCapabilities(caps []string) error {
	if caps == nil {
		return nil
	}
	for i, name := range capabilityNames {
		if slices.Contains(caps, name) {
			continue
		}
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(i), 0, 0, 0); err != nil && !errors.Is(err, unix.EINVAL) {
			return fmt.Errorf("drop CAP_%s: %w", name, err) // EINVAL: a capability this kernel lacks
		}
	}
	// Inherited and ambient capabilities would pass over the bounding set at exec.
	if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil {
		return fmt.Errorf("clear ambient capabilities: %w", err)
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return fmt.Errorf("capget: %w", err)
	}
	data[0].Inheritable, data[1].Inheritable = 0, 0
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("clear inheritable capabilities: %w", err)
	}
	return nil
}

// setUser switches to the container's user: supplementary groups, group, then user.
func setUser(s *Spec) error {
	if s.GID != nil || s.UID != nil {
		groups := make([]int, len(s.Groups))
		for i, g := range s.Groups {
			groups[i] = int(g)
		}
		if err := unix.Setgroups(groups); err != nil {
			return fmt.Errorf("setgroups: %w", err)
		}
	}
	if s.GID != nil {
		if err := unix.Setgid(int(*s.GID)); err != nil {
			return fmt.Errorf("setgid %d: %w", *s.GID, err)
		}
	}
	if s.UID != nil {
		if err := unix.Setuid(int(*s.UID)); err != nil {
			return fmt.Errorf("setuid %d: %w", *s.UID, err)
		}
	}
	return nil
}

// lookPath finds a command in the container's PATH, as a runtime does: a name with a slash is
// taken as it is.
func lookPath(name string, env []string) (string, error) {
	if strings.Contains(name, "/") {
		return name, nil
	}
	path := DefaultPath
	for _, e := range env {
		if v, ok := strings.CutPrefix(e, "PATH="); ok {
			path = v
		}
	}
	for _, dir := range filepath.SplitList(path) {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("exec: %q: executable file not found in $PATH", name)
}

// MountOverlay mounts an overlay of lower (the top-most first), upper and work at target (a
// read-only one of two lower layers or more without upper and work). Each
// lower directory is its own "lowerdir+" parameter of the new mount API (Linux 6.8), so an
// image may have as many layers as overlayfs stacks (500); before 6.8, the classic mount's one
// "lowerdir=" option, whose options must fit in a page (about 40 layers of the store).
func MountOverlay(target string, lower []string, upper, work string) error {
	classic, err := mountOverlayFS(target, lower, upper, work)
	if !classic {
		return err
	}
	opts := "lowerdir=" + strings.Join(lower, ":")
	if upper != "" {
		opts += fmt.Sprintf(",upperdir=%s,workdir=%s", upper, work)
	}
	if len(opts) >= os.Getpagesize() {
		return fmt.Errorf("overlay of %d layers on %s: their paths make %d bytes of mount options, over the page (%d) this kernel's overlay takes; Linux 6.8 and later take any number (%v)",
			len(lower), target, len(opts), os.Getpagesize(), err)
	}
	if err := unix.Mount("overlay", target, "overlay", 0, opts); err != nil {
		return fmt.Errorf("overlay %s on %s: %w", opts, target, err)
	}
	return nil
}

// mountOverlayFS mounts the overlay through fsopen, fsconfig and fsmount; classic says the
// kernel lacks the API or "lowerdir+", and the classic mount is to be used.
func mountOverlayFS(target string, lower []string, upper, work string) (classic bool, err error) {
	fd, err := unix.Fsopen("overlay", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return errors.Is(err, unix.ENOSYS), fmt.Errorf("fsopen overlay: %w", err)
	}
	defer unix.Close(fd)
	for i, l := range lower {
		if err := unix.FsconfigSetString(fd, "lowerdir+", l); err != nil {
			return i == 0 && errors.Is(err, unix.EINVAL), fmt.Errorf("overlay lowerdir+=%s: %w", l, err)
		}
	}
	for _, kv := range [][2]string{{"upperdir", upper}, {"workdir", work}} {
		if kv[1] == "" {
			continue // read-only: no upper layer
		}
		if err := unix.FsconfigSetString(fd, kv[0], kv[1]); err != nil {
			return false, fmt.Errorf("overlay %s=%s: %w", kv[0], kv[1], err)
		}
	}
	if err := unix.FsconfigCreate(fd); err != nil {
		return false, fmt.Errorf("overlay on %s: %w", target, err)
	}
	mfd, err := unix.Fsmount(fd, unix.FSMOUNT_CLOEXEC, 0)
	if err != nil {
		return false, fmt.Errorf("fsmount overlay: %w", err)
	}
	defer unix.Close(mfd)
	if err := unix.MoveMount(mfd, "", unix.AT_FDCWD, target, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return false, fmt.Errorf("move the overlay to %s: %w", target, err)
	}
	return false, nil
}
