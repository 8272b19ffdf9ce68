package netpolicy

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	v1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensionsclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/minaks/minaks/pkg/apiserver/apply"
	"github.com/minaks/minaks/pkg/apiserver/config"
)

// DaemonSet names the DaemonSet of a policy engine's node agents.
type DaemonSet struct {
	Namespace, Name string
}

// Engine is the DaemonSet that enforces the cluster's policy; its Name is "" when nothing
// does (none).
func Engine(c *config.Cluster) DaemonSet {
	switch c.Network.Policy {
	case "azure":
		return DaemonSet{Namespace: metav1.NamespaceSystem, Name: NPMName}
	case "calico":
		return DaemonSet{Namespace: CalicoNamespace, Name: CalicoNodeName}
	case "cilium":
		return DaemonSet{Namespace: metav1.NamespaceSystem, Name: CiliumName}
	}
	return DaemonSet{}
}

// Objects are the engine's objects for cluster c (none for --network-policy none), and the
// CustomResourceDefinitions of its own policies.
func Objects(c *config.Cluster) ([]runtime.Object, []*apiextensionsv1.CustomResourceDefinition, error) {
	switch c.Network.Policy {
	case "azure":
		return npmObjects(), nil, nil
	case "calico":
		return calicoObjects(), nil, nil
	case "cilium":
		objs, err := ciliumObjects(c)
		return objs, ciliumCRDs(c), err
	}
	return nil, nil, nil
}

// Apply creates or updates the engine's CRDs and objects.
func Apply(ctx context.Context, client kubernetes.Interface, ext apiextensionsclient.Interface, c *config.Cluster) error {
	objs, crds, err := Objects(c)
	if err == nil {
		err = apply.CRDs(ctx, ext, crds...)
	}
	if err == nil {
		err = apply.Objects(ctx, client, objs...)
	}
	if err != nil {
		return fmt.Errorf("network policy (%s): %w", c.Network.Policy, err)
	}
	return nil
}

// readRules are what every engine's agent reads: pods, namespaces, nodes and NetworkPolicies.
var readRules = []rbacv1.PolicyRule{
	{APIGroups: []string{""}, Resources: []string{"pods", "nodes", "namespaces"}, Verbs: []string{"get", "list", "watch"}},
	{APIGroups: []string{"networking.k8s.io"}, Resources: []string{"networkpolicies"}, Verbs: []string{"get", "list", "watch"}},
}

// agentObjects are an engine's ServiceAccount, ClusterRole and binding (named bindingName),
// and its DaemonSet of privileged node agents in the nodes' network with spec's containers
// and volumes: critical, on every Linux node whatever its taints.
func agentObjects(ds DaemonSet, labels map[string]string, bindingName string, rules []rbacv1.PolicyRule, spec v1.PodSpec, podMeta metav1.ObjectMeta) []runtime.Object {
	meta := metav1.ObjectMeta{Namespace: ds.Namespace, Name: ds.Name, Labels: labels}
	podLabels := map[string]string{"k8s-app": ds.Name}
	podMeta.Labels = podLabels
	spec.PriorityClassName = "system-node-critical"
	spec.HostNetwork = true
	spec.NodeSelector = map[string]string{v1.LabelOSStable: "linux"}
	spec.ServiceAccountName = ds.Name
	spec.Tolerations = []v1.Toleration{
		{Operator: v1.TolerationOpExists, Effect: v1.TaintEffectNoExecute},
		{Operator: v1.TolerationOpExists, Effect: v1.TaintEffectNoSchedule},
		{Key: "CriticalAddonsOnly", Operator: v1.TolerationOpExists},
	}
	for i := range spec.Containers {
		spec.Containers[i].SecurityContext = &v1.SecurityContext{Privileged: ptr.To(true)}
	}
	dsLabels := map[string]string{"app": ds.Name}
	for k, v := range labels {
		dsLabels[k] = v
	}
	return []runtime.Object{
		&v1.ServiceAccount{ObjectMeta: meta},
		&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: ds.Name, Labels: labels}, Rules: rules},
		&rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: bindingName, Labels: labels},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: ds.Name},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: ds.Namespace, Name: ds.Name}},
		},
		&appsv1.DaemonSet{
			ObjectMeta: metav1.ObjectMeta{Namespace: ds.Namespace, Name: ds.Name, Labels: dsLabels},
			Spec: appsv1.DaemonSetSpec{
				Selector: &metav1.LabelSelector{MatchLabels: podLabels},
				Template: v1.PodTemplateSpec{ObjectMeta: podMeta, Spec: spec},
			},
		},
	}
}

func hostPath(name, path string, t v1.HostPathType) v1.Volume {
	return v1.Volume{Name: name, VolumeSource: v1.VolumeSource{HostPath: &v1.HostPathVolumeSource{Path: path, Type: &t}}}
}
