package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/minaks/minaks/pkg/netstack/netns"
	"github.com/minaks/minaks/pkg/netstack/netnstest"
)

type nodeList struct {
	Items []struct {
		Metadata struct {
			Name   string            `json:"name"`
			Labels map[string]string `json:"labels"`
		} `json:"metadata"`
		Spec struct {
			ProviderID string   `json:"providerID"`
			PodCIDRs   []string `json:"podCIDRs"`
			Taints     []struct {
				Key string `json:"key"`
			} `json:"taints"`
		} `json:"spec"`
		Status struct {
			Addresses []struct {
				Type    string `json:"type"`
				Address string `json:"address"`
			} `json:"addresses"`
			Conditions []struct {
				Type   string `json:"type"`
				Status string `json:"status"`
			} `json:"conditions"`
			Capacity map[string]string `json:"capacity"`
			NodeInfo struct {
				KubeletVersion string `json:"kubeletVersion"`
			} `json:"nodeInfo"`
		} `json:"status"`
	} `json:"items"`
}

func (c *testCluster) nodes() nodeList {
	c.t.Helper()
	var l nodeList
	if err := json.Unmarshal([]byte(c.mustKubectl("get", "nodes", "-o", "json")), &l); err != nil {
		c.t.Fatal(err)
	}
	return l
}

func TestNodesPerNetworkPlugin(t *testing.T) {
	for _, tc := range []struct {
		name    string
		flags   []string
		ips     []string
		cidrs   []string
		ready   bool
		maxPods string
		podType string
	}{
		{"overlay", nil, []string{"10.224.0.4", "10.224.0.5", "10.224.0.6"}, []string{"10.244.0.0/24", "10.244.1.0/24", "10.244.2.0/24"}, true, "250", "overlay"},
		{"kubenet", []string{"--network-plugin", "kubenet"}, []string{"10.224.0.4", "10.224.0.5", "10.224.0.6"}, []string{"10.244.0.0/24", "10.244.1.0/24", "10.244.2.0/24"}, true, "110", ""},
		{"azure node subnet", []string{"--network-plugin", "azure"}, []string{"10.224.0.4", "10.224.0.35", "10.224.0.66"}, nil, true, "30", "nodesubnet"},
		{"none", []string{"--network-plugin", "none"}, []string{"10.224.0.4", "10.224.0.5", "10.224.0.6"}, nil, false, "250", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newTestCluster(t)
			c.mustMinaks("up", append([]string{"--node-count", "3", "--zones", "1,2,3", "--location", "westus2"}, tc.flags...)...)
			nodes := c.nodes()
			if len(nodes.Items) != 3 {
				t.Fatalf("%d nodes, want 3", len(nodes.Items))
			}
			nameRE := regexp.MustCompile(`^aks-nodepool1-\d{8}-vmss00000[0-2]$`)
			for i, n := range nodes.Items {
				if !nameRE.MatchString(n.Metadata.Name) || !strings.HasSuffix(n.Metadata.Name, fmt.Sprint(i)) {
					t.Errorf("node %d is named %s", i, n.Metadata.Name)
				}
				ip := ""
				for _, a := range n.Status.Addresses {
					if a.Type == "InternalIP" {
						ip = a.Address
					}
				}
				if ip != tc.ips[i] {
					t.Errorf("%s: InternalIP %s, want %s", n.Metadata.Name, ip, tc.ips[i])
				}
				var wantCIDRs []string
				if tc.cidrs != nil {
					wantCIDRs = []string{tc.cidrs[i]}
				}
				if fmt.Sprint(n.Spec.PodCIDRs) != fmt.Sprint(wantCIDRs) {
					t.Errorf("%s: pod CIDRs %v, want %v", n.Metadata.Name, n.Spec.PodCIDRs, wantCIDRs)
				}
				if !strings.HasPrefix(n.Spec.ProviderID, "azure:///subscriptions/") || !strings.HasSuffix(n.Spec.ProviderID, fmt.Sprintf("/virtualMachines/%d", i)) {
					t.Errorf("%s: providerID %s", n.Metadata.Name, n.Spec.ProviderID)
				}
				l := n.Metadata.Labels
				for k, want := range map[string]string{
					"kubernetes.azure.com/agentpool":       "nodepool1",
					"kubernetes.azure.com/cluster":         "MC_minaks-rg_" + c.name + "_westus2",
					"kubernetes.azure.com/role":            "agent",
					"kubernetes.azure.com/mode":            "system",
					"node.kubernetes.io/instance-type":     "Standard_DS2_v2",
					"topology.kubernetes.io/region":        "westus2",
					"topology.kubernetes.io/zone":          fmt.Sprintf("westus2-%d", i+1),
					"kubernetes.azure.com/podnetwork-type": tc.podType,
				} {
					if want == "" {
						continue
					}
					if l[k] != want {
						t.Errorf("%s: label %s=%q, want %q", n.Metadata.Name, k, l[k], want)
					}
				}
				if n.Status.Capacity["pods"] != tc.maxPods {
					t.Errorf("%s: pods capacity %s, want %s", n.Metadata.Name, n.Status.Capacity["pods"], tc.maxPods)
				}
				if n.Status.NodeInfo.KubeletVersion != "v1.37.2" {
					t.Errorf("%s: kubelet %s", n.Metadata.Name, n.Status.NodeInfo.KubeletVersion)
				}
				for _, taint := range n.Spec.Taints {
					if taint.Key == "node.cloudprovider.kubernetes.io/uninitialized" {
						t.Errorf("%s: still uninitialized", n.Metadata.Name)
					}
				}
				ready := ""
				for _, cond := range n.Status.Conditions {
					if cond.Type == "Ready" {
						ready = cond.Status
					}
				}
				if (ready == "True") != tc.ready {
					t.Errorf("%s: Ready=%s, want ready %v", n.Metadata.Name, ready, tc.ready)
				}
			}

			// Real packets: host → node, node → node across the fabric.
			ns := func(i int) string { return "minaks." + c.name + "." + nodes.Items[i].Metadata.Name }
			netnstest.Serve(t, ns(0), tc.ips[0]+":7000", netnstest.Text("node0"))
			netnstest.Serve(t, ns(2), tc.ips[2]+":7000", netnstest.Text("node2"))
			for _, p := range []struct{ from, to, want string }{
				{"", tc.ips[0] + ":7000", "node0"},
				{ns(0), tc.ips[2] + ":7000", "node2"},
				{ns(1), tc.ips[0] + ":7000", "node0"},
			} {
				if got, err := netnstest.Fetch(p.from, p.to, ""); err != nil || got != p.want {
					t.Errorf("from %q to %s: %q, %v; want %q", p.from, p.to, got, err, p.want)
				}
			}
			if out := c.mustMinaks("exec", nodes.Items[1].Metadata.Name, "--", "cat", "/proc/net/dev"); !strings.Contains(out, "eth0") {
				t.Errorf("exec on a node does not see eth0:\n%s", out)
			}
			if out := c.mustMinaks("nodes"); strings.Count(out, "\naks-nodepool1-") != 3 {
				t.Errorf("minaks nodes:\n%s", out)
			}
			if tc.name == "kubenet" {
				checkKubenetRoutes(t, c, nodes)
			}
		})
	}
}

func TestNodesLeaveNothing(t *testing.T) {
	c := newTestCluster(t)
	c.mustMinaks("up", "--node-count", "2")
	// The fabric, the nodes, and a sandbox per pod: CoreDNS's two and metrics-server's two,
	// which up does not wait for (kube-proxy's pods have the node's network).
	eventually(t, 30*time.Second, "the namespaces of the fabric, 2 nodes, CoreDNS's 2 pods and metrics-server's 2", func() error {
		if names, _ := netns.List("minaks." + c.name + "."); len(names) != 7 {
			return fmt.Errorf("namespaces %v", names)
		}
		return nil
	})
	// A stopped cluster is deallocated: no namespaces, links or routes while it is stopped.
	c.mustMinaks("stop")
	if names, _ := netns.List("minaks." + c.name + "."); len(names) != 0 {
		t.Errorf("namespaces left after stop: %v", names)
	}
	c.mustMinaks("up")
	if l := c.nodes(); len(l.Items) != 2 {
		t.Errorf("%d nodes after restart", len(l.Items))
	}
	pids := c.daemonPIDs()
	if len(pids) != 1 {
		t.Fatalf("daemons %v", pids)
	}
	killDaemon(t, c, pids[0])
	// Even with the state gone, list finds what is left and down --all removes it.
	if err := os.RemoveAll(c.stateDir); err != nil {
		t.Fatal(err)
	}
	if out, _ := c.minaks("list"); !strings.Contains(out, c.name) || !strings.Contains(out, "leftovers") {
		t.Errorf("list after kill -9 and lost state:\n%s", out)
	}
	c.mustMinaks("down")
	c.assertGone()
	if names, _ := netns.List("minaks." + c.name + "."); len(names) != 0 {
		t.Errorf("namespaces left after kill -9 and down: %v", names)
	}
}

// checkKubenetRoutes checks the VNet route table that the upstream route controller programs
// through minaks's cloud provider: one route per node, gone when its node is.
func checkKubenetRoutes(t *testing.T, c *testCluster, nodes nodeList) {
	t.Helper()
	routes := func() string {
		out, err := exec.Command("ip", "-n", "minaks."+c.name+".fabric", "route", "show").CombinedOutput()
		if err != nil {
			t.Fatalf("ip route: %v: %s", err, out)
		}
		return string(out)
	}
	for i := range 3 {
		want := fmt.Sprintf("10.244.%d.0/24 via 10.224.0.%d", i, 4+i)
		if !strings.Contains(routes(), want) {
			t.Errorf("fabric routes lack %q:\n%s", want, routes())
		}
	}
	c.mustKubectl("delete", "node", nodes.Items[2].Metadata.Name)
	eventually(t, 30*time.Second, "route of the deleted node gone", func() error {
		if r := routes(); strings.Contains(r, "10.244.2.0/24") {
			return fmt.Errorf("still routed:\n%s", r)
		}
		return nil
	})
}
