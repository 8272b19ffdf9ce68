package container

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/minaks/minaks/pkg/netstack/netns"
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
	suffix := make([]byte, 3)
	_, _ = rand.Read(suffix)
	ns := "minaks.usagetest-" + hex.EncodeToString(suffix) + ".pod"
	if err := netns.Create(ns); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = netns.Delete(ns) })
	for _, tc := range []struct {
		name      string
		resources *Resources
	}{
		{"proc", nil},
		{"cgroup", &Resources{Path: filepath.Join(CgroupRoot, "usagetest-"+hex.EncodeToString(suffix), "c"), CPUShares: 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.resources != nil {
				if err := CgroupsAvailable(); err != nil {
					t.Skipf("no cgroups: %v", err)
				}
				t.Cleanup(func() { _ = RemoveCgroups("usagetest-" + hex.EncodeToString(suffix)) })
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
