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

// ProcessMemory is the memory of one process of a cluster's tree.
type ProcessMemory struct {
	PID int `json:"pid"`
	// Name is the process's program: "daemon" for the cluster's daemon, else the base name of
	// its argv[0] (a built-in image's program: kube-proxy, coredns, …).
	Name string `json:"name"`
	// RSSBytes counts every page the process maps. PSSBytes is its proportional set size among
	// the tree's processes: its anonymous memory, plus each file's mapped pages divided by the
	// number of the tree's processes that map that file (kube-proxies and CoreDNS share
	// minaks-kube). So the tree's PSS adds up to what it costs the host, and stays the same
	// while another process maps the same executable, as `minaks status` does.
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
	var procs []processMaps
	queue := []int{pid}
	for len(queue) > 0 {
		p := queue[0]
		queue = append(queue[1:], children[p]...)
		m, ok := readMaps(p)
		if !ok {
			continue
		}
		if p == pid {
			m.Name = "daemon"
		}
		procs = append(procs, m)
	}
	sharers := map[string]uint64{}
	for _, p := range procs {
		for f := range p.files {
			sharers[f]++
		}
	}
	out := make([]ProcessMemory, 0, len(procs))
	for _, p := range procs {
		m := p.ProcessMemory
		m.PSSBytes = p.anon
		for f, rss := range p.files {
			m.PSSBytes += rss / sharers[f]
		}
		out = append(out, m)
	}
	if len(out) > 1 {
		slices.SortFunc(out[1:], func(a, b ProcessMemory) int { return a.PID - b.PID })
	}
	return out, nil
}

// processMaps is what a process's smaps says: its RSS, its anonymous memory (PSS), and the
// resident bytes it maps of each file, by device and inode.
type processMaps struct {
	ProcessMemory
	anon  uint64
	files map[string]uint64
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

// readMaps reads pid's name and /proc/<pid>/smaps. Kernel threads (no command line) are left
// out.
func readMaps(pid int) (processMaps, bool) {
	dir := filepath.Join(procRoot, strconv.Itoa(pid))
	raw, err := os.ReadFile(filepath.Join(dir, "cmdline"))
	if err != nil || len(raw) == 0 {
		return processMaps{}, false
	}
	argv0, _, _ := bytes.Cut(raw, []byte{0})
	m := processMaps{ProcessMemory: ProcessMemory{PID: pid, Name: filepath.Base(string(argv0))}, files: map[string]uint64{}}
	f, err := os.Open(filepath.Join(dir, "smaps"))
	if err != nil {
		return processMaps{}, false
	}
	defer f.Close()
	// Each mapping: a header "start-end perms offset dev inode [path]", then "Key: N kB" lines.
	var file string // dev:inode of the mapping's file, "" for anonymous memory
	var rss, pss uint64
	done := func() {
		m.RSSBytes += rss
		if file == "" {
			m.anon += pss
		}
	}
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) < 2 {
			continue
		}
		if !strings.HasSuffix(fields[0], ":") {
			done()
			file, rss, pss = "", 0, 0
			if len(fields) >= 5 && fields[4] != "0" {
				file = fields[3] + ":" + fields[4]
			}
			continue
		}
		kb, err := strconv.ParseUint(fields[1], 10, 64)
		if err != nil {
			continue
		}
		switch fields[0] {
		case "Rss:":
			rss = kb << 10
		case "Pss:":
			pss = kb << 10
		case "Anonymous:":
			// A file's private pages once written (relocations, .data) are the process's own.
			if file != "" {
				m.anon += kb << 10
				if rss > kb<<10 {
					m.files[file] += rss - kb<<10
				}
			}
		}
	}
	done()
	return m, s.Err() == nil
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
