package config

import (
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/spf13/pflag"
)

// Defaults of a fresh `az aks create`, and of minaks itself.
const (
	DefaultName          = "minaks"
	DefaultStateDir      = "/var/lib/minaks"
	DefaultNodeCount     = 3
	DefaultNodePoolName  = "nodepool1"
	DefaultNodeVMSize    = "Standard_DS2_v2"
	DefaultLocation      = "eastus"
	DefaultResourceGroup = "minaks-rg"
	DefaultPodCIDR       = "10.244.0.0/16"
	DefaultPodCIDRv6     = "fd12:3456:789a::/64"
	DefaultServiceCIDR   = "10.0.0.0/16"
	DefaultServiceCIDRv6 = "fd12:3456:789a:1::/108"
	DefaultDNSServiceIP  = "10.0.0.10"
	DefaultVNetCIDR      = "10.224.0.0/12"
	DefaultSubnetCIDR    = "10.224.0.0/16"
	// DefaultPublicIPRange is where the emulated Azure public IPs come from: TEST-NET-2 (RFC
	// 5737), documentation space that is never routed on the internet.
	DefaultPublicIPRange = "198.51.100.0/24"
	// The IPv6 space of a dual-stack managed VNet and its subnet: minaks's choice of unique
	// local addresses, spelling out the IPv4 ones.
	DefaultVNetCIDRv6   = "fd00:10:224::/48"
	DefaultSubnetCIDRv6 = "fd00:10:224::/64"
	DefaultAPIPort      = 6443

	// MaxNodeCount bounds --node-count: every node is a set of namespaces and an agent on one host.
	MaxNodeCount = 100
)

// Outbound types accepted by --outbound-type.
var outboundTypes = []string{"loadBalancer", "managedNATGateway", "userAssignedNATGateway", "userDefinedRouting", "none", "block"}

// reservedRanges are the ranges AKS refuses for pods, services and the VNet.
var reservedRanges = []netip.Prefix{
	netip.MustParsePrefix("169.254.0.0/16"),
	netip.MustParsePrefix("172.30.0.0/16"),
	netip.MustParsePrefix("172.31.0.0/16"),
	netip.MustParsePrefix("192.0.2.0/24"),
}

var (
	// nameRE keeps cluster names usable in namespace names, link aliases and kubeconfig contexts.
	nameRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,38}[a-z0-9])?$`)
	// nodepoolRE is AKS's rule for Linux node pool names.
	nodepoolRE = regexp.MustCompile(`^[a-z][a-z0-9]{0,11}$`)
	// resourceGroupRE is Azure's rule for resource group names (without the trailing-period rule).
	resourceGroupRE = regexp.MustCompile(`^[-\w._()]{1,90}$`)
	locationRE      = regexp.MustCompile(`^[a-z][a-z0-9]{1,39}$`)
)

// Options are the values of `minaks up` flags as the user gave them. Complete turns them into
// a Cluster with AKS's defaults, or into errors naming the flags.
type Options struct {
	Name      string
	StateDir  string
	APIPort   int
	NodeCount int

	NodePoolName  string
	NodeVMSize    string
	Location      string
	ResourceGroup string
	Zones         []string

	NetworkPlugin     string
	NetworkPluginMode string
	NetworkPolicy     string
	NetworkDataplane  string
	IPFamilies        []string
	PodSubnetCIDR     string
	PodCIDR           string
	PodCIDRs          []string
	ServiceCIDR       string
	ServiceCIDRs      []string
	DNSServiceIP      string
	OutboundType      string
	LoadBalancerSKU   string
	MaxPods           int

	PublicIPRange          string
	ManagedOutboundIPCount int
	OutboundPorts          int
	IdleTimeout            int
	KubeProxyConfig        string

	EnableACNS                  bool
	DisableACNSObservability    bool
	DisableACNSSecurity         bool
	ACNSAdvancedNetworkPolicies string

	EnableAppRouting                 bool
	AppRoutingDefaultNginxController string
	EnableGatewayAPI                 bool
	EnableAppRoutingIstio            bool

	// UpstreamDNS are the resolvers behind Azure DNS (168.63.129.16); empty means the host's.
	UpstreamDNS []string
	// ImageSource is where general-purpose images come from: auto, builtin or pull.
	ImageSource string
}

// NewOptions returns options holding minaks's defaults for the flags that have one.
func NewOptions() *Options {
	return &Options{
		Name:          DefaultName,
		StateDir:      DefaultStateDir,
		NodeCount:     DefaultNodeCount,
		NodePoolName:  DefaultNodePoolName,
		NodeVMSize:    DefaultNodeVMSize,
		Location:      DefaultLocation,
		ResourceGroup: DefaultResourceGroup,
	}
}

// AddNameFlags adds --name and --state-dir, shared by every command that addresses a cluster.
func (o *Options) AddNameFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.Name, "name", o.Name, "cluster name")
	fs.StringVar(&o.StateDir, "state-dir", o.StateDir, "directory holding the state of every cluster")
}

// AddClusterFlags adds the flags that define a cluster: the `az aks create` ones and --api-port.
func (o *Options) AddClusterFlags(fs *pflag.FlagSet) {
	fs.IntVar(&o.APIPort, "api-port", o.APIPort, "loopback port of the API server (default 6443, or the first free port after it)")
	fs.IntVar(&o.NodeCount, "node-count", o.NodeCount, "number of nodes in the node pool")
	fs.StringVar(&o.NodePoolName, "nodepool-name", o.NodePoolName, "name of the node pool (^[a-z][a-z0-9]{0,11}$)")
	fs.StringVar(&o.NodeVMSize, "node-vm-size", o.NodeVMSize, "VM size the nodes report (label node.kubernetes.io/instance-type)")
	fs.StringVarP(&o.Location, "location", "l", o.Location, "Azure region the cluster reports (topology.kubernetes.io/region)")
	fs.StringVarP(&o.ResourceGroup, "resource-group", "g", o.ResourceGroup, "resource group; the node resource group is MC_<rg>_<name>_<location>")
	fs.StringSliceVarP(&o.Zones, "zones", "z", o.Zones, "availability zones of the node pool (1, 2, 3)")

	fs.StringVar(&o.NetworkPlugin, "network-plugin", o.NetworkPlugin, "azure, kubenet or none (default: azure with --network-plugin-mode overlay)")
	fs.StringVar(&o.NetworkPluginMode, "network-plugin-mode", o.NetworkPluginMode, "overlay (Azure CNI Overlay); empty with --network-plugin azure means node subnet mode")
	fs.StringVar(&o.NetworkPolicy, "network-policy", o.NetworkPolicy, "none, azure, calico or cilium (default none; cilium with --network-dataplane cilium)")
	fs.StringVar(&o.NetworkDataplane, "network-dataplane", o.NetworkDataplane, "azure or cilium (default azure)")
	fs.BoolVar(&o.EnableACNS, "enable-acns", o.EnableACNS, "Advanced Container Networking Services: its security part (Cilium's FQDN and L7 policies; needs --network-dataplane cilium and, as its observability part is not emulated, --disable-acns-observability)")
	fs.BoolVar(&o.DisableACNSObservability, "disable-acns-observability", o.DisableACNSObservability, "with --enable-acns: without ACNS observability (Hubble metrics and flow logs)")
	fs.BoolVar(&o.DisableACNSSecurity, "disable-acns-security", o.DisableACNSSecurity, "with --enable-acns: without ACNS security")
	fs.StringVar(&o.ACNSAdvancedNetworkPolicies, "acns-advanced-networkpolicies", o.ACNSAdvancedNetworkPolicies, "with --enable-acns: None, FQDN or L7 (default FQDN): which of Cilium's advanced policies are allowed")
	fs.StringSliceVar(&o.IPFamilies, "ip-families", o.IPFamilies, "ipv4, or ipv4,ipv6 for dual-stack")
	fs.StringVar(&o.PodCIDR, "pod-cidr", o.PodCIDR, "pod address range for overlay and kubenet (default 10.244.0.0/16)")
	fs.StringVar(&o.PodSubnetCIDR, "pod-subnet-cidr", o.PodSubnetCIDR, "Azure CNI pod subnet: a second subnet of the VNet 10.224.0.0/12 for pod IPs (AKS's --pod-subnet-id), e.g. 10.225.0.0/16; needs --network-plugin azure")
	fs.StringSliceVar(&o.PodCIDRs, "pod-cidrs", o.PodCIDRs, "pod address ranges, one per IP family")
	fs.StringVar(&o.ServiceCIDR, "service-cidr", o.ServiceCIDR, "service address range (default 10.0.0.0/16)")
	fs.StringSliceVar(&o.ServiceCIDRs, "service-cidrs", o.ServiceCIDRs, "service address ranges, one per IP family")
	fs.StringVar(&o.DNSServiceIP, "dns-service-ip", o.DNSServiceIP, "cluster DNS address inside the service range (default 10.0.0.10)")
	fs.StringVar(&o.OutboundType, "outbound-type", o.OutboundType, "loadBalancer, managedNATGateway, userAssignedNATGateway, userDefinedRouting, none or block (default loadBalancer)")
	fs.StringVar(&o.LoadBalancerSKU, "load-balancer-sku", o.LoadBalancerSKU, "standard (default)")
	fs.IntVar(&o.ManagedOutboundIPCount, "load-balancer-managed-outbound-ip-count", o.ManagedOutboundIPCount, "managed outbound public IPs of the load balancer, 1-100 (default 1; outbound type loadBalancer)")
	fs.IntVar(&o.OutboundPorts, "load-balancer-outbound-ports", o.OutboundPorts, "SNAT ports per node, 0 (automatic: 1024 per node up to 50 nodes) or a multiple of 8 up to 64000")
	fs.IntVar(&o.IdleTimeout, "load-balancer-idle-timeout", o.IdleTimeout, "idle timeout of outbound flows in minutes, 4-100 (default 30)")
	fs.StringVar(&o.PublicIPRange, "public-ip-range", o.PublicIPRange, "range the emulated Azure public IPs come from, routed from the host into the cluster (default "+DefaultPublicIPRange+")")
	fs.IntVar(&o.MaxPods, "max-pods", o.MaxPods, "maximum pods per node (default: overlay 250, kubenet 110, azure 30)")
	fs.StringVar(&o.KubeProxyConfig, "kube-proxy-config", o.KubeProxyConfig, "kube-proxy configuration: a JSON file (or inline JSON) {enabled, mode, ipvsConfig}")
	fs.BoolVar(&o.EnableAppRouting, "enable-app-routing", o.EnableAppRouting, "enable the application routing add-on (managed NGINX ingress)")
	fs.StringVar(&o.AppRoutingDefaultNginxController, "app-routing-default-nginx-controller", o.AppRoutingDefaultNginxController,
		"default NginxIngressController with app routing: AnnotationControlled (default), External, Internal or None")
	fs.BoolVar(&o.EnableGatewayAPI, "enable-gateway-api", o.EnableGatewayAPI, "install the managed Gateway API CRDs (standard channel "+GatewayAPIBundleVersion+")")
	fs.BoolVar(&o.EnableAppRoutingIstio, "enable-app-routing-istio", o.EnableAppRoutingIstio, "enable app routing's Gateway API implementation (GatewayClass approuting-istio); needs --enable-gateway-api")
	fs.StringVar(&o.ImageSource, "image-source", o.ImageSource, "where general-purpose images (nginx, busybox, alpine, curl, …) come from: auto (pulled when their registry answers, else minaks's built-in stand-in), builtin or pull (default auto)")
	fs.StringSliceVar(&o.UpstreamDNS, "upstream-dns", o.UpstreamDNS, "resolvers (IP or IP:port) that Azure DNS at 168.63.129.16 forwards to (default: the host's /etc/resolv.conf)")
}

// FlagError is a problem with the value of one flag.
type FlagError struct {
	Flag  string
	Value string
	Msg   string
}

func (e *FlagError) Error() string {
	if e.Value == "" {
		return fmt.Sprintf("--%s: %s", e.Flag, e.Msg)
	}
	return fmt.Sprintf("--%s=%s: %s", e.Flag, e.Value, e.Msg)
}

type errorList []error

func (l *errorList) add(flag, value, format string, args ...any) {
	*l = append(*l, &FlagError{Flag: flag, Value: value, Msg: fmt.Sprintf(format, args...)})
}

// ValidateName checks a cluster name and state directory, the two things every command needs.
func (o *Options) ValidateName() error {
	var errs errorList
	o.validateName(&errs)
	return errors.Join(errs...)
}

func (o *Options) validateName(errs *errorList) {
	if !nameRE.MatchString(o.Name) {
		errs.add("name", o.Name, "must be 1-40 lowercase letters, digits or '-', starting and ending with a letter or digit")
	} else if o.Name == ImageStoreName {
		errs.add("name", o.Name, "is taken: <state-dir>/%s is the host's image store", ImageStoreName)
	}
	if !filepath.IsAbs(o.StateDir) {
		errs.add("state-dir", o.StateDir, "must be an absolute path")
	} else if l := len(filepath.Join(o.StateDir, o.Name, "etcd-peer.sock")); l > 100 {
		// Unix socket paths are limited to 108 bytes.
		errs.add("state-dir", o.StateDir, "is too long: socket paths inside it would exceed the kernel's limit of 108 bytes")
	}
}

// ClusterDir is the state directory of the named cluster.
func (o *Options) ClusterDir() string { return filepath.Join(o.StateDir, o.Name) }

// Complete applies AKS's defaults to the options and validates them with AKS's rules. It returns
// every problem found, each naming its flag.
func (o *Options) Complete() (*Cluster, error) {
	var errs errorList
	o.validateName(&errs)
	c := &Cluster{
		Name:                  o.Name,
		StateDir:              o.ClusterDir(),
		APIPort:               o.APIPort,
		APIPortFixed:          o.APIPort != 0,
		NodeCount:             o.NodeCount,
		NodePoolName:          o.NodePoolName,
		NodeVMSize:            o.NodeVMSize,
		Location:              o.Location,
		ResourceGroup:         o.ResourceGroup,
		Zones:                 o.Zones,
		EnableAppRouting:      o.EnableAppRouting,
		EnableGatewayAPI:      o.EnableGatewayAPI,
		EnableAppRoutingIstio: o.EnableAppRoutingIstio,
		ImageSource:           ImageSourceAuto,
	}
	switch v := strings.ToLower(o.ImageSource); v {
	case "":
	case ImageSourceAuto, ImageSourceBuiltin, ImageSourcePull:
		c.ImageSource = v
	default:
		errs.add("image-source", o.ImageSource, "must be one of auto, builtin, pull")
	}
	if o.APIPort < 0 || o.APIPort > 65535 {
		errs.add("api-port", fmt.Sprint(o.APIPort), "must be a TCP port (1-65535)")
	}
	if o.NodeCount < 1 || o.NodeCount > MaxNodeCount {
		errs.add("node-count", fmt.Sprint(o.NodeCount), "must be between 1 and %d", MaxNodeCount)
	}
	if !nodepoolRE.MatchString(o.NodePoolName) {
		errs.add("nodepool-name", o.NodePoolName, "must start with a lowercase letter and contain only lowercase letters and digits, at most 12 characters")
	}
	if _, ok := VMSizes[o.NodeVMSize]; !ok {
		errs.add("node-vm-size", o.NodeVMSize, "is not a VM size minaks knows: %s", vmSizeNames())
	}
	if !locationRE.MatchString(o.Location) {
		errs.add("location", o.Location, "must be an Azure region name such as eastus or westeurope")
	}
	if !resourceGroupRE.MatchString(o.ResourceGroup) || strings.HasSuffix(o.ResourceGroup, ".") {
		errs.add("resource-group", o.ResourceGroup, "must be 1-90 letters, digits, '-', '_', '.', '(' or ')', not ending in '.'")
	}
	for _, z := range o.Zones {
		if z != "1" && z != "2" && z != "3" {
			errs.add("zones", strings.Join(o.Zones, ","), "zone %q is not one of 1, 2, 3", z)
		}
	}
	o.completeNetwork(c, &errs)
	for _, u := range o.UpstreamDNS {
		ap, err := netip.ParseAddrPort(u)
		if err != nil {
			a, aerr := netip.ParseAddr(u)
			if aerr != nil {
				errs.add("upstream-dns", u, "is not an IP address or IP:port")
				continue
			}
			ap = netip.AddrPortFrom(a, 53)
		}
		c.Network.UpstreamDNS = append(c.Network.UpstreamDNS, ap.String())
	}
	o.completeAppRouting(c, &errs)
	if o.EnableAppRoutingIstio && !o.EnableGatewayAPI {
		errs.add("enable-app-routing-istio", "true", "%s", ErrAppRoutingIstioNeedsGatewayAPI)
	}

	kp := KubeProxy{}
	if o.KubeProxyConfig != "" {
		k, err := ParseKubeProxy(o.KubeProxyConfig)
		if err != nil {
			errs.add("kube-proxy-config", "", "%v", err)
		}
		kp = k
	}
	for _, msg := range kp.complete() {
		errs.add("kube-proxy-config", "", "%s", msg)
	}
	if o.KubeProxyConfig != "" && kp.IsEnabled() && c.Network.Dataplane == "cilium" {
		errs.add("kube-proxy-config", "", "the Cilium dataplane replaces kube-proxy: set \"enabled\": false")
	}
	if kp.Mode == ProxyModeIPVS && c.Network.Policy == "azure" {
		errs.add("kube-proxy-config", "", "IPVS mode does not support network policy azure")
	}
	if o.KubeProxyConfig == "" && c.Network.Dataplane == "cilium" {
		disabled := false
		kp.Enabled = &disabled
	}
	c.KubeProxy = kp
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return c, nil
}

func (o *Options) completeAppRouting(c *Cluster, errs *errorList) {
	mode := o.AppRoutingDefaultNginxController
	if mode == "" {
		if o.EnableAppRouting {
			c.AppRoutingDefaultNginxController = "AnnotationControlled"
		}
		return
	}
	if !o.EnableAppRouting {
		errs.add("app-routing-default-nginx-controller", mode, "needs --enable-app-routing")
		return
	}
	if v, ok := ParseNginxMode(mode); ok {
		c.AppRoutingDefaultNginxController = v
		return
	}
	errs.add("app-routing-default-nginx-controller", mode, "must be one of %s", strings.Join(NginxModes, ", "))
}

// GatewayAPIBundleVersion is the Gateway API CRD bundle AKS installs for Kubernetes 1.36 and later.
const GatewayAPIBundleVersion = "v1.5.1"

// ErrAppRoutingIstioNeedsGatewayAPI is why app routing's Gateway API implementation cannot run alone.
const ErrAppRoutingIstioNeedsGatewayAPI = "the application routing Gateway API implementation requires the managed Gateway API installation: add --enable-gateway-api"

// NginxModes are the modes of app routing's default NginxIngressController
// (--app-routing-default-nginx-controller, az aks approuting's --nginx).
var NginxModes = []string{"AnnotationControlled", "External", "Internal", "None"}

// ParseNginxMode returns the mode s names, in any case.
func ParseNginxMode(s string) (string, bool) {
	for _, v := range NginxModes {
		if strings.EqualFold(s, v) {
			return v, true
		}
	}
	return "", false
}

// completeACNS reads the Advanced Container Networking Services flags as az aks create does:
// --enable-acns turns on observability and security unless one is disabled, and security's
// advanced network policies default to FQDN. Observability (Hubble) is not emulated, so it
// must be disabled; security needs the Cilium dataplane.
func (o *Options) completeACNS(n *Network, errs *errorList) {
	policies := o.ACNSAdvancedNetworkPolicies
	if !o.EnableACNS {
		switch {
		case policies != "":
			errs.add("acns-advanced-networkpolicies", policies, "needs --enable-acns")
		case o.DisableACNSObservability:
			errs.add("disable-acns-observability", "true", "needs --enable-acns")
		case o.DisableACNSSecurity:
			errs.add("disable-acns-security", "true", "needs --enable-acns")
		}
		return
	}
	a := &AdvancedNetworking{Enabled: true, Observability: !o.DisableACNSObservability, Security: !o.DisableACNSSecurity}
	switch {
	case !a.Observability && !a.Security:
		errs.add("enable-acns", "true", "cannot disable both ACNS observability and security")
	case a.Observability:
		errs.add("enable-acns", "true", "ACNS observability (Hubble metrics and flow logs) is not emulated by minaks: add --disable-acns-observability")
	case n.Dataplane != "cilium":
		errs.add("enable-acns", "true", "ACNS security needs --network-dataplane cilium")
	}
	switch p := strings.ToLower(policies); {
	case !a.Security && policies != "":
		errs.add("acns-advanced-networkpolicies", policies, "needs ACNS security (without --disable-acns-security)")
	case !a.Security:
	case p == "":
		a.AdvancedNetworkPolicies = ACNSFQDN
	case p == strings.ToLower(ACNSNone) || p == strings.ToLower(ACNSFQDN) || p == strings.ToLower(ACNSL7):
		a.AdvancedNetworkPolicies = map[string]string{"none": ACNSNone, "fqdn": ACNSFQDN, "l7": ACNSL7}[p]
	default:
		errs.add("acns-advanced-networkpolicies", policies, "must be one of None, FQDN, L7")
	}
	n.AdvancedNetworking = a
}

func (o *Options) completeNetwork(c *Cluster, errs *errorList) {
	n := &c.Network
	n.VNetCIDR, n.SubnetCIDR = DefaultVNetCIDR, DefaultSubnetCIDR

	// Plugin and mode: no plugin means Azure CNI Overlay; azure without a mode means node subnet.
	n.Plugin, n.PluginMode = strings.ToLower(o.NetworkPlugin), strings.ToLower(o.NetworkPluginMode)
	switch n.Plugin {
	case "":
		n.Plugin = PluginAzure
		if n.PluginMode == "" {
			n.PluginMode = ModeOverlay
		}
	case PluginAzure, PluginKubenet, PluginNone:
	default:
		errs.add("network-plugin", o.NetworkPlugin, "must be one of azure, kubenet, none")
	}
	switch n.PluginMode {
	case "":
	case ModeOverlay:
		if n.Plugin != PluginAzure {
			errs.add("network-plugin-mode", o.NetworkPluginMode, "overlay mode needs --network-plugin azure, not %s", n.Plugin)
		}
	default:
		errs.add("network-plugin-mode", o.NetworkPluginMode, "must be overlay")
	}
	if o.PodSubnetCIDR != "" {
		p, err := netip.ParsePrefix(o.PodSubnetCIDR)
		vnet, subnet := netip.MustParsePrefix(n.VNetCIDR), netip.MustParsePrefix(n.SubnetCIDR)
		switch {
		case n.Plugin != PluginAzure || n.PluginMode != "":
			errs.add("pod-subnet-cidr", o.PodSubnetCIDR, "a pod subnet needs --network-plugin azure without --network-plugin-mode")
		case err != nil || p != p.Masked() || !p.Addr().Is4():
			errs.add("pod-subnet-cidr", o.PodSubnetCIDR, "is not an IPv4 CIDR without host bits (for example 10.225.0.0/16)")
		case !vnet.Contains(p.Addr()) || p.Bits() < vnet.Bits():
			errs.add("pod-subnet-cidr", o.PodSubnetCIDR, "must be a subnet of the VNet %s", vnet)
		case p.Overlaps(subnet):
			errs.add("pod-subnet-cidr", o.PodSubnetCIDR, "overlaps the node subnet %s", subnet)
		case p.Bits() > 28:
			errs.add("pod-subnet-cidr", o.PodSubnetCIDR, "is too small: Azure subnets are at most /28")
		default:
			n.PodSubnetCIDR = p.String()
		}
	}
	cni := n.CNI()

	n.Dataplane = strings.ToLower(o.NetworkDataplane)
	switch n.Dataplane {
	case "":
		n.Dataplane = "azure"
	case "azure":
	case "cilium":
		if n.Plugin != PluginAzure {
			errs.add("network-dataplane", o.NetworkDataplane, "cilium needs --network-plugin azure, not %s", n.Plugin)
		}
	default:
		errs.add("network-dataplane", o.NetworkDataplane, "must be one of azure, cilium")
	}

	n.Policy = strings.ToLower(o.NetworkPolicy)
	switch n.Policy {
	case "":
		n.Policy = "none"
		if n.Dataplane == "cilium" {
			n.Policy = "cilium"
		}
	case "none", "calico", "azure", "cilium":
		switch {
		case n.Dataplane == "cilium" && n.Policy != "cilium":
			errs.add("network-policy", o.NetworkPolicy, "Cilium dataplane requires network policy cilium")
		case n.Policy == "cilium" && n.Dataplane != "cilium":
			errs.add("network-policy", o.NetworkPolicy, "cilium network policy needs --network-dataplane cilium")
		case n.Policy == "azure" && cni == CNIKubenet:
			errs.add("network-policy", o.NetworkPolicy, "NetworkPolicy azure is not supported for network plugin kubenet; use calico")
		}
	default:
		errs.add("network-policy", o.NetworkPolicy, "must be one of none, azure, calico, cilium")
	}
	if cni == CNINone && n.Policy != "none" {
		errs.add("network-policy", o.NetworkPolicy, "needs a network plugin; with --network-plugin none bring your own policy engine")
	}
	o.completeACNS(n, errs)

	// IP families.
	n.IPFamilies = []string{"IPv4"}
	dual := false
	if len(o.IPFamilies) > 0 {
		fams := make([]string, len(o.IPFamilies))
		for i, f := range o.IPFamilies {
			fams[i] = strings.ToLower(f)
		}
		switch strings.Join(fams, ",") {
		case "ipv4":
		case "ipv4,ipv6":
			dual = true
			n.IPFamilies = []string{"IPv4", "IPv6"}
			if cni != CNIOverlay {
				errs.add("ip-families", strings.Join(o.IPFamilies, ","), "dual-stack needs Azure CNI Overlay (--network-plugin azure --network-plugin-mode overlay)")
			}
			if n.Policy == "azure" || n.Policy == "calico" {
				errs.add("ip-families", strings.Join(o.IPFamilies, ","), "dual-stack does not support network policy %s", n.Policy)
			}
		default:
			errs.add("ip-families", strings.Join(o.IPFamilies, ","), "must be ipv4 or ipv4,ipv6")
		}
	}

	// Address ranges.
	vnets := []netip.Prefix{netip.MustParsePrefix(n.VNetCIDR)}
	if dual {
		n.VNetCIDRv6, n.SubnetCIDRv6 = DefaultVNetCIDRv6, DefaultSubnetCIDRv6
		vnets = append(vnets, netip.MustParsePrefix(n.VNetCIDRv6))
	}
	podFlag, podValues := rangeFlag(errs, "pod-cidr", o.PodCIDR, o.PodCIDRs)
	svcFlag, svcValues := rangeFlag(errs, "service-cidr", o.ServiceCIDR, o.ServiceCIDRs)

	var pods, svcs []netip.Prefix
	if cni == CNINodeSubnet || cni == CNIPodSubnet {
		if len(podValues) > 0 {
			errs.add(podFlag, strings.Join(podValues, ","), "specify --network-plugin-mode overlay when using --pod-cidr, or use --network-plugin kubenet: in node subnet mode pods take IPs from the node subnet")
		}
	} else {
		if len(podValues) == 0 {
			podValues = []string{DefaultPodCIDR}
			if dual {
				podValues = append(podValues, DefaultPodCIDRv6)
			}
		}
		pods = parseFamilyCIDRs(errs, podFlag, podValues, dual, 0)
		for _, p := range pods {
			n.PodCIDRs = append(n.PodCIDRs, p.String())
		}
	}

	if len(svcValues) == 0 {
		if o.DNSServiceIP != "" {
			errs.add("dns-service-ip", o.DNSServiceIP, "needs --service-cidr as well")
		}
		svcValues = []string{DefaultServiceCIDR}
		if dual {
			svcValues = append(svcValues, DefaultServiceCIDRv6)
		}
	} else if o.DNSServiceIP == "" {
		errs.add(svcFlag, strings.Join(svcValues, ","), "needs --dns-service-ip as well")
	}
	// kube-apiserver allows at most 20 bits of service addresses per family.
	svcs = parseFamilyCIDRs(errs, svcFlag, svcValues, dual, 20)
	for _, p := range svcs {
		n.ServiceCIDRs = append(n.ServiceCIDRs, p.String())
	}

	for _, p := range pods {
		checkRange(errs, podFlag, p, "pod", svcs, "service", vnets)
	}
	for _, p := range svcs {
		checkRange(errs, svcFlag, p, "service", pods, "pod", vnets)
	}

	n.DNSServiceIP = o.DNSServiceIP
	if n.DNSServiceIP == "" {
		n.DNSServiceIP = DefaultDNSServiceIP
	}
	if dns, err := netip.ParseAddr(n.DNSServiceIP); err != nil {
		errs.add("dns-service-ip", o.DNSServiceIP, "is not an IP address")
	} else if len(svcs) > 0 {
		r := svcs[0]
		switch {
		case !dns.Is4():
			errs.add("dns-service-ip", o.DNSServiceIP, "must be an IPv4 address")
		case !r.Contains(dns):
			errs.add("dns-service-ip", o.DNSServiceIP, "must be inside the service range %s", r)
		case dns == r.Addr() || dns == r.Addr().Next():
			errs.add("dns-service-ip", o.DNSServiceIP, "must not be the network address or the first address of %s (%s is the kubernetes Service)", r, r.Addr().Next())
		case dns == LastAddr(r):
			errs.add("dns-service-ip", o.DNSServiceIP, "must not be the last address of %s", r)
		}
	}

	// Outbound and load balancer.
	n.OutboundType = o.OutboundType
	if n.OutboundType == "" {
		n.OutboundType = "loadBalancer"
	}
	if i := slices.IndexFunc(outboundTypes, func(t string) bool { return strings.EqualFold(t, n.OutboundType) }); i < 0 {
		errs.add("outbound-type", o.OutboundType, "must be one of %s", strings.Join(outboundTypes, ", "))
	} else {
		n.OutboundType = outboundTypes[i]
		switch n.OutboundType {
		case "userAssignedNATGateway", "userDefinedRouting":
			errs.add("outbound-type", o.OutboundType, "needs a bring-your-own subnet (--vnet-subnet-id), which minaks does not emulate; use loadBalancer, managedNATGateway, none or block")
		}
	}
	switch strings.ToLower(o.LoadBalancerSKU) {
	case "", "standard":
		n.LoadBalancerSKU = "standard"
	case "basic":
		errs.add("load-balancer-sku", o.LoadBalancerSKU, "the Basic load balancer is retired on AKS; use standard")
	default:
		errs.add("load-balancer-sku", o.LoadBalancerSKU, "must be standard")
	}

	// The emulated public address space, and the outbound rule's shape (AKS's limits).
	n.PublicIPRange = o.PublicIPRange
	if n.PublicIPRange == "" {
		n.PublicIPRange = DefaultPublicIPRange
	}
	if r, err := netip.ParsePrefix(n.PublicIPRange); err != nil || !r.Addr().Is4() {
		errs.add("public-ip-range", o.PublicIPRange, "must be an IPv4 CIDR, e.g. %s", DefaultPublicIPRange)
	} else {
		n.PublicIPRange = r.Masked().String()
		switch {
		case r.Bits() < 16 || r.Bits() > 29:
			errs.add("public-ip-range", o.PublicIPRange, "must be between a /16 and a /29")
		case r.Addr().IsPrivate() || r.Addr().IsLoopback() || r.Addr().IsLinkLocalUnicast() || r.Addr().IsMulticast():
			errs.add("public-ip-range", o.PublicIPRange, "must be public-looking address space (private, loopback, link-local and multicast ranges are taken); the default %s is documentation space", DefaultPublicIPRange)
		}
		for _, other := range slices.Concat(pods, svcs, vnets) {
			if r.Overlaps(other) {
				errs.add("public-ip-range", o.PublicIPRange, "overlaps the cluster range %s", other)
			}
		}
	}
	n.ManagedOutboundIPCount, n.OutboundPorts, n.IdleTimeout = o.ManagedOutboundIPCount, o.OutboundPorts, o.IdleTimeout
	if n.OutboundType != "loadBalancer" {
		for flag, v := range map[string]int{"load-balancer-managed-outbound-ip-count": o.ManagedOutboundIPCount, "load-balancer-outbound-ports": o.OutboundPorts, "load-balancer-idle-timeout": o.IdleTimeout} {
			if v != 0 {
				errs.add(flag, fmt.Sprint(v), "needs --outbound-type loadBalancer")
			}
		}
	} else {
		if n.ManagedOutboundIPCount == 0 {
			n.ManagedOutboundIPCount = 1
		}
		if n.IdleTimeout == 0 {
			n.IdleTimeout = 30
		}
		if n.ManagedOutboundIPCount < 1 || n.ManagedOutboundIPCount > 100 {
			errs.add("load-balancer-managed-outbound-ip-count", fmt.Sprint(o.ManagedOutboundIPCount), "must be between 1 and 100")
		}
		if n.OutboundPorts < 0 || n.OutboundPorts > 64000 || n.OutboundPorts%8 != 0 {
			errs.add("load-balancer-outbound-ports", fmt.Sprint(o.OutboundPorts), "must be 0 (automatic) or a multiple of 8 between 8 and 64000")
		} else if n.OutboundPorts*o.NodeCount > 64000*n.ManagedOutboundIPCount {
			errs.add("load-balancer-outbound-ports", fmt.Sprint(o.OutboundPorts), "%d ports × %d nodes exceed the %d SNAT ports of %d outbound IPs", n.OutboundPorts, o.NodeCount, 64000*n.ManagedOutboundIPCount, n.ManagedOutboundIPCount)
		}
		if n.IdleTimeout < 4 || n.IdleTimeout > 100 {
			errs.add("load-balancer-idle-timeout", fmt.Sprint(o.IdleTimeout), "must be between 4 and 100 (minutes)")
		}
	}

	// Max pods per node: AKS defaults by mode, 10..250.
	n.MaxPods = o.MaxPods
	if n.MaxPods == 0 {
		n.MaxPods = map[CNIMode]int{CNIOverlay: 250, CNIKubenet: 110, CNINodeSubnet: 30, CNIPodSubnet: 110, CNINone: 250}[cni]
	}
	if n.MaxPods < 10 || n.MaxPods > 250 {
		errs.add("max-pods", fmt.Sprint(o.MaxPods), "must be between 10 and 250")
	} else if n.MaxPods*o.NodeCount < 30 {
		errs.add("max-pods", fmt.Sprint(o.MaxPods), "the node pool must have room for at least 30 pods (max-pods × node-count = %d)", n.MaxPods*o.NodeCount)
	}
}

// rangeFlag picks the single-range flag (--pod-cidr) or its per-family form (--pod-cidrs),
// refusing both at once. No values means the flag was not given.
func rangeFlag(errs *errorList, flag, single string, multi []string) (string, []string) {
	if len(multi) == 0 {
		if single == "" {
			return flag, nil
		}
		return flag, []string{single}
	}
	if single != "" {
		errs.add(flag+"s", strings.Join(multi, ","), "cannot be combined with --%s", flag)
	}
	return flag + "s", multi
}

// parseFamilyCIDRs parses one CIDR per IP family (IPv4 first). maxBits > 0 bounds the number of
// host bits of each range.
func parseFamilyCIDRs(errs *errorList, flag string, values []string, dual bool, maxBits int) []netip.Prefix {
	var out []netip.Prefix
	want := 1
	if dual {
		want = 2
	}
	if len(values) != want {
		errs.add(flag, strings.Join(values, ","), "needs %d range(s), one per IP family", want)
		return nil
	}
	for i, v := range values {
		p, err := netip.ParsePrefix(strings.TrimSpace(v))
		if err != nil {
			errs.add(flag, v, "is not a CIDR (for example 10.244.0.0/16)")
			continue
		}
		if p != p.Masked() {
			errs.add(flag, v, "has host bits set; did you mean %s?", p.Masked())
			continue
		}
		if i == 0 && !p.Addr().Is4() {
			errs.add(flag, v, "the first range must be IPv4")
			continue
		}
		if i == 1 && !p.Addr().Is6() {
			errs.add(flag, v, "the second range must be IPv6")
			continue
		}
		if maxBits > 0 && p.Addr().BitLen()-p.Bits() > maxBits {
			errs.add(flag, v, "is too large: the mask must be at least /%d", p.Addr().BitLen()-maxBits)
			continue
		}
		out = append(out, p)
	}
	return out
}

// checkRange refuses reserved ranges and overlaps with the other ranges of the cluster.
func checkRange(errs *errorList, flag string, p netip.Prefix, what string, others []netip.Prefix, otherWhat string, vnets []netip.Prefix) {
	for _, r := range reservedRanges {
		if p.Overlaps(r) {
			errs.add(flag, p.String(), "overlaps %s, which AKS reserves", r)
		}
	}
	for _, vnet := range vnets {
		if p.Overlaps(vnet) {
			errs.add(flag, p.String(), "the %s range overlaps the VNet %s", what, vnet)
		}
	}
	for _, o := range others {
		// Report each overlapping pair once, from the pod side.
		if p.Overlaps(o) && what == "pod" {
			errs.add(flag, p.String(), "the %s range overlaps the %s range %s", what, otherWhat, o)
		}
	}
}

// LastAddr is the last address of p (its broadcast address, for IPv4).
func LastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().AsSlice()
	host := p.Addr().BitLen() - p.Bits()
	for i := len(b) - 1; i >= 0 && host > 0; i-- {
		n := min(host, 8)
		b[i] |= byte(1<<n - 1)
		host -= n
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}
