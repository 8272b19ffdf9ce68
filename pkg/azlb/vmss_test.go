package azlb

import (
	"context"
	"regexp"
	"strings"
	"testing"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	cloudprovider "k8s.io/cloud-provider"

	"github.com/minaks/minaks/pkg/apiserver/config"
	"github.com/minaks/minaks/pkg/apiserver/config/configtest"
)

func TestInstanceNames(t *testing.T) {
	s := NewScaleSet(configtest.Cluster(t, nil))
	if !regexp.MustCompile(`^aks-nodepool1-\d{8}-vmss$`).MatchString(s.Name) {
		t.Fatalf("scale set name %q", s.Name)
	}
	for id, suffix := range map[int]string{0: "000000", 9: "000009", 10: "00000a", 35: "00000z", 36: "000010", 1295: "0000zz"} {
		name := s.InstanceName(id)
		if !strings.HasSuffix(name, "vmss"+suffix) {
			t.Errorf("InstanceName(%d) = %s, want suffix vmss%s", id, name, suffix)
		}
		if back, ok := s.InstanceID(name); !ok || back != id {
			t.Errorf("InstanceID(%s) = %d, %v", name, back, ok)
		}
	}
	for _, bad := range []string{"aks-other-1-vmss000000", s.Name + "00000", s.Name + "0000-1"} {
		if _, ok := s.InstanceID(bad); ok {
			t.Errorf("InstanceID(%q) accepted", bad)
		}
	}
	if PoolID(configtest.Cluster(t, nil)) == PoolID(configtest.Cluster(t, func(o *config.Options) { o.Name = "other" })) {
		t.Error("two clusters share a pool ID")
	}
}

func TestInstanceAddresses(t *testing.T) {
	for _, tc := range []struct {
		name   string
		set    func(*config.Options)
		wantIP []string
	}{
		{"overlay", nil, []string{"10.224.0.4", "10.224.0.5", "10.224.0.6"}},
		{"kubenet", func(o *config.Options) { o.NetworkPlugin = "kubenet" }, []string{"10.224.0.4", "10.224.0.5", "10.224.0.6"}},
		// Node subnet mode reserves max-pods addresses after each node.
		{"node subnet", func(o *config.Options) { o.NetworkPlugin = "azure" }, []string{"10.224.0.4", "10.224.0.35", "10.224.0.66"}},
		{"node subnet 110 pods", func(o *config.Options) { o.NetworkPlugin, o.MaxPods = "azure", 110 }, []string{"10.224.0.4", "10.224.0.115", "10.224.0.226"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ins, err := NewScaleSet(configtest.Cluster(t, tc.set)).Instances()
			if err != nil {
				t.Fatal(err)
			}
			for i, in := range ins {
				if in.IP.String() != tc.wantIP[i] {
					t.Errorf("node %d IP %s, want %s", i, in.IP, tc.wantIP[i])
				}
			}
		})
	}
}

func TestSubnetExhaustion(t *testing.T) {
	c := configtest.Cluster(t, func(o *config.Options) { o.NetworkPlugin, o.MaxPods, o.NodeCount = "azure", 250, 100 })
	s := NewScaleSet(c)
	// 65536 addresses, 4 reserved, 251 per node: node 260 is the last that fits.
	if _, err := s.Instance(260); err != nil {
		t.Errorf("node 260: %v", err)
	}
	_, err := s.Instance(261)
	if err == nil || !strings.Contains(err.Error(), "InsufficientSubnetSize") {
		t.Errorf("node 261: %v, want InsufficientSubnetSize", err)
	}
}

func TestInstanceMetadata(t *testing.T) {
	c := configtest.Cluster(t, func(o *config.Options) { o.Zones = []string{"1", "2", "3"}; o.Location = "westeurope" })
	cloud := NewCloud(c, nil)
	name := cloud.ScaleSet().InstanceName(1)
	md, err := cloud.InstanceMetadata(context.Background(), &v1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}})
	if err != nil {
		t.Fatal(err)
	}
	wantPID := regexp.MustCompile(`^azure:///subscriptions/[0-9a-f-]{36}/resourceGroups/mc_minaks-rg_minaks_westeurope/providers/Microsoft.Compute/virtualMachineScaleSets/aks-nodepool1-\d{8}-vmss/virtualMachines/1$`)
	if !wantPID.MatchString(md.ProviderID) {
		t.Errorf("providerID %s", md.ProviderID)
	}
	if md.Zone != "westeurope-2" || md.Region != "westeurope" || md.InstanceType != "Standard_DS2_v2" {
		t.Errorf("metadata %+v", md)
	}
	if len(md.NodeAddresses) != 2 || md.NodeAddresses[0].Address != "10.224.0.5" || md.NodeAddresses[1].Address != name {
		t.Errorf("addresses %+v", md.NodeAddresses)
	}
	if ok, _ := cloud.InstanceExists(context.Background(), &v1.Node{ObjectMeta: metav1.ObjectMeta{Name: cloud.ScaleSet().InstanceName(3)}}); ok {
		t.Error("instance 3 of a 3-node pool exists")
	}
	if _, err := cloud.InstanceMetadata(context.Background(), &v1.Node{ObjectMeta: metav1.ObjectMeta{Name: "kind-worker"}}); err != cloudprovider.InstanceNotFound {
		t.Errorf("foreign node: %v", err)
	}
	z, err := cloud.GetZoneByNodeName(context.Background(), "x")
	if err != cloudprovider.InstanceNotFound {
		t.Errorf("GetZoneByNodeName(x) = %v, %v", z, err)
	}
	if z, _ := cloud.GetZoneByProviderID(context.Background(), md.ProviderID); z.FailureDomain != "westeurope-2" {
		t.Errorf("GetZoneByProviderID: %+v", z)
	}
}

func TestDualStackInstance(t *testing.T) {
	in, err := NewScaleSet(configtest.Cluster(t, func(o *config.Options) { o.IPFamilies = []string{"ipv4", "ipv6"} })).Instance(1)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range in.Addresses() {
		got = append(got, string(a.Type)+"="+a.Address)
	}
	want := "InternalIP=10.224.0.5,InternalIP=fd00:10:224::5,Hostname=" + in.Name
	if strings.Join(got, ",") != want {
		t.Errorf("addresses %v, want %s", got, want)
	}
}

func TestPodCIDRs(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  func(*config.Options)
		id   int
		want []string
	}{
		{"overlay first", nil, 0, []string{"10.244.0.0/24"}},
		{"overlay third", nil, 2, []string{"10.244.2.0/24"}},
		{"kubenet 300th in a /12", func(o *config.Options) { o.NetworkPlugin, o.PodCIDR = "kubenet", "10.240.0.0/12" }, 300, []string{"10.241.44.0/24"}},
		{"dual-stack", func(o *config.Options) { o.IPFamilies = []string{"ipv4", "ipv6"} }, 1, []string{"10.244.1.0/24", "fd12:3456:789a:0:1::/80"}},
		{"node subnet has none", func(o *config.Options) { o.NetworkPlugin = "azure" }, 1, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in, err := NewScaleSet(configtest.Cluster(t, tc.set)).Instance(tc.id)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(in.PodCIDRs, ",") != strings.Join(tc.want, ",") {
				t.Errorf("PodCIDRs = %v, want %v", in.PodCIDRs, tc.want)
			}
		})
	}
	c := configtest.Cluster(t, func(o *config.Options) { o.PodCIDR = "10.244.0.0/20" })
	if _, err := NewScaleSet(c).Instance(16); err == nil || !strings.Contains(err.Error(), "room for 16 nodes") {
		t.Errorf("node 16 in a /20: %v", err)
	}
}

func TestPodRanges(t *testing.T) {
	for _, tc := range []struct {
		name        string
		set         func(*config.Options)
		id          int
		first, last string
	}{
		{"overlay", nil, 1, "10.244.1.2", "10.244.1.254"},
		{"node subnet", func(o *config.Options) { o.NetworkPlugin = "azure" }, 1, "10.224.0.36", "10.224.0.65"},
		{"pod subnet", func(o *config.Options) { o.NetworkPlugin, o.PodSubnetCIDR = "azure", "10.225.0.0/16" }, 2, "10.225.0.224", "10.225.1.77"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in, err := NewScaleSet(configtest.Cluster(t, tc.set)).Instance(tc.id)
			if err != nil {
				t.Fatal(err)
			}
			if in.PodFirst.String() != tc.first || in.PodLast.String() != tc.last {
				t.Errorf("pods %s-%s, want %s-%s", in.PodFirst, in.PodLast, tc.first, tc.last)
			}
			if !in.Contains(in.IP) || !in.Contains(in.PodLast) || in.Contains(in.PodLast.Next()) {
				t.Error("Contains disagrees with the ranges")
			}
		})
	}
	// Pod subnet mode: nodes are .4, .5, … since their pods live elsewhere.
	in, _ := NewScaleSet(configtest.Cluster(t, func(o *config.Options) { o.NetworkPlugin, o.PodSubnetCIDR = "azure", "10.225.0.0/16" })).Instance(2)
	if in.IP.String() != "10.224.0.6" {
		t.Errorf("pod subnet mode node 2 IP %s", in.IP)
	}
	c := configtest.Cluster(t, func(o *config.Options) { o.NetworkPlugin, o.PodSubnetCIDR, o.NodeCount = "azure", "10.225.0.0/24", 3 })
	if _, err := NewScaleSet(c).Instance(2); err == nil || !strings.Contains(err.Error(), "InsufficientSubnetSize") {
		t.Errorf("third node in a /24 pod subnet: %v", err)
	}
}
