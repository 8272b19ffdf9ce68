package proxy

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	v1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/utils/ptr"

	"github.com/minaks/minaks/pkg/apiserver/apply"
	"github.com/minaks/minaks/pkg/apiserver/config"
)

// The kube-proxy add-on's objects in kube-system, named as on AKS.
const (
	Namespace = metav1.NamespaceSystem
	Name      = "kube-proxy"
	// Image is the reference the DaemonSet runs; the tag is the embedded Kubernetes version.
	Image = "mcr.microsoft.com/oss/kubernetes/kube-proxy"

	configDir     = "/var/lib/kube-proxy"
	configKey     = "config.conf"
	kubeconfigKey = "kubeconfig.conf"
	saDir         = "/var/run/secrets/kubernetes.io/serviceaccount"
)

// Labels are the labels of the DaemonSet and its pods; the first two select them.
var Labels = map[string]string{"component": "kube-proxy", "tier": "node", "k8s-app": "kube-proxy"}

// Objects are the kube-proxy add-on as AKS deploys it: a DaemonSet on every Linux node with the
// node's network (hostNetwork) and its ServiceAccount, bound to system:node-proxier, and the
// ConfigMap with the configuration and a kubeconfig for the API server's in-VNet address (a
// node's kube-proxy cannot use the kubernetes Service it is about to program).
func Objects(c *config.Cluster, kubeVersion string) ([]runtime.Object, error) {
	cfg, err := Configuration(c)
	if err != nil {
		return nil, err
	}
	cfgYAML, err := Marshal(cfg)
	if err != nil {
		return nil, err
	}
	kubeconfig, err := clientcmd.Write(clientcmdapi.Config{
		Clusters: map[string]*clientcmdapi.Cluster{"default": {
			Server:               (&url.URL{Scheme: "https", Host: net.JoinHostPort(c.Network.APIServerIP().String(), strconv.Itoa(c.APIPort))}).String(),
			CertificateAuthority: saDir + "/ca.crt",
		}},
		AuthInfos:      map[string]*clientcmdapi.AuthInfo{"default": {TokenFile: saDir + "/token"}},
		Contexts:       map[string]*clientcmdapi.Context{"default": {Cluster: "default", AuthInfo: "default"}},
		CurrentContext: "default",
	})
	if err != nil {
		return nil, err
	}
	meta := metav1.ObjectMeta{Namespace: Namespace, Name: Name, Labels: Labels}
	selector := map[string]string{"component": Labels["component"], "tier": Labels["tier"]}
	return []runtime.Object{
		&v1.ServiceAccount{ObjectMeta: meta},
		&rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "system:kube-proxy", Labels: Labels},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "system:node-proxier"},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: Namespace, Name: Name}},
		},
		&v1.ConfigMap{ObjectMeta: meta, Data: map[string]string{configKey: string(cfgYAML), kubeconfigKey: string(kubeconfig)}},
		&appsv1.DaemonSet{
			ObjectMeta: meta,
			Spec: appsv1.DaemonSetSpec{
				Selector: &metav1.LabelSelector{MatchLabels: selector},
				UpdateStrategy: appsv1.DaemonSetUpdateStrategy{
					Type:          appsv1.RollingUpdateDaemonSetStrategyType,
					RollingUpdate: &appsv1.RollingUpdateDaemonSet{MaxUnavailable: ptr.To(intstr.FromString("50%"))},
				},
				Template: v1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: Labels},
					Spec:       podSpec(kubeVersion),
				},
			},
		},
	}, nil
}

func podSpec(kubeVersion string) v1.PodSpec {
	return v1.PodSpec{
		HostNetwork:        true,
		DNSPolicy:          v1.DNSClusterFirst,
		PriorityClassName:  "system-node-critical",
		ServiceAccountName: Name,
		NodeSelector:       map[string]string{v1.LabelOSStable: "linux"},
		Tolerations:        []v1.Toleration{{Operator: v1.TolerationOpExists}},
		Containers: []v1.Container{{
			Name:    Name,
			Image:   Image + ":" + kubeVersion,
			Command: []string{"kube-proxy", "--config=" + configDir + "/" + configKey, "--hostname-override=$(NODE_NAME)", "--v=3"},
			Env: []v1.EnvVar{{Name: "NODE_NAME", ValueFrom: &v1.EnvVarSource{
				FieldRef: &v1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "spec.nodeName"},
			}}},
			// Ready once the node's rules are in sync: kube-proxy's /healthz answers 200
			// only after its first sync.
			ReadinessProbe: &v1.Probe{
				ProbeHandler:  v1.ProbeHandler{HTTPGet: &v1.HTTPGetAction{Path: "/healthz", Port: intstr.FromInt32(HealthzPort)}},
				PeriodSeconds: 1, FailureThreshold: 3, SuccessThreshold: 1, TimeoutSeconds: 1,
			},
			SecurityContext: &v1.SecurityContext{Privileged: ptr.To(true)},
			VolumeMounts: []v1.VolumeMount{
				{Name: Name, MountPath: configDir},
				// The host's iptables lock, shared with everything else writing the node's rules.
				// (No /lib/modules as on AKS: only IPVS mode loads modules, and hosts such as
				// a minimal VM's may not have the directory.)
				{Name: "xtables-lock", MountPath: "/run/xtables.lock"},
			},
		}},
		Volumes: []v1.Volume{
			{Name: Name, VolumeSource: v1.VolumeSource{ConfigMap: &v1.ConfigMapVolumeSource{LocalObjectReference: v1.LocalObjectReference{Name: Name}}}},
			{Name: "xtables-lock", VolumeSource: v1.VolumeSource{HostPath: &v1.HostPathVolumeSource{Path: "/run/xtables.lock", Type: ptr.To(v1.HostPathFileOrCreate)}}},
		},
	}
}

// Apply creates or updates the kube-proxy add-on.
func Apply(ctx context.Context, client kubernetes.Interface, c *config.Cluster, kubeVersion string) error {
	objs, err := Objects(c, kubeVersion)
	if err != nil {
		return fmt.Errorf("kube-proxy: %w", err)
	}
	return apply.Objects(ctx, client, objs...)
}
