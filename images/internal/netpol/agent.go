package netpol

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	v1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"
	"k8s.io/kubernetes/pkg/proxy/runner"

	"github.com/minaks/minaks/images/internal/informer"
	"github.com/minaks/minaks/images/internal/serve"
	"github.com/minaks/minaks/images/internal/xtables"
	"github.com/minaks/minaks/pkg/nodes/endpoint"
)

// Sync bounds: changes within minSyncInterval are written together; a full resync at least
// every maxSyncInterval repairs what was changed behind the agent's back.
const (
	minSyncInterval = 10 * time.Millisecond
	retryInterval   = time.Second
	maxSyncInterval = time.Minute
)

// Agent is one node's policy agent: it watches pods, namespaces and NetworkPolicies and has
// Write make the node's rules what they ask for, after every change (batched) and at least
// once a minute. Pods about to start on the node (package pkg/nodes/endpoint) are answered
// once a write covered them. Its health endpoints answer 200 once the first write succeeded.
type Agent struct {
	// Name is the engine's, for logs.
	Name string
	// Write makes the node's rules those of the cluster.
	Write func(c *Cluster) error
	// Addr and HealthPaths are where the health endpoints are served.
	Addr        string
	HealthPaths []string
	// MetricsAddr and MetricsPath are where the Prometheus metrics are served (on Addr when
	// MetricsAddr is empty); ApplyTime names the summary of how long writing the node's rules
	// takes, in seconds, as the engine names it.
	MetricsAddr, MetricsPath, ApplyTime string
	// Custom are the engine's own resources it watches too (Cilium's policies), in
	// Cluster.Custom by resource.
	Custom []schema.GroupVersionResource
	// Beside runs beside the agent, if set, until ctx ends (Cilium's kube-proxy
	// replacement); the agent stops when it fails.
	Beside func(ctx context.Context) error

	applyTime              prometheus.Summary
	pods, nss, pols, nodes cache.SharedIndexInformer
	custom                 map[string]cache.SharedIndexInformer
	runner                 *runner.BoundedFrequencyRunner
	written                atomic.Bool
	endpoints              endpoint.Server
}

// Run runs the agent with the pod's in-cluster credentials until ctx ends.
func (a *Agent) Run(ctx context.Context) error {
	logger := klog.FromContext(ctx)
	cfg, err := rest.InClusterConfig()
	if err != nil {
		return err
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	a.applyTime = prometheus.NewSummary(prometheus.SummaryOpts{
		Name:       a.ApplyTime,
		Help:       "Time to write the node's rules (sets and chains) from the cluster's policies, in seconds.",
		Objectives: map[float64]float64{0.5: 0.05, 0.9: 0.01, 0.99: 0.001},
	})
	reg.MustRegister(a.applyTime)
	factory := informers.NewSharedInformerFactory(client, 0)
	a.pods = factory.Core().V1().Pods().Informer()
	a.nss = factory.Core().V1().Namespaces().Informer()
	a.pols = factory.Networking().V1().NetworkPolicies().Informer()
	a.nodes = factory.Core().V1().Nodes().Informer()
	watched := []cache.SharedIndexInformer{a.pods, a.nss, a.pols, a.nodes}
	var dynFactory dynamicinformer.DynamicSharedInformerFactory
	if len(a.Custom) > 0 {
		dyn, err := dynamic.NewForConfig(cfg)
		if err != nil {
			return err
		}
		dynFactory = dynamicinformer.NewDynamicSharedInformerFactory(dyn, 0)
		a.custom = map[string]cache.SharedIndexInformer{}
		for _, gvr := range a.Custom {
			inf := dynFactory.ForResource(gvr).Informer()
			a.custom[gvr.Resource] = inf
			watched = append(watched, inf)
		}
	}
	a.runner = runner.NewBoundedFrequencyRunner(a.Name, a.sync, minSyncInterval, retryInterval, maxSyncInterval)
	a.endpoints.Changed = a.runner.Run
	handler := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { a.runner.Run() },
		UpdateFunc: func(any, any) { a.runner.Run() },
		DeleteFunc: func(any) { a.runner.Run() },
	}
	synced := make([]cache.InformerSynced, 0, len(watched))
	for _, inf := range watched {
		if _, err := inf.AddEventHandler(handler); err != nil {
			return err
		}
		synced = append(synced, inf.HasSynced)
	}
	factory.Start(ctx.Done())
	if dynFactory != nil {
		dynFactory.Start(ctx.Done())
	}
	if a.Beside != nil {
		bctx, cancel := context.WithCancelCause(ctx)
		defer cancel(nil)
		go func() { cancel(a.Beside(bctx)) }()
		ctx = bctx
	}
	if !cache.WaitForCacheSync(ctx.Done(), synced...) {
		return context.Cause(ctx)
	}
	logger.Info("Caches synced; writing the node's policy", "engine", a.Name)
	go a.runner.Loop(ctx.Done())
	a.runner.Run()
	eps, err := endpoint.Listen()
	if err != nil {
		return fmt.Errorf("the endpoint socket: %w", err)
	}
	go func() {
		if err := a.endpoints.Serve(ctx, eps); err != nil {
			logger.Error(err, "Serving the endpoint socket")
		}
	}()

	metrics := promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	ln, err := net.Listen("tcp", a.Addr)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	if a.MetricsAddr == "" {
		mux.Handle(a.MetricsPath, metrics)
	} else {
		mln, err := net.Listen("tcp", a.MetricsAddr)
		if err != nil {
			return err
		}
		mmux := http.NewServeMux()
		mmux.Handle(a.MetricsPath, metrics)
		go func() {
			if err := serve.HTTP(ctx, &http.Server{Handler: mmux, ReadHeaderTimeout: 5 * time.Second}, mln, "", ""); err != nil {
				logger.Error(err, "Serving metrics")
			}
		}()
	}
	for _, path := range a.HealthPaths {
		mux.HandleFunc(path, func(w http.ResponseWriter, _ *http.Request) {
			if !a.written.Load() {
				http.Error(w, "the node's policy is not written yet", http.StatusServiceUnavailable)
				return
			}
			fmt.Fprintln(w, "ok")
		})
	}
	if err := serve.HTTP(ctx, &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}, ln, "", ""); err != nil {
		return err
	}
	return context.Cause(ctx)
}

// sync computes the cluster from the caches and has it written.
func (a *Agent) sync() error {
	start := time.Now()
	c := FromObjects(
		informer.ListOf[*v1.Pod](a.pods),
		informer.ListOf[*v1.Namespace](a.nss),
		informer.ListOf[*networkingv1.NetworkPolicy](a.pols),
		a.endpoints.Pending(),
	)
	c.Nodes = NodesOf(informer.ListOf[*v1.Node](a.nodes))
	if len(a.custom) > 0 {
		c.Custom = map[string][]*unstructured.Unstructured{}
		for resource, inf := range a.custom {
			c.Custom[resource] = informer.ListOf[*unstructured.Unstructured](inf)
		}
	}
	if err := a.Write(c); err != nil {
		klog.ErrorS(err, "Writing the node's policy", "engine", a.Name)
		return err
	}
	a.written.Store(true)
	a.applyTime.Observe(time.Since(start).Seconds())
	a.endpoints.Enforced(func(e endpoint.Endpoint) bool { return c.Has(e.UID, e.IPs) })
	klog.V(2).InfoS("Wrote the node's policy", "engine", a.Name, "policies", len(c.Policies), "pods", len(c.Pods), "elapsed", time.Since(start))
	return nil
}

// Main runs, until a signal, the agent that newAgent makes for the node named by $nodeEnv
// (the host name when unset), with the node's iptables backend when in a container (as the
// engines detect it), and returns the program's exit code.
func Main(program, nodeEnv string, newAgent func(node string) *Agent) int {
	if os.Getpid() == 1 {
		if err := xtables.Select(xtables.Dir); err != nil {
			fmt.Fprintf(os.Stderr, "%s: choosing the iptables backend: %v\n", program, err)
			return 1
		}
	}
	node := os.Getenv(nodeEnv)
	if node == "" {
		node, _ = os.Hostname()
	}
	ctx, _ := serve.SignalContext()
	if err := newAgent(node).Run(klog.NewContext(ctx, klog.Background())); err != nil {
		klog.ErrorS(err, "Stopped", "program", program)
		return 1
	}
	return 0
}
