package container

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/opencontainers/cgroups"
	"github.com/opencontainers/cgroups/manager"
	"golang.org/x/sys/unix"
)

// CgroupRoot is where containers' cgroups go, below each controller's root (cgroup v1) or the
// unified hierarchy's (v2): CgroupRoot/<cluster>/<container's cgroup>.
const CgroupRoot = "/minaks"

// cgroupMount is the host's cgroup filesystem.
const cgroupMount = "/sys/fs/cgroup"

// Resources are a container's limits, enforced by a cgroup of its own (opencontainers/cgroups,
// runc's, on cgroup v1 and v2).
type Resources struct {
	// Path is the cgroup, below CgroupRoot's parent: CgroupRoot/<cluster>/<name>.
	Path string `json:"path"`
	// MemoryLimit is in bytes (swap included: none); 0 is no limit. Going over it gets the
	// container OOM-killed.
	MemoryLimit int64 `json:"memoryLimit,omitempty"`
	// CPUQuota is the CPU time (µs) the container may use each CPUPeriod (µs); 0 is no limit.
	CPUQuota  int64  `json:"cpuQuota,omitempty"`
	CPUPeriod uint64 `json:"cpuPeriod,omitempty"`
	// CPUShares is its weight when CPUs are contended (cgroup v1's shares; v2's weight from it).
	CPUShares uint64 `json:"cpuShares,omitempty"`
}

var (
	cgroupsOnce sync.Once
	cgroupsErr  error
)

// CgroupsAvailable tells whether containers get cgroups here: the host's cgroup filesystem must
// have the memory and cpu controllers and let minaks make CgroupRoot. The answer is found once.
func CgroupsAvailable() error {
	cgroupsOnce.Do(func() {
		m, err := newCgroupManager(&Resources{Path: filepath.Join(CgroupRoot, ".probe")})
		if err != nil {
			cgroupsErr = err
			return
		}
		if err := m.Apply(-1); err != nil {
			cgroupsErr = fmt.Errorf("make a cgroup: %w", err)
			return
		}
		for _, c := range []string{"memory", "cpu"} {
			if p := m.Path(c); p == "" && !cgroups.IsCgroup2UnifiedMode() {
				cgroupsErr = fmt.Errorf("no cgroup controller %s", c)
			}
		}
		_ = m.Destroy()
	})
	return cgroupsErr
}

func newCgroupManager(r *Resources) (cgroups.Manager, error) {
	return manager.New(&cgroups.Cgroup{Path: r.Path, Resources: r.limits()})
}

// limits are r's limits in runc's terms, where 0 leaves a limit as it is.
func (r *Resources) limits() *cgroups.Resources {
	return &cgroups.Resources{
		Memory: r.MemoryLimit, MemorySwap: r.MemoryLimit,
		CpuQuota: r.CPUQuota, CpuPeriod: r.CPUPeriod, CpuShares: r.CPUShares,
		SkipDevices: true,
	}
}

// updateCgroup gives the container's cgroup m r's limits: an in-place resize. A limit of 0 is taken
// away.
func updateCgroup(m cgroups.Manager, r *Resources) error {
	l := r.limits()
	if l.Memory == 0 {
		l.Memory, l.MemorySwap = -1, -1
	}
	if l.CpuQuota == 0 {
		l.CpuQuota = -1
	}
	return m.Set(l)
}

// cgroupMounts are where the cgroups of m go inside a container, which sees them as its whole
// /sys/fs/cgroup (as runc shows a container that is not privileged): on cgroup v2 its
// directory, on v1 its directory of each controller at the controller's name.
func cgroupMounts(m cgroups.Manager) []Mount {
	const root = "/sys/fs/cgroup"
	if cgroups.IsCgroup2UnifiedMode() {
		return []Mount{{Source: m.Path(""), Target: root, ReadOnly: true}}
	}
	var mounts []Mount
	for name, path := range m.GetPaths() {
		if name == "" {
			continue // the unified hierarchy of a hybrid host: v1's controllers are the container's
		}
		if _, err := os.Stat(path); err != nil {
			continue // not made: devices (SkipDevices)
		}
		mounts = append(mounts, Mount{Source: path, Target: filepath.Join(root, strings.TrimPrefix(name, "name=")), ReadOnly: true})
	}
	sort.Slice(mounts, func(i, j int) bool { return mounts[i].Target < mounts[j].Target })
	return mounts
}

// joinCgroup puts the process pid (not started yet: the init waits for its spec) into the
// cgroup of r, with r's limits.
func joinCgroup(r *Resources, pid int) (cgroups.Manager, error) {
	m, err := newCgroupManager(r)
	if err != nil {
		return nil, err
	}
	if err := m.Apply(pid); err != nil {
		_ = m.Destroy()
		return nil, fmt.Errorf("cgroup %s: %w", r.Path, err)
	}
	cg, err := m.GetCgroups()
	if err == nil {
		err = m.Set(cg.Resources)
	}
	if err != nil {
		_ = m.Destroy()
		return nil, fmt.Errorf("cgroup %s: limits: %w", r.Path, err)
	}
	return m, nil
}

// killProcs kills every process in the cgroup directory dir.
func killProcs(dir string) {
	procs, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if err != nil {
		return
	}
	for _, field := range strings.Fields(string(procs)) {
		if pid, err := strconv.Atoi(field); err == nil && pid > 0 {
			_ = unix.Kill(pid, unix.SIGKILL)
		}
	}
}

// cgroupRoots are CgroupRoot's directories in every hierarchy that has one.
func cgroupRoots() []string {
	roots, _ := filepath.Glob(filepath.Join(cgroupMount, "*", CgroupRoot)) // only ErrBadPattern
	if _, err := os.Stat(filepath.Join(cgroupMount, CgroupRoot)); err == nil {
		roots = append(roots, filepath.Join(cgroupMount, CgroupRoot)) // v2
	}
	return roots
}

// CgroupClusters names the clusters that have cgroups on this host, in any hierarchy, sorted.
func CgroupClusters() []string {
	var names []string
	for _, root := range cgroupRoots() {
		entries, _ := os.ReadDir(root)
		for _, e := range entries {
			if e.IsDir() && !slices.Contains(names, e.Name()) {
				names = append(names, e.Name())
			}
		}
	}
	slices.Sort(names)
	return names
}

// RemoveCgroups removes what is left of cluster's cgroups (CgroupRoot/<cluster> in every
// hierarchy), and CgroupRoot once empty, killing the processes still in them.
func RemoveCgroups(cluster string) error {
	var errs []error
	for _, root := range cgroupRoots() {
		var dirs []string
		_ = filepath.WalkDir(filepath.Join(root, cluster), func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
		// The deepest first: a cgroup goes once its children have.
		sort.Slice(dirs, func(i, j int) bool { return strings.Count(dirs[i], "/") > strings.Count(dirs[j], "/") })
		for _, d := range dirs {
			// Processes are still there when their daemon was killed before a container took
			// its parent-death signal, or one exec'd a program that clears it (set-user-ID, file
			// capabilities): they are the cluster's containers, and end with it.
			killProcs(d)
		}
		for _, d := range dirs {
			// A process killed a moment ago may still hold its cgroup (EBUSY) for a while.
			var err error
			for try := 0; try < 50; try++ {
				if err = os.Remove(d); err == nil || errors.Is(err, fs.ErrNotExist) || !errors.Is(err, unix.EBUSY) {
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, err)
			}
		}
		_ = os.Remove(root) // only when no other cluster has cgroups there
	}
	return errors.Join(errs...)
}
