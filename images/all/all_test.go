package all_test

import (
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/minaks/minaks/images"
	_ "github.com/minaks/minaks/images/all"
)

// TestMain makes the test binary multi-call, as minaks's main is: run as "agnhost" it is agnhost.
func TestMain(m *testing.M) {
	if code, ok := images.Main(os.Args[0], os.Args[1:]); ok {
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// program links the test binary under name, as the runtime makes /agnhost.
func program(t *testing.T, name string) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), name)
	if err := os.Symlink(self, p); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestReexecAsAgnhost(t *testing.T) {
	agnhost := program(t, "agnhost")
	out, err := exec.Command(agnhost, "entrypoint-tester", "a", "b c").Output()
	if err != nil {
		t.Fatalf("agnhost entrypoint-tester: %v", err)
	}
	if want := "[" + agnhost + " entrypoint-tester a b c]\n"; string(out) != want {
		t.Errorf("agnhost entrypoint-tester = %q, want %q", out, want)
	}

	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(agnhost, "connect", closed, "--timeout=2s")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	var exitErr *exec.ExitError
	if err := cmd.Run(); !errors.As(err, &exitErr) || exitErr.ExitCode() != 1 || stderr.String() != "REFUSED\n" {
		t.Errorf("agnhost connect %s = %v %q, want exit 1 REFUSED", closed, err, stderr.String())
	}

	cmd = exec.Command(program(t, "agnhost-2"), "no-such-subcommand")
	if err := cmd.Run(); !errors.As(err, &exitErr) || exitErr.ExitCode() != 1 {
		t.Errorf("agnhost-2 no-such-subcommand = %v, want exit 1", err)
	}
}

func TestReexecAsHTTPEcho(t *testing.T) {
	cmd := exec.Command(program(t, "http-echo"))
	cmd.Env = append(os.Environ(), "ECHO_TEXT=")
	var exitErr *exec.ExitError
	if err := cmd.Run(); !errors.As(err, &exitErr) || exitErr.ExitCode() != 127 {
		t.Errorf("http-echo without -text = %v, want exit 127", err)
	}
}
