package container

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/minaks/minaks/pkg/netstack/netns"
)

// TestMain lets the test binary be a container's init, as the minaks binary is.
func TestMain(m *testing.M) {
	if filepath.Base(os.Args[0]) == InitName {
		err := Init()
		fmt.Fprintln(os.Stderr, err)
		os.Exit(128)
	}
	if spec := os.Getenv(starterEnv); spec != "" {
		os.Exit(startAndWait(spec))
	}
	if len(os.Args) == 3 && os.Args[1] == ExecName {
		err := ExecMain(os.Args[2])
		fmt.Fprintln(os.Stderr, err)
		os.Exit(126)
	}
	os.Exit(m.Run())
}

func TestContainer(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	ns, suffix := testNetNS(t, "ctrtest")

	dir := t.TempDir()
	data := filepath.Join(dir, "volume")
	if err := os.MkdirAll(data, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, "greeting"), []byte("hello from a volume"), 0o644); err != nil {
		t.Fatal(err)
	}
	hosts := filepath.Join(dir, "hosts")
	if err := os.WriteFile(hosts, []byte("10.244.0.9\tweb-0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	marker := "/tmp/minaks-container-test-" + suffix
	uid := int64(65534)
	s := &Spec{
		NetNS:    ns,
		Hostname: "web-0",
		Dir:      filepath.Join(dir, "ctr"),
		Mounts: []Mount{
			{Source: hosts, Target: "/etc/hosts"},
			{Source: data, Target: "/srv/data/deep", ReadOnly: true},
			// /var/run is a symlink to /run: the mount point must be made in the container.
			{Source: data, Target: "/var/run/secrets/minaks-test-" + suffix},
		},
		Argv: []string{"sh", "-c", `hostname; cat /etc/hosts; cat /srv/data/deep/greeting; echo; echo "$FOO"; pwd; id -u; ` +
			`ls /proc | grep -c '^[0-9]'; cat /sys/class/net/lo/operstate >/dev/null && echo sys; ` +
			`touch /srv/data/deep/x 2>/dev/null || echo read-only; touch ` + marker + ` && echo wrote; echo oops >&2; exit 7`},
		Env:        []string{"FOO=bar", "PATH=/usr/bin:/bin"},
		WorkingDir: "/work/dir",
		UID:        &uid,
	}
	var stdout, stderr bytes.Buffer
	p, err := Start(s, IO{Stdout: &stdout, Stderr: &stderr})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("container did not exit")
	}
	code, _, err := p.Exit()
	if err != nil || code != 7 {
		t.Errorf("exit %d, %v; want 7\nstderr: %s", code, err, stderr.String())
	}
	want := strings.Join([]string{"web-0", "10.244.0.9\tweb-0", "hello from a volume", "bar", "/work/dir", "65534",
		"3", "sys", "read-only", "wrote"}, "\n") + "\n"
	if stdout.String() != want {
		t.Errorf("stdout:\n%s\nwant:\n%s\nstderr: %s", stdout.String(), want, stderr.String())
	}
	if stderr.String() != "oops\n" {
		t.Errorf("stderr %q", stderr.String())
	}
	if _, err := os.Stat("/run/secrets/minaks-test-" + suffix); !os.IsNotExist(err) {
		t.Errorf("a mount point was made on the host: %v", err)
	}
	// The container's writes stay in its own layer.
	if _, err := os.Stat(marker); !os.IsNotExist(err) {
		t.Errorf("%s appeared on the host: %v", marker, err)
		_ = os.Remove(marker)
	}
	if _, err := os.Stat(filepath.Join(s.Dir, "upper", marker)); err != nil {
		t.Errorf("the write is not in the container's layer: %v", err)
	}

	// A command runs inside a running container, as kubectl exec does.
	s.Dir, s.Argv = filepath.Join(dir, "ctr3"), []string{"sleep", "30"}
	p, err = Start(s, IO{Stdout: &stdout, Stderr: &stderr})
	if err != nil {
		t.Fatal(err)
	}
	out, err := p.Command([]string{"sh", "-c", "hostname; cat /etc/hosts; pwd; id -u; ls /proc | grep -c '^[0-9]'"}, s.Env).CombinedOutput()
	if want := "web-0\n10.244.0.9\tweb-0\n/work/dir\n65534\n4\n"; err != nil || string(out) != want {
		t.Errorf("exec: %q, %v; want %q", out, err, want)
	}
	// A container that joins the PID namespace of another (an ephemeral container's target)
	// sees the other's processes: sleep is PID 1 there.
	target := *s
	target.Dir, target.Argv, target.PIDNamespaceOf = filepath.Join(dir, "ctr4"), []string{"sh", "-c", "cat /proc/1/cmdline; echo"}, p.PID()
	var joined bytes.Buffer
	q, err := Start(&target, IO{Stdout: &joined, Stderr: &joined})
	if err != nil {
		t.Fatal(err)
	}
	<-q.Done()
	if got := joined.String(); got != "sleep\x0030\x00\n" {
		code, _, err := q.Exit()
		t.Errorf("PID 1 in the target's PID namespace: %q (exit %d, %v); want sleep 30", got, code, err)
	}
	// A container without privileges has only the capabilities it is given, and cannot gain
	// more with no_new_privs; nor can a command run in it.
	limited := *s
	limited.Dir, limited.Argv = filepath.Join(dir, "ctr5"), []string{"sleep", "30"}
	limited.UID, limited.Capabilities, limited.NoNewPrivileges = nil, []string{"NET_BIND_SERVICE", "KILL"}, true
	q, err = Start(&limited, IO{Stdout: &stdout, Stderr: &stderr})
	if err != nil {
		t.Fatal(err)
	}
	want = "CapInh:\t0000000000000000\nCapEff:\t0000000000000420\nCapBnd:\t0000000000000420\nCapAmb:\t0000000000000000\nNoNewPrivs:\t1\n"
	for _, proc := range []string{"1", "self"} {
		out, err := q.Command([]string{"grep", "-E", "^(CapInh|CapEff|CapBnd|CapAmb|NoNewPrivs)", "/proc/" + proc + "/status"}, s.Env).CombinedOutput()
		if string(out) != want {
			t.Errorf("/proc/%s/status of a container with NET_BIND_SERVICE and KILL (%v):\n%s\nwant:\n%s", proc, err, out, want)
		}
	}
	q.Stop(0)
	// sleep is PID 1 of the container and has no SIGTERM handler: it is killed after grace.
	p.Stop(time.Second)
	if code, _, _ := p.Exit(); code != 128+9 {
		t.Errorf("stopped container exited %d, want 137", code)
	}

	// A command that does not exist fails to start with the runtime's message.
	stderr.Reset()
	s.Dir, s.Argv = filepath.Join(dir, "ctr2"), []string{"no-such-command"}
	_, err = Start(s, IO{Stdout: &stdout, Stderr: &stderr})
	var se *StartError
	if !errors.As(err, &se) || se.Msg != `exec: "no-such-command": executable file not found in $PATH` {
		t.Errorf("start: %v", err)
	}
}

// TestMountOverlayManyLayers: an image of 120 layers at the store's path lengths (over the
// page the classic mount's options must fit in) mounts, the top-most layer first.
func TestMountOverlayManyLayers(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	base := t.TempDir()
	var lower []string
	for i := range 120 {
		d := filepath.Join(base, "images", "layers", fmt.Sprintf("%064x", i))
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, fmt.Sprintf("f%d", i)), []byte(fmt.Sprint(i)), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "top"), []byte(fmt.Sprint(i)), 0o644); err != nil {
			t.Fatal(err)
		}
		lower = append([]string{d}, lower...) // the last made is the top-most
	}
	merged, upper, work := filepath.Join(base, "rootfs"), filepath.Join(base, "upper"), filepath.Join(base, "work")
	for _, d := range []string{merged, upper, work} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	err := MountOverlay(merged, lower, upper, work)
	if err != nil && strings.Contains(err.Error(), "Linux 6.8") {
		t.Skipf("a kernel before 6.8 (no lowerdir+): %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Unmount(merged, unix.MNT_DETACH)
	for name, want := range map[string]string{"top": "119", "f0": "0", "f77": "77"} {
		if b, err := os.ReadFile(filepath.Join(merged, name)); err != nil || string(b) != want {
			t.Errorf("%s = %q, %v; want %q", name, b, err, want)
		}
	}
}

// TestCapabilities computes a container's capabilities as containerd does from its
// securityContext.
func TestCapabilities(t *testing.T) {
	for _, tc := range []struct {
		add, drop []string
		want      []string
		err       string
	}{
		{nil, nil, DefaultCapabilities, ""},
		{[]string{"NET_BIND_SERVICE"}, []string{"all"}, []string{"NET_BIND_SERVICE"}, ""},
		{nil, []string{"ALL"}, []string{}, ""},
		{[]string{"CAP_NET_ADMIN", "sys_time"}, []string{"MKNOD", "NET_RAW"}, append(slices.DeleteFunc(slices.Clone(DefaultCapabilities), func(c string) bool { return c == "MKNOD" || c == "NET_RAW" }), "NET_ADMIN", "SYS_TIME"), ""},
		{[]string{"ALL"}, []string{"SYS_ADMIN"}, slices.DeleteFunc(slices.Clone(capabilityNames), func(c string) bool { return c == "SYS_ADMIN" }), ""},
		{[]string{"NET_ADMN"}, nil, nil, `unknown capability "NET_ADMN"`},
	} {
		got, err := Capabilities(tc.add, tc.drop)
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("Capabilities(%v, %v) = %v, %v; want error %q", tc.add, tc.drop, got, err, tc.err)
			}
			continue
		}
		slices.Sort(got)
		want := slices.Sorted(slices.Values(tc.want))
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("Capabilities(%v, %v) = %v, %v; want %v", tc.add, tc.drop, got, err, want)
		}
	}
}

// TestSpecCapabilitiesSurviveJSON: the init gets its Spec as JSON, and a container with no
// capabilities at all (drop ALL) must not arrive as one with every capability.
func TestSpecCapabilitiesSurviveJSON(t *testing.T) {
	for _, caps := range [][]string{nil, {}, {"KILL"}} {
		b, err := json.Marshal(&Spec{Capabilities: caps})
		if err != nil {
			t.Fatal(err)
		}
		var got Spec
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatal(err)
		}
		if (got.Capabilities == nil) != (caps == nil) || !slices.Equal(got.Capabilities, caps) {
			t.Errorf("capabilities %#v arrive as %#v", caps, got.Capabilities)
		}
	}
}

// starterEnv makes the test binary start the container whose Spec (JSON) it holds, print its
// PID, and wait to be killed: a node agent's daemon, for TestContainerEndsWithDaemon.
const starterEnv = "MINAKS_TEST_START_CONTAINER"

func startAndWait(encoded string) int {
	var s Spec
	if err := json.Unmarshal([]byte(encoded), &s); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	p, err := Start(&s, IO{Stdout: os.Stderr, Stderr: os.Stderr})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println(p.PID())
	select {}
}

// TestContainerEndsWithDaemon: a container, one running as another user too (a change of user
// clears the parent-death signal), does not outlive the process that started it.
func TestContainerEndsWithDaemon(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	ns, _ := testNetNS(t, "ctrtest")
	nobody := int64(65534)
	for user, uid := range map[string]*int64{"the image's": nil, "65534": &nobody} {
		s := Spec{NetNS: ns, Dir: t.TempDir(), Argv: []string{"sleep", "600"}, Env: []string{"PATH=/usr/bin:/bin"}, UID: uid}
		encoded, err := json.Marshal(&s)
		if err != nil {
			t.Fatal(err)
		}
		daemon := exec.Command(os.Args[0])
		daemon.Env = append(os.Environ(), starterEnv+"="+string(encoded))
		daemon.Stderr = os.Stderr
		out, err := daemon.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := daemon.Start(); err != nil {
			t.Fatal(err)
		}
		var pid int
		_, err = fmt.Fscan(out, &pid)
		_ = daemon.Process.Kill()
		_ = daemon.Wait()
		if err != nil {
			t.Fatalf("the starter printed no PID: %v", err)
		}
		deadline := time.Now().Add(5 * time.Second)
		for alive(pid) && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		if alive(pid) {
			_ = unix.Kill(pid, unix.SIGKILL)
			t.Errorf("the container (user %s) outlived the process that started it", user)
		}
	}
}

// alive tells whether process pid exists and has not exited (a zombie has).
func alive(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(stat, ')')
	return i < 0 || len(stat) < i+3 || stat[i+2] != 'Z'
}

// TestImageVolume: an image volume is the read-only union of the image's layers, the top-most
// winning, or a sub path of it; it is mounted in the container only, never on the host.
func TestImageVolume(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	ns, _ := testNetNS(t, "ctrtest")
	dir := t.TempDir()
	lower, top := filepath.Join(dir, "layer1"), filepath.Join(dir, "layer2")
	for path, data := range map[string]string{
		filepath.Join(lower, "a/file"): "one\n", filepath.Join(top, "a/file"): "two\n", filepath.Join(top, "b"): "bee\n",
	} {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s := &Spec{
		NetNS: ns, Dir: filepath.Join(dir, "ctr"),
		Mounts: []Mount{
			{Layers: []string{top, lower}, Target: "/vol"},
			{Layers: []string{lower}, Target: "/one"},
			{Layers: []string{top, lower}, SubPath: "a", Target: "/sub"},
		},
		Argv: []string{"sh", "-c", "cat /vol/a/file /vol/b /one/a/file /sub/file; " +
			"for d in /vol /one /sub; do touch $d/x 2>/dev/null || echo read-only; done"},
		Env: []string{"PATH=/usr/bin:/bin"},
	}
	var out bytes.Buffer
	p, err := Start(s, IO{Stdout: &out, Stderr: &out})
	if err != nil {
		t.Fatal(err)
	}
	<-p.Done()
	if want := "two\nbee\none\ntwo\nread-only\nread-only\nread-only\n"; out.String() != want {
		t.Errorf("image volumes: %q, want %q", out.String(), want)
	}
	mounts, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(mounts, []byte(dir)) {
		t.Errorf("an image volume is mounted on the host:\n%s", mounts)
	}
}

// testNetNS makes the network namespace minaks.<name>-<random>.pod for the test, gone after it,
// and returns its name and the random part.
func testNetNS(t *testing.T, name string) (ns, suffix string) {
	t.Helper()
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	suffix = hex.EncodeToString(b)
	ns = "minaks." + name + "-" + suffix + ".pod"
	if err := netns.Create(ns); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = netns.Delete(ns) })
	return ns, suffix
}
