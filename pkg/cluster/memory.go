package cluster

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// ProcessMemory is the memory of one process of a cluster's tree, from its smaps_rollup.
type ProcessMemory struct {
	PID int `json:"pid"`
	// Name is the process's program: "daemon" for the cluster's daemon, else the base name of
	// its argv[0] (a built-in image's program: kube-proxy, coredns, …).
	Name string `json:"name"`
	// RSS counts every page the process maps; PSS divides each shared page among its sharers,
	// so that the PSS of a tree adds up to what the tree costs the host.
	RSSBytes uint64 `json:"rssBytes"`
	PSSBytes uint64 `json:"pssBytes"`
}

// TreeMemory returns the memory of pid and of every process below it, pid first, then by PID.
// Processes that exit while it reads are left out.
func TreeMemory(pid int) ([]ProcessMemory, error) {
	entries, err := os.ReadDir(procRoot)
	if err != nil {
		return nil, err
	}
	children := map[int][]int{}
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if pp, ok := parentPID(p); ok {
			children[pp] = append(children[pp], p)
		}
	}
	var out []ProcessMemory
	queue := []int{pid}
	for len(queue) > 0 {
		p := queue[0]
		queue = append(queue[1:], children[p]...)
		m, ok := processMemory(p)
		if !ok {
			continue
		}
		if p == pid {
			m.Name = "daemon"
		}
		out = append(out, m)
	}
	if len(out) > 1 {
		slices.SortFunc(out[1:], func(a, b ProcessMemory) int { return a.PID - b.PID })
	}
	return out, nil
}

// parentPID is pid's parent, from /proc/<pid>/stat.
func parentPID(pid int) (int, bool) {
	b, err := os.ReadFile(filepath.Join(procRoot, strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, false
	}
	// "pid (comm) state ppid ...": comm may hold spaces and parentheses.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 2 {
		return 0, false
	}
	pp, err := strconv.Atoi(f[1])
	return pp, err == nil
}

// processMemory reads pid's name and its Rss and Pss totals.
func processMemory(pid int) (ProcessMemory, bool) {
	dir := filepath.Join(procRoot, strconv.Itoa(pid))
	f, err := os.Open(filepath.Join(dir, "smaps_rollup"))
	if err != nil {
		return ProcessMemory{}, false
	}
	defer f.Close()
	m := ProcessMemory{PID: pid}
	if raw, err := os.ReadFile(filepath.Join(dir, "cmdline")); err == nil {
		argv0, _, _ := bytes.Cut(raw, []byte{0})
		m.Name = filepath.Base(string(argv0))
	}
	s := bufio.NewScanner(f)
	for s.Scan() {
		// "Rss:               12345 kB"
		f := strings.Fields(s.Text())
		if len(f) < 2 {
			continue
		}
		kb, err := strconv.ParseUint(f[1], 10, 64)
		if err != nil {
			continue
		}
		switch f[0] {
		case "Rss:":
			m.RSSBytes = kb << 10
		case "Pss:":
			m.PSSBytes = kb << 10
		}
	}
	return m, m.Name != "" // kernel threads have an empty cmdline
}

// MemoryByName sums a tree's memory by process name, in the order names first appear.
func MemoryByName(procs []ProcessMemory) []MemoryGroup {
	var out []MemoryGroup
	at := map[string]int{}
	for _, p := range procs {
		i, ok := at[p.Name]
		if !ok {
			i = len(out)
			at[p.Name] = i
			out = append(out, MemoryGroup{Name: p.Name})
		}
		out[i].Count++
		out[i].RSSBytes += p.RSSBytes
		out[i].PSSBytes += p.PSSBytes
	}
	return out
}

// MemoryGroup is the memory of a tree's processes of one name.
type MemoryGroup struct {
	Name     string
	Count    int
	RSSBytes uint64
	PSSBytes uint64
}
