package azurenpm

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	v1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"
	"k8s.io/kubernetes/pkg/proxy/runner"

	"github.com/minaks/minaks/images/internal/informer"
	"github.com/minaks/minaks/images/internal/netpol"
	"github.com/minaks/minaks/images/internal/serve"
	"github.com/minaks/minaks/pkg/nodes/endpoint"
)

// Sync bounds: changes within minSyncInterval are written together; a full resync at least
// every maxSyncInterval repairs what was changed behind the agent's back.
const (
	minSyncInterval = 10 * time.Millisecond
	retryInterval   = time.Second
	maxSyncInterval = time.Minute
)

// agent is one node's azure-npm: it watches pods, namespaces and NetworkPolicies and keeps the
// node's ipsets and AZURE-NPM chains equal to what they ask for.
type agent struct {
	node    string
	pods    cache.SharedIndexInformer
	nss     cache.SharedIndexInformer
	pols    cache.SharedIndexInformer
	applier *applier
	runner  *runner.BoundedFrequencyRunner
	synced  atomic.Bool
	// endpoints are the node's pods about to start, waiting for their policy.
	endpoints endpoint.Server
}

func run(ctx context.Context, node, metricsAddr string) error {
	logger := klog.FromContext(ctx)
	cfg, err := rest.InClusterConfig()
	if err != nil {
		return err
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	factory := informers.NewSharedInformerFactory(client, 0)
	a := &agent{
		node:    node,
		pods:    factory.Core().V1().Pods().Informer(),
		nss:     factory.Core().V1().Namespaces().Informer(),
		pols:    factory.Networking().V1().NetworkPolicies().Informer(),
		applier: &applier{run: runCommand},
	}
	a.runner = runner.NewBoundedFrequencyRunner("azure-npm", a.sync, minSyncInterval, retryInterval, maxSyncInterval)
	a.endpoints.Changed = a.runner.Run
	handler := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { a.runner.Run() },
		UpdateFunc: func(any, any) { a.runner.Run() },
		DeleteFunc: func(any) { a.runner.Run() },
	}
	for _, inf := range []cache.SharedIndexInformer{a.pods, a.nss, a.pols} {
		if _, err := inf.AddEventHandler(handler); err != nil {
			return err
		}
	}
	factory.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), a.pods.HasSynced, a.nss.HasSynced, a.pols.HasSynced) {
		return ctx.Err()
	}
	logger.Info("Caches synced; writing the node's policy", "node", node)
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

	ln, err := net.Listen("tcp", metricsAddr)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		if !a.synced.Load() {
			http.Error(w, "the node's policy is not written yet", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	return serve.HTTP(ctx, &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}, ln, "", "")
}

// sync computes the whole ruleset from the caches and writes it.
func (a *agent) sync() error {
	start := time.Now()
	c := netpol.FromObjects(
		informer.ListOf[*v1.Pod](a.pods),
		informer.ListOf[*v1.Namespace](a.nss),
		informer.ListOf[*networkingv1.NetworkPolicy](a.pols),
		a.endpoints.Pending(),
	)
	rs := Render(c, a.node)
	if err := a.applier.apply(rs); err != nil {
		klog.ErrorS(err, "Writing the node's policy")
		return err
	}
	a.synced.Store(true)
	a.endpoints.Enforced(func(e endpoint.Endpoint) bool { return c.Has(e.UID, e.IPs) })
	klog.V(2).InfoS("Wrote the node's policy", "policies", len(c.Policies), "sets", len(rs.Sets), "chains", len(rs.Chains), "elapsed", time.Since(start))
	return nil
}
