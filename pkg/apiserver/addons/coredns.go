package addons

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	v1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/minaks/minaks/pkg/apiserver/config"
)

// The CoreDNS add-on's names and image, as on AKS.
const (
	Namespace = metav1.NamespaceSystem
	// CoreDNSName names the Deployment, its ServiceAccount and the ConfigMap with the Corefile.
	CoreDNSName = "coredns"
	// CoreDNSCustomName is the users' ConfigMap: *.server keys add server blocks, *.override
	// keys add plugins to the default server block.
	CoreDNSCustomName = "coredns-custom"
	// ServiceName is the Service at the cluster's DNS service IP.
	ServiceName = "kube-dns"
	// ClusterRoleName names the ClusterRole and its ClusterRoleBinding.
	ClusterRoleName = "system:coredns"
	// CoreDNSImage is the image AKS runs on its current Kubernetes versions (1.35: v1.13.1-20).
	CoreDNSImage = "mcr.microsoft.com/oss/v2/kubernetes/coredns:v1.13.1-20"
	// ClusterDomain is AKS's cluster domain; AKS does not let it be changed.
	ClusterDomain = "cluster.local"

	// addonVersion is AKS's "version" label of the CoreDNS Deployment, part of its selector.
	addonVersion = "v20"
	corefileKey  = "Corefile"
	configDir    = "/etc/coredns"
	customDir    = configDir + "/custom"
)

// DNSSettings are the cluster's DNS settings the CoreDNS add-on depends on.
type DNSSettings struct {
	// ClusterDomain is the kubelet's clusterDomain, "cluster.local".
	ClusterDomain string
	// ServiceIPs are kube-dns's cluster IPs: the cluster's DNS service IP (the kubelet's
	// clusterDNS) first, and in a dual-stack cluster the other family's address.
	ServiceIPs []netip.Addr
}

// DNSSettingsFor returns c's DNS settings: the DNS service IP (`--dns-service-ip`), and in a
// dual-stack cluster the address at the same offset in the IPv6 service range, so that
// kube-dns has a cluster IP of each family.
func DNSSettingsFor(c *config.Cluster) (DNSSettings, error) {
	s := DNSSettings{ClusterDomain: ClusterDomain}
	ip, err := netip.ParseAddr(c.Network.DNSServiceIP)
	if err != nil {
		return s, fmt.Errorf("DNS service IP %q: %w", c.Network.DNSServiceIP, err)
	}
	s.ServiceIPs = []netip.Addr{ip}
	if !c.Network.DualStack() {
		return s, nil
	}
	var own, other netip.Prefix
	for _, cidr := range c.Network.ServiceCIDRs {
		p, err := netip.ParsePrefix(cidr)
		if err != nil {
			return s, fmt.Errorf("service CIDR %q: %w", cidr, err)
		}
		switch {
		case p.Contains(ip):
			own = p.Masked()
		case p.Addr().Is4() != ip.Is4():
			other = p.Masked()
		}
	}
	if !own.IsValid() || !other.IsValid() {
		return s, fmt.Errorf("dual-stack cluster: service CIDRs %v do not hold DNS service IP %s and a range of the other family", c.Network.ServiceCIDRs, ip)
	}
	second, err := sameOffset(own, ip, other)
	if err != nil {
		return s, err
	}
	s.ServiceIPs = append(s.ServiceIPs, second)
	return s, nil
}

// sameOffset returns the address of to that is as far from its start as ip is from from's
// (offsets below 2^64).
func sameOffset(from netip.Prefix, ip netip.Addr, to netip.Prefix) (netip.Addr, error) {
	low64 := func(a netip.Addr) uint64 {
		b := a.As16()
		return binary.BigEndian.Uint64(b[8:])
	}
	b := to.Addr().As16()
	binary.BigEndian.PutUint64(b[8:], low64(to.Addr())+low64(ip)-low64(from.Addr()))
	out := netip.AddrFrom16(b)
	if to.Addr().Is4() {
		out = out.Unmap()
	}
	if !to.Contains(out) {
		return netip.Addr{}, fmt.Errorf("no address at %s's offset in %s", ip, to)
	}
	return out, nil
}

// Corefile is AKS's Corefile for clusterDomain (AKS: `kubectl get cm -n kube-system coredns`).
func Corefile(clusterDomain string) string {
	return strings.ReplaceAll(corefile, "CLUSTER_DOMAIN", clusterDomain)
}

const corefile = `.:53 {
    errors
    ready
    health {
      lameduck 5s
    }
    kubernetes CLUSTER_DOMAIN in-addr.arpa ip6.arpa {
      pods insecure
      fallthrough in-addr.arpa ip6.arpa
      ttl 30
    }
    prometheus :9153
    forward . /etc/resolv.conf
    cache 30
    loop
    reload
    loadbalance
    import custom/*.override
    template ANY ANY internal.cloudapp.net {
      match "^(?:[^.]+\.){4,}internal\.cloudapp\.net\.$"
      rcode NXDOMAIN
      fallthrough
    }
    template ANY ANY reddog.microsoft.com {
      rcode NXDOMAIN
    }
}
import custom/*.server
`

// Labels.
var (
	// appLabels select CoreDNS's pods: the Service's selector.
	appLabels = map[string]string{"k8s-app": "kube-dns"}
	// podLabels are the pods' labels and the Deployment's selector.
	podLabels = map[string]string{"k8s-app": "kube-dns", "version": addonVersion}
	// deploymentLabels label the Deployment and the Service.
	deploymentLabels = map[string]string{
		"k8s-app":                         "kube-dns",
		"kubernetes.io/cluster-service":   "true",
		"kubernetes.io/name":              "CoreDNS",
		"addonmanager.kubernetes.io/mode": "Reconcile",
	}
	// configLabels label the ConfigMaps, with the add-on manager's mode: Reconcile for coredns,
	// EnsureExists for coredns-custom.
	configLabels = map[string]string{
		"k8s-app":                       "kube-dns",
		"kubernetes.io/cluster-service": "true",
	}
	rbacLabels = map[string]string{
		"kubernetes.io/bootstrapping":     "rbac-defaults",
		"addonmanager.kubernetes.io/mode": "Reconcile",
	}
	serviceAccountLabels = map[string]string{
		"kubernetes.io/cluster-service":   "true",
		"addonmanager.kubernetes.io/mode": "Reconcile",
	}
)

// CoreDNSObjects are the CoreDNS add-on as AKS ships it, in the order to apply them:
// ServiceAccount, ClusterRole and ClusterRoleBinding system:coredns, ConfigMap coredns with
// the Corefile, Deployment coredns (2 replicas) and Service kube-dns at s.ServiceIPs.
// CoreDNSCustom, the users' ConfigMap, is apart: it is only ever created.
func CoreDNSObjects(s DNSSettings) ([]runtime.Object, error) {
	svc, err := kubeDNSService(s.ServiceIPs)
	if err != nil {
		return nil, err
	}
	return []runtime.Object{
		&v1.ServiceAccount{
			ObjectMeta: metav1.ObjectMeta{Namespace: Namespace, Name: CoreDNSName, Labels: serviceAccountLabels},
		},
		&rbacv1.ClusterRole{
			ObjectMeta: metav1.ObjectMeta{Name: ClusterRoleName, Labels: rbacLabels},
			Rules: []rbacv1.PolicyRule{
				{APIGroups: []string{""}, Resources: []string{"endpoints", "services", "pods", "namespaces"}, Verbs: []string{"list", "watch"}},
				{APIGroups: []string{"discovery.k8s.io"}, Resources: []string{"endpointslices"}, Verbs: []string{"list", "watch"}},
			},
		},
		&rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{
				Name:        ClusterRoleName,
				Labels:      rbacLabels,
				Annotations: map[string]string{"rbac.authorization.kubernetes.io/autoupdate": "true"},
			},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: ClusterRoleName},
			Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: Namespace, Name: CoreDNSName}},
		},
		&v1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Namespace: Namespace, Name: CoreDNSName,
				Labels: withLabel(configLabels, "addonmanager.kubernetes.io/mode", "Reconcile")},
			Data: map[string]string{corefileKey: Corefile(s.ClusterDomain)},
		},
		deployment(),
		svc,
	}, nil
}

// CoreDNSCustom is the empty coredns-custom ConfigMap AKS creates for its users.
func CoreDNSCustom() *v1.ConfigMap {
	return &v1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: Namespace, Name: CoreDNSCustomName,
			Labels: withLabel(configLabels, "addonmanager.kubernetes.io/mode", "EnsureExists")},
	}
}

func deployment() *appsv1.Deployment {
	configVolume, customVolume, tmpVolume := "config-volume", "custom-config-volume", "tmp"
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: Namespace, Name: CoreDNSName,
			Labels: withLabel(deploymentLabels, "version", addonVersion)},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](2),
			Selector: &metav1.LabelSelector{MatchLabels: podLabels},
			Strategy: appsv1.DeploymentStrategy{
				Type:          appsv1.RollingUpdateDeploymentStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDeployment{MaxUnavailable: ptr.To(intstr.FromInt32(1))},
			},
			Template: v1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: podLabels},
				Spec: v1.PodSpec{
					PriorityClassName:  "system-node-critical",
					ServiceAccountName: CoreDNSName,
					// The node's resolv.conf, which points at Azure DNS: forward's upstream.
					DNSPolicy: v1.DNSDefault,
					Tolerations: []v1.Toleration{
						{Key: "CriticalAddonsOnly", Operator: v1.TolerationOpExists},
					},
					Affinity: &v1.Affinity{
						NodeAffinity: &v1.NodeAffinity{
							RequiredDuringSchedulingIgnoredDuringExecution: &v1.NodeSelector{
								NodeSelectorTerms: []v1.NodeSelectorTerm{{MatchExpressions: []v1.NodeSelectorRequirement{
									{Key: v1.LabelOSStable, Operator: v1.NodeSelectorOpIn, Values: []string{"linux"}},
								}}},
							},
							// System node pools first, as AKS places its add-ons.
							PreferredDuringSchedulingIgnoredDuringExecution: []v1.PreferredSchedulingTerm{{
								Weight: 100,
								Preference: v1.NodeSelectorTerm{MatchExpressions: []v1.NodeSelectorRequirement{
									{Key: "kubernetes.azure.com/mode", Operator: v1.NodeSelectorOpIn, Values: []string{"system"}},
								}},
							}},
						},
						PodAntiAffinity: &v1.PodAntiAffinity{
							PreferredDuringSchedulingIgnoredDuringExecution: []v1.WeightedPodAffinityTerm{{
								Weight: 100,
								PodAffinityTerm: v1.PodAffinityTerm{
									LabelSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
										{Key: "k8s-app", Operator: metav1.LabelSelectorOpIn, Values: []string{"kube-dns"}},
									}},
									TopologyKey: v1.LabelHostname,
								},
							}},
						},
					},
					Containers: []v1.Container{{
						Name:            "coredns",
						Image:           CoreDNSImage,
						ImagePullPolicy: v1.PullIfNotPresent,
						Args:            []string{"-conf", configDir + "/" + corefileKey},
						Ports: []v1.ContainerPort{
							{Name: "dns", ContainerPort: 53, Protocol: v1.ProtocolUDP},
							{Name: "dns-tcp", ContainerPort: 53, Protocol: v1.ProtocolTCP},
							{Name: "metrics", ContainerPort: 9153, Protocol: v1.ProtocolTCP},
						},
						Resources: v1.ResourceRequirements{
							Requests: v1.ResourceList{v1.ResourceCPU: resource.MustParse("100m"), v1.ResourceMemory: resource.MustParse("70Mi")},
							Limits:   v1.ResourceList{v1.ResourceCPU: resource.MustParse("3"), v1.ResourceMemory: resource.MustParse("500Mi")},
						},
						LivenessProbe: &v1.Probe{
							ProbeHandler: v1.ProbeHandler{HTTPGet: &v1.HTTPGetAction{
								Path: "/health", Port: intstr.FromInt32(8080), Scheme: v1.URISchemeHTTP}},
							InitialDelaySeconds: 60,
							TimeoutSeconds:      5,
							PeriodSeconds:       10,
							SuccessThreshold:    1,
							FailureThreshold:    5,
						},
						ReadinessProbe: &v1.Probe{
							ProbeHandler: v1.ProbeHandler{HTTPGet: &v1.HTTPGetAction{
								Path: "/ready", Port: intstr.FromInt32(8181), Scheme: v1.URISchemeHTTP}},
						},
						SecurityContext: &v1.SecurityContext{
							AllowPrivilegeEscalation: ptr.To(false),
							Capabilities: &v1.Capabilities{
								Add:  []v1.Capability{"NET_BIND_SERVICE"},
								Drop: []v1.Capability{"all"},
							},
							ReadOnlyRootFilesystem: ptr.To(true),
						},
						VolumeMounts: []v1.VolumeMount{
							{Name: configVolume, MountPath: configDir, ReadOnly: true},
							{Name: customVolume, MountPath: customDir, ReadOnly: true},
							{Name: tmpVolume, MountPath: "/tmp"},
						},
					}},
					Volumes: []v1.Volume{
						{Name: configVolume, VolumeSource: v1.VolumeSource{ConfigMap: &v1.ConfigMapVolumeSource{
							LocalObjectReference: v1.LocalObjectReference{Name: CoreDNSName},
							Items:                []v1.KeyToPath{{Key: corefileKey, Path: corefileKey}},
						}}},
						{Name: customVolume, VolumeSource: v1.VolumeSource{ConfigMap: &v1.ConfigMapVolumeSource{
							LocalObjectReference: v1.LocalObjectReference{Name: CoreDNSCustomName},
							Optional:             ptr.To(true),
						}}},
						{Name: tmpVolume, VolumeSource: v1.VolumeSource{EmptyDir: &v1.EmptyDirVolumeSource{}}},
					},
				},
			},
		},
	}
}

// kubeDNSService is kube-dns at ips: single-stack with one address, RequireDualStack with one
// address of each family.
func kubeDNSService(ips []netip.Addr) (*v1.Service, error) {
	svc := &v1.Service{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: Namespace, Name: ServiceName, Labels: deploymentLabels,
			Annotations: map[string]string{"prometheus.io/port": "9153", "prometheus.io/scrape": "true"},
		},
		Spec: v1.ServiceSpec{
			Selector: appLabels,
			Ports: []v1.ServicePort{
				{Name: "dns", Port: 53, Protocol: v1.ProtocolUDP, TargetPort: intstr.FromInt32(53)},
				{Name: "dns-tcp", Port: 53, Protocol: v1.ProtocolTCP, TargetPort: intstr.FromInt32(53)},
				{Name: "metrics", Port: 9153, Protocol: v1.ProtocolTCP, TargetPort: intstr.FromInt32(9153)},
			},
		},
	}
	switch {
	case len(ips) == 1 && ips[0].IsValid():
		svc.Spec.ClusterIP = ips[0].String()
	case len(ips) == 2 && ips[0].IsValid() && ips[1].IsValid() && ips[0].Is4() != ips[1].Is4():
		svc.Spec.ClusterIP = ips[0].String()
		svc.Spec.ClusterIPs = []string{ips[0].String(), ips[1].String()}
		svc.Spec.IPFamilyPolicy = ptr.To(v1.IPFamilyPolicyRequireDualStack)
		svc.Spec.IPFamilies = []v1.IPFamily{family(ips[0]), family(ips[1])}
	default:
		return nil, fmt.Errorf("kube-dns needs one cluster IP, or one of each family; got %v", ips)
	}
	return svc, nil
}

func family(ip netip.Addr) v1.IPFamily {
	if ip.Is4() {
		return v1.IPv4Protocol
	}
	return v1.IPv6Protocol
}

// withLabel returns a copy of labels with key=value added.
func withLabel(labels map[string]string, key, value string) map[string]string {
	out := make(map[string]string, len(labels)+1)
	for k, v := range labels {
		out[k] = v
	}
	out[key] = value
	return out
}
