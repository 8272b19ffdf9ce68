package kubeletapi

import (
	"context"
	"encoding/json"
	"net/http"

	compbasemetrics "k8s.io/component-base/metrics"
	statsapi "k8s.io/kubelet/pkg/apis/stats/v1alpha1"
	"k8s.io/kubernetes/pkg/kubelet/metrics/collectors"
)

// getSummary serves /stats/summary as the kubelet does: the node's, its pods' and containers'
// CPU and memory, as JSON. only_cpu_and_memory is accepted; the summary has nothing else.
func (s *Server) getSummary(w http.ResponseWriter, req *http.Request) {
	summary, err := s.rt.Summary(req.Context())
	if err != nil {
		http.Error(w, "Internal Error: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(summary)
}

// resourceMetrics is /metrics/resource: the kubelet's own collector (the CPU and memory that
// metrics-server scrapes) over the runtime's summary.
func (s *Server) resourceMetrics() http.Handler {
	r := compbasemetrics.NewKubeRegistry()
	r.CustomMustRegister(collectors.NewResourceMetricsCollector(summaryProvider{s.rt}))
	return registryHandler(r)
}

// registryHandler serves a registry in the Prometheus text format; an empty one without it.
func registryHandler(r compbasemetrics.KubeRegistry) http.Handler {
	if r == nil {
		r = compbasemetrics.NewKubeRegistry()
	}
	return compbasemetrics.HandlerFor(r, compbasemetrics.HandlerOpts{ErrorHandling: compbasemetrics.ContinueOnError})
}

// summaryProvider is the runtime's summary as the kubelet's stats.SummaryProvider.
type summaryProvider struct{ rt Runtime }

func (p summaryProvider) Get(ctx context.Context, _ bool) (*statsapi.Summary, error) {
	return p.rt.Summary(ctx)
}

func (p summaryProvider) GetCPUAndMemoryStats(ctx context.Context) (*statsapi.Summary, error) {
	return p.rt.Summary(ctx)
}
