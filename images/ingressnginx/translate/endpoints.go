package translate

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
)

// serviceEndpoints returns the endpoints of the Service port a backend names (by number, by
// name, or by its target port, as ingress-nginx compares them), from EndpointSlices.
func (b *builder) serviceEndpoints(info *ingressInfo, svcKey, port string) ([]netip.AddrPort, error) {
	svc := b.services[svcKey]
	if svc == nil {
		return nil, fmt.Errorf("no object matching key %q in local store", svcKey)
	}
	if svc.Spec.Type == corev1.ServiceTypeExternalName {
		if b.opts.DisableServiceExternalName {
			b.warn(info, ReasonBackend, fmt.Sprintf("Service %q of type ExternalName not allowed due to Ingress configuration.", svcKey))
			return nil, nil
		}
		return b.externalName(info, svc, externalNamePort(port, svc)), nil
	}
	for i := range svc.Spec.Ports {
		sp := &svc.Spec.Ports[i]
		if strconv.Itoa(int(sp.Port)) == port || sp.TargetPort.String() == port || sp.Name == port {
			return b.endpointsFromSlices(svc, sp)
		}
	}
	return nil, nil
}

// externalNamePort is the port an ExternalName Service's backend goes to (externalNamePorts).
func externalNamePort(name string, svc *corev1.Service) int {
	port, err := strconv.Atoi(name)
	if err != nil {
		for _, sp := range svc.Spec.Ports {
			if sp.Name == name {
				if tp := sp.TargetPort.IntValue(); tp != 0 {
					return tp
				}
				return int(sp.Port)
			}
		}
	}
	for _, sp := range svc.Spec.Ports {
		if int(sp.Port) == port {
			if tp := sp.TargetPort.IntValue(); tp != 0 {
				return tp
			}
		}
	}
	return port
}

// externalName is the endpoint of an ExternalName Service. nginx resolves the name itself at
// run time; the proxy's endpoints are addresses, so only an IP address can be served and a
// name is reported.
func (b *builder) externalName(info *ingressInfo, svc *corev1.Service, port int) []netip.AddrPort {
	name := svc.Spec.ExternalName
	key := svc.Namespace + "/" + svc.Name
	if addr, err := netip.ParseAddr(name); err == nil {
		if addr.IsLoopback() {
			b.warn(info, ReasonBackend, fmt.Sprintf("Invalid attempt to use localhost name %s in %q", name, key))
			return nil
		}
		return []netip.AddrPort{netip.AddrPortFrom(addr.Unmap(), uint16(port))}
	}
	if name == "localhost" {
		b.warn(info, ReasonBackend, fmt.Sprintf("Invalid attempt to use localhost name %s in %q", name, key))
		return nil
	}
	if errs := validation.IsDNS1123Subdomain(strings.TrimSuffix(name, ".")); len(errs) > 0 {
		b.warn(info, ReasonBackend, fmt.Sprintf("Invalid DNS name %s: %v", name, errs))
		return nil
	}
	b.warn(info, ReasonNotEmulated, fmt.Sprintf("Service %q is of type ExternalName (%s): backends by DNS name are not emulated, requests to it get 503", key, name))
	return nil
}

// endpointsFromSlices lists the ready endpoints of a Service port (getEndpointsFromSlices):
// each slice's port of the same name (any port when the Service port has no name), else the
// numeric target port; endpoints whose Ready condition is false are left out; duplicates
// are removed.
func (b *builder) endpointsFromSlices(svc *corev1.Service, sp *corev1.ServicePort) ([]netip.AddrPort, error) {
	var out []netip.AddrPort
	seen := map[netip.AddrPort]bool{}
	for _, eps := range b.slices[svc.Namespace+"/"+svc.Name] {
		var ports []int32
		if len(eps.Ports) == 0 && sp.TargetPort.Type == intstr.Int {
			ports = append(ports, sp.TargetPort.IntVal)
		} else {
			for _, p := range eps.Ports {
				if p.Protocol != nil && *p.Protocol != corev1.ProtocolTCP {
					continue
				}
				var target int32
				switch {
				case sp.Name == "" && p.Port != nil:
					target = *p.Port
				case p.Name != nil && sp.Name == *p.Name && p.Port != nil:
					target = *p.Port
				}
				if target == 0 && sp.TargetPort.Type == intstr.Int {
					target = sp.TargetPort.IntVal
				}
				if target > 0 {
					ports = append(ports, target)
				}
			}
		}
		for _, ep := range eps.Endpoints {
			if ep.Conditions.Ready != nil && !*ep.Conditions.Ready {
				continue
			}
			for _, port := range ports {
				for _, a := range ep.Addresses {
					addr, err := netip.ParseAddr(a)
					if err != nil {
						continue
					}
					ap := netip.AddrPortFrom(addr.Unmap(), uint16(port))
					if seen[ap] {
						continue
					}
					seen[ap] = true
					out = append(out, ap)
				}
			}
		}
	}
	return out, nil
}

// clusterEndpoint is the Service's ClusterIP and port, for service-upstream
// (getServiceClusterEndpoint).
func (b *builder) clusterEndpoint(svcKey string, be *networkingv1.IngressServiceBackend) (netip.AddrPort, error) {
	svc := b.services[svcKey]
	if svc == nil {
		return netip.AddrPort{}, fmt.Errorf("service %q does not exist", svcKey)
	}
	if svc.Spec.ClusterIP == "" || svc.Spec.ClusterIP == corev1.ClusterIPNone {
		return netip.AddrPort{}, fmt.Errorf("no ClusterIP found for Service %q", svcKey)
	}
	addr, err := netip.ParseAddr(svc.Spec.ClusterIP)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("parse ClusterIP of Service %q: %w", svcKey, err)
	}
	port := be.Port.Number
	if port == 0 {
		port = -1
		for _, sp := range svc.Spec.Ports {
			if sp.Name == be.Port.Name {
				port = sp.Port
				break
			}
		}
		if port == -1 {
			return netip.AddrPort{}, fmt.Errorf("service %q does not have a port named %q", svc.Name, be.Port.Name)
		}
	}
	return netip.AddrPortFrom(addr, uint16(port)), nil
}
