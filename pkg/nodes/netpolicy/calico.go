package netpolicy

import (
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"

	"k8s.io/utils/ptr"
)

// Calico's objects, as the Tigera operator makes them on AKS: calico-node in calico-system,
// the operator's own namespace tigera-operator beside it.
const (
	CalicoNamespace   = "calico-system"
	OperatorNamespace = "tigera-operator"
	CalicoNodeName    = "calico-node"
	// CalicoNodeImage is the calico-node image AKS runs.
	CalicoNodeImage  = "mcr.microsoft.com/oss/calico/node:v3.29.5"
	calicoHealthPort = 9099
)

// calicoObjects are Calico's namespaces, calico-node's ServiceAccount, RBAC and DaemonSet,
// configured as the operator configures it for AKS (policy only: Azure CNI or kubenet routes,
// Felix polices; IPv4: AKS refuses Calico with dual-stack).
func calicoObjects() []runtime.Object {
	nsLabels := func(name string) map[string]string {
		return map[string]string{"name": name, "pod-security.kubernetes.io/enforce": "privileged", "pod-security.kubernetes.io/enforce-version": "latest"}
	}
	objs := []runtime.Object{
		&v1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: OperatorNamespace, Labels: nsLabels(OperatorNamespace)}},
		&v1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: CalicoNamespace, Labels: nsLabels(CalicoNamespace)}},
	}
	labels := map[string]string{"app.kubernetes.io/managed-by": "tigera-operator"}
	env := func(k, v string) v1.EnvVar { return v1.EnvVar{Name: k, Value: v} }
	return append(objs, agentObjects(DaemonSet{Namespace: CalicoNamespace, Name: CalicoNodeName}, labels, CalicoNodeName, readRules,
		v1.PodSpec{
			TerminationGracePeriodSeconds: ptr.To[int64](5),
			Containers: []v1.Container{{
				Name:  CalicoNodeName,
				Image: CalicoNodeImage,
				Env: []v1.EnvVar{
					env("DATASTORE_TYPE", "kubernetes"),
					env("WAIT_FOR_DATASTORE", "true"),
					env("CLUSTER_TYPE", "k8s,operator"),
					env("CALICO_DISABLE_FILE_LOGGING", "false"),
					env("CALICO_NETWORKING_BACKEND", "none"),
					env("FELIX_DEFAULTENDPOINTTOHOSTACTION", "ACCEPT"),
					env("FELIX_HEALTHENABLED", "true"),
					env("FELIX_HEALTHPORT", "9099"),
					env("FELIX_INTERFACEPREFIX", "azv"),
					env("FELIX_IPV6SUPPORT", "false"),
					{Name: "NODENAME", ValueFrom: &v1.EnvVarSource{FieldRef: &v1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "spec.nodeName"}}},
				},
				Resources: v1.ResourceRequirements{Requests: v1.ResourceList{v1.ResourceCPU: resource.MustParse("100m")}},
				ReadinessProbe: &v1.Probe{
					ProbeHandler:  v1.ProbeHandler{Exec: &v1.ExecAction{Command: []string{"/bin/calico-node", "-felix-ready"}}},
					PeriodSeconds: 1, FailureThreshold: 3, SuccessThreshold: 1, TimeoutSeconds: 5,
				},
				LivenessProbe: &v1.Probe{
					ProbeHandler:  v1.ProbeHandler{HTTPGet: &v1.HTTPGetAction{Host: "localhost", Path: "/liveness", Port: intstr.FromInt32(calicoHealthPort)}},
					PeriodSeconds: 10, FailureThreshold: 6, SuccessThreshold: 1, TimeoutSeconds: 10,
				},
				VolumeMounts: []v1.VolumeMount{
					{Name: "xtables-lock", MountPath: "/run/xtables.lock"},
				},
			}},
			Volumes: []v1.Volume{
				hostPath("xtables-lock", "/run/xtables.lock", v1.HostPathFileOrCreate),
			},
		},
		metav1.ObjectMeta{},
	)...)
}
