package azlb

import (
	"net/netip"
	"strings"
	"time"

	"github.com/minaks/minaks/pkg/apiserver/config"
	"github.com/minaks/minaks/pkg/azlb/dataplane"
	"github.com/minaks/minaks/pkg/netstack"
)

// The model, read back as packets see it: what the data plane and the prober need.

// frontendIPs maps each frontend configuration's ID to its address.
func frontendIPs(m *Model) map[string]netip.Addr {
	pips := map[string]netip.Addr{}
	for _, p := range m.PublicIPAddresses {
		if a, err := netip.ParseAddr(p.IPAddress); err == nil {
			pips[p.ID] = a
		}
	}
	out := map[string]netip.Addr{}
	for _, lb := range m.LoadBalancers {
		for _, fe := range lb.FrontendIPConfigurations {
			if fe.PublicIPAddress != nil {
				if a, ok := pips[fe.PublicIPAddress.ID]; ok {
					out[fe.ID] = a
				}
			} else if a, err := netip.ParseAddr(fe.PrivateIPAddress); err == nil {
				out[fe.ID] = a
			}
		}
	}
	return out
}

// frontendName is the name of the frontend configuration carrying the Service's address.
func frontendName(m *Model, s *ServiceLB) string {
	if m == nil {
		return ""
	}
	ips := frontendIPs(m)
	for _, lb := range m.LoadBalancers {
		if lb.Name != lbName(s.Config) {
			continue
		}
		for _, fe := range lb.FrontendIPConfigurations {
			if ips[fe.ID] == s.FrontendIP {
				return fe.Name
			}
		}
	}
	return ""
}

// probeTargets are the probes of every rule, for every backend.
func probeTargets(m *Model, backends []Backend) []dataplane.Target {
	var out []dataplane.Target
	for _, lb := range m.LoadBalancers {
		for _, p := range lb.Probes {
			if len(p.LoadBalancingRules) == 0 {
				continue
			}
			for _, be := range backends {
				out = append(out, dataplane.Target{
					LoadBalancer: lb.Name, Probe: p.Name, Backend: be.Name, IP: be.IP,
					Protocol: p.Protocol, Port: p.Port, Path: p.RequestPath,
					Interval:  time.Duration(p.IntervalInSeconds) * time.Second,
					Failures:  int(max(p.NumberOfProbes, 1)),
					Successes: int(max(p.ProbeThreshold, 1)),
				})
			}
		}
	}
	return out
}

// dataplaneConfig is the model's data plane with the backends that pass their probes now.
func dataplaneConfig(c *config.Cluster, m *Model, backends []Backend, health map[dataplane.Key]dataplane.Health, host netip.Addr) *dataplane.Config {
	subnet := netip.MustParsePrefix(c.Network.SubnetCIDR)
	cfg := &dataplane.Config{Subnet: subnet, VNet: vnetSpace(c), Host: host}
	for _, be := range backends {
		cfg.Backends = append(cfg.Backends, dataplane.Backend{Name: be.Name, ID: be.InstanceID, IP: be.IP})
	}
	ips := frontendIPs(m)
	for _, lb := range m.LoadBalancers {
		for _, fe := range lb.FrontendIPConfigurations {
			if a, ok := ips[fe.ID]; ok {
				cfg.Frontends = append(cfg.Frontends, a)
			}
		}
		probes := map[string]Probe{}
		for _, p := range lb.Probes {
			probes[p.ID] = p
		}
		for _, r := range lb.LoadBalancingRules {
			rule := dataplane.Rule{
				Name: r.Name, Frontend: ips[r.FrontendIPConfiguration.ID],
				Protocol: strings.ToLower(r.Protocol), Port: uint16(r.FrontendPort),
				FloatingIP: r.EnableFloatingIP, Distribution: r.LoadDistribution,
				IdleTimeout: time.Duration(r.IdleTimeoutInMinutes) * time.Minute, TCPReset: r.EnableTCPReset,
			}
			if !r.EnableFloatingIP {
				rule.BackendPort = uint16(r.BackendPort)
			}
			for _, be := range backends {
				if r.Probe == nil || health[dataplane.Key{LoadBalancer: lb.Name, Probe: probes[r.Probe.ID].Name, Backend: be.Name}].State == dataplane.Up {
					rule.Healthy = append(rule.Healthy, be.Name)
				}
			}
			cfg.Rules = append(cfg.Rules, rule)
		}
		for _, o := range lb.OutboundRules {
			out := &dataplane.Outbound{IdleTimeout: time.Duration(o.IdleTimeoutInMinutes) * time.Minute, PortsPerNode: int(o.AllocatedOutboundPorts)}
			for _, fe := range o.FrontendIPConfigurations {
				if a, ok := ips[fe.ID]; ok {
					out.IPs = append(out.IPs, a)
				}
			}
			if out.PortsPerNode == 0 {
				out.PortsPerNode = DefaultOutboundPorts(len(backends))
			}
			out.Sources = vnetSpace(c)
			cfg.Outbound = out
		}
	}
	for _, r := range m.SecurityGroup.SecurityRules {
		sr := dataplane.SecurityRule{Name: r.Name, Priority: r.Priority, Allow: r.Access == "Allow"}
		if r.Protocol != "*" {
			sr.Protocol = strings.ToLower(r.Protocol)
		}
		srcs, ok := resolvePrefixes(c, r.SourceAddressPrefix, r.SourceAddressPrefixes)
		if !ok {
			continue // a service tag the emulated NSG has no addresses for (warned at parse time)
		}
		dsts, ok := resolvePrefixes(c, r.DestinationAddressPrefix, r.DestinationAddressPrefixes)
		if !ok {
			continue
		}
		sr.Sources, sr.Destinations = srcs, dsts
		for _, p := range append([]string{r.DestinationPortRange}, r.DestinationPortRanges...) {
			if p != "" && p != "*" {
				sr.Ports = append(sr.Ports, p)
			}
		}
		cfg.NSG = append(cfg.NSG, sr)
	}
	return cfg
}

// DefaultOutboundPorts is Azure's automatic SNAT port allocation for a pool of n instances.
func DefaultOutboundPorts(n int) int {
	switch {
	case n <= 50:
		return 1024
	case n <= 100:
		return 512
	case n <= 200:
		return 256
	case n <= 400:
		return 128
	case n <= 800:
		return 64
	default:
		return 32
	}
}

// vnetSpace is the VirtualNetwork service tag's address space: the VNet and the pod ranges.
func vnetSpace(c *config.Cluster) []netip.Prefix {
	out := []netip.Prefix{netip.MustParsePrefix(c.Network.VNetCIDR)}
	for _, p := range c.Network.PodCIDRs {
		if pp, err := netip.ParsePrefix(p); err == nil && pp.Addr().Is4() {
			out = append(out, pp)
		}
	}
	return out
}

// resolvePrefixes turns an NSG rule's address prefix(es) into prefixes: nil for any ("*",
// "Internet" — the emulation has one world beyond the VNet), the VNet for VirtualNetwork,
// Azure's probe source for AzureLoadBalancer. ok is false for other service tags.
func resolvePrefixes(c *config.Cluster, one string, many []string) (out []netip.Prefix, ok bool) {
	all := many
	if one != "" {
		all = append([]string{one}, many...)
	}
	for _, s := range all {
		if strings.Contains(s, ":") {
			continue // IPv6: the emulated load balancer is IPv4 only
		}
		switch s {
		case "*", "Internet", "0.0.0.0/0":
			return nil, true
		case "VirtualNetwork":
			out = append(out, vnetSpace(c)...)
		case "AzureLoadBalancer":
			out = append(out, netip.PrefixFrom(netstack.WireServer, 32))
		default:
			if p, err := netip.ParsePrefix(s); err == nil {
				out = append(out, p)
			} else if a, err := netip.ParseAddr(s); err == nil {
				out = append(out, netip.PrefixFrom(a, a.BitLen()))
			} else {
				return nil, false
			}
		}
	}
	return out, len(all) == 0 || len(out) > 0
}
