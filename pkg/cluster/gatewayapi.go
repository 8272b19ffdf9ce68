package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/klog/v2"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	gatewayclient "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned"
	gatewayscheme "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned/scheme"
	gatewayinformers "sigs.k8s.io/gateway-api/pkg/client/informers/externalversions"

	"github.com/minaks/minaks/pkg/apiserver/addons/gatewayapi"
	"github.com/minaks/minaks/pkg/apiserver/apply"
	"github.com/minaks/minaks/pkg/apiserver/config"
)

// gatewayAPI turns the managed Gateway API (its CRDs) and app routing's Gateway API
// implementation (istiod and the GatewayClass approuting-istio) on and off, as
// `az aks update --enable-gateway-api|--enable-app-routing-istio` does, and says what it does
// not emulate about the GatewayClasses of other implementations.
type gatewayAPI struct {
	c    *config.Cluster
	ctx  context.Context
	kube kubernetes.Interface
	ext  apiextensionsclient.Interface
	dyn  dynamic.Interface
	gw   gatewayclient.Interface

	mu sync.Mutex
	// stopClasses stops the watch of other implementations' GatewayClasses.
	stopClasses context.CancelFunc
	// istio mirrors c.EnableAppRoutingIstio for that watch: without istiod, Istio's own
	// controller name is one more that nothing here implements.
	istio atomic.Bool
	// recheck asks the watch to look at every class again.
	recheck func()
}

func newGatewayAPI(ctx context.Context, c *config.Cluster, cfg *rest.Config) (*gatewayAPI, error) {
	g := &gatewayAPI{c: c, ctx: ctx}
	var err error
	if g.kube, err = kubernetes.NewForConfig(cfg); err != nil {
		return nil, err
	}
	if g.ext, err = apiextensionsclient.NewForConfig(cfg); err != nil {
		return nil, err
	}
	if g.dyn, err = dynamic.NewForConfig(cfg); err != nil {
		return nil, err
	}
	if g.gw, err = gatewayclient.NewForConfig(cfg); err != nil {
		return nil, err
	}
	return g, nil
}

// istiodReadyTimeout bounds the wait for istiod's replicas.
const istiodReadyTimeout = 3 * time.Minute

// ensure installs what c enables: the CRDs, and the control plane of approuting-istio. It
// runs at every daemon start and is idempotent.
func (g *gatewayAPI) ensure() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.install()
}

func (g *gatewayAPI) install() error {
	ctx := g.ctx
	g.istio.Store(g.c.EnableAppRoutingIstio)
	if g.recheck != nil {
		g.recheck()
	}
	if g.c.EnableGatewayAPI {
		if err := gatewayapi.InstallCRDs(ctx, g.ext, g.kube); err != nil {
			return err
		}
		g.watchClasses()
	}
	if g.c.EnableAppRoutingIstio {
		if err := apply.Objects(ctx, g.kube, gatewayapi.ControlPlaneObjects(gatewayapi.ControlPlaneOptions{})...); err != nil {
			return fmt.Errorf("app routing Istio control plane: %w", err)
		}
		if err := gatewayapi.ApplyGatewayClass(ctx, g.dyn, gatewayapi.GatewayClass()); err != nil {
			return err
		}
		return g.waitIstiod(ctx)
	}
	return nil
}

// waitIstiod waits until istiod's Deployment has its replicas available.
func (g *gatewayAPI) waitIstiod(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, istiodReadyTimeout)
	defer cancel()
	var last string
	err := wait.PollUntilContextCancel(ctx, 250*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		d, err := g.kube.AppsV1().Deployments(gatewayapi.IstioNamespace).Get(ctx, gatewayapi.IstiodName, metav1.GetOptions{})
		if err != nil {
			last = err.Error()
			return false, nil
		}
		last = fmt.Sprintf("%d of %d replicas available", d.Status.AvailableReplicas, d.Status.Replicas)
		return deploymentAvailable(d), nil
	})
	if err != nil {
		return fmt.Errorf("istiod is not ready (%s): %w", last, err)
	}
	return nil
}

func deploymentAvailable(d *appsv1.Deployment) bool {
	for _, c := range d.Status.Conditions {
		if c.Type == appsv1.DeploymentAvailable {
			return c.Status == corev1.ConditionTrue && d.Status.ObservedGeneration >= d.Generation
		}
	}
	return false
}

// set carries out `minaks update --enable-gateway-api …` or `minaks approuting gateway istio
// enable|disable`, records the add-ons in the cluster's definition and applies them.
func (g *gatewayAPI) set(req GatewayAPIRequest) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	api, istio := g.c.EnableGatewayAPI, g.c.EnableAppRoutingIstio
	if req.GatewayAPI != nil {
		api = *req.GatewayAPI
	}
	if req.AppRoutingIstio != nil {
		istio = *req.AppRoutingIstio
	}
	if istio && !api {
		if req.GatewayAPI != nil {
			return errors.New("app routing's Gateway API implementation uses the managed Gateway API: disable it first (--disable-app-routing-istio)")
		}
		return errors.New(config.ErrAppRoutingIstioNeedsGatewayAPI)
	}
	wasAPI, wasIstio := g.c.EnableGatewayAPI, g.c.EnableAppRoutingIstio
	c := *g.c
	c.EnableGatewayAPI, c.EnableAppRoutingIstio = api, istio
	if err := c.Save(); err != nil {
		return err
	}
	g.c.EnableGatewayAPI, g.c.EnableAppRoutingIstio = api, istio
	if wasIstio && !istio {
		if err := gatewayapi.RemoveControlPlane(g.ctx, g.kube, g.dyn); err != nil {
			return err
		}
	}
	if wasAPI && !api {
		if g.stopClasses != nil {
			g.stopClasses()
			g.stopClasses = nil
		}
		return gatewayapi.UninstallCRDs(g.ctx, g.ext, g.kube)
	}
	return g.install()
}

// Controllers of other Gateway API implementations AKS offers, which minaks does not run.
var notEmulatedControllers = map[gatewayv1.GatewayController]string{
	"alb.networking.azure.io/alb-controller": "Application Gateway for Containers (alb.networking.azure.io/alb-controller) is not emulated by minaks; use the GatewayClass approuting-istio (--enable-app-routing-istio)",
}

// istioController is Istio's controller name, app routing's; without --enable-app-routing-istio
// (the Istio service mesh add-on's classes included) nothing serves its classes.
const (
	istioController = "istio.io/gateway-controller"
	istioNotEnabled = "no istiod runs for istio.io/gateway-controller: the Istio service mesh add-on is not emulated by minaks; enable app routing's Gateway API implementation (--enable-app-routing-istio) to serve this class"
)

// notEmulatedClasses are the GatewayClass names of those implementations, for Gateways that
// name a class that does not exist.
var notEmulatedClasses = map[gatewayv1.ObjectName]string{
	"istio":              "the Istio service mesh add-on (GatewayClass istio) is not emulated by minaks; use the GatewayClass approuting-istio (--enable-app-routing-istio)",
	"azure-alb-external": "Application Gateway for Containers (GatewayClass azure-alb-external) is not emulated by minaks; use the GatewayClass approuting-istio (--enable-app-routing-istio)",
}

// watchClasses starts, once, the watch that marks other implementations' GatewayClasses not
// Accepted and posts a Warning on Gateways of a class no one provides, saying it is not
// emulated: never silently ignored.
func (g *gatewayAPI) watchClasses() {
	if g.stopClasses != nil {
		return
	}
	ctx, cancel := context.WithCancel(g.ctx)
	g.stopClasses = cancel
	logger := klog.FromContext(ctx).WithName("gateway-api")
	factory := gatewayinformers.NewSharedInformerFactory(g.gw, 10*time.Minute)
	classes := factory.Gateway().V1().GatewayClasses().Informer()
	gateways := factory.Gateway().V1().Gateways().Informer()
	broadcaster := record.NewBroadcaster(record.WithContext(ctx))
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: g.kube.CoreV1().Events("")})
	recorder := broadcaster.NewRecorder(eventScheme(), corev1.EventSource{Component: "minaks"})
	warned := map[string]bool{}
	var mu sync.Mutex
	check := func(any) {
		mu.Lock()
		defer mu.Unlock()
		for _, obj := range classes.GetStore().List() {
			gc := obj.(*gatewayv1.GatewayClass)
			msg, ok := notEmulatedControllers[gc.Spec.ControllerName]
			if gc.Spec.ControllerName == istioController && !g.istio.Load() {
				msg, ok = istioNotEnabled, true
			}
			if !ok {
				continue
			}
			next := gc.DeepCopy()
			meta.SetStatusCondition(&next.Status.Conditions, metav1.Condition{
				Type: string(gatewayv1.GatewayClassConditionStatusAccepted), Status: metav1.ConditionFalse,
				Reason: string(gatewayv1.GatewayClassReasonUnsupported), Message: msg, ObservedGeneration: gc.Generation,
			})
			if !equalConditions(next.Status.Conditions, gc.Status.Conditions) {
				if _, err := g.gw.GatewayV1().GatewayClasses().UpdateStatus(ctx, next, metav1.UpdateOptions{}); err != nil {
					logger.Error(err, "Marking a GatewayClass not emulated", "gatewayClass", gc.Name)
				}
			}
		}
		for _, obj := range gateways.GetStore().List() {
			gw := obj.(*gatewayv1.Gateway)
			msg, ok := notEmulatedClasses[gw.Spec.GatewayClassName]
			if _, exists, _ := classes.GetStore().GetByKey(string(gw.Spec.GatewayClassName)); !ok || exists {
				continue
			}
			key := fmt.Sprintf("%s/%s/%d", gw.Namespace, gw.Name, gw.Generation)
			if !warned[key] {
				warned[key] = true
				recorder.Event(gw, corev1.EventTypeWarning, "GatewayClassNotEmulated", msg)
			}
		}
	}
	g.recheck = func() { go check(nil) }
	handler := cache.ResourceEventHandlerFuncs{AddFunc: check, UpdateFunc: func(_, o any) { check(o) }}
	_, _ = classes.AddEventHandler(handler)
	_, _ = gateways.AddEventHandler(handler)
	factory.Start(ctx.Done())
	go func() {
		<-ctx.Done()
		factory.Shutdown()
		broadcaster.Shutdown()
	}()
}

func equalConditions(a, b []metav1.Condition) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Type != b[i].Type || a[i].Status != b[i].Status || a[i].Reason != b[i].Reason || a[i].Message != b[i].Message || a[i].ObservedGeneration != b[i].ObservedGeneration {
			return false
		}
	}
	return true
}

// eventScheme knows Kubernetes's kinds and Gateway API's, so that Events can name Gateways.
func eventScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(s)
	_ = gatewayscheme.AddToScheme(s)
	return s
}
