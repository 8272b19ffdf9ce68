package approuting

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	v1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// cond is a condition as a test states it: status, reason and message.
type cond struct{ Status, Reason, Message string }

func TestStatus(t *testing.T) {
	created := metav1.NewTime(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	deployment := func(available, progressing v1.ConditionStatus) *appsv1.Deployment {
		return &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{CreationTimestamp: created},
			Status: appsv1.DeploymentStatus{
				Replicas: 3, ReadyReplicas: 2, AvailableReplicas: 2, UnavailableReplicas: 1,
				Conditions: []appsv1.DeploymentCondition{
					{Type: appsv1.DeploymentAvailable, Status: available},
					{Type: appsv1.DeploymentProgressing, Status: progressing},
				},
			},
		}
	}
	class := &networkingv1.IngressClass{ObjectMeta: metav1.ObjectMeta{CreationTimestamp: created}}
	unknown := cond{"Unknown", "ControllerDeploymentUnknown", "Controller deployment is unknown"}
	notAvailable := cond{"False", "ControllerIsNotAvailable", "Controller Deployment does not have minimum availability or IngressClass is not up-to-date"}
	classReady := cond{"True", "IngressClassIsReady", "Ingress Class is up-to-date "}
	classUnknown := cond{"Unknown", "IngressClassUnknown", "IngressClass is unknown"}

	for _, tc := range []struct {
		name     string
		deploy   *appsv1.Deployment
		ic       *networkingv1.IngressClass
		err      error
		want     map[string]cond
		replicas int32
	}{
		{
			name: "nothing observed yet",
			want: map[string]cond{
				ConditionTypeIngressClassReady: classUnknown, ConditionTypeControllerAvailable: unknown,
				ConditionTypeProgressing: unknown, ConditionTypeAvailable: notAvailable,
			},
		},
		{
			name: "available", deploy: deployment(v1.ConditionTrue, v1.ConditionTrue), ic: class, replicas: 3,
			want: map[string]cond{
				ConditionTypeIngressClassReady:   classReady,
				ConditionTypeControllerAvailable: {"True", "ControllerDeploymentAvailable", "Controller Deployment is available"},
				ConditionTypeProgressing:         {"True", "ControllerDeploymentProgressing", "Controller Deployment has successfully progressed"},
				ConditionTypeAvailable:           {"True", "ControllerIsAvailable", "Controller Deployment has minimum availability and IngressClass is up-to-date"},
			},
		},
		{
			name: "deployment not available, not progressing", deploy: deployment(v1.ConditionFalse, v1.ConditionFalse), ic: class, replicas: 3,
			want: map[string]cond{
				ConditionTypeIngressClassReady:   classReady,
				ConditionTypeControllerAvailable: {"False", "ControllerDeploymentNotAvailable", "Controller Deployment is not available"},
				ConditionTypeProgressing:         {"False", "ControllerDeploymentNotProgressing", "Controller Deployment has failed to progress"},
				ConditionTypeAvailable:           notAvailable,
			},
		},
		{
			name: "deployment conditions unknown", deploy: deployment(v1.ConditionUnknown, v1.ConditionUnknown), ic: class, replicas: 3,
			want: map[string]cond{
				ConditionTypeIngressClassReady:   classReady,
				ConditionTypeControllerAvailable: {"Unknown", "ControllerDeploymentUnknown", "Controller Deployment is in an unknown state"},
				ConditionTypeProgressing:         {"Unknown", "ControllerDeploymentProgressingUnknown", "Controller Deployment progress is unknown"},
				ConditionTypeAvailable:           notAvailable,
			},
		},
		{
			name: "available deployment without its IngressClass", deploy: deployment(v1.ConditionTrue, v1.ConditionTrue), replicas: 3,
			want: map[string]cond{
				ConditionTypeIngressClassReady:   classUnknown,
				ConditionTypeControllerAvailable: {"True", "ControllerDeploymentAvailable", "Controller Deployment is available"},
				ConditionTypeProgressing:         {"True", "ControllerDeploymentProgressing", "Controller Deployment has successfully progressed"},
				ConditionTypeAvailable:           notAvailable,
			},
		},
		{
			name: "IngressClass collision", err: ErrIngressClassCollision,
			want: map[string]cond{
				ConditionTypeIngressClassReady: classUnknown, ConditionTypeControllerAvailable: unknown, ConditionTypeAvailable: notAvailable,
				ConditionTypeProgressing: {"False", "IngressClassCollision", "IngressClass already exists and is not owned by this controller"},
			},
		},
		{
			name: "too many collisions", err: ErrTooManyCollisions,
			want: map[string]cond{
				ConditionTypeIngressClassReady: classUnknown, ConditionTypeControllerAvailable: unknown, ConditionTypeAvailable: notAvailable,
				ConditionTypeProgressing: {"False", "TooManyCollisions", "Too many collisions with existing resources"},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			nic := &NginxIngressController{ObjectMeta: metav1.ObjectMeta{Name: "x", Generation: 4}}
			now := metav1.NewTime(created.Add(time.Hour))
			s := Status(nic, tc.deploy, tc.ic, nil, tc.err, now)
			got := map[string]cond{}
			for _, c := range s.Conditions {
				got[c.Type] = cond{string(c.Status), c.Reason, c.Message}
				if c.ObservedGeneration != 4 || !c.LastTransitionTime.Equal(&now) {
					t.Errorf("%s: observedGeneration %d, lastTransitionTime %v", c.Type, c.ObservedGeneration, c.LastTransitionTime)
				}
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("conditions (-want +got):\n%s", d)
			}
			if s.ControllerReplicas != tc.replicas {
				t.Errorf("controllerReplicas %d, want %d", s.ControllerReplicas, tc.replicas)
			}
		})
	}
}

// TestStatusKeepsTransitionTimes: a condition whose status does not change keeps its
// lastTransitionTime; one that changes gets the new time.
func TestStatusKeepsTransitionTimes(t *testing.T) {
	t0 := metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	t1 := metav1.NewTime(t0.Add(time.Minute))
	nic := &NginxIngressController{}
	nic.Status = Status(nic, nil, nil, nil, nil, t0)
	ic := &networkingv1.IngressClass{ObjectMeta: metav1.ObjectMeta{CreationTimestamp: t0}}
	s := Status(nic, nil, ic, []ManagedObjectReference{{Name: "nginx", Kind: "Deployment", APIGroup: "apps"}}, nil, t1)
	for _, c := range s.Conditions {
		want := t0
		if c.Type == ConditionTypeIngressClassReady {
			want = t1
		}
		if !c.LastTransitionTime.Equal(&want) {
			t.Errorf("%s changed at %v, want %v", c.Type, c.LastTransitionTime, want)
		}
	}
	if len(s.ManagedResourceRefs) != 1 {
		t.Errorf("managedResourceRefs %v", s.ManagedResourceRefs)
	}
}
