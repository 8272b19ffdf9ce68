package container

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/cgroups"
	"k8s.io/utils/ptr"
)

// TestProcUsage: a container without a cgroup uses what its init and every process below it
// use, reaped children included, and nothing of the processes beside it.
func TestProcUsage(t *testing.T) {
	proc := t.TempDir()
	for _, p := range []struct {
		pid, ppid                    int
		comm                         string
		utime, stime, cutime, cstime int
		rss                          int
	}{
		{10, 1, "sh", 100, 50, 20, 10, 100},
		{11, 10, "weird ) name", 200, 0, 0, 0, 50},
		{12, 11, "sleep", 1, 1, 0, 0, 10},
		{13, 1, "other", 999, 999, 0, 0, 999},
	} {
		dir := filepath.Join(proc, fmt.Sprint(p.pid))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		stat := fmt.Sprintf("%d (%s) S %d 1 1 0 -1 0 0 0 0 0 %d %d %d %d 20 0 1 0 100 1000 %d 0 0\n",
			p.pid, p.comm, p.ppid, p.utime, p.stime, p.cutime, p.cstime, p.rss)
		if err := os.WriteFile(filepath.Join(dir, "stat"), []byte(stat), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	u, err := procUsage(proc, 10)
	if err != nil {
		t.Fatal(err)
	}
	page := uint64(os.Getpagesize())
	want := Usage{CPU: 382 * time.Second / clockTicks, Memory: 160 * page, WorkingSet: 160 * page, RSS: 160 * page}
	if u != want {
		t.Errorf("usage %+v, want %+v", u, want)
	}
	if _, err := procUsage(proc, 99); err == nil {
		t.Error("no error for a process that is not there")
	}
}

// TestUsage: a container's CPU time and memory, from its cgroup when it has one and from /proc
// otherwise, grow with what its processes do.
func TestUsage(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	ns, suffix := testNetNS(t, "usagetest")
	for _, tc := range []struct {
		name      string
		resources *Resources
	}{
		{"proc", nil},
		{"cgroup", &Resources{Path: filepath.Join(CgroupRoot, "usagetest-"+suffix, "c"), CPUShares: 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.resources != nil {
				if err := CgroupsAvailable(); err != nil {
					t.Skipf("no cgroups: %v", err)
				}
				t.Cleanup(func() { _ = RemoveCgroups("usagetest-" + suffix) })
			}
			// A child that spins for a while, then holds 32 MiB, under a shell.
			s := &Spec{
				NetNS: ns, Dir: filepath.Join(t.TempDir(), "ctr"), Resources: tc.resources,
				Argv: []string{"sh", "-c", `i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done; ` +
					`v=$(head -c 33554432 /dev/zero | tr '\0' a); echo held; sleep 30`},
				Env: []string{"PATH=/usr/bin:/bin"},
			}
			r, w := io.Pipe()
			p, err := Start(s, IO{Stdout: w, Stderr: os.Stderr})
			if err != nil {
				t.Fatal(err)
			}
			defer p.Stop(0)
			if _, err := io.ReadFull(r, make([]byte, 5)); err != nil {
				t.Fatal(err)
			}
			go func() { _, _ = io.Copy(io.Discard, r) }()
			u, err := p.Usage()
			if err != nil {
				t.Fatal(err)
			}
			if u.CPU < 100*time.Millisecond || u.WorkingSet < 32<<20 || u.RSS < 32<<20 || u.Memory < u.WorkingSet {
				t.Errorf("usage %+v: want at least 100ms of CPU and 32 MiB", u)
			}
		})
	}
}

// TestResize: a container that is not privileged sees its own cgroup's limits at
// /sys/fs/cgroup, not the host's hierarchy, and sees them change when it is resized in place;
// it has the OOM score it is given.
func TestResize(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	if err := CgroupsAvailable(); err != nil {
		t.Skipf("no cgroups: %v", err)
	}
	ns, suffix := testNetNS(t, "resizetest")
	cluster := "resizetest-" + suffix
	t.Cleanup(func() { _ = RemoveCgroups(cluster) })
	r := &Resources{Path: filepath.Join(CgroupRoot, cluster, "c"), MemoryLimit: 64 << 20, CPUQuota: 50000, CPUPeriod: 100000, CPUShares: 512}
	s := &Spec{
		NetNS: ns, Dir: filepath.Join(t.TempDir(), "ctr"), Resources: r, Capabilities: DefaultCapabilities,
		Argv: []string{"sleep", "60"}, Env: []string{"PATH=/usr/bin:/bin"}, OOMScoreAdj: ptr.To(500),
	}
	p, err := Start(s, IO{Stdout: io.Discard, Stderr: os.Stderr})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop(0)
	// The kubelet's OOM score for the container's QoS class.
	if out, err := p.Command([]string{"cat", "/proc/1/oom_score_adj"}, s.Env).CombinedOutput(); err != nil || string(out) != "500\n" {
		t.Errorf("oom_score_adj: %q, %v; want 500", out, err)
	}
	files := "memory/memory.limit_in_bytes cpu/cpu.cfs_quota_us cpu/cpu.shares"
	other := "cgroup2"
	if cgroups.IsCgroup2UnifiedMode() {
		files, other = "memory.max cpu.max cpu.weight", "cgroup "
	}
	read := func() string {
		t.Helper()
		cmd := fmt.Sprintf("cd /sys/fs/cgroup && cat %s && grep -c ' %s' /proc/mounts; touch cpu.shares memory/x 2>/dev/null || echo read-only", files, other)
		out, err := p.Command([]string{"sh", "-c", cmd}, s.Env).CombinedOutput()
		if err != nil && !strings.HasSuffix(string(out), "read-only\n") {
			t.Fatalf("%s: %v: %s", cmd, err, out)
		}
		return strings.Join(strings.Fields(string(out)), " ")
	}
	want := "67108864 50000 512 0 read-only"
	if cgroups.IsCgroup2UnifiedMode() {
		want = "67108864 50000 100000 20 0 read-only"
	}
	if got := read(); got != want {
		t.Errorf("before the resize: %q, want %q", got, want)
	}
	// Up, the CPU limit taken away.
	if err := p.Update(&Resources{MemoryLimit: 128 << 20, CPUShares: 1024}); err != nil {
		t.Fatal(err)
	}
	want = "134217728 -1 1024 0 read-only"
	if cgroups.IsCgroup2UnifiedMode() {
		want = "134217728 max 100000 39 0 read-only"
	}
	if got := read(); got != want {
		t.Errorf("after the resize: %q, want %q", got, want)
	}
}

// TestCgroupClusters: a cluster whose cgroups are left on the host is found by its name, and
// RemoveCgroups takes them, with the processes still in them.
func TestCgroupClusters(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	if err := CgroupsAvailable(); err != nil {
		t.Skipf("no cgroups: %v", err)
	}
	ns, suffix := testNetNS(t, "leftover")
	cluster := "leftover-" + suffix
	t.Cleanup(func() { _ = RemoveCgroups(cluster) })
	s := &Spec{
		NetNS: ns, Dir: filepath.Join(t.TempDir(), "ctr"), Capabilities: DefaultCapabilities,
		Resources: &Resources{Path: filepath.Join(CgroupRoot, cluster, "pod", "c"), CPUShares: 512},
		Argv:      []string{"sleep", "60"}, Env: []string{"PATH=/usr/bin:/bin"},
	}
	p, err := Start(s, IO{Stdout: io.Discard, Stderr: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop(0)
	if got := CgroupClusters(); !slices.Contains(got, cluster) {
		t.Fatalf("CgroupClusters() = %v, want it to hold %s", got, cluster)
	}
	// What `minaks down` does after the daemon was killed: the container is still running.
	if err := RemoveCgroups(cluster); err != nil {
		t.Fatal(err)
	}
	if got := CgroupClusters(); slices.Contains(got, cluster) {
		t.Errorf("CgroupClusters() = %v after RemoveCgroups", got)
	}
	select {
	case <-p.Done():
	case <-time.After(5 * time.Second):
		t.Errorf("container %d outlived its cgroup's removal", p.PID())
	}
}
