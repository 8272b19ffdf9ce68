package toolroot

import (
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/minaks/minaks/images"
)

// layout is the version of what Ensure writes: a change to it makes a new root.
const layout = "2"

// busyboxPaths are where distributions put a static busybox (Debian's busybox-static: /bin).
var busyboxPaths = []string{"/bin/busybox", "/usr/bin/busybox", "/sbin/busybox", "/usr/sbin/busybox"}

// shellPaths are where distributions put a static bash (Debian's and Ubuntu's bash-static). It
// is the root's sh and bash: BusyBox's own sh is a standalone shell, which runs its applets
// ahead of PATH, so a bare "nc" in "sh -c" would never reach minaks's nc; and bash, unlike
// BusyBox's ash or mksh, passes on the environment variables whose names are not a shell's
// (a ConfigMap's "data-1" through envFrom), as a container's sh must for `sh -c env`.
var shellPaths = []string{"/bin/bash-static", "/usr/bin/bash-static"}

// shells are the root's names for its bash, in /bin.
var shells = []string{"bash", "sh"}

// runPath is where the tools root has the static binary containers run; its tools (curl, dig,
// getent, nc, wget) link to it, at the paths of BusyBox's applets of the same name.
const runPath = "/usr/libexec/minaks/minaks-run"

// hostFiles are files of the host's /etc the root carries when the host has them.
var hostFiles = []string{"etc/services", "etc/protocols", "etc/ssl/certs/ca-certificates.crt"}

// DirName is the directory of tools roots in the image store's.
const DirName = "tools"

// Check fails, saying what to install, when the host has no static BusyBox or bash.
func Check() error {
	if _, err := findBusybox(); err != nil {
		return err
	}
	_, err := findShell()
	return err
}

// Ensure returns the tools root under dir for the static binary run (minaks-run), making it
// when it is not there: dir/<digest of its content>. It fails, saying what to install, when the
// host has no static busybox or bash, or run is not static.
func Ensure(dir, run string) (string, error) {
	busybox, err := findBusybox()
	if err != nil {
		return "", err
	}
	shell, err := findShell()
	if err != nil {
		return "", err
	}
	if err := static(run); err != nil {
		return "", err
	}
	h := sha256.New()
	fmt.Fprintf(h, "minaks tools root %s\x00%s\x00", layout, strings.Join(images.Tools(), ","))
	for _, f := range append([]string{busybox, shell, run}, hostPaths()...) {
		if err := hashFile(h, f); err != nil {
			return "", err
		}
	}
	root := filepath.Join(dir, hex.EncodeToString(h.Sum(nil))[:16])
	if _, err := os.Stat(root); err == nil {
		return root, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(dir, ".tmp-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	if err := build(tmp, busybox, shell, run); err != nil {
		return "", fmt.Errorf("make the tools root: %w", err)
	}
	if err := os.Rename(tmp, root); err != nil {
		if _, serr := os.Stat(root); serr == nil {
			return root, nil // another daemon made it first
		}
		return "", err
	}
	return root, nil
}

// build writes the root into dir.
func build(dir, busybox, shell, run string) error {
	if err := os.Chmod(dir, 0o755); err != nil {
		return err
	}
	for _, d := range []struct {
		path string
		mode os.FileMode
	}{
		{"bin", 0o755}, {"sbin", 0o755}, {"usr/bin", 0o755}, {"usr/sbin", 0o755}, {"usr/local/bin", 0o755},
		{"usr/libexec/minaks", 0o755}, {"etc/ssl/certs", 0o755}, {"root", 0o700}, {"home", 0o755},
		{"tmp", 0o777 | os.ModeSticky}, {"var/tmp", 0o777 | os.ModeSticky}, {"var/run", 0o755},
		{"proc", 0o555}, {"sys", 0o555}, {"dev", 0o755},
	} {
		p := filepath.Join(dir, d.path)
		if err := os.MkdirAll(p, 0o755); err != nil {
			return err
		}
		if err := os.Chmod(p, d.mode); err != nil {
			return err
		}
	}
	if err := copyFile(busybox, filepath.Join(dir, "bin/busybox"), 0o755); err != nil {
		return err
	}
	if err := copyFile(run, filepath.Join(dir, runPath), 0o755); err != nil {
		return err
	}
	if err := copyFile(shell, filepath.Join(dir, "bin", shells[0]), 0o755); err != nil {
		return err
	}
	ours := map[string]bool{}
	for _, s := range shells {
		ours[s] = true
		if s != shells[0] {
			if err := symlink(shells[0], filepath.Join(dir, "bin", s)); err != nil {
				return err
			}
		}
	}
	out, err := exec.Command(busybox, "--list-full").Output()
	if err != nil {
		return fmt.Errorf("%s --list-full: %w", busybox, err)
	}
	for _, t := range images.Tools() {
		ours[t] = true
	}
	for _, l := range strings.Fields(string(out)) {
		if ours[filepath.Base(l)] {
			// The shell, or minaks's own tool (Debian's BusyBox nc lacks -v, -u and -z).
			continue
		}
		// At the applet's own path (alpine's: /sbin/sysctl) and in /bin, where the busybox
		// image has every applet (its users call /bin/sysctl).
		for _, p := range []string{l, filepath.Join("bin", filepath.Base(l))} {
			if err := symlink("/bin/busybox", filepath.Join(dir, p)); err != nil {
				return err
			}
		}
	}
	for _, t := range images.Tools() {
		if err := symlink(runPath, filepath.Join(dir, "usr/bin", t)); err != nil {
			return err
		}
	}
	files := map[string]string{
		"etc/passwd": "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
		"etc/group":  "root:x:0:\nnobody:x:65534:\n",
		// Go's resolver and BusyBox read it: the pod's /etc/hosts, then DNS.
		"etc/nsswitch.conf": "hosts: files dns\n",
		"etc/os-release":    "NAME=\"minaks tools root\"\nID=minaks\nPRETTY_NAME=\"minaks built-in image (BusyBox)\"\n",
	}
	for name, content := range files {
		mode := os.FileMode(0o644)
		if strings.HasPrefix(name, "bin/") {
			mode = 0o755
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), mode); err != nil {
			return err
		}
	}
	for _, f := range hostPaths() {
		if err := copyFile(f, filepath.Join(dir, strings.TrimPrefix(f, "/")), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// hostPaths are the hostFiles the host has.
func hostPaths() []string {
	var out []string
	for _, f := range hostFiles {
		if _, err := os.Stat("/" + f); err == nil {
			out = append(out, "/"+f)
		}
	}
	return out
}

// findBusybox is the host's static busybox.
func findBusybox() (string, error) {
	return findStatic(busyboxPaths, "a static BusyBox for their tools (sh, nc, wget, …)", "busybox-static")
}

// findShell is the host's static bash.
func findShell() (string, error) {
	return findStatic(shellPaths, "a static bash for their sh and bash", "bash-static")
}

// findStatic is the first static executable at patterns (filepath.Glob's); without one, it
// fails saying the host lacks what, and which package to install.
func findStatic(patterns []string, what, pkg string) (string, error) {
	var errs []error
	for _, pattern := range patterns {
		paths, _ := filepath.Glob(pattern)
		for _, p := range paths {
			err := static(p)
			if err == nil {
				return p, nil
			}
			errs = append(errs, err)
		}
	}
	why := ""
	if len(errs) > 0 {
		why = " (" + errors.Join(errs...).Error() + ")"
	}
	return "", fmt.Errorf("built-in images need %s, and the host has none%s: install the %s package (make host-deps does)", what, why, pkg)
}

// static fails unless the ELF executable at path is statically linked (has no interpreter).
func static(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("%s is dynamically linked", path)
		}
	}
	return nil
}

func hashFile(h io.Writer, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	fmt.Fprintf(h, "%s\x00", path)
	_, err = io.Copy(h, f)
	return err
}

func copyFile(from, to string, mode os.FileMode) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		return err
	}
	return os.WriteFile(to, b, mode)
}

// symlink links path to target unless something is there already.
func symlink(target, path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	if err := os.Symlink(target, path); err != nil && !errors.Is(err, os.ErrExist) {
		return err
	}
	return nil
}
