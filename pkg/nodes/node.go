package nodes

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	cloudproviderapi "k8s.io/cloud-provider/api"

	"github.com/minaks/minaks/pkg/apiserver/config"
	"github.com/minaks/minaks/pkg/apiserver/version"
	"github.com/minaks/minaks/pkg/azlb"
	"github.com/minaks/minaks/pkg/netstack"
)

// What the nodes report about themselves, as an AKS Ubuntu node does.
const (
	OSImage          = "Ubuntu 22.04.5 LTS"
	NodeImageVersion = "AKSUbuntu-2204gen2containerd-202511.07.0"
	KubeletPort      = 10250
	// osDiskKi is the 128 GiB managed OS disk, as the kubelet sees its filesystem.
	osDiskKi = 129886128
)

// Identity is what a node agent needs to know about its node.
type Identity struct {
	Cluster  *config.Cluster
	Instance azlb.Instance
	// KernelVersion is the host's kernel, which every node shares.
	KernelVersion string
}

// Labels are the labels a node registers with: the kubelet's own and the ones AKS passes with
// --node-labels. Region, zone and instance type come later from the cloud node controller.
func (id Identity) Labels() map[string]string {
	c, n := id.Cluster, id.Cluster.Network
	l := map[string]string{
		v1.LabelHostname:                             id.Instance.Name,
		v1.LabelOSStable:                             "linux",
		v1.LabelArchStable:                           "amd64",
		"beta.kubernetes.io/os":                      "linux",
		"beta.kubernetes.io/arch":                    "amd64",
		"agentpool":                                  c.NodePoolName,
		"kubernetes.azure.com/agentpool":             c.NodePoolName,
		"kubernetes.azure.com/cluster":               c.NodeResourceGroup(),
		"kubernetes.azure.com/managedby":             "aks",
		"kubernetes.azure.com/mode":                  "system",
		"kubernetes.azure.com/role":                  "agent",
		"kubernetes.azure.com/os-sku":                "Ubuntu",
		"kubernetes.azure.com/node-image-version":    NodeImageVersion,
		"kubernetes.azure.com/nodepool-type":         "VirtualMachineScaleSets",
		"kubernetes.azure.com/storageprofile":        "managed",
		"kubernetes.azure.com/storagetier":           "Premium_LRS",
		"kubernetes.azure.com/network-name":          azlb.VNetName(c),
		"kubernetes.azure.com/network-subnet":        "aks-subnet",
		"kubernetes.azure.com/network-resourcegroup": c.NodeResourceGroup(),
		"kubernetes.azure.com/network-subscription":  azlb.SubscriptionID(c),
	}
	switch n.CNI() {
	case config.CNIOverlay:
		l["kubernetes.azure.com/azure-cni-overlay"] = "true"
		l["kubernetes.azure.com/podnetwork-type"] = "overlay"
	case config.CNINodeSubnet:
		l["kubernetes.azure.com/podnetwork-type"] = "nodesubnet"
	case config.CNIPodSubnet:
		l["kubernetes.azure.com/podnetwork-type"] = "podsubnet"
		l["kubernetes.azure.com/pod-network-subnet"] = "aks-podsubnet"
	}
	if n.Dataplane == "cilium" {
		l["kubernetes.azure.com/ebpf-dataplane"] = "cilium"
	}
	return l
}

// Node is the Node object the agent registers, as the kubelet with --cloud-provider=external
// does: labelled, tainted uninitialized until the cloud node controller has filled in
// providerID, addresses, zone and instance type.
func (id Identity) Node() *v1.Node {
	podCIDR := ""
	if len(id.Instance.PodCIDRs) > 0 {
		podCIDR = id.Instance.PodCIDRs[0]
	}
	return &v1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name:   id.Instance.Name,
			Labels: id.Labels(),
			Annotations: map[string]string{
				"node.alpha.kubernetes.io/ttl":                           "0",
				"volumes.kubernetes.io/controller-managed-attach-detach": "true",
			},
		},
		Spec: v1.NodeSpec{
			PodCIDR:  podCIDR,
			PodCIDRs: id.Instance.PodCIDRs,
			Taints:   []v1.Taint{{Key: cloudproviderapi.TaintExternalCloudProvider, Value: "true", Effect: v1.TaintEffectNoSchedule}},
		},
		Status: id.registrationStatus(),
	}
}

// registrationStatus is the status a node registers with: with kubenet, the network is
// unavailable until the route controller has created the node's route, as on AKS.
func (id Identity) registrationStatus() v1.NodeStatus {
	st := id.Status()
	if id.Cluster.Network.CNI() == config.CNIKubenet {
		now := metav1.Now()
		st.Conditions = append(st.Conditions, v1.NodeCondition{
			Type: v1.NodeNetworkUnavailable, Status: v1.ConditionTrue, Reason: "NoRouteCreated",
			Message: "Node created without a route", LastHeartbeatTime: now, LastTransitionTime: now,
		})
	}
	return st
}

// Status is the node status the agent reports: capacity and allocatable as AKS computes them for
// the VM size and max-pods, node info, addresses and conditions.
func (id Identity) Status() v1.NodeStatus {
	size := config.VMSizes[id.Cluster.NodeVMSize]
	capacity := v1.ResourceList{
		v1.ResourceCPU:              *resource.NewQuantity(int64(size.VCPUs), resource.DecimalSI),
		v1.ResourceMemory:           *resource.NewQuantity(int64(size.MemoryMiB)<<20, resource.BinarySI),
		v1.ResourcePods:             *resource.NewQuantity(int64(id.Cluster.Network.MaxPods), resource.DecimalSI),
		v1.ResourceEphemeralStorage: *resource.NewQuantity(osDiskKi<<10, resource.BinarySI),
		"hugepages-1Gi":             *resource.NewQuantity(0, resource.DecimalSI),
		"hugepages-2Mi":             *resource.NewQuantity(0, resource.DecimalSI),
	}
	allocatable := capacity.DeepCopy()
	cpuReserved, memReserved := aksReserved(size, id.Cluster.Network.MaxPods)
	allocatable[v1.ResourceCPU] = *resource.NewMilliQuantity(int64(size.VCPUs)*1000-cpuReserved, resource.DecimalSI)
	allocatable[v1.ResourceMemory] = *resource.NewQuantity(int64(size.MemoryMiB)<<20-memReserved, resource.BinarySI)
	allocatable[v1.ResourceEphemeralStorage] = *resource.NewQuantity(osDiskKi<<10*9/10, resource.BinarySI)

	sum := sha256.Sum256([]byte(id.Instance.ProviderID))
	uuid := hex.EncodeToString(sum[:16])
	return v1.NodeStatus{
		Capacity:        capacity,
		Allocatable:     allocatable,
		Addresses:       id.Instance.Addresses(),
		DaemonEndpoints: v1.NodeDaemonEndpoints{KubeletEndpoint: v1.DaemonEndpoint{Port: KubeletPort}},
		NodeInfo: v1.NodeSystemInfo{
			MachineID:               uuid,
			SystemUUID:              fmt.Sprintf("%s-%s-%s-%s-%s", uuid[0:8], uuid[8:12], uuid[12:16], uuid[16:20], uuid[20:32]),
			BootID:                  uuid,
			KernelVersion:           id.KernelVersion,
			OSImage:                 OSImage,
			ContainerRuntimeVersion: "minaks://" + version.Version,
			KubeletVersion:          version.Kubernetes(),
			KubeProxyVersion:        "",
			OperatingSystem:         "linux",
			Architecture:            "amd64",
		},
		Conditions: id.conditions(),
	}
}

// conditions are the kubelet's. With --network-plugin none the node stays NotReady until a CNI
// is installed, as on AKS with bring-your-own CNI.
func (id Identity) conditions() []v1.NodeCondition {
	now := metav1.Now()
	cond := func(t v1.NodeConditionType, s v1.ConditionStatus, reason, msg string) v1.NodeCondition {
		return v1.NodeCondition{Type: t, Status: s, Reason: reason, Message: msg, LastHeartbeatTime: now, LastTransitionTime: now}
	}
	ready := cond(v1.NodeReady, v1.ConditionTrue, "KubeletReady", "kubelet is posting ready status")
	if id.Cluster.Network.CNI() == config.CNINone {
		ready = cond(v1.NodeReady, v1.ConditionFalse, "KubeletNotReady",
			"container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:Network plugin returns error: cni plugin not initialized")
	}
	return []v1.NodeCondition{
		cond(v1.NodeMemoryPressure, v1.ConditionFalse, "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
		cond(v1.NodeDiskPressure, v1.ConditionFalse, "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
		cond(v1.NodePIDPressure, v1.ConditionFalse, "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
		ready,
	}
}

// aksReserved is what AKS keeps from a node (kube-reserved plus the 100Mi eviction threshold), in
// millicores and bytes, by AKS's rules since Kubernetes 1.29: CPU by core count; memory
// 20 MiB per max pod plus 50 MiB, at most 25% of the VM's memory.
func aksReserved(size config.VMSize, maxPods int) (cpuMilli, memBytes int64) {
	switch {
	case size.VCPUs <= 1:
		cpuMilli = 60
	case size.VCPUs == 2:
		cpuMilli = 100
	case size.VCPUs <= 4:
		cpuMilli = 140
	case size.VCPUs <= 8:
		cpuMilli = 180
	case size.VCPUs <= 16:
		cpuMilli = 260
	case size.VCPUs <= 32:
		cpuMilli = 420
	default:
		cpuMilli = 740
	}
	mem := int64(20*maxPods+50) << 20
	mem = min(mem, int64(size.MemoryMiB)<<20/4)
	return cpuMilli, mem + 100<<20
}

// NodeNSName is the namespace of a node: minaks.<cluster>.<node name>.
func NodeNSName(cluster, node string) string { return netstack.NSPrefix(cluster) + node }

// PodNSName is the namespace of a pod's sandbox: minaks.<cluster>.pod-<uid>.
func PodNSName(cluster, uid string) string { return netstack.NSPrefix(cluster) + "pod-" + uid }

// portName is the fabric end of a node's NIC: the VMSS instance suffix ("vmss00000a").
func portName(node string) string {
	if i := strings.LastIndex(node, "vmss"); i >= 0 {
		return node[i:]
	}
	return node
}

// ResolvConfPath is a node's /etc/resolv.conf, kept in the cluster's state directory.
func ResolvConfPath(c *config.Cluster, node string) string {
	return c.Path("nodes", node, "resolv.conf")
}

// ResolvConf is an AKS node's resolver configuration: Azure DNS, and the VNet's internal
// cloudapp.net search domain.
func (id Identity) ResolvConf() string {
	return fmt.Sprintf("# minaks node %s: Azure DNS, as on an AKS node\nnameserver %s\nsearch %s.%s.internal.cloudapp.net\n",
		id.Instance.Name, netstack.WireServer, azlb.PoolID(id.Cluster), id.Cluster.Location)
}

func writeResolvConf(id Identity) error {
	path := ResolvConfPath(id.Cluster, id.Instance.Name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(id.ResolvConf()), 0o644)
}
