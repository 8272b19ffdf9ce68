package istio

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	gatewayv1beta1 "sigs.k8s.io/gateway-api/apis/v1beta1"
	gatewayclient "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned"
	gatewayinformers "sigs.k8s.io/gateway-api/pkg/client/informers/externalversions"

	"github.com/minaks/minaks/images/internal/informer"
	"github.com/minaks/minaks/images/istio/translate"
)

// watch is istiod's view of the cluster: every object the Gateway API translation reads, kept
// by informers, and a channel that says something changed.
type watch struct {
	kube    informers.SharedInformerFactory
	gateway gatewayinformers.SharedInformerFactory

	classes, gateways, httpRoutes, grpcRoutes, grants cache.SharedIndexInformer
	namespaces, services, slices, secrets             cache.SharedIndexInformer
	// extra are informers of the caller's (its own Deployments, Services, ConfigMaps).
	extra []cache.SharedIndexInformer

	changed chan struct{}
}

func newWatch(kube kubernetes.Interface, gw gatewayclient.Interface) *watch {
	w := &watch{
		kube:    informers.NewSharedInformerFactory(kube, 0),
		gateway: gatewayinformers.NewSharedInformerFactory(gw, 0),
		changed: make(chan struct{}, 1),
	}
	g := w.gateway.Gateway()
	w.classes = g.V1().GatewayClasses().Informer()
	w.gateways = g.V1().Gateways().Informer()
	w.httpRoutes = g.V1().HTTPRoutes().Informer()
	w.grpcRoutes = g.V1().GRPCRoutes().Informer()
	w.grants = g.V1beta1().ReferenceGrants().Informer()
	w.namespaces = w.kube.Core().V1().Namespaces().Informer()
	w.services = w.kube.Core().V1().Services().Informer()
	w.slices = w.kube.Discovery().V1().EndpointSlices().Informer()
	w.secrets = w.kube.Core().V1().Secrets().Informer()
	for _, inf := range w.all() {
		w.notify(inf)
	}
	return w
}

// notify makes every change of inf's objects a change of the watch.
func (w *watch) notify(inf cache.SharedIndexInformer) {
	_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { w.kick() },
		UpdateFunc: func(any, any) { w.kick() },
		DeleteFunc: func(any) { w.kick() },
	})
}

func (w *watch) kick() {
	select {
	case w.changed <- struct{}{}:
	default:
	}
}

func (w *watch) all() []cache.SharedIndexInformer {
	return append([]cache.SharedIndexInformer{w.classes, w.gateways, w.httpRoutes, w.grpcRoutes, w.grants,
		w.namespaces, w.services, w.slices, w.secrets}, w.extra...)
}

// start runs the informers and waits until they have synced.
func (w *watch) start(ctx context.Context) bool {
	w.kube.Start(ctx.Done())
	w.gateway.Start(ctx.Done())
	syncs := []cache.InformerSynced{}
	for _, inf := range w.all() {
		syncs = append(syncs, inf.HasSynced)
	}
	return cache.WaitForCacheSync(ctx.Done(), syncs...)
}

// settle waits for the next change and then for the changes that come with it.
func (w *watch) settle(ctx context.Context, gather time.Duration) bool {
	select {
	case <-ctx.Done():
		return false
	case <-w.changed:
	}
	select {
	case <-ctx.Done():
		return false
	case <-time.After(gather):
	}
	select {
	case <-w.changed:
	default:
	}
	return true
}

// state is what the informers hold, as the translation takes it.
func (w *watch) state() *translate.State {
	return &translate.State{
		GatewayClasses:  informer.ListOf[*gatewayv1.GatewayClass](w.classes),
		Gateways:        informer.ListOf[*gatewayv1.Gateway](w.gateways),
		HTTPRoutes:      informer.ListOf[*gatewayv1.HTTPRoute](w.httpRoutes),
		GRPCRoutes:      informer.ListOf[*gatewayv1.GRPCRoute](w.grpcRoutes),
		ReferenceGrants: informer.ListOf[*gatewayv1beta1.ReferenceGrant](w.grants),
		Namespaces:      informer.ListOf[*corev1.Namespace](w.namespaces),
		Services:        informer.ListOf[*corev1.Service](w.services),
		EndpointSlices:  informer.ListOf[*discoveryv1.EndpointSlice](w.slices),
		Secrets:         informer.ListOf[*corev1.Secret](w.secrets),
	}
}
