package azlb

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"

	"github.com/minaks/minaks/pkg/apiserver/config"
	"github.com/minaks/minaks/pkg/apiserver/config/configtest"
	"github.com/minaks/minaks/pkg/azlb/dataplane"
	"github.com/minaks/minaks/pkg/netstack"
)

// lbService is a Service default/<name> with annotations (full keys) and ports.
func lbService(name string, annotations map[string]string, ports ...v1.ServicePort) *v1.Service {
	return named("default/"+name, withPorts(ports...), func(s *v1.Service) { s.Annotations = annotations })
}

// TestAssign checks how frontends are given: public IPs in order from the public range (the
// outbound IP first), requested ones honoured or refused, shared ones only on other ports,
// internal ones from the subnet after the nodes, DNS labels owned by one Service.
func TestAssign(t *testing.T) {
	c := configtest.Cluster(t, func(o *config.Options) { o.PublicIPRange = "203.0.113.0/28" })
	cloud := NewCloud(c, nil)
	l := newLoadBalancers(cloud, &netstack.Fabric{Cluster: c.Name})
	l.outbound = []netip.Addr{netip.MustParseAddr("203.0.113.1")}
	ensure := func(svc *v1.Service) (*ServiceLB, error) {
		t.Helper()
		cfg, err := ParseService(svc, c)
		if err != nil {
			t.Fatal(err)
		}
		s, err := l.assign(svc, cfg)
		if err == nil {
			l.services[key(svc)] = s
		}
		return s, err
	}
	want := func(s *ServiceLB, err error, ip string) {
		t.Helper()
		if err != nil || s.FrontendIP.String() != ip {
			t.Fatalf("frontend %v, %v; want %s", s, err, ip)
		}
	}
	s, err := ensure(lbService("a", nil, tcp("http", 80, 30080)))
	want(s, err, "203.0.113.2")
	if s.PublicIPName != "kubernetes-"+s.Config.Base {
		t.Errorf("public IP name %q", s.PublicIPName)
	}
	s, err = ensure(lbService("a", nil, tcp("http", 80, 30080)))
	want(s, err, "203.0.113.2") // again: the same

	shared := map[string]string{"service.beta.kubernetes.io/azure-load-balancer-ipv4": "203.0.113.9"}
	s, err = ensure(lbService("b", shared, tcp("http", 80, 30081)))
	want(s, err, "203.0.113.9")
	s, err = ensure(lbService("c", shared, tcp("https", 443, 30443)))
	want(s, err, "203.0.113.9")
	if s.PublicIPName != l.services["default/b"].PublicIPName {
		t.Errorf("shared frontend has public IP %s, want b's %s", s.PublicIPName, l.services["default/b"].PublicIPName)
	}
	if _, err := ensure(lbService("d", shared, tcp("http", 80, 30082))); err == nil || !strings.Contains(err.Error(), "port 80/TCP is already used by service default/b") {
		t.Errorf("clashing port: %v", err)
	}
	for _, bad := range []string{"198.51.100.9", "203.0.113.0", "203.0.113.1"} {
		if _, err := ensure(lbService("e", map[string]string{"service.beta.kubernetes.io/azure-load-balancer-ipv4": bad}, tcp("http", 80, 30083))); err == nil {
			t.Errorf("requested %s: no error", bad)
		}
	}

	internal := map[string]string{"service.beta.kubernetes.io/azure-load-balancer-internal": "true"}
	s, err = ensure(lbService("i", internal, tcp("http", 80, 30084)))
	want(s, err, "10.224.0.7") // after the three nodes .4-.6
	s, err = ensure(lbService("j", map[string]string{"service.beta.kubernetes.io/azure-load-balancer-internal": "true",
		"service.beta.kubernetes.io/azure-load-balancer-ipv4": "10.224.0.5"}, tcp("http", 80, 30085)))
	if err == nil || !strings.Contains(err.Error(), "in use by node") {
		t.Errorf("internal IP of a node: %v, %v", s, err)
	}

	label := map[string]string{"service.beta.kubernetes.io/azure-dns-label-name": "myapp"}
	_, err = ensure(lbService("k", label, tcp("http", 80, 30086)))
	want(l.services["default/k"], err, "203.0.113.3")
	if _, err := ensure(lbService("m", label, tcp("http", 80, 30087))); err == nil || !strings.Contains(err.Error(), `DNS label "myapp" is already used by service default/k`) {
		t.Errorf("DNS label twice: %v", err)
	}
}

// TestDataplaneConfig reads a built model back as the data plane: frontends, rules with the
// backends that pass their probe, NSG rules with their tags resolved, the outbound rule.
func TestDataplaneConfig(t *testing.T) {
	c := configtest.Cluster(t, nil)
	backends := []Backend{
		{Name: "n0", InstanceID: 0, IP: netip.MustParseAddr("10.224.0.4")},
		{Name: "n1", InstanceID: 1, IP: netip.MustParseAddr("10.224.0.5")},
	}
	web := lbService("web", nil, tcp("http", 80, 30080))
	web.Spec.LoadBalancerSourceRanges = []string{"203.0.113.0/24"}
	udp := lbService("dns", map[string]string{"service.beta.kubernetes.io/azure-disable-load-balancer-floating-ip": "true"},
		udp("dns", 53, 30053))
	var in Input
	in.Cluster, in.Backends, in.OutboundIPs, in.OutboundIdleTimeout = c, backends, []netip.Addr{netip.MustParseAddr("198.51.100.1")}, 30
	for i, svc := range []*v1.Service{udp, web} {
		cfg, err := ParseService(svc, c)
		if err != nil {
			t.Fatal(err)
		}
		in.Services = append(in.Services, ServiceLB{Service: svc, Config: cfg, FrontendIP: netip.AddrFrom4([4]byte{198, 51, 100, byte(10 + i)}), PublicIPName: "pip-" + svc.Name})
	}
	m := Build(in)
	probe := web.Name
	for _, lb := range m.LoadBalancers {
		for _, p := range lb.Probes {
			probe = p.Name
		}
	}
	health := map[dataplane.Key]dataplane.Health{
		{LoadBalancer: "kubernetes", Probe: probe, Backend: "n0"}: {State: dataplane.Up},
		{LoadBalancer: "kubernetes", Probe: probe, Backend: "n1"}: {State: dataplane.Down},
	}
	cfg := dataplaneConfig(c, m, backends, health, netip.MustParseAddr("169.254.100.1"))

	if len(cfg.Frontends) != 3 {
		t.Errorf("frontends %v, want the outbound IP and two Services'", cfg.Frontends)
	}
	rules := map[string]dataplane.Rule{}
	for _, r := range cfg.Rules {
		rules[r.Protocol] = r
	}
	if r := rules["tcp"]; r.Frontend.String() != "198.51.100.11" || !r.FloatingIP || r.IdleTimeout != 4*time.Minute || !r.TCPReset || strings.Join(r.Healthy, ",") != "n0" {
		t.Errorf("TCP rule %+v: want floating IP, 4 min, TCP reset, only n0 (its probe is down on n1)", r)
	}
	if r := rules["udp"]; r.FloatingIP || r.BackendPort != 30053 || strings.Join(r.Healthy, ",") != "n0,n1" {
		t.Errorf("UDP rule %+v: want DNAT to NodePort 30053 on both nodes (no probe)", r)
	}
	allowed := false
	for _, r := range cfg.NSG {
		for _, s := range r.Sources {
			if r.Allow && s.String() == "203.0.113.0/24" {
				allowed = true
			}
		}
	}
	if !allowed {
		t.Errorf("no NSG rule allows loadBalancerSourceRanges: %+v", cfg.NSG)
	}
	if o := cfg.Outbound; o == nil || o.IPs[0].String() != "198.51.100.1" || o.PortsPerNode != 1024 || o.IdleTimeout != 30*time.Minute {
		t.Errorf("outbound %+v", cfg.Outbound)
	}
}
