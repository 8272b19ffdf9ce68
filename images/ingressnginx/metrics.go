package ingressnginx

import (
	"bufio"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/minaks/minaks/images/internal/l7"
)

// metrics are ingress-nginx's Prometheus metrics (internal/ingress/metric/collectors): the
// per-request ones of its socket collector, labelled as there, and the controller's own.
type metrics struct {
	reg                *prometheus.Registry
	perHost, undefined bool
	statusClasses      bool
	hosts              atomic.Pointer[map[string]bool]
	mu                 sync.RWMutex
	byKey              map[requestKey]*requestMetrics
	requests           *prometheus.CounterVec
	requestTime        *prometheus.HistogramVec
	responseTime       *prometheus.HistogramVec
	requestLength      *prometheus.HistogramVec
	responseLength     *prometheus.HistogramVec
	bytesSent          *prometheus.HistogramVec
	configHash         prometheus.Gauge
	configSuccess      prometheus.Gauge
	configSuccessTime  prometheus.Gauge
	reloads            prometheus.Counter
	reloadErrors       prometheus.Counter
	leader             *prometheus.GaugeVec
}

const namespace = "nginx_ingress_controller"

func newMetrics(f *Flags, podNS, podName string) *metrics {
	constLabels := prometheus.Labels{"controller_namespace": podNS, "controller_class": f.ControllerClass, "controller_pod": podName}
	tags := []string{"status", "method", "path", "namespace", "ingress", "service", "canary"}
	if f.MetricsPerHost {
		tags = append(tags, "host")
	}
	hist := func(name, help string, buckets []float64) *prometheus.HistogramVec {
		return prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: namespace, Name: name, Help: help, ConstLabels: constLabels, Buckets: buckets}, tags)
	}
	gauge := func(name, help string) prometheus.Gauge {
		return prometheus.NewGauge(prometheus.GaugeOpts{Namespace: namespace, Name: name, Help: help, ConstLabels: constLabels})
	}
	counter := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Name: name, Help: help, ConstLabels: constLabels})
	}
	m := &metrics{
		reg:     prometheus.NewRegistry(),
		byKey:   map[requestKey]*requestMetrics{},
		perHost: f.MetricsPerHost, undefined: f.MetricsPerUndefinedHost, statusClasses: f.ReportStatusClasses,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "requests",
			Help: "The total number of client requests", ConstLabels: constLabels}, tags),
		requestTime:    hist("request_duration_seconds", "The request processing time in milliseconds", f.TimeBuckets),
		responseTime:   hist("response_duration_seconds", "The time spent on receiving the response from the upstream server", f.TimeBuckets),
		requestLength:  hist("request_size", "The request length (including request line, header, and request body)", f.LengthBuckets),
		responseLength: hist("response_size", "The response length (including request line, header, and request body)", f.LengthBuckets),
		bytesSent:      hist("bytes_sent", "The number of bytes sent to a client", f.SizeBuckets),
		configHash:     gauge("config_hash", "Running configuration hash actually running"),
		configSuccess:  gauge("config_last_reload_successful", "Whether the last configuration reload attempt was successful"),
		configSuccessTime: gauge("config_last_reload_successful_timestamp_seconds",
			"Timestamp of the last successful configuration reload."),
		reloads:      counter("success", "Cumulative number of Ingress controller reload operations"),
		reloadErrors: counter("errors", "Cumulative number of Ingress controller errors during reload operations"),
		leader: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: namespace, Name: "leader_election_status",
			Help: "Gauge reporting status of the leader election, 0 indicates follower, 1 indicates leader.", ConstLabels: constLabels}, []string{"name"}),
	}
	m.reg.MustRegister(m.requests, m.requestTime, m.responseTime, m.requestLength, m.responseLength, m.bytesSent,
		m.configHash, m.configSuccess, m.configSuccessTime, m.reloads, m.reloadErrors, m.leader,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// configured records a new configuration: its hash, and whether the proxy took it.
func (m *metrics) configured(cfg *l7.Config, hash uint64, ok bool) {
	hosts := map[string]bool{}
	ingresses := map[[2]string]bool{}
	for _, l := range cfg.Listeners {
		for _, s := range l.Servers {
			for _, h := range s.Hostnames {
				hosts[h] = true
			}
			for _, r := range s.Routes {
				if r.Meta.Kind == "Ingress" {
					ingresses[[2]string{r.Meta.Namespace, r.Meta.Name}] = true
				}
			}
		}
	}
	m.hosts.Store(&hosts)
	m.forgetRemoved(ingresses)
	if !ok {
		m.configSuccess.Set(0)
		m.reloadErrors.Inc()
		return
	}
	m.configHash.Set(float64(hash))
	m.configSuccess.Set(1)
	m.configSuccessTime.Set(float64(time.Now().Unix()))
	m.reloads.Inc()
}

// forgetRemoved drops the request metrics of Ingresses no longer served, as ingress-nginx
// removes them when an Ingress goes.
func (m *metrics) forgetRemoved(served map[[2]string]bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	gone := map[[2]string]bool{}
	for k := range m.byKey {
		if id := [2]string{k.namespace, k.ingress}; id[1] != "" && !served[id] {
			gone[id] = true
			delete(m.byKey, k)
		}
	}
	for id := range gone {
		labels := prometheus.Labels{"namespace": id[0], "ingress": id[1]}
		m.requests.DeletePartialMatch(labels)
		for _, h := range []*prometheus.HistogramVec{m.requestTime, m.responseTime, m.requestLength, m.responseLength, m.bytesSent} {
			h.DeletePartialMatch(labels)
		}
	}
}

// requestKey is the label values of a request's metrics.
type requestKey struct {
	status                                      int
	method, path, namespace, ingress, svc, host string
	canary                                      string
}

// requestMetrics are the metrics of one requestKey, resolved once: resolving six metric
// vectors' label values on every request costs more than the rest of the observer.
type requestMetrics struct {
	requests                                                            prometheus.Counter
	requestTime, responseTime, requestLength, responseLength, bytesSent prometheus.Observer
}

// forKey returns the metrics of k, resolving them the first time.
func (m *metrics) forKey(k requestKey) *requestMetrics {
	m.mu.RLock()
	rm := m.byKey[k]
	m.mu.RUnlock()
	if rm != nil {
		return rm
	}
	status := strconv.Itoa(k.status)
	if m.statusClasses {
		status = status[:1] + "xx"
	}
	values := []string{status, k.method, k.path, k.namespace, k.ingress, k.svc, k.canary}
	if m.perHost {
		values = append(values, k.host)
	}
	rm = &requestMetrics{
		requests:       m.requests.WithLabelValues(values...),
		requestTime:    m.requestTime.WithLabelValues(values...),
		responseTime:   m.responseTime.WithLabelValues(values...),
		requestLength:  m.requestLength.WithLabelValues(values...),
		responseLength: m.responseLength.WithLabelValues(values...),
		bytesSent:      m.bytesSent.WithLabelValues(values...),
	}
	m.mu.Lock()
	m.byKey[k] = rm
	m.mu.Unlock()
	return rm
}

// observe counts one request as ingress-nginx's socket collector does; requests for hosts no
// Ingress defines are left out unless --metrics-per-undefined-host.
func (m *metrics) observe(e *l7.Entry) {
	if h := m.hosts.Load(); !m.undefined && (h == nil || !(*h)[e.Host]) {
		return
	}
	k := requestKey{status: e.Status, method: e.Method, path: e.Path, namespace: e.Route.Namespace,
		ingress: e.Route.Name, svc: e.Route.Service, canary: e.AlternativeUpstreamName}
	if m.perHost {
		k.host = e.Host
	}
	rm := m.forKey(k)
	rm.requests.Inc()
	rm.requestTime.Observe(e.RequestTime.Seconds())
	rm.requestLength.Observe(float64(e.RequestLength))
	rm.responseLength.Observe(float64(e.BodyBytesSent))
	rm.bytesSent.Observe(float64(e.BodyBytesSent))
	if n := len(e.Upstreams); n > 0 {
		rm.responseTime.Observe(e.Upstreams[n-1].ResponseTime.Seconds())
	}
}

// observer is the proxy's Observer: the access log on stdout, as nginx's (one line per
// request, written out every 100 ms), and the metrics.
type observer struct {
	m    *metrics
	log  atomic.Pointer[accessLog]
	mu   sync.Mutex
	w    *bufio.Writer
	stop chan struct{}
	done chan struct{}
}

func newObserver(out io.Writer, m *metrics) *observer {
	o := &observer{m: m, w: bufio.NewWriterSize(out, 64<<10), stop: make(chan struct{}), done: make(chan struct{})}
	o.log.Store(accessLogFrom(nil))
	go o.flusher()
	return o
}

// configure takes the access log's settings from the controller's ConfigMap.
func (o *observer) configure(configMap map[string]string) {
	o.log.Store(accessLogFrom(configMap))
}

// Observe writes e's log line and counts it.
func (o *observer) Observe(e *l7.Entry) {
	if line := o.log.Load().line(e); line != "" {
		o.mu.Lock()
		_, _ = o.w.WriteString(line)
		_ = o.w.WriteByte('\n')
		o.mu.Unlock()
	}
	if o.m != nil {
		o.m.observe(e)
	}
}

func (o *observer) flusher() {
	defer close(o.done)
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-o.stop:
			o.flush()
			return
		case <-t.C:
			o.flush()
		}
	}
}

func (o *observer) flush() {
	o.mu.Lock()
	_ = o.w.Flush()
	o.mu.Unlock()
}

// Close writes what is left.
func (o *observer) Close() {
	close(o.stop)
	<-o.done
}
