package cluster

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestTreeMemory(t *testing.T) {
	procRoot = t.TempDir()
	t.Cleanup(func() { procRoot = "/proc" })
	// A mapping of smaps: its file (dev:inode, "" for anonymous memory) and kB resident,
	// proportional and anonymous.
	type mapping struct {
		file           string
		rss, pss, anon int
	}
	const minaks, kube, libc = "fe:00 11", "fe:00 12", "fe:00 13"
	for _, p := range []struct {
		pid, ppid int
		argv0     string
		maps      []mapping
	}{
		{1, 0, "/sbin/init", []mapping{{"", 9000, 9000, 9000}}},
		// The daemon: its executable (some of it written: relocations), libc, its heap. A
		// `minaks status` maps the same executable, which halves the kernel's Pss of it.
		{100, 1, "/usr/local/bin/minaks", []mapping{{minaks, 200000, 100000, 0}, {minaks, 1000, 600, 400}, {libc, 1000, 100, 0}, {"", 300000, 300000, 300000}}},
		{101, 1, "/usr/local/bin/minaks", []mapping{{minaks, 200000, 100000, 0}}},
		// Three processes share minaks-kube.
		{110, 100, "/usr/libexec/minaks/kube-proxy", []mapping{{kube, 30000, 10000, 0}, {"", 15000, 15000, 15000}}},
		{111, 100, "/usr/libexec/minaks/kube-proxy", []mapping{{kube, 30000, 10000, 0}, {"", 15000, 15000, 15000}}},
		{120, 100, "minaks-container-init", []mapping{{"", 1000, 1000, 1000}}},
		{121, 120, "/coredns", []mapping{{kube, 30000, 10000, 0}, {"", 12000, 12000, 12000}}},
		{200, 1, "/usr/bin/sshd", []mapping{{libc, 1000, 100, 0}}}, // not the cluster's
		{300, 2, "", nil}, // a kernel thread
	} {
		var smaps strings.Builder
		for i, m := range p.maps {
			dev, inode := "00:00", "0"
			if m.file != "" {
				dev, inode, _ = strings.Cut(m.file, " ")
			}
			fmt.Fprintf(&smaps, "%x-%x r--p 00000000 %s %s   /some/path\nSize:  %d kB\nRss:  %d kB\nPss:  %d kB\nPss_Dirty:  0 kB\nAnonymous:  %d kB\nVmFlags: rd mr\n",
				i<<20, (i+1)<<20, dev, inode, m.rss, m.rss, m.pss, m.anon)
		}
		dir := filepath.Join(procRoot, fmt.Sprint(p.pid))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		cmdline := ""
		if p.argv0 != "" {
			cmdline = p.argv0 + "\x00--flag\x00"
		}
		for name, content := range map[string]string{
			"stat":    fmt.Sprintf("%d (a (b) c) S %d 1 1 0", p.pid, p.ppid),
			"cmdline": cmdline,
			"smaps":   smaps.String(),
		} {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}

	procs, err := TreeMemory(100)
	if err != nil {
		t.Fatal(err)
	}
	const k = 1 << 10
	want := []ProcessMemory{
		// All of its executable is the tree's: 200000 + 600 mapped of the file, 400 written.
		{100, "daemon", 502000 * k, (200600 + 400 + 1000 + 300000) * k},
		{110, "kube-proxy", 45000 * k, (10000 + 15000) * k},
		{111, "kube-proxy", 45000 * k, (10000 + 15000) * k},
		{120, "minaks-container-init", 1000 * k, 1000 * k},
		{121, "coredns", 42000 * k, (10000 + 12000) * k},
	}
	if !slices.Equal(procs, want) {
		t.Fatalf("TreeMemory:\n got %+v\nwant %+v", procs, want)
	}
	groups := []MemoryGroup{
		{"daemon", 1, 502000 * k, 502000 * k},
		{"kube-proxy", 2, 90000 * k, 50000 * k},
		{"minaks-container-init", 1, 1000 * k, 1000 * k},
		{"coredns", 1, 42000 * k, 22000 * k},
	}
	if got := MemoryByName(procs); !slices.Equal(got, groups) {
		t.Errorf("MemoryByName:\n got %+v\nwant %+v", got, groups)
	}
	if procs, err := TreeMemory(999); err != nil || len(procs) != 0 {
		t.Errorf("a PID that is gone: %v, %v", procs, err)
	}
}
