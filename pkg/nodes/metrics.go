package nodes

import (
	"k8s.io/component-base/metrics"
)

// nodeMetrics are a node's own metrics, as its kubelet would serve them: /metrics has the
// node's name and its running pods and containers, /metrics/probes its probes' results and
// durations (the kubelet's prober_probe_total and prober_probe_duration_seconds). Each node
// has its own registries: the daemon's process serves every node.
type nodeMetrics struct {
	registry, probes metrics.KubeRegistry
	probeResults     *metrics.CounterVec
	probeDuration    *metrics.HistogramVec
}

var (
	nodeNameDesc = metrics.NewDesc("kubelet_node_name", "The node's name. The count is always 1.",
		[]string{"node"}, nil, metrics.ALPHA, "")
	runningPodsDesc = metrics.NewDesc("kubelet_running_pods", "Number of pods that have a running pod sandbox",
		nil, nil, metrics.ALPHA, "")
	runningContainersDesc = metrics.NewDesc("kubelet_running_containers", "Number of containers currently running",
		[]string{"container_state"}, nil, metrics.ALPHA, "")
)

func newNodeMetrics(s *Sandboxes) *nodeMetrics {
	m := &nodeMetrics{
		registry: metrics.NewKubeRegistry(),
		probes:   metrics.NewKubeRegistry(),
		probeResults: metrics.NewCounterVec(&metrics.CounterOpts{
			Subsystem: "prober", Name: "probe_total", StabilityLevel: metrics.BETA,
			Help: "Cumulative number of a liveness, readiness or startup probe for a container by result.",
		}, []string{"probe_type", "result", "container", "pod", "namespace", "pod_uid"}),
		probeDuration: metrics.NewHistogramVec(&metrics.HistogramOpts{
			Subsystem: "prober", Name: "probe_duration_seconds", StabilityLevel: metrics.ALPHA,
			Help: "Duration in seconds for a probe response.",
		}, []string{"probe_type", "container", "pod", "namespace"}),
	}
	m.registry.CustomMustRegister(&podCounts{s: s})
	m.probes.MustRegister(m.probeResults, m.probeDuration)
	return m
}

// podCounts collects the node's name and how many pods and containers run on it.
type podCounts struct {
	metrics.BaseStableCollector
	s *Sandboxes
}

func (c *podCounts) DescribeWithStability(ch chan<- *metrics.Desc) {
	ch <- nodeNameDesc
	ch <- runningPodsDesc
	ch <- runningContainersDesc
}

func (c *podCounts) CollectWithStability(ch chan<- metrics.Metric) {
	ch <- metrics.NewLazyConstMetric(nodeNameDesc, metrics.GaugeValue, 1, c.s.agent.ID.Instance.Name)
	pods, containers := 0, 0
	for _, w := range c.s.allWorkers() {
		if _, _, running := w.running(); len(running) > 0 {
			pods, containers = pods+1, containers+len(running)
		}
	}
	ch <- metrics.NewLazyConstMetric(runningPodsDesc, metrics.GaugeValue, float64(pods))
	ch <- metrics.NewLazyConstMetric(runningContainersDesc, metrics.GaugeValue, float64(containers), "running")
}
