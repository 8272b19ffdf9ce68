package container

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/opencontainers/cgroups"
)

// Usage is what a running container's processes use, as cAdvisor reports it to the kubelet.
type Usage struct {
	// CPU is the CPU time its processes have used since it started, user and system.
	CPU time.Duration
	// Memory is all the memory charged to it, page cache included.
	Memory uint64
	// WorkingSet is Memory less the inactive file pages, which the kernel reclaims first: what
	// the kubelet evicts by and metrics-server reports.
	WorkingSet uint64
	// RSS is its anonymous memory (and swap cache).
	RSS uint64
}

// Usage is what the container uses now: from its cgroup, or, when it has none, from /proc
// (the CPU and resident memory of its init and every process below it).
func (p *Process) Usage() (Usage, error) {
	select {
	case <-p.done:
		return Usage{}, fmt.Errorf("container exited")
	default:
	}
	if p.cgroup != nil {
		st, err := p.cgroup.GetStats()
		if err != nil {
			return Usage{}, err
		}
		return cgroupUsage(st), nil
	}
	return procUsage("/proc", p.PID())
}

// cgroupUsage reads Usage from a cgroup's statistics, v1 or v2, the way cAdvisor does.
func cgroupUsage(st *cgroups.Stats) Usage {
	m := st.MemoryStats
	u := Usage{CPU: time.Duration(st.CpuStats.CpuUsage.TotalUsage), Memory: m.Usage.Usage}
	inactive, rss := m.Stats["total_inactive_file"], m.Stats["total_rss"] // v1
	if cgroups.IsCgroup2UnifiedMode() {
		inactive, rss = m.Stats["inactive_file"], m.Stats["anon"]
	}
	if inactive < u.Memory {
		u.WorkingSet = u.Memory - inactive
	}
	u.RSS = rss
	return u
}

// procUsage sums the CPU time (with that of reaped children) and resident memory of pid and
// its descendants, from the process table under proc.
func procUsage(proc string, pid int) (Usage, error) {
	entries, err := os.ReadDir(proc)
	if err != nil {
		return Usage{}, err
	}
	type stat struct {
		ppid      int
		cpu       time.Duration
		rssPages  uint64
		populated bool
	}
	stats := map[int]stat{}
	for _, e := range entries {
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join(proc, e.Name(), "stat"))
		if err != nil {
			continue // gone meanwhile
		}
		// pid (comm) state ppid … utime stime cutime cstime … rss: the command may hold
		// spaces and parentheses, so the fields are counted from the last ')'.
		f := bytes.Fields(b[bytes.LastIndexByte(b, ')')+1:])
		if len(f) < 22 {
			continue
		}
		field := func(i int) uint64 { v, _ := strconv.ParseUint(string(f[i]), 10, 64); return v }
		ticks := field(11) + field(12) + field(13) + field(14)
		stats[n] = stat{ppid: int(field(1)), cpu: time.Duration(ticks) * time.Second / clockTicks, rssPages: field(21), populated: true}
	}
	if !stats[pid].populated {
		return Usage{}, fmt.Errorf("process %d: not running", pid)
	}
	children := map[int][]int{}
	for n, s := range stats {
		children[s.ppid] = append(children[s.ppid], n)
	}
	var u Usage
	for todo := []int{pid}; len(todo) > 0; {
		n := todo[len(todo)-1]
		todo = append(todo[:len(todo)-1], children[n]...)
		s := stats[n]
		u.CPU += s.cpu
		u.RSS += s.rssPages * uint64(os.Getpagesize())
	}
	u.Memory, u.WorkingSet = u.RSS, u.RSS
	return u, nil
}

// clockTicks is the unit of CPU times in /proc/<pid>/stat (USER_HZ, 100 on every Linux ABI).
const clockTicks = 100
