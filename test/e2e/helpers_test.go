package e2e

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// minaksBin is the binary under test, built by `make e2e`/`make test`.
var minaksBin = os.Getenv("MINAKS_BIN")

// hostSnapshot is what the host looked like before the tests: nothing the tests do may change it.
var hostSnapshot string

func TestMain(m *testing.M) {
	if minaksBin == "" || os.Geteuid() != 0 {
		fmt.Println("e2e: skipped (needs root and MINAKS_BIN; run 'sudo make e2e')")
		os.Exit(m.Run())
	}
	hostSnapshot = snapshotHost()
	code := m.Run()
	// A cluster the user runs alongside takes its host route back within its daemon's resync.
	after := snapshotHost()
	for deadline := time.Now().Add(fabricResyncOfDaemon + 5*time.Second); after != hostSnapshot && time.Now().Before(deadline); {
		time.Sleep(time.Second)
		after = snapshotHost()
	}
	if after != hostSnapshot {
		fmt.Printf("e2e: the host changed during the tests:\nbefore:\n%s\nafter:\n%s\n", hostSnapshot, after)
		code = 1
	}
	os.Exit(code)
}

func requireRoot(t *testing.T) {
	t.Helper()
	if minaksBin == "" || os.Geteuid() != 0 {
		t.Skip("needs root and MINAKS_BIN (run 'sudo make e2e')")
	}
}

// snapshotHost lists network namespaces, links, IPv4 routes, the host's forwarding switch and
// minaks's iptables chains.
func snapshotHost() string {
	var b strings.Builder
	if routes, err := os.ReadFile("/proc/net/route"); err == nil {
		b.Write(routes)
	}
	if fwd, err := os.ReadFile("/proc/sys/net/ipv4/ip_forward"); err == nil {
		fmt.Fprintf(&b, "ip_forward %s", fwd)
	}
	for _, table := range []string{"filter", "nat"} {
		out, _ := exec.Command("iptables-save", "-t", table).Output()
		for _, line := range strings.Split(string(out), "\n") {
			if strings.Contains(line, "MINAKS") || strings.Contains(line, "minaks") {
				fmt.Fprintln(&b, table, line)
			}
		}
	}
	if entries, err := os.ReadDir("/run/netns"); err == nil {
		for _, e := range entries {
			fmt.Fprintln(&b, "netns", e.Name())
		}
	}
	if entries, err := os.ReadDir("/sys/class/net"); err == nil {
		for _, e := range entries {
			fmt.Fprintln(&b, "link", e.Name())
		}
	}
	return b.String()
}

// testCluster is a cluster owned by one test, with its own state directory and kubeconfig.
type testCluster struct {
	t          *testing.T
	name       string
	stateDir   string
	kubeconfig string
}

func newTestCluster(t *testing.T) *testCluster {
	t.Helper()
	requireRoot(t)
	suffix := make([]byte, 3)
	_, _ = rand.Read(suffix)
	dir := t.TempDir()
	c := &testCluster{
		t:          t,
		name:       "e2e-" + hex.EncodeToString(suffix),
		stateDir:   filepath.Join(dir, "state"),
		kubeconfig: filepath.Join(dir, "kubeconfig"),
	}
	t.Cleanup(func() {
		if out, err := c.minaks("down"); err != nil {
			t.Errorf("cleanup: minaks down: %v\n%s", err, out)
		}
		c.assertGone()
	})
	return c
}

// minaks runs a minaks command on this cluster and returns its combined output.
func (c *testCluster) minaks(verb string, args ...string) (string, error) {
	full := append([]string{verb, "--name", c.name, "--state-dir", c.stateDir}, args...)
	switch verb {
	case "list", "load", "image": // of the state directory, not of a cluster
		full = append(append([]string{verb}, args...), "--state-dir", c.stateDir)
	}
	if verb == "up" || verb == "down" {
		full = append(full, "--kubeconfig", c.kubeconfig)
	}
	if verb == "up" && !slices.Contains(args, "--image-source") {
		// Built-in stand-ins: a test's traffic goes to loopback and the cluster only, never
		// to a public registry.
		full = append(full, "--image-source", "builtin")
	}
	cmd := exec.Command(minaksBin, full...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+c.kubeconfig)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (c *testCluster) mustMinaks(verb string, args ...string) string {
	c.t.Helper()
	out, err := c.minaks(verb, args...)
	if err != nil {
		c.t.Fatalf("minaks %s %v: %v\n%s", verb, args, err, out)
	}
	return out
}

// kubectl runs the host's kubectl (or minaks's own when the host has none) against the cluster.
func (c *testCluster) kubectl(args ...string) (string, error) {
	args = append([]string{"--kubeconfig", c.kubeconfig, "--context", "minaks-" + c.name}, args...)
	var cmd *exec.Cmd
	if path, err := exec.LookPath("kubectl"); err == nil {
		cmd = exec.Command(path, args...)
	} else {
		cmd = exec.Command(minaksBin, append([]string{"kubectl"}, args...)...)
	}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (c *testCluster) mustKubectl(args ...string) string {
	c.t.Helper()
	out, err := c.kubectl(args...)
	if err != nil {
		c.t.Fatalf("kubectl %v: %v\n%s", args, err, out)
	}
	return out
}

// eventually retries fn until it returns nil or timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := fn()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v: %v", what, timeout, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// daemonPIDs finds the cluster's daemons by command line, as `minaks down` does.
func (c *testCluster) daemonPIDs() []int {
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		raw, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(string(raw), "\x00")
		if len(args) > 2 && args[1] == "daemon" && slices.Contains(args, "--name="+c.name) {
			if stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat")); err == nil && !strings.Contains(string(stat), ") Z ") {
				pids = append(pids, pid)
			}
		}
	}
	return pids
}

// apiPort reads the API port from the cluster's kubeconfig entry.
func (c *testCluster) apiPort() int {
	c.t.Helper()
	out := c.mustKubectl("config", "view", "-o", "jsonpath={.clusters[?(@.name==\"minaks-"+c.name+"\")].cluster.server}")
	port, err := strconv.Atoi(out[strings.LastIndex(out, ":")+1:])
	if err != nil {
		c.t.Fatalf("server %q: %v", out, err)
	}
	return port
}

// assertGone checks that nothing of the cluster is left: no daemon, no state, no context.
func (c *testCluster) assertGone() {
	c.t.Helper()
	if pids := c.daemonPIDs(); len(pids) > 0 {
		c.t.Errorf("daemon processes left: %v", pids)
	}
	if _, err := os.Stat(filepath.Join(c.stateDir, c.name)); !os.IsNotExist(err) {
		c.t.Errorf("state directory left: %v", err)
	}
	if b, err := os.ReadFile(c.kubeconfig); err == nil && strings.Contains(string(b), "minaks-"+c.name) {
		c.t.Errorf("kubeconfig still mentions minaks-%s", c.name)
	}
	if left, _ := filepath.Glob("/sys/fs/cgroup/*/minaks/" + c.name); len(left) > 0 {
		c.t.Errorf("cgroups left: %v", left)
	}
	if _, err := os.Stat("/sys/fs/cgroup/minaks/" + c.name); err == nil {
		c.t.Errorf("cgroup left: /sys/fs/cgroup/minaks/%s", c.name)
	}
}

// listeners returns the TCP addresses pid listens on, from /proc/net/tcp{,6} and its fds.
func listeners(t *testing.T, pid int) []string {
	t.Helper()
	inodes := map[string]bool{}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, fd := range fds {
		link, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
		if err == nil && strings.HasPrefix(link, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]")] = true
		}
	}
	var out []string
	for _, file := range []string{"tcp", "tcp6"} {
		f, err := os.Open(fmt.Sprintf("/proc/%d/net/%s", pid, file))
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Scan() // header
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			// local_address, st (0A = LISTEN), inode
			if len(fields) > 9 && fields[3] == "0A" && inodes[fields[9]] {
				out = append(out, decodeAddr(fields[1]))
			}
		}
		f.Close()
	}
	slices.Sort(out)
	return out
}

// decodeAddr turns /proc/net/tcp's "0100007F:1F90" into "127.0.0.1:8080" (IPv6 stays hex).
func decodeAddr(s string) string {
	host, port, _ := strings.Cut(s, ":")
	p, _ := strconv.ParseUint(port, 16, 16)
	if len(host) == 8 {
		b, _ := hex.DecodeString(host)
		return fmt.Sprintf("%d.%d.%d.%d:%d", b[3], b[2], b[1], b[0], p)
	}
	return fmt.Sprintf("[%s]:%d", host, p)
}
