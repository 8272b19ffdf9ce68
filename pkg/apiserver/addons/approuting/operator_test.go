package approuting

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	v1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	extfake "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset/fake"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	kubefake "k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/klog/v2/ktesting"
)

// cluster is the operator running against client-go's fake clients; the test plays the API
// server's other parts (CRD establishment, the Deployment controller).
type cluster struct {
	t    *testing.T
	kube *kubefake.Clientset
	dyn  *dynamicfake.FakeDynamicClient
	ext  *extfake.Clientset
	op   *Operator
	stop func()
}

func startOperator(t *testing.T, mode string, objs ...runtime.Object) *cluster {
	t.Helper()
	c := newCluster(t, mode, objs...)
	c.start()
	return c
}

func newCluster(t *testing.T, mode string, objs ...runtime.Object) *cluster {
	c := &cluster{
		t:    t,
		kube: kubefake.NewClientset(objs...),
		dyn: dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(),
			map[schema.GroupVersionResource]string{GroupVersionResource: ListKind}),
		ext: extfake.NewClientset(),
	}
	c.dyn.PrependReactor("update", Resource, statusUpdate(c.dyn.Tracker()))
	c.op = &Operator{Client: c.kube, Dynamic: c.dyn, Extensions: c.ext, DefaultMode: mode, Options: Options{ImageTag: "v1.13.9"}}
	return c
}

// statusUpdate makes the fake dynamic client's status updates change the status only, as the
// API server's status subresource does.
func statusUpdate(tracker clienttesting.ObjectTracker) clienttesting.ReactionFunc {
	return func(action clienttesting.Action) (bool, runtime.Object, error) {
		update, ok := action.(clienttesting.UpdateAction)
		if !ok || update.GetSubresource() != "status" {
			return false, nil, nil
		}
		obj := update.GetObject().(*unstructured.Unstructured)
		cur, err := tracker.Get(action.GetResource(), "", obj.GetName())
		if err != nil {
			return true, nil, err
		}
		u := cur.(*unstructured.Unstructured).DeepCopy()
		u.Object["status"] = obj.Object["status"]
		if err := tracker.Update(action.GetResource(), u, ""); err != nil {
			return true, nil, err
		}
		return true, u, nil
	}
}

func (c *cluster) start() {
	_, ctx := ktesting.NewTestContext(c.t)
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go c.establishCRD(ctx)
	go func() { done <- c.op.Run(ctx) }()
	c.stop = func() {
		cancel()
		if err := <-done; err != nil {
			c.t.Errorf("Run: %v", err)
		}
	}
	c.t.Cleanup(func() {
		if c.stop != nil {
			c.stop()
		}
	})
}

// establishCRD marks the CRD Established once it is applied, as the API server does.
func (c *cluster) establishCRD(ctx context.Context) {
	crds := c.ext.ApiextensionsV1().CustomResourceDefinitions()
	for ctx.Err() == nil {
		crd, err := crds.Get(ctx, CRDName, metav1.GetOptions{})
		if err == nil {
			crd.Status.Conditions = []apiextensionsv1.CustomResourceDefinitionCondition{
				{Type: apiextensionsv1.NamesAccepted, Status: apiextensionsv1.ConditionTrue},
				{Type: apiextensionsv1.Established, Status: apiextensionsv1.ConditionTrue},
			}
			if _, err := crds.UpdateStatus(ctx, crd, metav1.UpdateOptions{}); err == nil {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// eventually retries check until it passes, for at most 10 s.
func (c *cluster) eventually(what string, check func() error) {
	c.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (c *cluster) createController(nic *NginxIngressController) {
	c.t.Helper()
	u, err := ToUnstructured(nic)
	if err != nil {
		c.t.Fatal(err)
	}
	if _, err := c.dyn.Resource(GroupVersionResource).Create(context.Background(), &unstructured.Unstructured{Object: u}, metav1.CreateOptions{}); err != nil {
		c.t.Fatal(err)
	}
}

func (c *cluster) controller(name string) (*NginxIngressController, error) {
	u, err := c.dyn.Resource(GroupVersionResource).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	return FromUnstructured(u.Object)
}

// hasObjects checks that every object of a controller named resource exists, owned by owner.
func (c *cluster) hasObjects(resource, class, owner string) error {
	ctx := context.Background()
	ic, err := c.kube.NetworkingV1().IngressClasses().Get(ctx, class, metav1.GetOptions{})
	if err != nil {
		return err
	}
	if got := ownerName(ic); got != owner {
		return fmt.Errorf("IngressClass %s owned by %q", class, got)
	}
	for _, k := range managedKinds {
		if k.kind == "IngressClass" {
			continue
		}
		objs, err := k.list(ctx, c.kube, metav1.ListOptions{})
		if err != nil {
			return err
		}
		found := false
		for _, m := range objs {
			if m.GetName() == resource {
				found = true
				if got := ownerName(m); got != owner {
					return fmt.Errorf("%s %s owned by %q", k.kind, resource, got)
				}
			}
		}
		if !found {
			return fmt.Errorf("no %s %s", k.kind, resource)
		}
	}
	if _, err := c.kube.CoreV1().Services(Namespace).Get(ctx, resource+"-metrics", metav1.GetOptions{}); err != nil {
		return err
	}
	return nil
}

// condition returns the status of controller name's condition condType as "status/reason".
func (c *cluster) condition(name, condType string) string {
	nic, err := c.controller(name)
	if err != nil {
		return err.Error()
	}
	cond := meta.FindStatusCondition(nic.Status.Conditions, condType)
	if cond == nil {
		return "none"
	}
	return string(cond.Status) + "/" + cond.Reason
}

func (c *cluster) wantCondition(name, condType, want string) {
	c.t.Helper()
	c.eventually(name+" "+condType, func() error {
		if got := c.condition(name, condType); got != want {
			return fmt.Errorf("%s is %s, want %s", condType, got, want)
		}
		return nil
	})
}

func TestOperatorCreatesTheDefaultController(t *testing.T) {
	c := startOperator(t, ModeAnnotationControlled)
	ctx := context.Background()
	c.eventually("the default controller's objects", func() error { return c.hasObjects("nginx", DefaultIngressClass, DefaultName) })
	if _, err := c.kube.CoreV1().Namespaces().Get(ctx, Namespace, metav1.GetOptions{}); err != nil {
		t.Errorf("namespace: %v", err)
	}
	nic, err := c.controller(DefaultName)
	if err != nil {
		t.Fatal(err)
	}
	if nic.Spec.IngressClassName != DefaultIngressClass || nic.Spec.ControllerNamePrefix != "nginx" || len(nic.Spec.LoadBalancerAnnotations) != 0 {
		t.Errorf("default controller spec %+v", nic.Spec)
	}
	ic, _ := c.kube.NetworkingV1().IngressClasses().Get(ctx, DefaultIngressClass, metav1.GetOptions{})
	if ic.Spec.Controller != DefaultControllerClass {
		t.Errorf("IngressClass controller %q", ic.Spec.Controller)
	}
	c.eventually("managed resource references", func() error {
		nic, err := c.controller(DefaultName)
		if err != nil {
			return err
		}
		if len(nic.Status.ManagedResourceRefs) != 12 {
			return fmt.Errorf("%d references: %+v", len(nic.Status.ManagedResourceRefs), nic.Status.ManagedResourceRefs)
		}
		return nil
	})
	c.wantCondition(DefaultName, ConditionTypeAvailable, "False/ControllerIsNotAvailable")
	c.wantCondition(DefaultName, ConditionTypeIngressClassReady, "Unknown/IngressClassUnknown")

	// The API server and the Deployment controller have their say: the controller becomes
	// available.
	now := metav1.NewTime(time.Now())
	ic.CreationTimestamp = now
	if _, err := c.kube.NetworkingV1().IngressClasses().Update(ctx, ic, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	d, err := c.kube.AppsV1().Deployments(Namespace).Get(ctx, "nginx", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	d.CreationTimestamp = now
	d.Status = appsv1.DeploymentStatus{Replicas: 2, ReadyReplicas: 2, AvailableReplicas: 2, Conditions: []appsv1.DeploymentCondition{
		{Type: appsv1.DeploymentAvailable, Status: v1.ConditionTrue},
		{Type: appsv1.DeploymentProgressing, Status: v1.ConditionTrue},
	}}
	if _, err := c.kube.AppsV1().Deployments(Namespace).UpdateStatus(ctx, d, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	c.wantCondition(DefaultName, ConditionTypeAvailable, "True/ControllerIsAvailable")
	c.wantCondition(DefaultName, ConditionTypeProgressing, "True/ControllerDeploymentProgressing")
	nic, _ = c.controller(DefaultName)
	if nic.Status.ControllerReplicas != 2 || nic.Status.ControllerAvailableReplicas != 2 {
		t.Errorf("replicas in status %+v", nic.Status)
	}

	// AnnotationControlled: the user's annotations are the Service's, and stay.
	nic.Spec.LoadBalancerAnnotations = map[string]string{InternalAnnotation: "true"}
	c.updateController(nic)
	c.eventually("the user's annotation on the Service", func() error {
		svc, err := c.kube.CoreV1().Services(Namespace).Get(ctx, "nginx", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if svc.Annotations[InternalAnnotation] != "true" {
			return fmt.Errorf("annotations %v", svc.Annotations)
		}
		return nil
	})
	nic, _ = c.controller(DefaultName)
	if nic.Spec.LoadBalancerAnnotations[InternalAnnotation] != "true" {
		t.Errorf("the operator changed the user's annotations: %v", nic.Spec.LoadBalancerAnnotations)
	}
}

func (c *cluster) updateController(nic *NginxIngressController) {
	c.t.Helper()
	u, err := ToUnstructured(nic)
	if err != nil {
		c.t.Fatal(err)
	}
	if _, err := c.dyn.Resource(GroupVersionResource).Update(context.Background(), &unstructured.Unstructured{Object: u}, metav1.UpdateOptions{}); err != nil {
		c.t.Fatal(err)
	}
}

// TestOperatorEnforcesTheMode: External and Internal put their annotation back when a user
// changes it; None creates no default controller.
func TestOperatorEnforcesTheMode(t *testing.T) {
	for _, tc := range []struct{ mode, value, other string }{
		{ModeExternal, "false", "true"},
		{ModeInternal, "true", "false"},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			c := startOperator(t, tc.mode)
			c.eventually("the default controller's objects", func() error { return c.hasObjects("nginx", DefaultIngressClass, DefaultName) })
			svc, _ := c.kube.CoreV1().Services(Namespace).Get(context.Background(), "nginx", metav1.GetOptions{})
			if svc.Annotations[InternalAnnotation] != tc.value {
				t.Errorf("Service annotations %v", svc.Annotations)
			}
			nic, _ := c.controller(DefaultName)
			nic.Spec.LoadBalancerAnnotations = map[string]string{InternalAnnotation: tc.other, "mine": "kept"}
			c.updateController(nic)
			c.eventually("the mode's annotation restored", func() error {
				nic, err := c.controller(DefaultName)
				if err != nil {
					return err
				}
				if a := nic.Spec.LoadBalancerAnnotations; a[InternalAnnotation] != tc.value || a["mine"] != "kept" {
					return fmt.Errorf("annotations %v", a)
				}
				return nil
			})
		})
	}
	t.Run(ModeNone, func(t *testing.T) {
		c := startOperator(t, ModeNone)
		c.createController(userNIC("mine", "mine", "mine"))
		c.eventually("a user's controller", func() error { return c.hasObjects("mine-0", "mine", "mine") })
		if _, err := c.controller(DefaultName); !apierrors.IsNotFound(err) {
			t.Errorf("default controller with mode None: %v", err)
		}
	})
}

func userNIC(name, class, prefix string) *NginxIngressController {
	return &NginxIngressController{
		ObjectMeta: metav1.ObjectMeta{Name: name, UID: types.UID(name + "-uid")},
		Spec:       NginxIngressControllerSpec{IngressClassName: class, ControllerNamePrefix: prefix},
	}
}

// TestOperatorUserControllers: a second controller gets its own set and class; one with a
// taken prefix moves to the next suffix; one with a taken class reports the collision.
func TestOperatorUserControllers(t *testing.T) {
	c := startOperator(t, ModeAnnotationControlled)
	c.eventually("the default controller's objects", func() error { return c.hasObjects("nginx", DefaultIngressClass, DefaultName) })

	c.createController(userNIC("nginx-public", "nginx-public", "nginx-public"))
	c.eventually("nginx-public's objects", func() error { return c.hasObjects("nginx-public-0", "nginx-public", "nginx-public") })
	ic, _ := c.kube.NetworkingV1().IngressClasses().Get(context.Background(), "nginx-public", metav1.GetOptions{})
	if ic.Spec.Controller != "approuting.kubernetes.azure.com/nginx-public" {
		t.Errorf("IngressClass controller %q", ic.Spec.Controller)
	}

	c.createController(userNIC("second", "second", "nginx-public"))
	c.eventually("second's objects under suffix 1", func() error { return c.hasObjects("nginx-public-1", "second", "second") })
	if nic, _ := c.controller("second"); nic.Status.CollisionCount != 1 {
		t.Errorf("collisionCount %d, want 1", nic.Status.CollisionCount)
	}

	c.createController(userNIC("clash", DefaultIngressClass, "clash"))
	c.wantCondition("clash", ConditionTypeProgressing, "False/IngressClassCollision")
	c.wantCondition("clash", ConditionTypeAvailable, "False/ControllerIsNotAvailable")
	for _, message := range []string{
		"IngressClass already exists and is not owned by this controller. Change the spec.IngressClassName to an unused IngressClass name in a new NginxIngressController.",
		`spec.ingressClassName "webapprouting.kubernetes.azure.com" is invalid because NginxIngressController "default" already uses IngressClass "webapprouting.kubernetes.azure.com"`,
	} {
		c.eventually("the IngressClassCollision event", func() error {
			events, err := c.kube.CoreV1().Events("").List(context.Background(), metav1.ListOptions{})
			if err != nil {
				return err
			}
			for _, e := range events.Items {
				if e.InvolvedObject.Name == "clash" && e.InvolvedObject.Kind == Kind && e.Reason == "IngressClassCollision" &&
					e.Type == v1.EventTypeWarning && e.Message == message {
					return nil
				}
			}
			return fmt.Errorf("no event %q among %d", message, len(events.Items))
		})
	}
	if _, err := c.kube.AppsV1().Deployments(Namespace).Get(context.Background(), "clash-0", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("a colliding controller got a Deployment: %v", err)
	}
	if ic, _ := c.kube.NetworkingV1().IngressClasses().Get(context.Background(), DefaultIngressClass, metav1.GetOptions{}); ownerName(ic) != DefaultName {
		t.Errorf("the default IngressClass changed hands: %v", ic.OwnerReferences)
	}
}

// TestOperatorCollisions: objects in the way that no controller owns move a controller to the
// next suffix, and MaxCollisions of them stop it.
func TestOperatorCollisions(t *testing.T) {
	foreign := func(name string) runtime.Object {
		return &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: Namespace, Name: name}}
	}
	t.Run("one in the way", func(t *testing.T) {
		c := startOperator(t, ModeNone, foreign("p-0"))
		c.createController(userNIC("x", "x", "p"))
		c.eventually("x's objects under suffix 1", func() error { return c.hasObjects("p-1", "x", "x") })
		if d, _ := c.kube.AppsV1().Deployments(Namespace).Get(context.Background(), "p-0", metav1.GetOptions{}); len(d.OwnerReferences) != 0 {
			t.Errorf("the foreign Deployment was taken over: %+v", d.ObjectMeta)
		}
	})
	t.Run("too many", func(t *testing.T) {
		c := startOperator(t, ModeNone, foreign("p-0"), foreign("p-1"), foreign("p-2"), foreign("p-3"), foreign("p-4"))
		c.createController(userNIC("x", "x", "p"))
		c.wantCondition("x", ConditionTypeProgressing, "False/TooManyCollisions")
	})
	t.Run("a foreign IngressClass", func(t *testing.T) {
		c := startOperator(t, ModeNone, &networkingv1.IngressClass{ObjectMeta: metav1.ObjectMeta{Name: "nginx"}})
		c.createController(userNIC("x", "nginx", "p"))
		c.wantCondition("x", ConditionTypeProgressing, "False/IngressClassCollision")
	})
}

// TestOperatorRepairs: a managed object changed or deleted behind the operator's back comes
// back; a deleted controller's objects go.
func TestOperatorRepairs(t *testing.T) {
	c := startOperator(t, ModeAnnotationControlled)
	ctx := context.Background()
	c.eventually("the default controller's objects", func() error { return c.hasObjects("nginx", DefaultIngressClass, DefaultName) })

	if err := c.kube.AppsV1().Deployments(Namespace).Delete(ctx, "nginx", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	c.eventually("the Deployment back", func() error {
		_, err := c.kube.AppsV1().Deployments(Namespace).Get(ctx, "nginx", metav1.GetOptions{})
		return err
	})

	cm, _ := c.kube.CoreV1().ConfigMaps(Namespace).Get(ctx, "nginx", metav1.GetOptions{})
	cm.Data["allow-snippet-annotations"] = "false"
	if _, err := c.kube.CoreV1().ConfigMaps(Namespace).Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	c.eventually("the ConfigMap restored", func() error {
		cm, err := c.kube.CoreV1().ConfigMaps(Namespace).Get(ctx, "nginx", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if v := cm.Data["allow-snippet-annotations"]; v != "true" {
			return fmt.Errorf("allow-snippet-annotations %q", v)
		}
		return nil
	})

	c.createController(userNIC("gone", "gone", "gone"))
	c.eventually("gone's objects", func() error { return c.hasObjects("gone-0", "gone", "gone") })
	if err := c.dyn.Resource(GroupVersionResource).Delete(ctx, "gone", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	c.eventually("gone's objects removed", func() error {
		if _, err := c.kube.NetworkingV1().IngressClasses().Get(ctx, "gone", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("IngressClass gone: %v", err)
		}
		for _, k := range managedKinds {
			objs, err := k.list(ctx, c.kube, metav1.ListOptions{})
			if err != nil {
				return err
			}
			for _, m := range objs {
				if m.GetName() == "gone-0" {
					return fmt.Errorf("%s gone-0 still there", k.kind)
				}
			}
		}
		return nil
	})
	if err := c.hasObjects("nginx", DefaultIngressClass, DefaultName); err != nil {
		t.Errorf("the default controller lost objects: %v", err)
	}

	// The default controller deleted by a user comes back (the mode is not None).
	if err := c.dyn.Resource(GroupVersionResource).Delete(ctx, DefaultName, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	c.eventually("the default controller back", func() error {
		_, err := c.controller(DefaultName)
		return err
	})
}

// TestDisable: what `az aks approuting disable` leaves: the CRD, and objects not the operator's.
func TestDisable(t *testing.T) {
	users := &networkingv1.IngressClass{ObjectMeta: metav1.ObjectMeta{Name: "users-own"}}
	c := startOperator(t, ModeInternal, users)
	ctx := context.Background()
	c.createController(userNIC("nginx-public", "nginx-public", "nginx-public"))
	c.eventually("the controllers' objects", func() error {
		return errors.Join(c.hasObjects("nginx", DefaultIngressClass, DefaultName), c.hasObjects("nginx-public-0", "nginx-public", "nginx-public"))
	})
	c.stop()
	c.stop = nil

	if err := c.op.Disable(ctx); err != nil {
		t.Fatal(err)
	}
	if l, err := c.dyn.Resource(GroupVersionResource).List(ctx, metav1.ListOptions{}); err != nil || len(l.Items) != 0 {
		t.Errorf("NginxIngressControllers left: %v %v", l, err)
	}
	for _, k := range managedKinds {
		objs, err := k.list(ctx, c.kube, metav1.ListOptions{LabelSelector: ManagedByLabel + "=" + OperatorName})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range objs {
			t.Errorf("%s %s left", k.kind, m.GetName())
		}
	}
	if _, err := c.kube.CoreV1().Namespaces().Get(ctx, Namespace, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("namespace left: %v", err)
	}
	if _, err := c.kube.NetworkingV1().IngressClasses().Get(ctx, "users-own", metav1.GetOptions{}); err != nil {
		t.Errorf("a user's IngressClass was deleted: %v", err)
	}
	if _, err := c.ext.ApiextensionsV1().CustomResourceDefinitions().Get(ctx, CRDName, metav1.GetOptions{}); err != nil {
		t.Errorf("the CRD was deleted: %v", err)
	}
	// Twice is fine.
	if err := c.op.Disable(ctx); err != nil {
		t.Errorf("second Disable: %v", err)
	}
}

func TestRunRejectsAnUnknownMode(t *testing.T) {
	c := newCluster(t, "Public")
	if err := c.op.Run(context.Background()); err == nil {
		t.Error("Run accepted mode Public")
	}
}

func TestRefsNameEveryManagedObject(t *testing.T) {
	objs := Objects(userNIC("x", "x", "x"), Options{})
	var kinds []string
	for _, r := range refs(objs) {
		kinds = append(kinds, r.APIGroup+"/"+r.Kind)
	}
	want := []string{"networking.k8s.io/IngressClass", "/ServiceAccount", "rbac.authorization.k8s.io/ClusterRole",
		"rbac.authorization.k8s.io/Role", "rbac.authorization.k8s.io/ClusterRoleBinding", "rbac.authorization.k8s.io/RoleBinding",
		"/Service", "/Service", "apps/Deployment", "/ConfigMap", "autoscaling/HorizontalPodAutoscaler", "policy/PodDisruptionBudget"}
	if !slices.Equal(kinds, want) {
		t.Errorf("references %v, want %v", kinds, want)
	}
}

// TestOperatorSettles: once everything is as it should be, the operator stops writing (no
// sync loop feeding on its own writes).
func TestOperatorSettles(t *testing.T) {
	c := startOperator(t, ModeInternal)
	c.createController(userNIC("nginx-public", "nginx-public", "nginx-public"))
	c.eventually("the controllers' objects", func() error {
		return errors.Join(c.hasObjects("nginx", DefaultIngressClass, DefaultName), c.hasObjects("nginx-public-0", "nginx-public", "nginx-public"))
	})
	writes := func() int {
		n := 0
		for _, a := range append(c.kube.Actions(), c.dyn.Actions()...) {
			if v := a.GetVerb(); v == "patch" || v == "update" || v == "create" || v == "delete" {
				n++
			}
		}
		return n
	}
	c.eventually("the operator settling", func() error {
		before := writes()
		time.Sleep(300 * time.Millisecond)
		if after := writes(); after != before {
			return fmt.Errorf("%d writes in 300 ms", after-before)
		}
		return nil
	})
}
