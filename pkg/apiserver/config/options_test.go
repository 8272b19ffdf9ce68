package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestCompleteDefaults(t *testing.T) {
	c, err := NewOptions().Complete()
	if err != nil {
		t.Fatal(err)
	}
	want := Network{
		Plugin: "azure", PluginMode: "overlay", Policy: "none", Dataplane: "azure",
		IPFamilies: []string{"IPv4"}, PodCIDRs: []string{"10.244.0.0/16"}, ServiceCIDRs: []string{"10.0.0.0/16"},
		DNSServiceIP: "10.0.0.10", VNetCIDR: "10.224.0.0/12", SubnetCIDR: "10.224.0.0/16",
		OutboundType: "loadBalancer", LoadBalancerSKU: "standard", MaxPods: 250,
		PublicIPRange: "198.51.100.0/24", ManagedOutboundIPCount: 1, IdleTimeout: 30,
	}
	if diff := cmp.Diff(want, c.Network); diff != "" {
		t.Errorf("network (-want +got):\n%s", diff)
	}
	if c.Network.CNI() != CNIOverlay || !c.Network.AllocatesNodeCIDRs() {
		t.Errorf("CNI = %s, allocates = %v; want overlay with node CIDRs", c.Network.CNI(), c.Network.AllocatesNodeCIDRs())
	}
	if c.KubeProxy.Mode != ProxyModeIPTables || !c.KubeProxy.IsEnabled() {
		t.Errorf("kube-proxy = %+v, want enabled IPTABLES", c.KubeProxy)
	}
	if c.NodeCount != 3 || c.NodePoolName != "nodepool1" || c.StateDir != "/var/lib/minaks/minaks" {
		t.Errorf("cluster = %+v", c)
	}
	if got := c.Network.FirstServiceIP().String(); got != "10.0.0.1" {
		t.Errorf("FirstServiceIP = %s", got)
	}
	if got := c.NodeResourceGroup(); got != "MC_minaks-rg_minaks_eastus" {
		t.Errorf("NodeResourceGroup = %s", got)
	}
}

func TestCompleteModes(t *testing.T) {
	for _, tc := range []struct {
		name    string
		set     func(o *Options)
		cni     CNIMode
		maxPods int
		pods    []string
		policy  string
	}{
		{"kubenet", func(o *Options) { o.NetworkPlugin = "kubenet" }, CNIKubenet, 110, []string{"10.244.0.0/16"}, "none"},
		{"azure node subnet", func(o *Options) { o.NetworkPlugin = "azure" }, CNINodeSubnet, 30, nil, "none"},
		{"azure overlay explicit", func(o *Options) { o.NetworkPlugin, o.NetworkPluginMode = "azure", "overlay" }, CNIOverlay, 250, []string{"10.244.0.0/16"}, "none"},
		{"cilium dataplane defaults policy", func(o *Options) { o.NetworkDataplane = "cilium" }, CNIOverlay, 250, []string{"10.244.0.0/16"}, "cilium"},
		{"kubenet calico custom cidr", func(o *Options) {
			o.NetworkPlugin, o.NetworkPolicy, o.PodCIDR = "kubenet", "calico", "192.168.0.0/16"
		}, CNIKubenet, 110, []string{"192.168.0.0/16"}, "calico"},
		{"dual-stack", func(o *Options) { o.IPFamilies = []string{"ipv4", "ipv6"} }, CNIOverlay, 250, []string{"10.244.0.0/16", "fd12:3456:789a::/64"}, "none"},
		{"dual-stack cilium", func(o *Options) { o.NetworkDataplane, o.IPFamilies = "cilium", []string{"ipv4", "ipv6"} }, CNIOverlay, 250, []string{"10.244.0.0/16", "fd12:3456:789a::/64"}, "cilium"},
		{"none", func(o *Options) { o.NetworkPlugin = "none" }, CNINone, 250, []string{"10.244.0.0/16"}, "none"},
		{"pod subnet", func(o *Options) { o.NetworkPlugin, o.PodSubnetCIDR = "azure", "10.225.0.0/16" }, CNIPodSubnet, 110, nil, "none"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := NewOptions()
			tc.set(o)
			c, err := o.Complete()
			if err != nil {
				t.Fatal(err)
			}
			n := c.Network
			if n.CNI() != tc.cni || n.MaxPods != tc.maxPods || n.Policy != tc.policy {
				t.Errorf("cni=%s maxPods=%d policy=%s; want %s %d %s", n.CNI(), n.MaxPods, n.Policy, tc.cni, tc.maxPods, tc.policy)
			}
			if diff := cmp.Diff(tc.pods, n.PodCIDRs); diff != "" {
				t.Errorf("pod CIDRs (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCompleteRejects(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  func(o *Options)
		// want are substrings of the error; the first names the flag.
		want []string
	}{
		{"bad name", func(o *Options) { o.Name = "My_Cluster" }, []string{"--name=My_Cluster"}},
		{"relative state dir", func(o *Options) { o.StateDir = "state" }, []string{"--state-dir=state", "absolute"}},
		{"plugin", func(o *Options) { o.NetworkPlugin = "flannel" }, []string{"--network-plugin=flannel", "azure, kubenet, none"}},
		{"overlay with kubenet", func(o *Options) { o.NetworkPlugin, o.NetworkPluginMode = "kubenet", "overlay" }, []string{"--network-plugin-mode=overlay", "needs --network-plugin azure"}},
		{"pod cidr in node subnet mode", func(o *Options) { o.NetworkPlugin, o.PodCIDR = "azure", "10.244.0.0/16" }, []string{"--pod-cidr=10.244.0.0/16", "overlay"}},
		{"pod cidr syntax", func(o *Options) { o.PodCIDR = "10.244.0.0" }, []string{"--pod-cidr=10.244.0.0", "not a CIDR"}},
		{"pod cidr host bits", func(o *Options) { o.PodCIDR = "10.244.1.0/16" }, []string{"--pod-cidr=10.244.1.0/16", "10.244.0.0/16"}},
		{"pod overlaps vnet", func(o *Options) { o.PodCIDR = "10.225.0.0/16" }, []string{"--pod-cidr=10.225.0.0/16", "VNet 10.224.0.0/12"}},
		{"pod overlaps service", func(o *Options) { o.PodCIDR = "10.0.0.0/8" }, []string{"--pod-cidr=10.0.0.0/8", "service range 10.0.0.0/16"}},
		{"pod reserved", func(o *Options) { o.PodCIDR = "172.30.0.0/16" }, []string{"--pod-cidr=172.30.0.0/16", "AKS reserves"}},
		{"service reserved", func(o *Options) { o.ServiceCIDR, o.DNSServiceIP = "169.254.0.0/16", "169.254.0.10" }, []string{"--service-cidr=169.254.0.0/16", "AKS reserves"}},
		{"service too large", func(o *Options) { o.ServiceCIDR, o.DNSServiceIP = "100.64.0.0/10", "100.64.0.10" }, []string{"--service-cidr=100.64.0.0/10", "at least /12"}},
		{"service without dns", func(o *Options) { o.ServiceCIDR = "10.1.0.0/16" }, []string{"--service-cidr=10.1.0.0/16", "--dns-service-ip"}},
		{"dns without service", func(o *Options) { o.DNSServiceIP = "10.0.0.20" }, []string{"--dns-service-ip=10.0.0.20", "--service-cidr"}},
		{"dns outside range", func(o *Options) { o.ServiceCIDR, o.DNSServiceIP = "10.1.0.0/16", "10.2.0.10" }, []string{"--dns-service-ip=10.2.0.10", "inside the service range"}},
		{"dns first address", func(o *Options) { o.ServiceCIDR, o.DNSServiceIP = "10.1.0.0/16", "10.1.0.1" }, []string{"--dns-service-ip=10.1.0.1", "kubernetes Service"}},
		{"dns not an ip", func(o *Options) { o.ServiceCIDR, o.DNSServiceIP = "10.1.0.0/16", "dns" }, []string{"--dns-service-ip=dns", "not an IP"}},
		{"policy value", func(o *Options) { o.NetworkPolicy = "weave" }, []string{"--network-policy=weave"}},
		{"azure policy with kubenet", func(o *Options) { o.NetworkPlugin, o.NetworkPolicy = "kubenet", "azure" }, []string{"--network-policy=azure", "kubenet"}},
		{"cilium policy without dataplane", func(o *Options) { o.NetworkPolicy = "cilium" }, []string{"--network-policy=cilium", "--network-dataplane cilium"}},
		{"cilium dataplane with calico", func(o *Options) { o.NetworkDataplane, o.NetworkPolicy = "cilium", "calico" }, []string{"--network-policy=calico", "requires network policy cilium"}},
		{"cilium dataplane with kubenet", func(o *Options) { o.NetworkPlugin, o.NetworkDataplane = "kubenet", "cilium" }, []string{"--network-dataplane=cilium", "--network-plugin azure"}},
		{"acns policies without acns", func(o *Options) { o.NetworkDataplane, o.ACNSAdvancedNetworkPolicies = "cilium", "FQDN" }, []string{"--acns-advanced-networkpolicies=FQDN", "needs --enable-acns"}},
		{"acns observability", func(o *Options) { o.NetworkDataplane, o.EnableACNS = "cilium", true }, []string{"--enable-acns=true", "observability", "--disable-acns-observability"}},
		{"acns security without cilium", func(o *Options) { o.EnableACNS, o.DisableACNSObservability = true, true }, []string{"--enable-acns=true", "needs --network-dataplane cilium"}},
		{"acns policies value", func(o *Options) {
			o.NetworkDataplane, o.EnableACNS, o.DisableACNSObservability, o.ACNSAdvancedNetworkPolicies = "cilium", true, true, "HTTP"
		}, []string{"--acns-advanced-networkpolicies=HTTP", "None, FQDN, L7"}},
		{"outbound type", func(o *Options) { o.OutboundType = "nat" }, []string{"--outbound-type=nat", "loadBalancer"}},
		{"outbound udr", func(o *Options) { o.OutboundType = "userDefinedRouting" }, []string{"--outbound-type=userDefinedRouting", "--vnet-subnet-id"}},
		{"basic sku", func(o *Options) { o.LoadBalancerSKU = "basic" }, []string{"--load-balancer-sku=basic", "retired"}},
		{"max pods high", func(o *Options) { o.MaxPods = 251 }, []string{"--max-pods=251", "between 10 and 250"}},
		{"max pods low", func(o *Options) { o.MaxPods = 5 }, []string{"--max-pods=5"}},
		{"max pods room", func(o *Options) { o.MaxPods, o.NodeCount = 10, 1 }, []string{"--max-pods=10", "at least 30 pods"}},
		{"node count", func(o *Options) { o.NodeCount = 0 }, []string{"--node-count=0"}},
		{"nodepool name", func(o *Options) { o.NodePoolName = "Pool-1" }, []string{"--nodepool-name=Pool-1"}},
		{"cluster named as the image store", func(o *Options) { o.Name = "images" }, []string{"--name=images", "image store"}},
		{"image source", func(o *Options) { o.ImageSource = "registry" }, []string{"--image-source=registry", "auto, builtin, pull"}},
		{"api port", func(o *Options) { o.APIPort = 70000 }, []string{"--api-port=70000"}},
		{"zones", func(o *Options) { o.Zones = []string{"4"} }, []string{"--zones=4"}},
		{"vm size", func(o *Options) { o.NodeVMSize = "Standard_Huge" }, []string{"--node-vm-size=Standard_Huge", "Standard_DS2_v2"}},
		{"ip families", func(o *Options) { o.IPFamilies = []string{"ipv6"} }, []string{"--ip-families=ipv6"}},
		{"dual-stack kubenet", func(o *Options) { o.NetworkPlugin, o.IPFamilies = "kubenet", []string{"ipv4", "ipv6"} }, []string{"--ip-families=ipv4,ipv6", "Overlay"}},
		{"dual-stack pod range in the VNet", func(o *Options) {
			o.IPFamilies, o.PodCIDRs = []string{"ipv4", "ipv6"}, []string{"10.244.0.0/16", "fd00:10:224:100::/64"}
		}, []string{"--pod-cidrs=fd00:10:224:100::/64", "overlaps the VNet fd00:10:224::/48"}},
		{"dual-stack one pod cidr", func(o *Options) {
			o.IPFamilies, o.PodCIDRs = []string{"ipv4", "ipv6"}, []string{"10.244.0.0/16"}
		}, []string{"--pod-cidrs=10.244.0.0/16", "one per IP family"}},
		{"kube-proxy mode", func(o *Options) { o.KubeProxyConfig = `{"mode":"USERSPACE"}` }, []string{"--kube-proxy-config", "USERSPACE"}},
		{"kube-proxy unknown field", func(o *Options) { o.KubeProxyConfig = `{"mode":"IPVS","ipvs":{}}` }, []string{"--kube-proxy-config", `unknown field "ipvs"`}},
		{"kube-proxy ipvs config with nftables", func(o *Options) {
			o.KubeProxyConfig = `{"mode":"NFTABLES","ipvsConfig":{"scheduler":"RoundRobin"}}`
		}, []string{"--kube-proxy-config", "only allowed with mode IPVS"}},
		{"kube-proxy scheduler", func(o *Options) { o.KubeProxyConfig = `{"mode":"IPVS","ipvsConfig":{"scheduler":"Random"}}` }, []string{"--kube-proxy-config", "Random"}},
		{"kube-proxy timeout", func(o *Options) { o.KubeProxyConfig = `{"mode":"IPVS","ipvsConfig":{"tcpTimeoutSeconds":0}}` }, []string{"--kube-proxy-config", "tcpTimeoutSeconds"}},
		{"kube-proxy missing file", func(o *Options) { o.KubeProxyConfig = "/nonexistent/kp.json" }, []string{"--kube-proxy-config", "no such file"}},
		{"pod subnet without azure", func(o *Options) { o.PodSubnetCIDR = "10.225.0.0/16" }, []string{"--pod-subnet-cidr=10.225.0.0/16", "--network-plugin azure"}},
		{"pod subnet outside vnet", func(o *Options) { o.NetworkPlugin, o.PodSubnetCIDR = "azure", "10.100.0.0/16" }, []string{"--pod-subnet-cidr=10.100.0.0/16", "VNet"}},
		{"pod subnet on node subnet", func(o *Options) { o.NetworkPlugin, o.PodSubnetCIDR = "azure", "10.224.128.0/17" }, []string{"--pod-subnet-cidr=10.224.128.0/17", "node subnet"}},
		{"upstream dns", func(o *Options) { o.UpstreamDNS = []string{"dns.example"} }, []string{"--upstream-dns=dns.example"}},
		{"public range not a cidr", func(o *Options) { o.PublicIPRange = "public" }, []string{"--public-ip-range=public", "IPv4 CIDR"}},
		{"public range private", func(o *Options) { o.PublicIPRange = "192.168.0.0/24" }, []string{"--public-ip-range=192.168.0.0/24", "public-looking"}},
		{"public range size", func(o *Options) { o.PublicIPRange = "198.51.100.0/30" }, []string{"--public-ip-range=198.51.100.0/30", "/29"}},
		{"public range overlaps", func(o *Options) { o.PodCIDR, o.PublicIPRange = "20.0.0.0/16", "20.0.0.0/24" }, []string{"--public-ip-range=20.0.0.0/24", "overlaps the cluster range 20.0.0.0/16"}},
		{"outbound ip count", func(o *Options) { o.ManagedOutboundIPCount = 101 }, []string{"--load-balancer-managed-outbound-ip-count=101", "between 1 and 100"}},
		{"outbound ports multiple of 8", func(o *Options) { o.OutboundPorts = 1000 + 1 }, []string{"--load-balancer-outbound-ports=1001", "multiple of 8"}},
		{"outbound ports exceed", func(o *Options) { o.OutboundPorts, o.NodeCount = 64000, 2 }, []string{"--load-balancer-outbound-ports=64000", "exceed"}},
		{"idle timeout", func(o *Options) { o.IdleTimeout = 3 }, []string{"--load-balancer-idle-timeout=3", "between 4 and 100"}},
		{"outbound flags need loadBalancer", func(o *Options) { o.OutboundType, o.OutboundPorts = "none", 1024 }, []string{"--load-balancer-outbound-ports=1024", "--outbound-type loadBalancer"}},
		{"app routing istio without gateway api", func(o *Options) { o.EnableAppRoutingIstio = true }, []string{"--enable-app-routing-istio=true", "--enable-gateway-api"}},
		{"ardnc without app routing", func(o *Options) { o.AppRoutingDefaultNginxController = "Internal" }, []string{"--app-routing-default-nginx-controller=Internal", "--enable-app-routing"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := NewOptions()
			tc.set(o)
			c, err := o.Complete()
			if err == nil {
				t.Fatalf("Complete() = %+v, want an error", c)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestKubeProxyFromFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kp.json")
	if err := os.WriteFile(path, []byte(`{"enabled":true,"mode":"IPVS","ipvsConfig":{"scheduler":"LeastConnection","tcpTimeoutSeconds":900}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	o := NewOptions()
	o.KubeProxyConfig = path
	c, err := o.Complete()
	if err != nil {
		t.Fatal(err)
	}
	if c.KubeProxy.Mode != ProxyModeIPVS || c.KubeProxy.IPVSConfig.Scheduler != "LeastConnection" || *c.KubeProxy.IPVSConfig.TCPTimeoutSeconds != 900 {
		t.Errorf("kube-proxy = %+v", c.KubeProxy)
	}
}

func TestSaveLoad(t *testing.T) {
	o := NewOptions()
	o.StateDir = t.TempDir()
	c, err := o.Complete()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(c.StateDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := c.Save(); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(c.Path(FileName))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("cluster.json: %v, mode %v", err, st.Mode())
	}
	got, err := Load(c.StateDir)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(c, got); diff != "" {
		t.Errorf("loaded (-saved +loaded):\n%s", diff)
	}
}

// ACNS security with Cilium allows FQDN policies by default, as az aks create does; L7 is
// chosen by name, in any case.
func TestCompleteACNS(t *testing.T) {
	for _, tc := range []struct{ flag, want string }{{"", ACNSFQDN}, {"l7", ACNSL7}, {"None", ACNSNone}} {
		o := NewOptions()
		o.NetworkDataplane, o.EnableACNS, o.DisableACNSObservability, o.ACNSAdvancedNetworkPolicies = "cilium", true, true, tc.flag
		c, err := o.Complete()
		if err != nil {
			t.Fatal(err)
		}
		if got := c.Network.AdvancedNetworkPolicies(); got != tc.want || !c.Network.AdvancedNetworking.Security || c.Network.AdvancedNetworking.Observability {
			t.Errorf("--acns-advanced-networkpolicies %q: %s %+v, want %s", tc.flag, got, c.Network.AdvancedNetworking, tc.want)
		}
	}
	c, err := NewOptions().Complete()
	if err != nil || c.Network.AdvancedNetworking != nil || c.Network.AdvancedNetworkPolicies() != ACNSNone {
		t.Errorf("without --enable-acns: %v %+v", err, c.Network.AdvancedNetworking)
	}
}
