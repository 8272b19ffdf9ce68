package dataplane

import (
	"net/netip"
	"time"
)

// Config is the whole data plane of one cluster's load balancers.
type Config struct {
	// Backends are the nodes rules can send to (the backend pools' members).
	Backends []Backend
	// Frontends are every frontend address (Services' and outbound); Subnet those inside the
	// node subnet (internal frontends), which the fabric answers ARP for.
	Frontends []netip.Addr
	Subnet    netip.Prefix
	Rules     []Rule
	// NSG is the network security group's inbound rules, by priority; VNet is the address space
	// of its VirtualNetwork service tag. They apply to new flows toward a frontend.
	NSG  []SecurityRule
	VNet []netip.Prefix
	// Host is the host's edge address: the host reaches the VNet's subnets directly, as an
	// on-premises network does over a VPN gateway, so AllowVnetInBound covers it toward
	// internal frontends (not toward public ones, which it reaches from outside).
	Host netip.Addr
	// Outbound is aksOutboundRule (nil with other outbound types).
	Outbound *Outbound
}

// Backend is a node: its VMSS instance ID (the index of its policy route table) and address.
type Backend struct {
	Name string
	ID   int
	IP   netip.Addr
}

// Load distributions: 5-tuple, or source and destination IP.
const (
	DistributionDefault  = "Default"
	DistributionSourceIP = "SourceIP"
)

// Rule is a load-balancing rule.
type Rule struct {
	Name     string
	Frontend netip.Addr
	// Protocol is "tcp", "udp" or "all" (HA ports: every protocol and port, Port 0).
	Protocol string
	Port     uint16
	// FloatingIP delivers the packet to the node unchanged; otherwise it is DNATed to the
	// node's address and BackendPort (the NodePort).
	FloatingIP   bool
	BackendPort  uint16
	Distribution string
	// IdleTimeout is the TCP idle timeout; TCPReset answers a packet of a flow that timed out
	// with a reset instead of dropping it.
	IdleTimeout time.Duration
	TCPReset    bool
	// Healthy are the names of the backends that take new flows: those that pass the rule's
	// probe (every backend when it has none). None: new flows are dropped, as on Azure.
	Healthy []string
}

// SecurityRule is an inbound NSG rule with its service tags resolved.
type SecurityRule struct {
	Name     string
	Priority int32
	Allow    bool
	// Protocol is "tcp", "udp" or "" (any).
	Protocol string
	// Sources and Destinations: nil means any.
	Sources      []netip.Prefix
	Destinations []netip.Prefix
	// Ports are destination port ranges, "80" or "8000-8080"; nil means any.
	Ports []string
}

// Outbound is the outbound rule: SNAT of what leaves the VNet to the outbound IPs, each node
// with its own block of ports.
type Outbound struct {
	IPs []netip.Addr
	// PortsPerNode is the block of SNAT ports each node gets.
	PortsPerNode int
	IdleTimeout  time.Duration
	// Sources are the other VNet addresses that leave through it (routable pod ranges); they
	// share the first outbound IP's whole port range.
	Sources []netip.Prefix
}
