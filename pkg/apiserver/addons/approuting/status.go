package approuting

import (
	"errors"

	appsv1 "k8s.io/api/apps/v1"
	v1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The errors that stop the operator from naming a controller's objects. Both are left for the
// user to fix: the operator retries them only now and then.
var (
	// ErrIngressClassCollision: the controller's IngressClass exists and is not the controller's.
	ErrIngressClassCollision = errors.New("collision on the IngressClass")
	// ErrTooManyCollisions: MaxCollisions name suffixes were all taken.
	ErrTooManyCollisions = errors.New("max collisions reached")
)

// The Warning Events the operator records on a NginxIngressController for those errors.
const (
	reasonIngressClassCollision  = "IngressClassCollision"
	messageIngressClassCollision = "IngressClass already exists and is not owned by this controller. Change the spec.IngressClassName to an unused IngressClass name in a new NginxIngressController."
	reasonTooManyCollisions      = "TooManyCollisions"
	messageTooManyCollisions     = "Too many collisions with existing resources. Change the spec.ControllerNamePrefix to something more unique in a new NginxIngressController."
)

// Status is nic's status after a sync, as the operator writes it: IngressClassReady from the
// observed IngressClass, ControllerAvailable and Progressing from the observed controller
// Deployment's conditions, Available from both, the Deployment's replica counts, the managed
// objects (refs, when the sync got that far) and, taking precedence, Progressing False for a
// collision (syncErr). deploy and ic are nil when not (yet) seen. A condition that does not
// change keeps its lastTransitionTime; one that does gets now.
func Status(nic *NginxIngressController, deploy *appsv1.Deployment, ic *networkingv1.IngressClass, refs []ManagedObjectReference, syncErr error, now metav1.Time) NginxIngressControllerStatus {
	s := *nic.Status.DeepCopy()
	set := func(condType string, status metav1.ConditionStatus, reason, message string) {
		meta.SetStatusCondition(&s.Conditions, metav1.Condition{
			Type: condType, Status: status, Reason: reason, Message: message,
			ObservedGeneration: nic.Generation, LastTransitionTime: now,
		})
	}
	if refs != nil {
		s.ManagedResourceRefs = refs
	}

	if ic == nil || ic.CreationTimestamp.IsZero() {
		set(ConditionTypeIngressClassReady, metav1.ConditionUnknown, "IngressClassUnknown", "IngressClass is unknown")
	} else {
		// The trailing space is the operator's.
		set(ConditionTypeIngressClassReady, metav1.ConditionTrue, "IngressClassIsReady", "Ingress Class is up-to-date ")
	}

	if deploy == nil || deploy.CreationTimestamp.IsZero() {
		set(ConditionTypeControllerAvailable, metav1.ConditionUnknown, "ControllerDeploymentUnknown", "Controller deployment is unknown")
		set(ConditionTypeProgressing, metav1.ConditionUnknown, "ControllerDeploymentUnknown", "Controller deployment is unknown")
	} else {
		for _, c := range deploy.Status.Conditions {
			switch c.Type {
			case appsv1.DeploymentProgressing:
				switch c.Status {
				case v1.ConditionTrue:
					set(ConditionTypeProgressing, metav1.ConditionTrue, "ControllerDeploymentProgressing", "Controller Deployment has successfully progressed")
				case v1.ConditionFalse:
					set(ConditionTypeProgressing, metav1.ConditionFalse, "ControllerDeploymentNotProgressing", "Controller Deployment has failed to progress")
				default:
					set(ConditionTypeProgressing, metav1.ConditionUnknown, "ControllerDeploymentProgressingUnknown", "Controller Deployment progress is unknown")
				}
			case appsv1.DeploymentAvailable:
				switch c.Status {
				case v1.ConditionTrue:
					set(ConditionTypeControllerAvailable, metav1.ConditionTrue, "ControllerDeploymentAvailable", "Controller Deployment is available")
				case v1.ConditionFalse:
					set(ConditionTypeControllerAvailable, metav1.ConditionFalse, "ControllerDeploymentNotAvailable", "Controller Deployment is not available")
				default:
					set(ConditionTypeControllerAvailable, metav1.ConditionUnknown, "ControllerDeploymentUnknown", "Controller Deployment is in an unknown state")
				}
			}
		}
	}
	if deploy != nil {
		s.ControllerReplicas = deploy.Status.Replicas
		s.ControllerReadyReplicas = deploy.Status.ReadyReplicas
		s.ControllerAvailableReplicas = deploy.Status.AvailableReplicas
		s.ControllerUnavailableReplicas = deploy.Status.UnavailableReplicas
	}

	if meta.IsStatusConditionTrue(s.Conditions, ConditionTypeControllerAvailable) && meta.IsStatusConditionTrue(s.Conditions, ConditionTypeIngressClassReady) {
		set(ConditionTypeAvailable, metav1.ConditionTrue, "ControllerIsAvailable", "Controller Deployment has minimum availability and IngressClass is up-to-date")
	} else {
		set(ConditionTypeAvailable, metav1.ConditionFalse, "ControllerIsNotAvailable", "Controller Deployment does not have minimum availability or IngressClass is not up-to-date")
	}

	switch {
	case errors.Is(syncErr, ErrIngressClassCollision):
		set(ConditionTypeProgressing, metav1.ConditionFalse, "IngressClassCollision", "IngressClass already exists and is not owned by this controller")
	case errors.Is(syncErr, ErrTooManyCollisions):
		set(ConditionTypeProgressing, metav1.ConditionFalse, "TooManyCollisions", "Too many collisions with existing resources")
	}
	return s
}
