package approuting

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	v1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apiextensionsclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"

	"github.com/minaks/minaks/pkg/apiserver/apply"
)

const (
	// resyncPeriod is how often every controller is synced again whatever happened: the
	// operator's period for the default controller, and a bound on any drift missed.
	resyncPeriod = 3 * time.Minute
	// collisionRetry is how soon a controller stuck on a collision is looked at again; the
	// user has to fix it.
	collisionRetry = time.Minute
	// defaultKey is the work queue's key for "ensure the default controller"; a colon is never
	// in an object name, so it cannot be a controller's key.
	defaultKey = ":default"
)

// Operator is the app routing operator that AKS runs in its control plane for
// --enable-app-routing, run by the minaks daemon: it installs the NginxIngressController CRD,
// keeps the default controller for DefaultMode, and for every NginxIngressController keeps its
// objects (Objects) as they should be and its status up to date. Set the fields, then call Run.
type Operator struct {
	Client     kubernetes.Interface
	Dynamic    dynamic.Interface
	Extensions apiextensionsclient.Interface
	// DefaultMode is --app-routing-default-nginx-controller: AnnotationControlled, External,
	// Internal or None.
	DefaultMode string
	Options     Options
	// Now is the clock of status conditions; time.Now when nil.
	Now func() time.Time

	queue     workqueue.TypedRateLimitingInterface[string]
	recorder  record.EventRecorder
	nics      cache.GenericLister
	informers map[string]cache.SharedIndexInformer // by kind
}

// Run installs the CRD and waits until it is established, then reconciles until ctx ends. It
// returns an error only when it cannot start.
func (o *Operator) Run(ctx context.Context) error {
	logger := klog.FromContext(ctx).WithValues("component", OperatorName)
	ctx = klog.NewContext(ctx, logger)
	if _, err := DefaultController(o.DefaultMode); err != nil {
		return fmt.Errorf("app routing operator: %w", err)
	}
	if err := apply.CRDs(ctx, o.Extensions, CRD()); err != nil {
		return fmt.Errorf("app routing operator: %w", err)
	}

	broadcaster := record.NewBroadcaster(record.WithContext(ctx))
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: o.Client.CoreV1().Events("")})
	defer broadcaster.Shutdown()
	o.recorder = broadcaster.NewRecorder(scheme.Scheme, v1.EventSource{Component: OperatorName})
	o.queue = workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
		workqueue.TypedRateLimitingQueueConfig[string]{Name: "approuting"})
	defer o.queue.ShutDown()

	// Namespaced objects are watched in app-routing-system only, but all of them, labelled or
	// not: an object in the way of a controller's names is a collision.
	inNamespace := informers.NewSharedInformerFactoryWithOptions(o.Client, 0, informers.WithNamespace(Namespace))
	cluster := informers.NewSharedInformerFactory(o.Client, 0)
	o.informers = map[string]cache.SharedIndexInformer{}
	var synced []cache.InformerSynced
	for _, k := range managedKinds {
		factory := cluster
		if k.namespaced {
			factory = inNamespace
		}
		inf := k.informer(factory)
		enqueue := o.enqueueOwner
		if k.kind == "IngressClass" {
			enqueue = o.enqueueClassUsers
		}
		handler := cache.ResourceEventHandlerFuncs{
			AddFunc: enqueue,
			UpdateFunc: func(old, cur any) {
				if changed(old, cur) {
					enqueue(cur)
				}
			},
			DeleteFunc: enqueue,
		}
		if _, err := inf.AddEventHandler(handler); err != nil {
			return fmt.Errorf("app routing operator: watch %s: %w", k.kind, err)
		}
		o.informers[k.kind] = inf
		synced = append(synced, inf.HasSynced)
	}
	nicFactory := dynamicinformer.NewDynamicSharedInformerFactory(o.Dynamic, resyncPeriod)
	nicInformer := nicFactory.ForResource(GroupVersionResource)
	o.nics = nicInformer.Lister()
	if _, err := nicInformer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    o.enqueueController,
		UpdateFunc: func(_, obj any) { o.enqueueController(obj) },
		DeleteFunc: o.enqueueController,
	}); err != nil {
		return fmt.Errorf("app routing operator: watch NginxIngressControllers: %w", err)
	}
	synced = append(synced, nicInformer.Informer().HasSynced)

	inNamespace.Start(ctx.Done())
	cluster.Start(ctx.Done())
	nicFactory.Start(ctx.Done())
	defer inNamespace.Shutdown()
	defer cluster.Shutdown()
	defer nicFactory.Shutdown()
	if !cache.WaitForCacheSync(ctx.Done(), synced...) {
		return fmt.Errorf("app routing operator: caches did not sync: %w", ctx.Err())
	}
	logger.Info("Starting app routing operator", "defaultController", o.DefaultMode)
	o.queue.Add(defaultKey)
	// One worker: syncs never race for a name suffix (the operator serializes them by prefix).
	done := make(chan struct{})
	go func() {
		defer close(done)
		wait.UntilWithContext(ctx, func(ctx context.Context) {
			for o.processNext(ctx) {
			}
		}, time.Second)
	}()
	<-ctx.Done()
	o.queue.ShutDown()
	<-done
	return nil
}

// enqueueController marks the NginxIngressController obj for a sync, and the default
// controller's ensuring when obj is the default one (it may have been deleted).
func (o *Operator) enqueueController(obj any) {
	m, ok := accessor(obj)
	if !ok {
		return
	}
	o.queue.Add(m.GetName())
	if m.GetName() == DefaultName {
		o.queue.Add(defaultKey)
	}
}

// enqueueOwner marks the NginxIngressController that controls obj for a sync: obj was
// created, changed or deleted, by the operator or behind its back.
func (o *Operator) enqueueOwner(obj any) {
	m, ok := accessor(obj)
	if !ok {
		return
	}
	if name := ownerName(m); name != "" {
		o.queue.Add(name)
	}
}

// enqueueClassUsers marks for a sync the IngressClass's owner and every controller that wants
// that class: a collision may have appeared or gone.
func (o *Operator) enqueueClassUsers(obj any) {
	m, ok := accessor(obj)
	if !ok {
		return
	}
	o.enqueueOwner(m)
	for _, nic := range o.controllers() {
		if nic.Spec.IngressClassName == m.GetName() {
			o.queue.Add(nic.Name)
		}
	}
}

// changed reports whether an update changed more than an object's resource version and managed
// fields: a server-side apply that changed nothing is no news (the API server sends no event for
// it; client-go's fake clients do).
func changed(old, cur any) bool {
	o, ok1 := old.(runtime.Object)
	c, ok2 := cur.(runtime.Object)
	if !ok1 || !ok2 {
		return true
	}
	o, c = o.DeepCopyObject(), c.DeepCopyObject()
	for _, obj := range []runtime.Object{o, c} {
		if m, err := meta.Accessor(obj); err == nil {
			m.SetResourceVersion("")
			m.SetManagedFields(nil)
		}
	}
	return !equality.Semantic.DeepEqual(o, c)
}

func accessor(obj any) (metav1.Object, bool) {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	m, err := meta.Accessor(obj)
	return m, err == nil
}

// ownerName is the name of the NginxIngressController that m's owner references name (the
// operator looks at the kind and the name, not the UID), or "".
func ownerName(m metav1.Object) string {
	for _, ref := range m.GetOwnerReferences() {
		if ref.Kind == Kind {
			return ref.Name
		}
	}
	return ""
}

// controllers are the NginxIngressControllers in the cache.
func (o *Operator) controllers() []*NginxIngressController {
	objs, err := o.nics.List(labels.Everything())
	if err != nil {
		return nil
	}
	var out []*NginxIngressController
	for _, obj := range objs {
		if nic, err := fromObject(obj); err == nil {
			out = append(out, nic)
		}
	}
	return out
}

func fromObject(obj runtime.Object) (*NginxIngressController, error) {
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return nil, fmt.Errorf("NginxIngressController is a %T", obj)
	}
	return FromUnstructured(u.Object)
}

func (o *Operator) processNext(ctx context.Context) bool {
	key, quit := o.queue.Get()
	if quit {
		return false
	}
	defer o.queue.Done(key)
	if err := o.sync(ctx, key); err != nil {
		klog.FromContext(ctx).Error(err, "Sync failed, retrying", "key", key)
		o.queue.AddRateLimited(key)
		return true
	}
	o.queue.Forget(key)
	return true
}

func (o *Operator) sync(ctx context.Context, key string) error {
	if key == defaultKey {
		return o.ensureDefault(ctx)
	}
	return o.syncController(ctx, key)
}

func (o *Operator) now() metav1.Time {
	if o.Now != nil {
		return metav1.NewTime(o.Now())
	}
	return metav1.Now()
}

// ensureDefault creates the default controller when it is missing (unless the mode is None),
// and in the External and Internal modes puts back the azure-load-balancer-internal annotation
// a user changed; the rest of the default controller is the users'.
func (o *Operator) ensureDefault(ctx context.Context) error {
	want, err := DefaultController(o.DefaultMode)
	if err != nil || want == nil {
		return err
	}
	nics := o.Dynamic.Resource(GroupVersionResource)
	obj, err := o.nics.Get(DefaultName)
	if apierrors.IsNotFound(err) {
		u, err := ToUnstructured(want)
		if err != nil {
			return fmt.Errorf("encode default NginxIngressController: %w", err)
		}
		_, err = nics.Create(ctx, &unstructured.Unstructured{Object: u}, metav1.CreateOptions{FieldManager: apply.FieldManager})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create default NginxIngressController: %w", err)
		}
		klog.FromContext(ctx).Info("Created the default NginxIngressController", "mode", o.DefaultMode)
		return nil
	}
	if err != nil {
		return fmt.Errorf("get default NginxIngressController: %w", err)
	}
	cur, err := fromObject(obj)
	if err != nil {
		return fmt.Errorf("decode default NginxIngressController: %w", err)
	}
	wantValue, enforced := want.Spec.LoadBalancerAnnotations[InternalAnnotation]
	if !enforced {
		return nil
	}
	if v, ok := cur.Spec.LoadBalancerAnnotations[InternalAnnotation]; ok && v == wantValue {
		return nil
	}
	// Only the one annotation (a merge patch): the operator enforces it, the others are the
	// users'.
	patch := map[string]any{"spec": map[string]any{"loadBalancerAnnotations": map[string]any{InternalAnnotation: wantValue}}}
	data, err := json.Marshal(patch)
	if err != nil {
		return fmt.Errorf("encode default NginxIngressController annotation: %w", err)
	}
	if _, err := nics.Patch(ctx, DefaultName, types.MergePatchType, data, metav1.PatchOptions{FieldManager: apply.FieldManager}); err != nil {
		return fmt.Errorf("set %s=%s on the default NginxIngressController: %w", InternalAnnotation, wantValue, err)
	}
	return nil
}

// syncController brings the controller name's objects and status to what they should be, or
// removes its objects when it is gone.
func (o *Operator) syncController(ctx context.Context, name string) error {
	obj, err := o.nics.Get(name)
	if apierrors.IsNotFound(err) {
		return o.removeObjectsOf(ctx, name)
	}
	if err != nil {
		return fmt.Errorf("get NginxIngressController %s: %w", name, err)
	}
	nic, err := fromObject(obj)
	if err != nil {
		return fmt.Errorf("decode NginxIngressController %s: %w", name, err)
	}
	if nic.DeletionTimestamp != nil {
		return nil
	}
	logger := klog.FromContext(ctx).WithValues("nginxIngressController", name)

	count, collision := o.collisionCount(nic)
	if collision == nil && count != nic.Status.CollisionCount {
		// Names are settled first; the next sync creates the objects under the new names.
		logger.Info("Names taken, moving to the next suffix", "collisionCount", count)
		nic.Status.CollisionCount = count
		if err := o.updateStatus(ctx, nic); err != nil {
			return err
		}
		o.queue.Add(name)
		return nil
	}
	if collision != nil {
		o.warnCollision(nic, collision)
		status := Status(nic, nil, nil, nil, collision, o.now())
		if err := o.writeStatus(ctx, nic, status); err != nil {
			return err
		}
		o.queue.AddAfter(name, collisionRetry)
		return nil
	}

	objs := Objects(nic, o.Options)
	if err := apply.Objects(ctx, o.Client, objs...); err != nil {
		o.recorder.Eventf(reference(nic), v1.EventTypeWarning, "EnsuringManagedResourcesFailed",
			"Failed to ensure managed resources: %s", err)
		deploy, ic := o.observed(nic)
		if statusErr := o.writeStatus(ctx, nic, Status(nic, deploy, ic, nil, nil, o.now())); statusErr != nil {
			err = errors.Join(err, statusErr)
		}
		return fmt.Errorf("NginxIngressController %s: %w", name, err)
	}
	deploy, ic := o.observed(nic)
	return o.writeStatus(ctx, nic, Status(nic, deploy, ic, refs(objs), nil, o.now()))
}

// observed returns nic's controller Deployment and IngressClass as the caches hold them, nil
// when not there (yet).
func (o *Operator) observed(nic *NginxIngressController) (*appsv1.Deployment, *networkingv1.IngressClass) {
	var deploy *appsv1.Deployment
	if obj, ok, _ := o.informers["Deployment"].GetIndexer().GetByKey(Namespace + "/" + ResourceName(nic)); ok {
		deploy, _ = obj.(*appsv1.Deployment)
	}
	var ic *networkingv1.IngressClass
	if obj, ok, _ := o.informers["IngressClass"].GetIndexer().GetByKey(nic.Spec.IngressClassName); ok {
		ic, _ = obj.(*networkingv1.IngressClass)
	}
	return deploy, ic
}

// collisionCount is the suffix under which none of nic's objects is someone else's, as the
// operator finds it: from the current suffix up, an object of the same name that nic does not
// own moves to the next suffix, an IngressClass of the same name is a collision no suffix
// resolves. The default controller has no suffix and takes over what it finds (AKS's upgrade
// from before NginxIngressControllers).
func (o *Operator) collisionCount(nic *NginxIngressController) (int32, error) {
	if IsDefault(nic) {
		return nic.Status.CollisionCount, nil
	}
	c := nic.DeepCopy()
	for ; c.Status.CollisionCount < MaxCollisions; c.Status.CollisionCount++ {
		collides, err := o.collides(c)
		if err != nil {
			return 0, err
		}
		if !collides {
			return c.Status.CollisionCount, nil
		}
	}
	return 0, ErrTooManyCollisions
}

// collides reports whether one of nic's objects (under its current suffix) exists and is not
// nic's; ErrIngressClassCollision when that object is the IngressClass.
func (o *Operator) collides(nic *NginxIngressController) (bool, error) {
	for _, obj := range Objects(nic, o.Options)[1:] {
		m, _ := meta.Accessor(obj)
		kind := obj.GetObjectKind().GroupVersionKind().Kind
		key := m.GetName()
		if m.GetNamespace() != "" {
			key = m.GetNamespace() + "/" + key
		}
		cur, ok, _ := o.informers[kind].GetIndexer().GetByKey(key)
		if !ok {
			continue
		}
		curMeta, err := meta.Accessor(cur)
		if err != nil || ownerName(curMeta) == nic.Name {
			continue
		}
		if kind == "IngressClass" {
			return false, ErrIngressClassCollision
		}
		return true, nil
	}
	return false, nil
}

// warnCollision records the operator's Warning Event for a collision. For a taken IngressClass
// it also records the reason AKS's admission webhook gives when it refuses such a controller:
// minaks has no webhook, so the controller exists and this is where the user reads why it
// does not work.
func (o *Operator) warnCollision(nic *NginxIngressController, err error) {
	switch {
	case errors.Is(err, ErrIngressClassCollision):
		o.recorder.Event(reference(nic), v1.EventTypeWarning, reasonIngressClassCollision, messageIngressClassCollision)
		var classes []*networkingv1.IngressClass
		for _, obj := range o.informers["IngressClass"].GetStore().List() {
			if ic, ok := obj.(*networkingv1.IngressClass); ok {
				classes = append(classes, ic)
			}
		}
		if collides, reason := nic.Collides(o.controllers(), classes); collides {
			o.recorder.Event(reference(nic), v1.EventTypeWarning, reasonIngressClassCollision, reason)
		}
	case errors.Is(err, ErrTooManyCollisions):
		o.recorder.Event(reference(nic), v1.EventTypeWarning, reasonTooManyCollisions, messageTooManyCollisions)
	}
}

func reference(nic *NginxIngressController) *v1.ObjectReference {
	return &v1.ObjectReference{APIVersion: SchemeGroupVersion.String(), Kind: Kind, Name: nic.Name, UID: nic.UID}
}

// refs are the status's references to the managed objects objs (the namespace aside).
func refs(objs []runtime.Object) []ManagedObjectReference {
	var out []ManagedObjectReference
	for _, obj := range objs {
		m, err := meta.Accessor(obj)
		if err != nil || m.GetLabels()[ManagedByLabel] != OperatorName {
			continue
		}
		gvk := obj.GetObjectKind().GroupVersionKind()
		out = append(out, ManagedObjectReference{Name: m.GetName(), Namespace: m.GetNamespace(), Kind: gvk.Kind, APIGroup: gvk.Group})
	}
	return out
}

// writeStatus sets nic's status to status unless it already is.
func (o *Operator) writeStatus(ctx context.Context, nic *NginxIngressController, status NginxIngressControllerStatus) error {
	if equality.Semantic.DeepEqual(nic.Status, status) {
		return nil
	}
	nic = nic.DeepCopy()
	nic.Status = status
	return o.updateStatus(ctx, nic)
}

func (o *Operator) updateStatus(ctx context.Context, nic *NginxIngressController) error {
	u, err := ToUnstructured(nic)
	if err != nil {
		return fmt.Errorf("encode NginxIngressController %s: %w", nic.Name, err)
	}
	_, err = o.Dynamic.Resource(GroupVersionResource).UpdateStatus(ctx, &unstructured.Unstructured{Object: u},
		metav1.UpdateOptions{FieldManager: apply.FieldManager})
	if err != nil {
		// A conflict means a newer NginxIngressController, which brings its own sync.
		return fmt.Errorf("update status of NginxIngressController %s: %w", nic.Name, err)
	}
	return nil
}

// removeObjectsOf deletes the objects of the NginxIngressController name, which is gone. On a
// cluster the garbage collector deletes them too (they name it as their controlling owner);
// doing it here does not wait for the collector to notice the CRD.
func (o *Operator) removeObjectsOf(ctx context.Context, name string) error {
	var errs []error
	for _, k := range managedKinds {
		for _, obj := range o.informers[k.kind].GetStore().List() {
			m, err := meta.Accessor(obj)
			if err != nil || ownerName(m) != name || m.GetLabels()[ManagedByLabel] != OperatorName {
				continue
			}
			uid := m.GetUID()
			err = k.delete(ctx, o.Client, m.GetName(), metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
			if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
				errs = append(errs, fmt.Errorf("delete %s %s of NginxIngressController %s: %w", k.kind, m.GetName(), name, err))
			}
		}
	}
	return errors.Join(errs...)
}

// Disable is `az aks approuting disable`: it deletes every NginxIngressController (the default
// one and the users'), every object the operator manages for them, and app-routing-system. The
// CRD stays, as custom resource definitions of removed add-ons do. Run must have returned, or
// it would put things back.
func (o *Operator) Disable(ctx context.Context) error {
	var errs []error
	nics := o.Dynamic.Resource(GroupVersionResource)
	list, err := nics.List(ctx, metav1.ListOptions{})
	switch {
	case apierrors.IsNotFound(err):
		// No CRD: nothing was ever enabled, or it is already gone.
	case err != nil:
		errs = append(errs, fmt.Errorf("list NginxIngressControllers: %w", err))
	default:
		for _, nic := range list.Items {
			if err := nics.Delete(ctx, nic.GetName(), metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
				errs = append(errs, fmt.Errorf("delete NginxIngressController %s: %w", nic.GetName(), err))
			}
		}
	}
	selector := metav1.ListOptions{LabelSelector: ManagedByLabel + "=" + OperatorName}
	for _, k := range managedKinds {
		objs, err := k.list(ctx, o.Client, selector)
		if err != nil {
			errs = append(errs, fmt.Errorf("list %ss: %w", k.kind, err))
			continue
		}
		for _, m := range objs {
			if err := k.delete(ctx, o.Client, m.GetName(), metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
				errs = append(errs, fmt.Errorf("delete %s %s: %w", k.kind, m.GetName(), err))
			}
		}
	}
	if err := o.Client.CoreV1().Namespaces().Delete(ctx, Namespace, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		errs = append(errs, fmt.Errorf("delete namespace %s: %w", Namespace, err))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("disable app routing: %w", err)
	}
	return nil
}
