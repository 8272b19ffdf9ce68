package ingressnginx

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	v1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/client-go/tools/record"
	"k8s.io/klog/v2"

	"github.com/minaks/minaks/images/ingressnginx/translate"
	"github.com/minaks/minaks/images/internal/informer"
	"github.com/minaks/minaks/images/internal/l7"
)

// controllerName is the component that signs the controller's Events, as ingress-nginx's.
const controllerName = "nginx-ingress-controller"

// syncDelay gathers the changes that arrive together (a Deployment's endpoints, an Ingress and
// its Secret) into one translation; the proxy needs no reload, so it can be short.
const syncDelay = 20 * time.Millisecond

// controller watches what ingress-nginx watches and keeps the proxy serving its translation.
type controller struct {
	flags          *Flags
	client         kubernetes.Interface
	podNS, podName string
	proxy          *l7.Proxy
	fakeCert       *tls.Certificate
	recorder       record.EventRecorder

	factory        informers.SharedInformerFactory
	classFactory   informers.SharedInformerFactory
	ingresses      cache.SharedIndexInformer
	ingressClasses cache.SharedIndexInformer
	services       cache.SharedIndexInformer
	slices         cache.SharedIndexInformer
	secrets        cache.SharedIndexInformer
	configMaps     cache.SharedIndexInformer
	pods           cache.SharedIndexInformer

	trigger chan struct{}
	// statusTrigger asks the status loop to look at the Ingresses' status now.
	statusTrigger chan struct{}
	// served are the Ingresses of the last translation, for the status loop.
	served atomic.Pointer[[]*networkingv1.Ingress]
	leader atomic.Bool
	// synced is set once the first configuration is served: /healthz answers ok from then on.
	synced atomic.Bool
	// onSync is told of every configuration and whether the proxy took it (metrics).
	onSync func(cfg *l7.Config, hash uint64, ok bool)
	// onConfigMap is given the ConfigMap's data at every sync (the access log's settings).
	onConfigMap func(data map[string]string)

	mu     sync.Mutex
	posted map[string]bool // events already posted: uid/generation/type/reason/message
	// configWarnings are the ConfigMap's last warnings, logged when they change.
	configWarnings string
}

func newController(f *Flags, client kubernetes.Interface, podNS, podName string, proxy *l7.Proxy, fakeCert *tls.Certificate) *controller {
	c := &controller{
		flags: f, client: client, podNS: podNS, podName: podName, proxy: proxy, fakeCert: fakeCert,
		trigger: make(chan struct{}, 1), statusTrigger: make(chan struct{}, 1), posted: map[string]bool{},
	}
	var opts []informers.SharedInformerOption
	if f.WatchNamespace != "" {
		opts = append(opts, informers.WithNamespace(f.WatchNamespace))
	}
	c.factory = informers.NewSharedInformerFactoryWithOptions(client, f.SyncPeriod, opts...)
	c.ingresses = c.factory.Networking().V1().Ingresses().Informer()
	// IngressClasses come first: whether an Ingress is ours (its Sync event) depends on them.
	c.classFactory = informers.NewSharedInformerFactory(client, f.SyncPeriod)
	c.ingressClasses = c.classFactory.Networking().V1().IngressClasses().Informer()
	c.services = c.factory.Core().V1().Services().Informer()
	c.slices = c.factory.Discovery().V1().EndpointSlices().Informer()
	c.secrets = c.factory.Core().V1().Secrets().Informer()
	// The controller's own ConfigMap, and its own pods (addresses without a publish service).
	c.configMaps = informers.NewSharedInformerFactoryWithOptions(client, f.SyncPeriod, informers.WithNamespace(podNS)).Core().V1().ConfigMaps().Informer()
	c.pods = informers.NewSharedInformerFactoryWithOptions(client, f.SyncPeriod, informers.WithNamespace(podNS)).Core().V1().Pods().Informer()

	mark := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { c.kick() },
		UpdateFunc: func(any, any) { c.kick() },
		DeleteFunc: func(any) { c.kick() },
	}
	for _, inf := range []cache.SharedIndexInformer{c.ingressClasses, c.services, c.slices, c.secrets, c.configMaps} {
		_, _ = inf.AddEventHandler(mark)
	}
	_, _ = c.ingresses.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) { c.syncEvent(obj); c.kick() },
		UpdateFunc: func(old, obj any) {
			if o, n := old.(*networkingv1.Ingress), obj.(*networkingv1.Ingress); o.Generation != n.Generation || !equality.Semantic.DeepEqual(o.Annotations, n.Annotations) {
				c.syncEvent(obj)
			}
			c.kick()
		},
		DeleteFunc: func(any) { c.kick() },
	})
	_, _ = c.pods.AddEventHandler(cache.ResourceEventHandlerFuncs{
		UpdateFunc: func(any, any) { c.kickStatus() },
	})
	return c
}

// kick asks for a sync; several kicks before it runs make one.
func (c *controller) kick() {
	select {
	case c.trigger <- struct{}{}:
	default:
	}
}

func (c *controller) kickStatus() {
	select {
	case c.statusTrigger <- struct{}{}:
	default:
	}
}

// syncEvent posts ingress-nginx's "Scheduled for sync" on an Ingress this controller serves.
func (c *controller) syncEvent(obj any) {
	ing, ok := obj.(*networkingv1.Ingress)
	if !ok || c.flags.DisableSyncEvents || !c.ours(ing) {
		return
	}
	c.recorder.Eventf(ing, v1.EventTypeNormal, "Sync", "Scheduled for sync")
}

// ours tells whether ing belongs to this controller's class, as the translation decides.
func (c *controller) ours(ing *networkingv1.Ingress) bool {
	return translate.IsOurs(c.translateOptions(), ing, informer.ListOf[*networkingv1.IngressClass](c.ingressClasses))
}

// run starts the informers and serves until ctx is done.
func (c *controller) run(ctx context.Context) error {
	logger := klog.FromContext(ctx)
	broadcaster := record.NewBroadcaster(record.WithContext(ctx))
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: c.client.CoreV1().Events("")})
	defer broadcaster.Shutdown()
	c.recorder = broadcaster.NewRecorder(scheme.Scheme, v1.EventSource{Component: controllerName})

	c.classFactory.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), c.ingressClasses.HasSynced) {
		return ctx.Err()
	}
	c.factory.Start(ctx.Done())
	go c.configMaps.Run(ctx.Done())
	go c.pods.Run(ctx.Done())
	for _, inf := range []cache.SharedIndexInformer{c.ingresses, c.ingressClasses, c.services, c.slices, c.secrets, c.configMaps, c.pods} {
		if !cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
			return ctx.Err()
		}
	}
	logger.Info("Starting NGINX Ingress controller")
	if c.flags.UpdateStatus {
		go c.elect(ctx)
		go c.statusLoop(ctx)
	}
	c.kick()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-c.trigger:
		}
		// Let the changes that come together arrive.
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(syncDelay):
		}
		select {
		case <-c.trigger:
		default:
		}
		c.sync(ctx)
	}
}

func (c *controller) translateOptions() translate.Options {
	return translate.Options{
		IngressClass:               c.flags.IngressClass,
		ControllerClass:            c.flags.ControllerClass,
		WatchIngressWithoutClass:   c.flags.WatchIngressWithoutClass,
		IngressClassByName:         c.flags.IngressClassByName,
		DefaultBackendService:      c.flags.DefaultBackendService,
		DefaultSSLCertificate:      c.flags.DefaultSSLCertificate,
		EnableSSLPassthrough:       c.flags.EnableSSLPassthrough,
		EnableAnnotationValidation: c.flags.EnableAnnotationValidation,
		AnnotationsPrefix:          c.flags.AnnotationsPrefix,
		DisableCatchAll:            c.flags.DisableCatchAll,
		DisableServiceExternalName: c.flags.DisableServiceExternalName,
		HTTPPort:                   c.flags.HTTPPort,
		HTTPSPort:                  c.flags.HTTPSPort,
		FakeCertificate:            c.fakeCert,
	}
}

// sync translates what the informers hold and hands it to the proxy.
func (c *controller) sync(ctx context.Context) {
	logger := klog.FromContext(ctx)
	start := time.Now()
	st := &translate.State{
		Ingresses:      informer.ListOf[*networkingv1.Ingress](c.ingresses),
		IngressClasses: informer.ListOf[*networkingv1.IngressClass](c.ingressClasses),
		Services:       informer.ListOf[*v1.Service](c.services),
		EndpointSlices: informer.ListOf[*discoveryv1.EndpointSlice](c.slices),
		Secrets:        informer.ListOf[*v1.Secret](c.secrets),
	}
	if c.flags.ConfigMap != "" {
		if obj, ok, _ := c.configMaps.GetStore().GetByKey(c.flags.ConfigMap); ok {
			st.ConfigMap = obj.(*v1.ConfigMap).Data
		}
	}
	if c.onConfigMap != nil {
		c.onConfigMap(st.ConfigMap)
	}
	res := translate.Translate(c.translateOptions(), st)
	err := c.proxy.Update(res.Config)
	if err != nil {
		logger.Error(err, "Unexpected failure reconfiguring the proxy")
	}
	if c.onSync != nil {
		c.onSync(res.Config, res.Hash, err == nil)
	}
	c.postEvents(res.Events)
	if w := strings.Join(res.ConfigWarnings, "; "); w != c.configWarnings {
		c.configWarnings = w
		for _, msg := range res.ConfigWarnings {
			logger.Info("ConfigMap setting not applied", "configmap", c.flags.ConfigMap, "reason", msg)
		}
	}
	served := res.Served
	c.served.Store(&served)
	if !c.synced.Swap(true) {
		logger.Info("Initial sync done: serving", "ingresses", len(served), "took", time.Since(start))
	} else {
		logger.V(2).Info("Configuration applied", "ingresses", len(served), "took", time.Since(start))
	}
	c.kickStatus()
}

// postEvents posts the translation's events, each once per Ingress generation.
func (c *controller) postEvents(events []translate.Event) {
	c.mu.Lock()
	defer c.mu.Unlock()
	seen := map[string]bool{}
	for _, e := range events {
		key := fmt.Sprintf("%s/%d/%s/%s/%s", e.Object.UID, e.Object.Generation, e.Type, e.Reason, e.Message)
		seen[key] = true
		if !c.posted[key] {
			c.recorder.Event(e.Object, e.Type, e.Reason, e.Message)
		}
	}
	// Forget what no longer applies, so that it is posted again if it comes back.
	c.posted = seen
}

// elect takes part in the status leader election (a Lease named after --election-id in the
// controller's namespace); only the leader writes Ingress status.
func (c *controller) elect(ctx context.Context) {
	if c.flags.DisableLeaderElection {
		c.leader.Store(true)
		c.kickStatus()
		return
	}
	lock := &resourcelock.LeaseLock{
		LeaseMeta:  metav1.ObjectMeta{Namespace: c.podNS, Name: c.flags.ElectionID},
		Client:     c.client.CoordinationV1(),
		LockConfig: resourcelock.ResourceLockConfig{Identity: c.podName, EventRecorder: c.recorder},
	}
	ttl := c.flags.ElectionTTL
	for ctx.Err() == nil {
		leaderelection.RunOrDie(ctx, leaderelection.LeaderElectionConfig{
			Lock:            lock,
			LeaseDuration:   ttl,
			RenewDeadline:   ttl / 2,
			RetryPeriod:     ttl / 4,
			ReleaseOnCancel: true,
			Callbacks: leaderelection.LeaderCallbacks{
				OnStartedLeading: func(context.Context) {
					klog.FromContext(ctx).Info("new leader elected", "identity", c.podName)
					c.leader.Store(true)
					c.kickStatus()
				},
				OnStoppedLeading: func() { c.leader.Store(false) },
			},
		})
	}
}

// statusLoop keeps the served Ingresses' status.loadBalancer at the controller's address:
// after every sync, when the controller's pods change, and every --status-update-interval.
func (c *controller) statusLoop(ctx context.Context) {
	t := time.NewTicker(c.flags.StatusUpdateInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-c.statusTrigger:
		}
		if c.leader.Load() {
			c.updateStatus(ctx)
		}
	}
}

// addresses is what goes to the Ingresses' status: the publish service's load balancer (or its
// external IPs, or its ClusterIP), --publish-status-address, or the nodes of the controller's
// pods, as ingress-nginx's status sync computes it.
func (c *controller) addresses(ctx context.Context) []networkingv1.IngressLoadBalancerIngress {
	var out []networkingv1.IngressLoadBalancerIngress
	add := func(s string) {
		if s == "" {
			return
		}
		if _, err := netip.ParseAddr(s); err == nil {
			out = append(out, networkingv1.IngressLoadBalancerIngress{IP: s})
		} else {
			out = append(out, networkingv1.IngressLoadBalancerIngress{Hostname: s})
		}
	}
	switch {
	case c.flags.PublishStatusAddress != "":
		for _, a := range strings.Split(c.flags.PublishStatusAddress, ",") {
			add(strings.TrimSpace(a))
		}
	case c.flags.PublishService != "":
		obj, ok, _ := c.services.GetStore().GetByKey(c.flags.PublishService)
		if !ok {
			return nil
		}
		svc := obj.(*v1.Service)
		if svc.Spec.Type == v1.ServiceTypeExternalName {
			add(svc.Spec.ExternalName)
			break
		}
		for _, ing := range svc.Status.LoadBalancer.Ingress {
			if ing.IP != "" {
				add(ing.IP)
			} else {
				add(ing.Hostname)
			}
		}
		for _, ip := range svc.Spec.ExternalIPs {
			add(ip)
		}
	default:
		// The nodes of this controller's replicas: the pods with this pod's labels, as
		// ingress-nginx finds them (pod-template-hash aside).
		sel := labels.Nothing()
		if obj, ok, _ := c.pods.GetStore().GetByKey(c.podNS + "/" + c.podName); ok {
			own := labels.Set{}
			for k, v := range obj.(*v1.Pod).Labels {
				if k != "pod-template-hash" {
					own[k] = v
				}
			}
			sel = own.AsSelector()
		}
		for _, p := range informer.ListOf[*v1.Pod](c.pods) {
			if p.Spec.NodeName == "" || p.Status.Phase != v1.PodRunning || !sel.Matches(labels.Set(p.Labels)) {
				continue
			}
			node, err := c.client.CoreV1().Nodes().Get(ctx, p.Spec.NodeName, metav1.GetOptions{})
			if err != nil {
				continue
			}
			want := v1.NodeExternalIP
			if c.flags.ReportNodeInternalIP {
				want = v1.NodeInternalIP
			}
			for _, a := range node.Status.Addresses {
				if a.Type == want {
					add(a.Address)
				}
			}
		}
	}
	slices.SortFunc(out, func(a, b networkingv1.IngressLoadBalancerIngress) int {
		return strings.Compare(a.IP+a.Hostname, b.IP+b.Hostname)
	})
	return slices.CompactFunc(out, func(a, b networkingv1.IngressLoadBalancerIngress) bool {
		return a.IP == b.IP && a.Hostname == b.Hostname
	})
}

// updateStatus writes the addresses into every served Ingress whose status differs.
func (c *controller) updateStatus(ctx context.Context) {
	served := c.served.Load()
	if served == nil {
		return
	}
	want := c.addresses(ctx)
	for _, ing := range *served {
		obj, ok, _ := c.ingresses.GetStore().GetByKey(ing.Namespace + "/" + ing.Name)
		if !ok {
			continue
		}
		cur := obj.(*networkingv1.Ingress)
		if equality.Semantic.DeepEqual(cur.Status.LoadBalancer.Ingress, want) ||
			len(cur.Status.LoadBalancer.Ingress) == 0 && len(want) == 0 {
			continue
		}
		upd := cur.DeepCopy()
		upd.Status.LoadBalancer.Ingress = want
		if _, err := c.client.NetworkingV1().Ingresses(cur.Namespace).UpdateStatus(ctx, upd, metav1.UpdateOptions{}); err != nil {
			klog.FromContext(ctx).Error(err, "error updating ingress status", "ingress", types.NamespacedName{Namespace: cur.Namespace, Name: cur.Name})
			continue
		}
		klog.FromContext(ctx).Info("updating Ingress status", "namespace", cur.Namespace, "ingress", cur.Name, "currentValue", cur.Status.LoadBalancer.Ingress, "newValue", want)
	}
}

// hostPort splits "host:port" for the listeners' addresses.
func listenAddr(host string, port int) string {
	return net.JoinHostPort(host, fmt.Sprint(port))
}
