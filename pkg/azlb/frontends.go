package azlb

import (
	"fmt"
	"net/netip"
	"slices"

	v1 "k8s.io/api/core/v1"

	"github.com/minaks/minaks/pkg/apiserver/config"
	"github.com/minaks/minaks/pkg/netstack"
)

// assign gives a Service its frontend, as Azure would: the one it has, the one it asks for
// (an address, or a public IP by name), or a new one — a new public IP from the public range,
// or the subnet's first free address for an internal one. A frontend shared with other Services
// must not have a port in common with them, and a DNS label belongs to one Service.
func (l *LoadBalancers) assign(svc *v1.Service, cfg *ServiceConfig) (*ServiceLB, error) {
	k := key(svc)
	s := &ServiceLB{Service: svc, Config: cfg}
	if cfg.Internal {
		a, err := l.internalIP(k, cfg)
		if err != nil {
			return nil, err
		}
		s.FrontendIP = a
	} else {
		a, name, err := l.publicIP(k, svc, cfg)
		if err != nil {
			return nil, err
		}
		s.FrontendIP, s.PublicIPName = a, name
	}
	for ok, other := range l.services {
		if ok == k || other.FrontendIP != s.FrontendIP {
			continue
		}
		if other.Config.Internal != cfg.Internal {
			return nil, fmt.Errorf("frontend IP %s belongs to the %s load balancer of service %s", s.FrontendIP, lbName(other.Config), ok)
		}
		for _, r := range cfg.Rules {
			for _, o := range other.Config.Rules {
				sameProtocol := r.Protocol == o.Protocol || r.Protocol == "All" || o.Protocol == "All"
				if sameProtocol && (r.Port == o.Port || r.Port == 0 || o.Port == 0) {
					return nil, fmt.Errorf("frontend IP %s: port %d/%s is already used by service %s; Services share a frontend IP only on different ports", s.FrontendIP, r.Port, r.Protocol, ok)
				}
			}
		}
	}
	if cfg.DNSLabel != "" {
		for ok, other := range l.services {
			if ok != k && other.Config.DNSLabel == cfg.DNSLabel && other.PublicIPName != s.PublicIPName {
				return nil, fmt.Errorf("%s: DNS label %q is already used by service %s", annotationDNSLabel, cfg.DNSLabel, ok)
			}
		}
	}
	return s, nil
}

const annotationDNSLabel = "service.beta.kubernetes.io/azure-dns-label-name"

func lbName(cfg *ServiceConfig) string {
	if cfg.Internal {
		return "kubernetes-internal"
	}
	return "kubernetes"
}

// current is the frontend IP the Service already has: from this daemon, or from its status.
func (l *LoadBalancers) current(k string, svc *v1.Service) netip.Addr {
	if s, ok := l.services[k]; ok {
		return s.FrontendIP
	}
	for _, in := range svc.Status.LoadBalancer.Ingress {
		if a, err := netip.ParseAddr(in.IP); err == nil && l.reserved[a] == k {
			return a
		}
	}
	return netip.Addr{}
}

// usedBy names the Service (or the outbound rule) holding a, "" when it is free here.
func (l *LoadBalancers) usedBy(a netip.Addr, except string) string {
	if slices.Contains(l.outbound, a) {
		return "the outbound rule aksOutboundRule"
	}
	for k, s := range l.services {
		if k != except && s.FrontendIP == a {
			return "service " + k
		}
	}
	if owner, ok := l.reserved[a]; ok && owner != except {
		return "service " + owner
	}
	return ""
}

func (l *LoadBalancers) publicIP(k string, svc *v1.Service, cfg *ServiceConfig) (netip.Addr, string, error) {
	public := l.cloud.cluster.Network.PublicRange()
	name := "kubernetes-" + cfg.Base
	if cfg.PIPName != "" {
		name = cfg.PIPName
		// A public IP of that name that another Service created: share it.
		for ok, other := range l.services {
			if ok != k && other.PublicIPName == name {
				if cfg.RequestedIP.IsValid() && cfg.RequestedIP != other.FrontendIP {
					return netip.Addr{}, "", fmt.Errorf("service.beta.kubernetes.io/azure-pip-name: public IP %s has address %s, not the requested %s", name, other.FrontendIP, cfg.RequestedIP)
				}
				return other.FrontendIP, name, nil
			}
		}
	}
	if a := cfg.RequestedIP; a.IsValid() {
		if !public.Contains(a) || a == public.Addr() {
			return netip.Addr{}, "", fmt.Errorf("requested public IP %s (service.beta.kubernetes.io/azure-load-balancer-ipv4 or spec.loadBalancerIP) does not exist: public IPs of this cluster come from %s (--public-ip-range)", a, public)
		}
		if by := l.usedBy(a, k); by != "" {
			// Shared with a Service: allowed when ports differ (checked by assign), and the
			// public IP is that Service's.
			for ok, other := range l.services {
				if ok != k && other.FrontendIP == a {
					if other.Config.Internal {
						break
					}
					return a, other.PublicIPName, nil
				}
			}
			if slices.Contains(l.outbound, a) {
				return netip.Addr{}, "", fmt.Errorf("requested public IP %s is %s's", a, by)
			}
		}
		if owner, _ := netstack.HostAddrOwner(a); owner != "" && owner != l.cloud.cluster.Name {
			return netip.Addr{}, "", fmt.Errorf("requested public IP %s belongs to cluster %s on this host", a, owner)
		}
		return a, name, nil
	}
	if a := l.current(k, svc); a.IsValid() && public.Contains(a) {
		return a, name, nil
	}
	a, err := l.freePublicIP()
	return a, name, err
}

// freePublicIP is the public range's first address no Service, outbound rule or other cluster
// on this host holds.
func (l *LoadBalancers) freePublicIP() (netip.Addr, error) {
	public := l.cloud.cluster.Network.PublicRange()
	for a := public.Addr().Next(); public.Contains(a); a = a.Next() {
		if l.usedBy(a, "") != "" {
			continue
		}
		if owner, err := netstack.HostAddrOwner(a); err != nil {
			return netip.Addr{}, err
		} else if owner != "" && owner != l.cloud.cluster.Name {
			continue
		}
		return a, nil
	}
	return netip.Addr{}, fmt.Errorf("no free public IP left in %s (--public-ip-range)", public)
}

func (l *LoadBalancers) internalIP(k string, cfg *ServiceConfig) (netip.Addr, error) {
	subnet := netip.MustParsePrefix(l.cloud.cluster.Network.SubnetCIDR)
	instances, err := l.cloud.vmss.Instances()
	if err != nil {
		return netip.Addr{}, err
	}
	taken := func(a netip.Addr) string {
		for _, in := range instances {
			if in.Contains(a) {
				return "node " + in.Name
			}
		}
		return ""
	}
	first := subnet.Masked().Addr()
	for range 4 { // Azure keeps .0-.3 of every subnet
		first = first.Next()
	}
	if a := cfg.RequestedIP; a.IsValid() {
		switch {
		case !subnet.Contains(a):
			return netip.Addr{}, fmt.Errorf("requested internal IP %s (service.beta.kubernetes.io/azure-load-balancer-ipv4 or spec.loadBalancerIP) is not in subnet aks-subnet %s", a, subnet)
		case a.Less(first) || a == config.LastAddr(subnet):
			return netip.Addr{}, fmt.Errorf("requested internal IP %s is reserved by Azure in subnet %s", a, subnet)
		case taken(a) != "":
			return netip.Addr{}, fmt.Errorf("requested internal IP %s is in use by %s", a, taken(a))
		}
		return a, nil
	}
	if s, ok := l.services[k]; ok && s.Config.Internal {
		return s.FrontendIP, nil
	}
	for a, owner := range l.reserved {
		if owner == k && subnet.Contains(a) {
			return a, nil
		}
	}
	for a := first; subnet.Contains(a) && a != config.LastAddr(subnet); a = a.Next() {
		if taken(a) == "" && l.usedBy(a, "") == "" {
			return a, nil
		}
	}
	return netip.Addr{}, fmt.Errorf("subnet %s has no free address", subnet)
}
