package toolroot

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	_ "github.com/minaks/minaks/images/tools"
)

func TestEnsure(t *testing.T) {
	busybox, err := findBusybox()
	if err != nil {
		t.Skip(err)
	}
	dir := t.TempDir()
	// The static binary containers run: any static executable does for the root's layout.
	root, err := Ensure(dir, busybox)
	if err != nil {
		t.Fatal(err)
	}
	if again, err := Ensure(dir, busybox); err != nil || again != root {
		t.Errorf("a second Ensure: %s, %v; want %s", again, err, root)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("%d entries in %s, want the root alone", len(entries), dir)
	}
	for link, want := range map[string]string{"bin/sh": "bash", "bin/ash": "/bin/busybox", "sbin/sysctl": "/bin/busybox", "bin/sysctl": "/bin/busybox", "usr/bin/wget": runPath, "usr/bin/nc": runPath, "usr/bin/getent": runPath, "sbin/ip": "/bin/busybox", "usr/bin/curl": runPath, "usr/bin/dig": runPath} {
		if got, err := os.Readlink(filepath.Join(root, link)); err != nil || got != want {
			t.Errorf("%s → %q (%v), want %s", link, got, err, want)
		}
	}
	if fi, err := os.Stat(filepath.Join(root, "tmp")); err != nil || fi.Mode()&os.ModeSticky == 0 || fi.Mode().Perm() != 0o777 {
		t.Errorf("tmp: %v %v", fi.Mode(), err)
	}
	if os.Geteuid() != 0 {
		return
	}
	// The root stands alone: its sh and bash run, and find minaks's nc through PATH (BusyBox's
	// sh would run its own applet).
	for _, sh := range []string{"/bin/sh", "/bin/bash"} {
		cmd := exec.Command(sh, "-c", `echo "$0 ok"; test -e /usr/bin/apt-get || echo "no host"; command -v nc`)
		cmd.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
		cmd.SysProcAttr = &syscall.SysProcAttr{Chroot: root}
		cmd.Dir = "/"
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), " ok\n") || !strings.Contains(string(out), "no host") || !strings.HasSuffix(string(out), "\n/usr/bin/nc\n") {
			t.Errorf("%s in the root: %v: %s", sh, err, out)
		}
	}

	// sh passes on what it does not take as a variable, as `sh -c env` must for a ConfigMap's
	// keys through envFrom.
	cmd := exec.Command("/bin/sh", "-c", "env")
	cmd.Env = []string{"PATH=/bin", "data-1=value-1", "#@!data-2=value-2"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Chroot: root}
	cmd.Dir = "/"
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "\ndata-1=value-1\n") || !strings.Contains(string(out), "#@!data-2=value-2\n") {
		t.Errorf("sh -c env in the root: %v: %s", err, out)
	}

	if _, err := Ensure(t.TempDir(), "/bin/true"); err == nil || !strings.Contains(err.Error(), "dynamically linked") {
		t.Errorf("a dynamic binary: %v", err)
	}
}
