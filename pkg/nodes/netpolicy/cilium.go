package netpolicy

import (
	"strconv"

	v1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/minaks/minaks/images/cilium"
	"github.com/minaks/minaks/pkg/apiserver/config"
	"github.com/minaks/minaks/pkg/nodes/proxy"
)

// Cilium's objects in kube-system, as AKS deploys Azure CNI powered by Cilium.
const (
	CiliumName = "cilium"
	// CiliumImage is the cilium image AKS runs.
	CiliumImage      = "mcr.microsoft.com/oss/cilium/cilium:v1.18.3"
	ciliumConfigName = "cilium-config"
	ciliumConfigDir  = "/tmp/cilium/config-map"
	ciliumHealthPort = 9879
)

// ciliumObjects are the cilium DaemonSet (its agent on every node, in kube-proxy's place), its
// ServiceAccount and RBAC, and the ConfigMap cilium-config: policy enforcement on, the kube-proxy
// replacement on, with the configuration of the nftables proxier it runs.
func ciliumObjects(c *config.Cluster) ([]runtime.Object, error) {
	kpr := *c
	kpr.KubeProxy.Mode = config.ProxyModeNFTables
	cfg, err := proxy.Configuration(&kpr)
	if err != nil {
		return nil, err
	}
	cfg.ClientConnection.Kubeconfig = "" // in-cluster, through KUBERNETES_SERVICE_HOST
	cfgYAML, err := proxy.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	l7 := strconv.FormatBool(c.Network.AdvancedNetworkPolicies() == config.ACNSL7)
	data := map[string]string{
		"cluster-name":                 "default",
		"enable-ipv4":                  "true",
		cilium.KeyEnableIPv6:           strconv.FormatBool(c.Network.DualStack()),
		"enable-policy":                "default",
		"policy-cidr-match-mode":       "",
		"ipam":                         "delegated-plugin",
		"routing-mode":                 "native",
		"enable-l7-proxy":              l7,
		"enable-hubble":                "false",
		"prometheus-serve-addr":        ":9962",
		cilium.KeyKubeProxyReplacement: "true",
		"kube-proxy-replacement-healthz-bind-address": "0.0.0.0:10256",
		cilium.KeyKubeProxyConfig:                     string(cfgYAML),
	}
	labels := map[string]string{"kubernetes.azure.com/managedby": "aks"}
	ds := DaemonSet{Namespace: metav1.NamespaceSystem, Name: CiliumName}
	rules := append(readRules,
		rbacv1.PolicyRule{APIGroups: []string{cilium.Group}, Resources: []string{cilium.ResourceCNP, cilium.ResourceCCNP}, Verbs: []string{"get", "list", "watch"}},
		rbacv1.PolicyRule{APIGroups: []string{cilium.Group}, Resources: []string{cilium.ResourceCNP + "/status", cilium.ResourceCCNP + "/status"}, Verbs: []string{"patch", "update"}},
	)
	fieldEnv := func(name, path string) v1.EnvVar {
		return v1.EnvVar{Name: name, ValueFrom: &v1.EnvVarSource{FieldRef: &v1.ObjectFieldSelector{APIVersion: "v1", FieldPath: path}}}
	}
	health := v1.ProbeHandler{HTTPGet: &v1.HTTPGetAction{
		Host: "127.0.0.1", Path: "/healthz", Port: intstr.FromInt32(ciliumHealthPort),
		HTTPHeaders: []v1.HTTPHeader{{Name: "brief", Value: "true"}},
	}}
	objs := []runtime.Object{
		&v1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ds.Namespace, Name: ciliumConfigName, Labels: labels}, Data: data},
		// The kube-proxy replacement reads what kube-proxy reads.
		&rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "cilium-node-proxier", Labels: labels},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "system:node-proxier"},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: ds.Namespace, Name: ds.Name}},
		},
	}
	return append(objs, agentObjects(ds, labels, CiliumName, rules,
		v1.PodSpec{
			TerminationGracePeriodSeconds: ptr.To[int64](1),
			Containers: []v1.Container{{
				Name:    "cilium-agent",
				Image:   CiliumImage,
				Command: []string{"cilium-agent"},
				Args:    []string{"--config-dir=" + ciliumConfigDir},
				Env: []v1.EnvVar{
					fieldEnv("K8S_NODE_NAME", "spec.nodeName"),
					fieldEnv("CILIUM_K8S_NAMESPACE", "metadata.namespace"),
					// The API server itself, not the kubernetes Service the agent implements.
					{Name: "KUBERNETES_SERVICE_HOST", Value: c.Network.APIServerIP().String()},
					{Name: "KUBERNETES_SERVICE_PORT", Value: strconv.Itoa(c.APIPort)},
				},
				Resources:      v1.ResourceRequirements{Requests: v1.ResourceList{v1.ResourceCPU: resource.MustParse("100m"), v1.ResourceMemory: resource.MustParse("300Mi")}},
				ReadinessProbe: &v1.Probe{ProbeHandler: health, PeriodSeconds: 1, FailureThreshold: 3, SuccessThreshold: 1, TimeoutSeconds: 5},
				LivenessProbe:  &v1.Probe{ProbeHandler: health, PeriodSeconds: 30, FailureThreshold: 10, SuccessThreshold: 1, TimeoutSeconds: 5},
				VolumeMounts: []v1.VolumeMount{
					{Name: "cilium-config-path", MountPath: ciliumConfigDir, ReadOnly: true},
					{Name: "xtables-lock", MountPath: "/run/xtables.lock"},
				},
			}},
			Volumes: []v1.Volume{
				{Name: "cilium-config-path", VolumeSource: v1.VolumeSource{ConfigMap: &v1.ConfigMapVolumeSource{LocalObjectReference: v1.LocalObjectReference{Name: ciliumConfigName}}}},
				hostPath("xtables-lock", "/run/xtables.lock", v1.HostPathFileOrCreate),
			},
		},
		metav1.ObjectMeta{},
	)...), nil
}
