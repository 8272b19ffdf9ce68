package config

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
)

// Network plugins and modes, as `az aks create --network-plugin/--network-plugin-mode` name them.
const (
	PluginAzure   = "azure"
	PluginKubenet = "kubenet"
	PluginNone    = "none"

	ModeOverlay = "overlay"
)

// CNIMode is the effective pod networking mode, derived from plugin and plugin mode.
type CNIMode string

const (
	// CNIOverlay is Azure CNI Overlay: a /24 per node from the pod CIDR, pods not routable from the VNet.
	CNIOverlay CNIMode = "overlay"
	// CNIKubenet is kubenet: a /24 per node, routes in the VNet route table.
	CNIKubenet CNIMode = "kubenet"
	// CNINodeSubnet is Azure CNI in node-subnet mode: pod IPs from the VNet subnet.
	CNINodeSubnet CNIMode = "nodesubnet"
	// CNIPodSubnet is Azure CNI with a pod subnet: pod IPs from a second subnet of the VNet.
	CNIPodSubnet CNIMode = "podsubnet"
	// CNINone is bring-your-own CNI.
	CNINone CNIMode = "none"
)

// Cluster is the completed definition of a minaks cluster. It is persisted as cluster.json in
// the cluster's state directory and read back by the daemon.
type Cluster struct {
	// Name is the cluster name (`--name`); it prefixes every host object of the cluster.
	Name string `json:"name"`
	// StateDir is the cluster's own state directory (<state-dir>/<name>).
	StateDir string `json:"stateDir"`
	// APIPort is the loopback port of the API server; 0 until chosen.
	APIPort int `json:"apiPort"`
	// APIPortFixed is true when the user asked for APIPort with --api-port.
	APIPortFixed bool `json:"apiPortFixed,omitempty"`

	NodeCount    int    `json:"nodeCount"`
	NodePoolName string `json:"nodepoolName"`
	NodeVMSize   string `json:"nodeVMSize"`
	Location     string `json:"location"`
	// ResourceGroup is the cluster's resource group; the node resource group is derived from it.
	ResourceGroup string   `json:"resourceGroup"`
	Zones         []string `json:"zones,omitempty"`

	Network   Network   `json:"network"`
	KubeProxy KubeProxy `json:"kubeProxy"`

	EnableAppRouting bool `json:"enableAppRouting,omitempty"`
	// AppRoutingDefaultNginxController is the mode of the default NginxIngressController.
	AppRoutingDefaultNginxController string `json:"appRoutingDefaultNginxController,omitempty"`
	// EnableGatewayAPI installs the managed Gateway API CRDs (ingressProfile.gatewayAPI
	// installation Standard).
	EnableGatewayAPI bool `json:"enableGatewayAPI,omitempty"`
	// EnableAppRoutingIstio runs app routing's Gateway API implementation (GatewayClass
	// approuting-istio); it needs EnableGatewayAPI.
	EnableAppRoutingIstio bool `json:"enableAppRoutingIstio,omitempty"`

	// ImageSource is where general-purpose images come from (--image-source).
	ImageSource string `json:"imageSource,omitempty"`
}

// Where general-purpose images (those minaks has a built-in stand-in for: nginx, busybox, …)
// come from: pulled when their registry answers, else the built-in (auto); always the
// built-in; always pulled.
const (
	ImageSourceAuto    = "auto"
	ImageSourceBuiltin = "builtin"
	ImageSourcePull    = "pull"
)

// ImageStoreName is the directory of the host's image store in the state directory, shared by
// every cluster there; no cluster may take the name.
const ImageStoreName = "images"

// ImageStoreDir is the host's image store: <state-dir>/images.
func (c *Cluster) ImageStoreDir() string {
	return filepath.Join(filepath.Dir(c.StateDir), ImageStoreName)
}

// Network is the cluster's network profile, in the terms of the AKS API.
type Network struct {
	Plugin     string `json:"networkPlugin"`
	PluginMode string `json:"networkPluginMode,omitempty"`
	Policy     string `json:"networkPolicy"`
	Dataplane  string `json:"networkDataplane"`
	// AdvancedNetworking is Advanced Container Networking Services, if enabled.
	AdvancedNetworking *AdvancedNetworking `json:"advancedNetworking,omitempty"`

	IPFamilies   []string `json:"ipFamilies"`
	PodCIDRs     []string `json:"podCidrs,omitempty"`
	ServiceCIDRs []string `json:"serviceCidrs"`
	DNSServiceIP string   `json:"dnsServiceIP"`

	// VNetCIDR and SubnetCIDR describe the managed VNet `aks-vnet-<n>` and its subnet `aks-subnet`.
	VNetCIDR   string `json:"vnetCidr"`
	SubnetCIDR string `json:"subnetCidr"`
	// VNetCIDRv6 and SubnetCIDRv6 are their IPv6 spaces in a dual-stack cluster.
	VNetCIDRv6   string `json:"vnetCidrV6,omitempty"`
	SubnetCIDRv6 string `json:"subnetCidrV6,omitempty"`
	// PodSubnetCIDR is the pods' own subnet of the VNet (Azure CNI pod subnet), if any.
	PodSubnetCIDR string `json:"podSubnetCidr,omitempty"`

	// UpstreamDNS are the resolvers (IP:port) behind Azure DNS; empty means the host's.
	UpstreamDNS []string `json:"upstreamDNS,omitempty"`

	OutboundType    string `json:"outboundType"`
	LoadBalancerSKU string `json:"loadBalancerSku"`
	MaxPods         int    `json:"maxPods"`

	// PublicIPRange is the emulated Azure public address space: Service frontends and the
	// managed outbound IPs come from it.
	PublicIPRange string `json:"publicIPRange,omitempty"`
	// ManagedOutboundIPCount, OutboundPorts (SNAT ports per node, 0 automatic) and
	// IdleTimeout (minutes) shape aksOutboundRule with outbound type loadBalancer.
	ManagedOutboundIPCount int `json:"loadBalancerManagedOutboundIPCount,omitempty"`
	OutboundPorts          int `json:"loadBalancerOutboundPorts,omitempty"`
	IdleTimeout            int `json:"loadBalancerIdleTimeout,omitempty"`
}

// PublicRange is the emulated public address space (the default for clusters made before it
// was configurable).
func (n Network) PublicRange() netip.Prefix {
	if p, err := netip.ParsePrefix(n.PublicIPRange); err == nil {
		return p
	}
	return netip.MustParsePrefix(DefaultPublicIPRange)
}

// CNI returns the effective pod networking mode.
func (n Network) CNI() CNIMode {
	switch {
	case n.Plugin == PluginKubenet:
		return CNIKubenet
	case n.Plugin == PluginNone:
		return CNINone
	case n.PluginMode == ModeOverlay:
		return CNIOverlay
	case n.PodSubnetCIDR != "":
		return CNIPodSubnet
	default:
		return CNINodeSubnet
	}
}

// AdvancedNetworking is Advanced Container Networking Services (networkProfile.advancedNetworking).
type AdvancedNetworking struct {
	Enabled       bool `json:"enabled"`
	Observability bool `json:"observability"`
	Security      bool `json:"security"`
	// AdvancedNetworkPolicies is ACNSNone, ACNSFQDN or ACNSL7 when Security is on.
	AdvancedNetworkPolicies string `json:"advancedNetworkPolicies,omitempty"`
}

// The values of ACNS security's advanced network policies: L7 includes FQDN.
const (
	ACNSNone = "None"
	ACNSFQDN = "FQDN"
	ACNSL7   = "L7"
)

// AdvancedNetworkPolicies are what ACNS allows of Cilium's FQDN and L7 policies: ACNSNone
// without ACNS security.
func (n Network) AdvancedNetworkPolicies() string {
	if a := n.AdvancedNetworking; a != nil && a.Security && a.AdvancedNetworkPolicies != "" {
		return a.AdvancedNetworkPolicies
	}
	return ACNSNone
}

// DualStack reports whether the cluster has IPv6 next to IPv4.
func (n Network) DualStack() bool { return n.SubnetCIDRv6 != "" }

// AllocatesNodeCIDRs reports whether nodes get a pod CIDR each from the cluster's pod range
// (the controller-manager's node IPAM controller), as in overlay and kubenet.
func (n Network) AllocatesNodeCIDRs() bool {
	switch n.CNI() {
	case CNIOverlay, CNIKubenet:
		return true
	}
	return false
}

// APIServerIP is where the cluster network reaches the API server, and what it advertises as
// the `kubernetes` Service's endpoint: the node subnet's .2. Azure keeps .0 to .3 of every
// subnet from VMs, so no node ever has it; a private AKS cluster's API endpoint lives in the
// VNet as well.
func (n Network) APIServerIP() netip.Addr {
	return netip.MustParsePrefix(n.SubnetCIDR).Masked().Addr().Next().Next()
}

// FirstServiceIP is the address of the `kubernetes` Service: the first address of the service range.
func (n Network) FirstServiceIP() netip.Addr {
	p := netip.MustParsePrefix(n.ServiceCIDRs[0])
	return p.Masked().Addr().Next()
}

// NodeResourceGroup is AKS's MC_<rg>_<cluster>_<region>.
func (c *Cluster) NodeResourceGroup() string {
	return fmt.Sprintf("MC_%s_%s_%s", c.ResourceGroup, c.Name, c.Location)
}

// Path returns the path of a file in the cluster's state directory.
func (c *Cluster) Path(elem ...string) string {
	return filepath.Join(append([]string{c.StateDir}, elem...)...)
}

// FileName is the name of the persisted cluster definition inside the state directory.
const FileName = "cluster.json"

// Save writes the cluster definition to its state directory (mode 0600).
func (c *Cluster) Save() error {
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	tmp := c.Path(FileName + ".tmp")
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("write cluster definition: %w", err)
	}
	return os.Rename(tmp, c.Path(FileName))
}

// Load reads a cluster definition saved by Save.
func Load(stateDir string) (*Cluster, error) {
	b, err := os.ReadFile(filepath.Join(stateDir, FileName))
	if err != nil {
		return nil, err
	}
	c := &Cluster{}
	if err := json.Unmarshal(b, c); err != nil {
		return nil, fmt.Errorf("read %s: %w", filepath.Join(stateDir, FileName), err)
	}
	return c, nil
}
