package nodes

import (
	"context"
	"sync"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"
	statsapi "k8s.io/kubelet/pkg/apis/stats/v1alpha1"

	"github.com/minaks/minaks/pkg/apiserver/config"
	"github.com/minaks/minaks/pkg/nodes/container"
)

// cpuRates turns cumulative CPU times into rates (usageNanoCores) between two summaries, as
// cAdvisor does between its housekeeping samples.
type cpuRates struct {
	mu   sync.Mutex
	last map[string]cpuSample // by container ID, pod UID or "" for the node
}

type cpuSample struct {
	cpu time.Duration
	at  time.Time
}

// rate records key's cumulative CPU time at now and returns its rate since the previous
// sample, nil on the first.
func (r *cpuRates) rate(seen map[string]bool, key string, cpu time.Duration, now time.Time) *uint64 {
	seen[key] = true
	prev, ok := r.last[key]
	r.last[key] = cpuSample{cpu, now}
	if !ok || !now.After(prev.at) || cpu < prev.cpu {
		return nil
	}
	v := uint64(float64(cpu-prev.cpu) / now.Sub(prev.at).Seconds())
	return &v
}

// Summary is the node's /stats/summary, as the kubelet's summary provider makes it from
// cAdvisor: the CPU and memory of every running container (Process.Usage: its cgroup, or
// /proc), each pod's as the sum of its containers', and the node's as the sum of its pods'
// (minaks's node agents run in the daemon: a node has no processes of its own).
func (s *Sandboxes) Summary(ctx context.Context) (*statsapi.Summary, error) {
	a := s.agent
	now := time.Now()
	ts := metav1.NewTime(now)
	size := config.VMSizes[a.ID.Cluster.NodeVMSize]
	capacity := uint64(size.MemoryMiB) << 20
	summary := &statsapi.Summary{Node: statsapi.NodeStats{NodeName: a.ID.Instance.Name, StartTime: metav1.NewTime(a.started)}}

	s.rates.mu.Lock()
	defer s.rates.mu.Unlock()
	if s.rates.last == nil {
		s.rates.last = map[string]cpuSample{}
	}
	seen := map[string]bool{}
	var node usageSum
	for _, w := range s.allWorkers() {
		pod, podStart, ctrs := w.running()

		ps := statsapi.PodStats{
			PodRef:    statsapi.PodReference{Name: pod.Name, Namespace: pod.Namespace, UID: string(pod.UID)},
			StartTime: podStart,
		}
		var sum usageSum
		for _, c := range ctrs {
			u, err := c.proc.Usage()
			if err != nil {
				klog.FromContext(ctx).V(4).Info("No usage for a container", "pod", klog.KObj(pod), "container", c.name, "err", err)
				continue
			}
			ps.Containers = append(ps.Containers, statsapi.ContainerStats{
				Name: c.name, StartTime: c.start,
				CPU:    cpuStats(ts, u.CPU, s.rates.rate(seen, c.id, u.CPU, now)),
				Memory: memoryStats(ts, u, 0),
			})
			sum.add(u)
		}
		ps.CPU = cpuStats(ts, sum.CPU, s.rates.rate(seen, string(pod.UID), sum.CPU, now))
		ps.Memory = memoryStats(ts, container.Usage(sum), 0)
		summary.Pods = append(summary.Pods, ps)
		node.add(container.Usage(sum))
	}
	summary.Node.CPU = cpuStats(ts, node.CPU, s.rates.rate(seen, "", node.CPU, now))
	summary.Node.Memory = memoryStats(ts, container.Usage(node), capacity)
	for key := range s.rates.last {
		if !seen[key] {
			delete(s.rates.last, key) // a container or pod gone
		}
	}
	return summary, nil
}

// allWorkers are the node's pod workers.
func (s *Sandboxes) allWorkers() []*podWorker {
	s.mu.Lock()
	defer s.mu.Unlock()
	workers := make([]*podWorker, 0, len(s.byName))
	for _, w := range s.byName {
		workers = append(workers, w)
	}
	return workers
}

// liveCtr is a running container, as read under its worker's lock.
type liveCtr struct {
	name, id string
	start    metav1.Time
	proc     *container.Process
}

// running is the worker's pod, its start time and its running containers.
func (w *podWorker) running() (*v1.Pod, metav1.Time, []liveCtr) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var ctrs []liveCtr
	for _, c := range w.all() {
		if c.proc != nil {
			ctrs = append(ctrs, liveCtr{c.spec.Name, c.id, c.startedAt, c.proc})
		}
	}
	return w.pod, w.startTime, ctrs
}

// usageSum adds up containers' usage into a pod's, and pods' into the node's.
type usageSum container.Usage

func (s *usageSum) add(u container.Usage) {
	s.CPU += u.CPU
	s.Memory += u.Memory
	s.WorkingSet += u.WorkingSet
	s.RSS += u.RSS
}

func cpuStats(ts metav1.Time, cpu time.Duration, nanoCores *uint64) *statsapi.CPUStats {
	total := uint64(cpu)
	return &statsapi.CPUStats{Time: ts, UsageCoreNanoSeconds: &total, UsageNanoCores: nanoCores}
}

// memoryStats are a container's, pod's or node's memory figures; capacity, when known, gives
// the bytes still available.
func memoryStats(ts metav1.Time, u container.Usage, capacity uint64) *statsapi.MemoryStats {
	m := &statsapi.MemoryStats{Time: ts, UsageBytes: &u.Memory, WorkingSetBytes: &u.WorkingSet, RSSBytes: &u.RSS}
	if capacity > 0 {
		available := capacity - min(u.WorkingSet, capacity)
		m.AvailableBytes = &available
	}
	return m
}
