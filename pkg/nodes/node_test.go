package nodes

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "k8s.io/api/core/v1"

	"github.com/minaks/minaks/pkg/apiserver/config"
	"github.com/minaks/minaks/pkg/apiserver/config/configtest"
	"github.com/minaks/minaks/pkg/azlb"
)

func identity(t *testing.T, set func(*config.Options), id int) Identity {
	t.Helper()
	c := configtest.Cluster(t, set)
	s := azlb.NewScaleSet(c)
	in, err := s.Instance(id)
	if err != nil {
		t.Fatal(err)
	}
	return Identity{Cluster: c, Instance: in, KernelVersion: "6.1.0"}
}

func TestNodeObject(t *testing.T) {
	id := identity(t, nil, 1)
	n := id.Node()
	vnet := azlb.VNetName(id.Cluster)
	sub := azlb.SubscriptionID(id.Cluster)
	want := map[string]string{
		"kubernetes.io/hostname":                     id.Instance.Name,
		"kubernetes.io/os":                           "linux",
		"kubernetes.io/arch":                         "amd64",
		"beta.kubernetes.io/os":                      "linux",
		"beta.kubernetes.io/arch":                    "amd64",
		"agentpool":                                  "nodepool1",
		"kubernetes.azure.com/agentpool":             "nodepool1",
		"kubernetes.azure.com/cluster":               "MC_minaks-rg_minaks_eastus",
		"kubernetes.azure.com/managedby":             "aks",
		"kubernetes.azure.com/mode":                  "system",
		"kubernetes.azure.com/role":                  "agent",
		"kubernetes.azure.com/os-sku":                "Ubuntu",
		"kubernetes.azure.com/node-image-version":    NodeImageVersion,
		"kubernetes.azure.com/nodepool-type":         "VirtualMachineScaleSets",
		"kubernetes.azure.com/storageprofile":        "managed",
		"kubernetes.azure.com/storagetier":           "Premium_LRS",
		"kubernetes.azure.com/network-name":          vnet,
		"kubernetes.azure.com/network-subnet":        "aks-subnet",
		"kubernetes.azure.com/network-resourcegroup": "MC_minaks-rg_minaks_eastus",
		"kubernetes.azure.com/network-subscription":  sub,
		"kubernetes.azure.com/azure-cni-overlay":     "true",
		"kubernetes.azure.com/podnetwork-type":       "overlay",
	}
	if diff := cmp.Diff(want, n.Labels); diff != "" {
		t.Errorf("labels (-want +got):\n%s", diff)
	}
	if n.Spec.PodCIDR != "10.244.1.0/24" || len(n.Spec.Taints) != 1 || n.Spec.Taints[0].Key != "node.cloudprovider.kubernetes.io/uninitialized" {
		t.Errorf("spec %+v", n.Spec)
	}
	st := n.Status
	for res, want := range map[v1.ResourceName]string{
		v1.ResourceCPU: "2", v1.ResourceMemory: "7Gi", v1.ResourcePods: "250",
	} {
		if q := st.Capacity[res]; q.String() != want {
			t.Errorf("capacity %s = %s, want %s", res, q.String(), want)
		}
	}
	// AKS keeps 100m CPU of 2 cores; memory min(20Mi*250+50Mi, 25%) + 100Mi eviction.
	for res, want := range map[v1.ResourceName]string{
		v1.ResourceCPU: "1900m", v1.ResourceMemory: "5276Mi",
	} {
		if q := st.Allocatable[res]; q.String() != want {
			t.Errorf("allocatable %s = %s, want %s", res, q.String(), want)
		}
	}
	if st.NodeInfo.OSImage != OSImage || st.NodeInfo.KernelVersion != "6.1.0" || st.NodeInfo.OperatingSystem != "linux" {
		t.Errorf("node info %+v", st.NodeInfo)
	}
	if st.Addresses[0].Address != "10.224.0.5" || st.DaemonEndpoints.KubeletEndpoint.Port != 10250 {
		t.Errorf("addresses %v, endpoints %v", st.Addresses, st.DaemonEndpoints)
	}
}

func TestNodeConditionsAndCapacityPerMode(t *testing.T) {
	for _, tc := range []struct {
		plugin  string
		pods    string
		ready   v1.ConditionStatus
		memory  string
		podType string
	}{
		{"kubenet", "110", v1.ConditionTrue, "5276Mi", ""},
		{"azure", "30", v1.ConditionTrue, "6418Mi", "nodesubnet"},
		{"none", "250", v1.ConditionFalse, "5276Mi", ""},
	} {
		t.Run(tc.plugin, func(t *testing.T) {
			n := identity(t, func(o *config.Options) { o.NetworkPlugin = tc.plugin }, 0).Node()
			if q := n.Status.Capacity[v1.ResourcePods]; q.String() != tc.pods {
				t.Errorf("pods %s, want %s", q.String(), tc.pods)
			}
			if q := n.Status.Allocatable[v1.ResourceMemory]; q.String() != tc.memory {
				t.Errorf("allocatable memory %s, want %s", q.String(), tc.memory)
			}
			for _, c := range n.Status.Conditions {
				if c.Type == v1.NodeReady && c.Status != tc.ready {
					t.Errorf("Ready %s, want %s (%s)", c.Status, tc.ready, c.Message)
				}
			}
			if got := n.Labels["kubernetes.azure.com/podnetwork-type"]; got != tc.podType {
				t.Errorf("podnetwork-type %q, want %q", got, tc.podType)
			}
		})
	}
}
