package azlb

import (
	"fmt"
	"hash/fnv"
	"net/netip"
	"strconv"
	"strings"

	"github.com/google/uuid"
	v1 "k8s.io/api/core/v1"

	"github.com/minaks/minaks/pkg/apiserver/config"
)

// Instance is one VMSS instance: a node.
type Instance struct {
	// ID is the VMSS instance ID (0, 1, …); the node name ends with it in base 36.
	ID   int
	Name string
	// IP is the primary private IP of the instance's NIC in the node subnet, and IPv6 its IPv6
	// address in a dual-stack cluster (the same host number in the subnet's IPv6 space).
	IP   netip.Addr
	IPv6 netip.Addr
	// Zone is the topology zone label: "<region>-<zone>" in a zonal pool, "0" otherwise.
	Zone       string
	ProviderID string
	// PodCIDRs are the node's pod ranges when the network plugin gives each node its own
	// (overlay, kubenet): the id-th /24 of the pod range (and /80 of the IPv6 one).
	PodCIDRs []string
	// PodFirst..PodLast are the IPv4 addresses the node gives its pods: its /24 but the network
	// and gateway addresses, the max-pods addresses after its own (node subnet), or its block of
	// the pod subnet.
	PodFirst, PodLast netip.Addr
}

// Addresses are the node's addresses as AKS reports them: InternalIP per IP family, Hostname.
func (in Instance) Addresses() []v1.NodeAddress {
	out := []v1.NodeAddress{{Type: v1.NodeInternalIP, Address: in.IP.String()}}
	if in.IPv6.IsValid() {
		out = append(out, v1.NodeAddress{Type: v1.NodeInternalIP, Address: in.IPv6.String()})
	}
	return append(out, v1.NodeAddress{Type: v1.NodeHostName, Address: in.Name})
}

// Contains reports whether ip is the instance's or one of its pods'.
func (in Instance) Contains(ip netip.Addr) bool {
	return ip == in.IP || (in.PodFirst.IsValid() && !ip.Less(in.PodFirst) && !in.PodLast.Less(ip))
}

// add returns a + n.
func add(a netip.Addr, n int) netip.Addr {
	for range n {
		a = a.Next()
	}
	return a
}

// ScaleSet is the node pool's virtual machine scale set.
type ScaleSet struct {
	c *config.Cluster
	// Name is aks-<pool>-<8 digits>-vmss.
	Name string
}

// NewScaleSet returns the scale set of the cluster's node pool.
func NewScaleSet(c *config.Cluster) *ScaleSet {
	return &ScaleSet{c: c, Name: fmt.Sprintf("aks-%s-%s-vmss", c.NodePoolName, PoolID(c))}
}

// PoolID is the 8 digits in AKS node names, stable for a cluster and pool.
func PoolID(c *config.Cluster) string {
	h := fnv.New32a()
	fmt.Fprintf(h, "%s/%s/%s", c.ResourceGroup, c.Name, c.NodePoolName)
	return fmt.Sprintf("%08d", h.Sum32()%100000000)
}

// VNetName is the managed VNet, aks-vnet-<8 digits>.
func VNetName(c *config.Cluster) string {
	h := fnv.New32a()
	fmt.Fprintf(h, "%s/%s", c.ResourceGroup, c.Name)
	return fmt.Sprintf("aks-vnet-%08d", h.Sum32()%100000000)
}

// SubscriptionID is the emulated subscription, a UUID stable for the cluster.
func SubscriptionID(c *config.Cluster) string {
	return uuid.NewSHA1(uuid.NameSpaceURL, []byte("minaks:"+c.ResourceGroup+"/"+c.Name)).String()
}

// InstanceName is the node (computer) name of instance id: the VMSS name and the ID in base 36,
// six digits (vmss000000, …, vmss00000a).
func (s *ScaleSet) InstanceName(id int) string {
	return fmt.Sprintf("%s%06s", s.Name, strconv.FormatInt(int64(id), 36))
}

// InstanceID parses a node name of this scale set back into its instance ID.
func (s *ScaleSet) InstanceID(name string) (int, bool) {
	suffix, ok := strings.CutPrefix(name, s.Name)
	if !ok || len(suffix) != 6 {
		return 0, false
	}
	id, err := strconv.ParseInt(suffix, 36, 32)
	return int(id), err == nil && id >= 0
}

// ipsPerNode is how many subnet addresses a node takes: its own, plus, with Azure CNI in node
// subnet mode, max-pods addresses reserved for its pods when the node is created.
func (s *ScaleSet) ipsPerNode() int {
	if s.c.Network.CNI() == config.CNINodeSubnet {
		return 1 + s.c.Network.MaxPods
	}
	return 1
}

// Instance returns the instance with the given ID. The first node is .4 (Azure keeps .0–.3),
// and each node takes ipsPerNode addresses. An ID beyond the subnet's room fails as AKS does.
func (s *ScaleSet) Instance(id int) (Instance, error) {
	subnet := netip.MustParsePrefix(s.c.Network.SubnetCIDR)
	ip := subnet.Masked().Addr()
	for range 4 + id*s.ipsPerNode() {
		ip = ip.Next()
	}
	last := ip
	for range s.ipsPerNode() {
		last = last.Next()
	}
	if !subnet.Contains(last) {
		return Instance{}, fmt.Errorf("InsufficientSubnetSize: subnet %s of VNet %s has no room for node %d: every node needs %d addresses (1 + max pods %d)",
			subnet, VNetName(s.c), id, s.ipsPerNode(), s.c.Network.MaxPods)
	}
	var podCIDRs []string
	if s.c.Network.AllocatesNodeCIDRs() {
		for _, r := range s.c.Network.PodCIDRs {
			p, err := nthSubnet(netip.MustParsePrefix(r), id)
			if err != nil {
				return Instance{}, fmt.Errorf("node %d: %w", id, err)
			}
			podCIDRs = append(podCIDRs, p.String())
		}
	}
	var podFirst, podLast netip.Addr
	switch s.c.Network.CNI() {
	case config.CNINodeSubnet:
		podFirst, podLast = ip.Next(), add(ip, s.c.Network.MaxPods)
	case config.CNIPodSubnet:
		// Azure keeps .0-.3 of the pod subnet too; node id takes the id-th block of max-pods.
		ps := netip.MustParsePrefix(s.c.Network.PodSubnetCIDR)
		podFirst = add(ps.Masked().Addr(), 4+id*s.c.Network.MaxPods)
		podLast = add(podFirst, s.c.Network.MaxPods-1)
		if !ps.Contains(podLast.Next()) {
			return Instance{}, fmt.Errorf("InsufficientSubnetSize: pod subnet %s has no room for the pods of node %d (max pods %d each)", ps, id, s.c.Network.MaxPods)
		}
	case config.CNIOverlay, config.CNIKubenet:
		r := netip.MustParsePrefix(podCIDRs[0])
		podFirst, podLast = add(r.Addr(), 2), add(r.Addr(), 254)
	}
	zone := "0"
	if z := s.c.Zones; len(z) > 0 {
		zone = s.c.Location + "-" + z[id%len(z)]
	}
	var ipv6 netip.Addr
	if s.c.Network.DualStack() {
		ipv6 = add(netip.MustParsePrefix(s.c.Network.SubnetCIDRv6).Masked().Addr(), 4+id*s.ipsPerNode())
	}
	return Instance{
		ID:   id,
		Name: s.InstanceName(id),
		IP:   ip,
		IPv6: ipv6,
		Zone: zone,
		ProviderID: fmt.Sprintf("azure:///subscriptions/%s/resourceGroups/%s/providers/Microsoft.Compute/virtualMachineScaleSets/%s/virtualMachines/%d",
			SubscriptionID(s.c), strings.ToLower(s.c.NodeResourceGroup()), s.Name, id),
		PodCIDRs: podCIDRs,
		PodFirst: podFirst,
		PodLast:  podLast,
	}, nil
}

// nthSubnet is the n-th per-node block of a pod range: /24 for IPv4, /80 for IPv6, as the node
// IPAM controller cuts them with minaks's --node-cidr-mask-size.
func nthSubnet(r netip.Prefix, n int) (netip.Prefix, error) {
	bits := 24
	if r.Addr().Is6() {
		bits = 80
	}
	if bits-r.Bits() < 31 && n >= 1<<(bits-r.Bits()) {
		return netip.Prefix{}, fmt.Errorf("pod range %s has room for %d nodes", r, 1<<(bits-r.Bits()))
	}
	b := r.Masked().Addr().AsSlice()
	// Add n at bit position `bits` (counted from the left).
	carry := uint64(n)
	for i := bits/8 - 1; i >= 0 && carry > 0; i-- {
		sum := uint64(b[i]) + carry&0xff
		b[i] = byte(sum)
		carry = carry>>8 + sum>>8
	}
	a, _ := netip.AddrFromSlice(b)
	return netip.PrefixFrom(a, bits), nil
}

// Instances returns the pool's nodes.
func (s *ScaleSet) Instances() ([]Instance, error) {
	out := make([]Instance, 0, s.c.NodeCount)
	for id := range s.c.NodeCount {
		in, err := s.Instance(id)
		if err != nil {
			return nil, err
		}
		out = append(out, in)
	}
	return out, nil
}
