package istio

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"reflect"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/client-go/tools/record"
	"k8s.io/klog/v2"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	gatewayclient "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned"
	gatewayscheme "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned/scheme"
	"sigs.k8s.io/yaml"

	"github.com/minaks/minaks/images/internal/informer"
	"github.com/minaks/minaks/images/internal/serve"
	"github.com/minaks/minaks/images/istio/translate"
	"github.com/minaks/minaks/pkg/apiserver/addons/gatewayapi"
	"github.com/minaks/minaks/pkg/apiserver/apply"
)

const (
	// statusLease is the Lease whose holder writes statuses and deploys Gateways, as istiod's
	// leader does.
	statusLease = "istio-gateway-status-leader"
	// reapply is how often the leader applies every Gateway's objects again, whatever changed:
	// it puts back what was edited behind its back.
	reapply = 5 * time.Minute
	// gather lets the changes that come together arrive before a translation.
	gather = 20 * time.Millisecond
)

// pilot is istiod, as far as app routing's Gateway API implementation needs it: it renders
// each Gateway's Deployment, Service, HPA and PDB, writes the Gateway API statuses, publishes
// its root certificate in every namespace, and serves each gateway proxy its state.
type pilot struct {
	ns, pod  string
	kube     kubernetes.Interface
	gateways gatewayclient.Interface
	w        *watch
	server   *stateServer
	root     []byte

	deployments, configMaps cache.SharedIndexInformer
	recorder                record.EventRecorder
	// warned are the Warning Events posted, so that each is posted once per generation.
	warned    map[string]bool
	leader    bool
	applied   map[string]string // object key → hash of what was applied
	appliedAt time.Time
	ready     chan struct{}
}

// pilotMain is `pilot-discovery discovery [flags]`.
func pilotMain(args []string) int {
	if len(args) == 0 || args[0] != "discovery" {
		fmt.Fprintln(os.Stderr, "Usage: pilot-discovery discovery [flags]: minaks's istiod runs the discovery service only")
		return 2
	}
	logger := klog.Background().WithName("istiod")
	ctx, _ := serve.SignalContext()
	ctx = klog.NewContext(ctx, logger)
	if err := runPilot(ctx); err != nil {
		logger.Error(err, "istiod stopped")
		return 1
	}
	return 0
}

// restConfig is $KUBECONFIG when that file exists (AKS mounts a remote kubeconfig there),
// the pod's service account otherwise.
func restConfig() (*rest.Config, error) {
	if p := os.Getenv("KUBECONFIG"); p != "" {
		if _, err := os.Stat(p); err == nil {
			return clientcmd.BuildConfigFromFlags("", p)
		}
	}
	return rest.InClusterConfig()
}

func runPilot(ctx context.Context) error {
	logger := klog.FromContext(ctx)
	cfg, err := restConfig()
	if err != nil {
		return err
	}
	cfg.QPS, cfg.Burst = 100, 200
	p := &pilot{ns: os.Getenv("POD_NAMESPACE"), pod: os.Getenv("POD_NAME"), applied: map[string]string{}, warned: map[string]bool{}, ready: make(chan struct{})}
	if p.ns == "" {
		p.ns = gatewayapi.IstioNamespace
	}
	if p.kube, err = kubernetes.NewForConfig(cfg); err != nil {
		return err
	}
	if p.gateways, err = gatewayclient.NewForConfig(cfg); err != nil {
		return err
	}
	authority, err := loadOrCreateCA(ctx, p.kube, p.ns)
	if err != nil {
		return err
	}
	p.root = authority.certPEM
	serving, err := authority.servingCertificate([]string{
		gatewayapi.IstiodName + "." + p.ns + ".svc",
		gatewayapi.IstiodName + "." + p.ns + ".svc." + clusterDomain,
		gatewayapi.IstiodName,
	})
	if err != nil {
		return err
	}

	p.w = newWatch(p.kube, p.gateways)
	extra := informers.NewSharedInformerFactory(p.kube, 0)
	p.deployments = extra.Apps().V1().Deployments().Informer()
	p.configMaps = extra.Core().V1().ConfigMaps().Informer()
	p.w.extra = []cache.SharedIndexInformer{p.deployments, p.configMaps}
	for _, inf := range p.w.extra {
		p.w.notify(inf)
	}
	p.server = newStateServer(p.kube)
	broadcaster := record.NewBroadcaster(record.WithContext(ctx))
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: p.kube.CoreV1().Events("")})
	defer broadcaster.Shutdown()
	p.recorder = broadcaster.NewRecorder(eventScheme(), corev1.EventSource{Component: "istiod"})

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	servers := []*http.Server{
		{Addr: ":15012", Handler: p.server, TLSConfig: &tls.Config{Certificates: []tls.Certificate{*serving}, MinVersion: tls.VersionTLS12}},
		{Addr: ":8080", Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			select {
			case <-p.ready:
				_, _ = w.Write([]byte("ok"))
			default:
				http.Error(w, "not ready: caches are syncing", http.StatusServiceUnavailable)
			}
		})},
		{Addr: ":15014", Handler: promhttp.HandlerFor(reg, promhttp.HandlerOpts{})},
	}
	for _, srv := range servers {
		srv.ReadHeaderTimeout = 10 * time.Second
		go func() {
			var err error
			if srv.TLSConfig != nil {
				err = srv.ListenAndServeTLS("", "")
			} else {
				err = srv.ListenAndServe()
			}
			if err != nil && !errors.Is(err, http.ErrServerClosed) {
				logger.Error(err, "Server", "addr", srv.Addr)
			}
		}()
		defer srv.Close()
	}

	extra.Start(ctx.Done())
	if !p.w.start(ctx) {
		return ctx.Err()
	}
	logger.Info("Caches synced; serving gateway proxies on :15012")
	close(p.ready)

	leading := make(chan bool, 1)
	go p.elect(ctx, leading)
	p.w.kick()
	for {
		select {
		case <-ctx.Done():
			return nil
		case l := <-leading:
			p.leader = l
			p.applied = map[string]string{}
			p.w.kick()
			continue
		default:
		}
		if !p.w.settle(ctx, gather) {
			return nil
		}
		select {
		case l := <-leading:
			p.leader = l
			p.applied = map[string]string{}
		default:
		}
		p.sync(ctx)
	}
}

// elect takes part in the leader election of statusLease; leading gets every change.
func (p *pilot) elect(ctx context.Context, leading chan<- bool) {
	lock := &resourcelock.LeaseLock{
		LeaseMeta:  metav1.ObjectMeta{Namespace: p.ns, Name: statusLease},
		Client:     p.kube.CoordinationV1(),
		LockConfig: resourcelock.ResourceLockConfig{Identity: p.pod},
	}
	for ctx.Err() == nil {
		leaderelection.RunOrDie(ctx, leaderelection.LeaderElectionConfig{
			Lock: lock, LeaseDuration: 15 * time.Second, RenewDeadline: 10 * time.Second, RetryPeriod: 2 * time.Second,
			ReleaseOnCancel: true,
			Callbacks: leaderelection.LeaderCallbacks{
				OnStartedLeading: func(context.Context) { leading <- true; p.w.kick() },
				OnStoppedLeading: func() { leading <- false },
			},
		})
	}
}

// sync translates the cluster, hands the state to the proxies and, as the leader, deploys
// Gateways and writes statuses.
func (p *pilot) sync(ctx context.Context) {
	logger := klog.FromContext(ctx)
	st := p.w.state()
	p.server.publish(st, p.accessLog())
	if !p.leader {
		return
	}
	if err := p.publishRootCert(ctx); err != nil {
		logger.Error(err, "Publishing the root certificate")
	}
	res := translate.Translate(translate.Options{}, st, p.programmed)
	if time.Since(p.appliedAt) > reapply {
		p.applied, p.appliedAt = map[string]string{}, time.Now()
	}
	for _, gw := range st.Gateways {
		if _, ours := res.GatewayStatus[types.NamespacedName{Namespace: gw.Namespace, Name: gw.Name}]; !ours {
			continue
		}
		if err := p.deploy(ctx, gw); err != nil {
			logger.Error(err, "Deploying Gateway", "gateway", klog.KObj(gw))
			p.warn(gw, "DeploymentFailed", "istiod cannot deploy the Gateway: "+err.Error())
		}
	}
	if err := p.writeStatuses(ctx, res); err != nil {
		logger.Error(err, "Writing statuses")
	}
}

// warn posts a Warning Event on gw, once per generation and message.
func (p *pilot) warn(gw *gatewayv1.Gateway, reason, msg string) {
	key := fmt.Sprintf("%s/%s/%d/%s", gw.Namespace, gw.Name, gw.Generation, msg)
	if p.warned[key] {
		return
	}
	if len(p.warned) > 10000 {
		p.warned = map[string]bool{}
	}
	p.warned[key] = true
	p.recorder.Event(gw, corev1.EventTypeWarning, reason, msg)
}

// programmed tells whether a Gateway's Deployment has a ready pod, and its Service's
// addresses.
func (p *pilot) programmed(gw types.NamespacedName) ([]gatewayv1.GatewayStatusAddress, bool) {
	obj := &gatewayv1.Gateway{}
	for _, g := range informer.ListOf[*gatewayv1.Gateway](p.w.gateways) {
		if g.Namespace == gw.Namespace && g.Name == gw.Name {
			obj = g
		}
	}
	name := gatewayapi.ResourceName(obj)
	ready := false
	if d, ok, _ := p.deployments.GetStore().GetByKey(gw.Namespace + "/" + name); ok {
		ready = d.(*appsv1.Deployment).Status.ReadyReplicas > 0
	}
	var addrs []gatewayv1.GatewayStatusAddress
	if s, ok, _ := p.w.services.GetStore().GetByKey(gw.Namespace + "/" + name); ok {
		for _, ing := range s.(*corev1.Service).Status.LoadBalancer.Ingress {
			switch {
			case ing.IP != "":
				addrs = append(addrs, gatewayv1.GatewayStatusAddress{Type: ptrTo(gatewayv1.IPAddressType), Value: ing.IP})
			case ing.Hostname != "":
				addrs = append(addrs, gatewayv1.GatewayStatusAddress{Type: ptrTo(gatewayv1.HostnameAddressType), Value: ing.Hostname})
			}
		}
	}
	return addrs, ready && len(addrs) > 0
}

func ptrTo[T any](v T) *T { return &v }

// deploy applies the objects istiod renders for gw, when they changed since the last time.
func (p *pilot) deploy(ctx context.Context, gw *gatewayv1.Gateway) error {
	opts := gatewayapi.GatewayOptions{ClassDefaults: p.classDefaults(string(gw.Spec.GatewayClassName))}
	if ref, err := gatewayapi.ParametersRef(gw); err == nil && ref != nil {
		if obj, ok, _ := p.configMaps.GetStore().GetByKey(ref.Namespace + "/" + ref.Name); ok {
			opts.Parameters = obj.(*corev1.ConfigMap).Data
		}
	}
	objs, err := gatewayapi.GatewayObjects(gw, opts)
	if err != nil {
		return err
	}
	var todo []runtime.Object
	for _, obj := range objs {
		key, hash := objectKey(obj), objectHash(obj)
		if p.applied[key] != hash || !p.exists(obj) {
			todo = append(todo, obj)
			p.applied[key] = hash
		}
	}
	if len(todo) == 0 {
		return nil
	}
	if err := apply.Objects(ctx, p.kube, todo...); err != nil {
		for _, obj := range todo {
			delete(p.applied, objectKey(obj))
		}
		return err
	}
	return nil
}

// exists tells whether the watched copy of obj is there (Deployments and Services are
// watched; the rest is trusted to the periodic re-apply).
func (p *pilot) exists(obj runtime.Object) bool {
	m := obj.(metav1.Object)
	key := m.GetNamespace() + "/" + m.GetName()
	switch obj.(type) {
	case *appsv1.Deployment:
		_, ok, _ := p.deployments.GetStore().GetByKey(key)
		return ok
	case *corev1.Service:
		_, ok, _ := p.w.services.GetStore().GetByKey(key)
		return ok
	}
	return true
}

func objectKey(obj runtime.Object) string {
	m := obj.(metav1.Object)
	return fmt.Sprintf("%T/%s/%s", obj, m.GetNamespace(), m.GetName())
}

func objectHash(obj runtime.Object) string {
	b, _ := json.Marshal(obj)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// accessLog tells whether the mesh configuration (ConfigMap istio, key mesh) has the proxies
// log requests: accessLogFile set, as AKS sets it to /dev/stdout.
func (p *pilot) accessLog() bool {
	obj, ok, _ := p.configMaps.GetStore().GetByKey(p.ns + "/" + gatewayapi.MeshConfigName)
	if !ok {
		return false
	}
	var mesh struct {
		AccessLogFile string `json:"accessLogFile"`
	}
	if err := yaml.Unmarshal([]byte(obj.(*corev1.ConfigMap).Data["mesh"]), &mesh); err != nil {
		return false
	}
	return mesh.AccessLogFile != ""
}

// classDefaults is the data of the ConfigMap in istiod's namespace labelled as the defaults
// of class.
func (p *pilot) classDefaults(class string) map[string]string {
	for _, cm := range informer.ListOf[*corev1.ConfigMap](p.configMaps) {
		if cm.Namespace == p.ns && cm.Labels[gatewayapi.ClassDefaultsLabel] == class {
			return cm.Data
		}
	}
	return nil
}

// publishRootCert keeps the ConfigMap istio-ca-root-cert (root-cert.pem) in every namespace,
// as istiod's namespace controller does: gateway pods mount it to trust istiod.
func (p *pilot) publishRootCert(ctx context.Context) error {
	var errs []error
	for _, ns := range informer.ListOf[*corev1.Namespace](p.w.namespaces) {
		if ns.Status.Phase == corev1.NamespaceTerminating {
			continue
		}
		if obj, ok, _ := p.configMaps.GetStore().GetByKey(ns.Name + "/" + gatewayapi.RootCertName); ok &&
			obj.(*corev1.ConfigMap).Data[rootCertKey] == string(p.root) {
			continue
		}
		cm := &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns.Name, Name: gatewayapi.RootCertName,
				Labels: map[string]string{"istio.io/config": "true"}},
			Data: map[string]string{rootCertKey: string(p.root)},
		}
		_, err := p.kube.CoreV1().ConfigMaps(ns.Name).Update(ctx, cm, metav1.UpdateOptions{})
		if apierrors.IsNotFound(err) {
			_, err = p.kube.CoreV1().ConfigMaps(ns.Name).Create(ctx, cm, metav1.CreateOptions{})
		}
		if err != nil && !apierrors.IsAlreadyExists(err) && !apierrors.IsForbidden(err) {
			errs = append(errs, fmt.Errorf("%s/%s: %w", ns.Name, gatewayapi.RootCertName, err))
		}
	}
	return errors.Join(errs...)
}

// writeStatuses merges the translation's statuses into the objects and writes those that
// changed.
func (p *pilot) writeStatuses(ctx context.Context, res *translate.Result) error {
	now := metav1.Now()
	api := p.gateways.GatewayV1()
	var errs []error
	for _, gc := range informer.ListOf[*gatewayv1.GatewayClass](p.w.classes) {
		want, ok := res.GatewayClassStatus[gc.Name]
		if !ok {
			continue
		}
		next := gc.DeepCopy()
		next.Status.Conditions, _ = translate.MergeConditions(gc.Status.Conditions, want.Conditions, now)
		next.Status.SupportedFeatures = want.SupportedFeatures
		if !reflect.DeepEqual(next.Status, gc.Status) {
			if _, err := api.GatewayClasses().UpdateStatus(ctx, next, metav1.UpdateOptions{}); err != nil {
				errs = append(errs, fmt.Errorf("GatewayClass %s: %w", gc.Name, err))
			}
		}
	}
	for _, gw := range informer.ListOf[*gatewayv1.Gateway](p.w.gateways) {
		want, ok := res.GatewayStatus[types.NamespacedName{Namespace: gw.Namespace, Name: gw.Name}]
		if !ok {
			continue
		}
		next := gw.DeepCopy()
		next.Status.Addresses = want.Addresses
		next.Status.Conditions, _ = translate.MergeConditions(gw.Status.Conditions, want.Conditions, now)
		next.Status.Listeners = nil
		for _, l := range want.Listeners {
			var old []metav1.Condition
			for _, o := range gw.Status.Listeners {
				if o.Name == l.Name {
					old = o.Conditions
				}
			}
			l.Conditions, _ = translate.MergeConditions(old, l.Conditions, now)
			next.Status.Listeners = append(next.Status.Listeners, l)
		}
		if !reflect.DeepEqual(next.Status, gw.Status) {
			if _, err := api.Gateways(gw.Namespace).UpdateStatus(ctx, next, metav1.UpdateOptions{}); err != nil && !apierrors.IsConflict(err) {
				errs = append(errs, fmt.Errorf("Gateway %s/%s: %w", gw.Namespace, gw.Name, err))
			}
		}
	}
	for _, r := range informer.ListOf[*gatewayv1.HTTPRoute](p.w.httpRoutes) {
		want, ok := res.HTTPRouteStatus[types.NamespacedName{Namespace: r.Namespace, Name: r.Name}]
		if !ok {
			continue
		}
		parents, changed := translate.MergeRouteParents(r.Status.Parents, want.Parents, translate.DefaultControllerName, now)
		if changed {
			next := r.DeepCopy()
			next.Status.Parents = parents
			if _, err := api.HTTPRoutes(r.Namespace).UpdateStatus(ctx, next, metav1.UpdateOptions{}); err != nil && !apierrors.IsConflict(err) {
				errs = append(errs, fmt.Errorf("HTTPRoute %s/%s: %w", r.Namespace, r.Name, err))
			}
		}
	}
	for _, r := range informer.ListOf[*gatewayv1.GRPCRoute](p.w.grpcRoutes) {
		want, ok := res.GRPCRouteStatus[types.NamespacedName{Namespace: r.Namespace, Name: r.Name}]
		if !ok {
			continue
		}
		parents, changed := translate.MergeRouteParents(r.Status.Parents, want.Parents, translate.DefaultControllerName, now)
		if changed {
			next := r.DeepCopy()
			next.Status.Parents = parents
			if _, err := api.GRPCRoutes(r.Namespace).UpdateStatus(ctx, next, metav1.UpdateOptions{}); err != nil && !apierrors.IsConflict(err) {
				errs = append(errs, fmt.Errorf("GRPCRoute %s/%s: %w", r.Namespace, r.Name, err))
			}
		}
	}
	return errors.Join(errs...)
}

// eventScheme knows Kubernetes's kinds and Gateway API's, so that Events can name Gateways.
func eventScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(s)
	_ = gatewayscheme.AddToScheme(s)
	return s
}
