package azlb

import (
	"bytes"
	"encoding/json"
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	cloudprovider "k8s.io/cloud-provider"

	"github.com/minaks/minaks/pkg/apiserver/config"
	"github.com/minaks/minaks/pkg/apiserver/config/configtest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/model")

// modelService is a Service of a model case: the Service, its frontend IP and, for a public
// one, its public IP's name when it is not kubernetes-<base>.
type modelService struct {
	svc *v1.Service
	ip  string
	pip string
}

// named is testService under another namespace/name, with a UID derived from them.
func named(nsName string, mutate ...func(*v1.Service)) *v1.Service {
	ns, name, _ := strings.Cut(nsName, "/")
	return testService(append([]func(*v1.Service){func(s *v1.Service) {
		s.Namespace, s.Name = ns, name
		s.UID = types.UID(uuid.NewSHA1(uuid.NameSpaceOID, []byte(nsName)).String())
	}}, mutate...)...)
}

type modelCase struct {
	name          string
	services      []modelService
	outboundIPs   []string
	outboundPorts int32
	outboundIdle  int32
}

func modelCases() []modelCase {
	internal := withAnn("azure-load-balancer-internal", "true")
	affinity := func(s *v1.Service) { s.Spec.SessionAffinity = v1.ServiceAffinityClientIP }
	sourceRanges := func(r ...string) func(*v1.Service) {
		return func(s *v1.Service) { s.Spec.LoadBalancerSourceRanges = r }
	}
	return []modelCase{
		{name: "empty"},
		{name: "public-tcp", services: []modelService{{svc: named("default/web"), ip: "198.51.100.10"}}},
		{name: "udp", services: []modelService{{svc: named("kube-system/dns", withPorts(udp("dns", 53, 30053))), ip: "198.51.100.11"}}},
		{name: "etp-local", services: []modelService{{svc: named("default/local", local(32000), withPorts(tcp("http", 80, 30080), tcp("https", 443, 30443))), ip: "198.51.100.12"}}},
		{name: "http-appprotocol", services: []modelService{{
			svc: named("ingress/nginx", withPorts(withAppProtocol(tcp("http", 80, 30080), "http"), withAppProtocol(tcp("https", 443, 30443), "https")),
				withAnn("azure-load-balancer-health-probe-request-path", "/healthz")),
			ip: "198.51.100.13",
		}}},
		{name: "per-port-overrides", services: []modelService{{
			svc: named("default/ports", withPorts(tcp("http", 80, 30080), tcp("https", 443, 30443), tcp("admin", 8080, 30808), tcp("metrics", 9000, 30900)),
				withAnn("port_80_health-probe_protocol", "http", "port_80_health-probe_request-path", "/status",
					"port_80_health-probe_interval", "10", "port_80_health-probe_num-of-probe", "3",
					"port_443_no_probe_rule", "true", "port_8080_no_lb_rule", "true", "port_9000_health-probe_port", "http")),
			ip: "198.51.100.14",
		}}},
		{name: "floating-ip-disabled", services: []modelService{{
			svc: named("default/nofip", withPorts(tcp("http", 80, 30080), udp("dns", 53, 30053)), withAnn("azure-disable-load-balancer-floating-ip", "true")),
			ip:  "198.51.100.15",
		}}},
		{name: "source-ip-affinity", services: []modelService{{
			svc: named("default/sticky", affinity, withPorts(tcp("http", 80, 30080), udp("game", 5000, 30500)),
				withAnn("azure-load-balancer-tcp-idle-timeout", "30", "azure-load-balancer-disable-tcp-reset", "true")),
			ip: "198.51.100.16",
		}}},
		{name: "internal-subnet", services: []modelService{{
			svc: named("default/ilb", internal, withAnn("azure-load-balancer-internal-subnet", "aks-subnet", "azure-load-balancer-ipv4", "10.224.0.100")),
			ip:  "10.224.0.100",
		}}},
		{name: "internal-ha-ports", services: []modelService{{
			svc: named("default/ha", internal, withAnn("azure-load-balancer-enable-high-availability-ports", "true"), withPorts(udp("dns", 53, 30053), tcp("http", 80, 30080))),
			ip:  "10.224.0.7",
		}}},
		{name: "shared-ip", services: []modelService{
			{svc: named("default/web"), ip: "198.51.100.20"},
			{svc: named("default/api", withPorts(tcp("api", 8080, 30808)), withAnn("azure-load-balancer-ipv4", "198.51.100.20")), ip: "198.51.100.20",
				pip: "kubernetes-" + baseOf(named("default/web"))},
			{svc: named("default/internal-a", internal, withPorts(tcp("a", 80, 31080))), ip: "10.224.0.9"},
			{svc: named("default/internal-b", internal, withPorts(tcp("b", 81, 31081)), withAnn("azure-load-balancer-ipv4", "10.224.0.9")), ip: "10.224.0.9"},
		}},
		{name: "dns-label-pip-tags", services: []modelService{
			{svc: named("default/app", withAnn("azure-dns-label-name", "my-app", "azure-pip-tags", "team=net,cost-center=42,k8s-azure-service=mine")), ip: "198.51.100.21"},
			{svc: named("default/static", withAnn("azure-pip-name", "my-static-ip", "azure-dns-label-name", "static-app")), ip: "198.51.100.22", pip: "my-static-ip"},
		}},
		{name: "source-ranges-deny-all", services: []modelService{
			{svc: named("default/restricted", withPorts(tcp("http", 80, 30080), tcp("https", 443, 30443)),
				sourceRanges("203.0.113.0/25", "203.0.113.128/25", "192.0.2.10/32"),
				withAnn("azure-deny-all-except-load-balancer-source-ranges", "true")), ip: "198.51.100.30"},
			{svc: named("default/tagged", withPorts(tcp("https", 443, 31443)),
				withAnn("azure-allowed-service-tags", "VirtualNetwork", "azure-allowed-ip-ranges", "10.0.0.0/8")), ip: "198.51.100.31"},
			{svc: named("default/internal", internal), ip: "10.224.0.8"},
			{svc: named("default/internal-open", internal, withPorts(udp("syslog", 514, 30514)), sourceRanges("0.0.0.0/0")), ip: "10.224.0.10"},
			{svc: named("default/no-nsg", withAnn("azure-disable-load-balancer-nsg-rule", "true")), ip: "198.51.100.32"},
			{svc: named("default/open-1"), ip: "198.51.100.33"},
			{svc: named("default/open-2"), ip: "198.51.100.34"},
			{svc: named("default/nofip", withAnn("azure-disable-load-balancer-floating-ip", "true", "azure-deny-all-except-load-balancer-source-ranges", "true"), sourceRanges("203.0.113.0/24")), ip: "198.51.100.35"},
		}},
		{name: "outbound-auto", services: []modelService{{svc: named("default/web"), ip: "198.51.100.10"}},
			outboundIPs: []string{"198.51.100.1"}, outboundPorts: 0, outboundIdle: 30},
		{name: "outbound-2048", outboundIPs: []string{"198.51.100.1", "198.51.100.2"}, outboundPorts: 2048, outboundIdle: 4},
	}
}

// baseOf is the Service's base name.
func baseOf(svc *v1.Service) string {
	return cloudprovider.DefaultLoadBalancerName(svc)
}

func modelCluster(t *testing.T) *config.Cluster {
	return configtest.Cluster(t, nil)
}

// modelInput parses the case's Services and gives them the frontends of the case.
func modelInput(t *testing.T, c *config.Cluster, tc modelCase) Input {
	t.Helper()
	instances, err := NewScaleSet(c).Instances()
	if err != nil {
		t.Fatal(err)
	}
	in := Input{Cluster: c, OutboundPorts: tc.outboundPorts, OutboundIdleTimeout: tc.outboundIdle}
	for _, i := range instances {
		in.Backends = append(in.Backends, Backend{Name: i.Name, InstanceID: i.ID, IP: i.IP})
	}
	for _, ms := range tc.services {
		cfg, err := ParseService(ms.svc, c)
		if err != nil {
			t.Fatalf("%s/%s: %v", ms.svc.Namespace, ms.svc.Name, err)
		}
		s := ServiceLB{Service: ms.svc, Config: cfg, FrontendIP: netip.MustParseAddr(ms.ip)}
		if !cfg.Internal {
			s.PublicIPName = ms.pip
			if s.PublicIPName == "" {
				s.PublicIPName = "kubernetes-" + cfg.Base
			}
		}
		in.Services = append(in.Services, s)
	}
	for _, a := range tc.outboundIPs {
		in.OutboundIPs = append(in.OutboundIPs, netip.MustParseAddr(a))
	}
	return in
}

// TestModelGolden compares the model of every case with testdata/model/<case>.json
// (go test ./pkg/azlb/ -run TestModelGolden -update rewrites them).
func TestModelGolden(t *testing.T) {
	c := modelCluster(t)
	for _, tc := range modelCases() {
		t.Run(tc.name, func(t *testing.T) {
			m := Build(modelInput(t, c, tc))
			got, err := json.MarshalIndent(m, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			path := filepath.Join("testdata", "model", tc.name+".json")
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("model differs from %s (-want +got):\n%s", path, cmp.Diff(string(want), string(got)))
			}
		})
	}
}

// TestModelReferences checks that every reference of every case's model names an object of
// the model (or a subnet or NIC of the cluster), that back-references mirror references, and
// that IDs are unique.
func TestModelReferences(t *testing.T) {
	c := modelCluster(t)
	ids := newARMIDs(c)
	prefix := "/subscriptions/" + SubscriptionID(c) + "/resourceGroups/" + c.NodeResourceGroup() + "/providers/"
	for _, tc := range modelCases() {
		t.Run(tc.name, func(t *testing.T) {
			in := modelInput(t, c, tc)
			m := Build(in)
			objects := map[string]bool{}
			define := func(id string) {
				if !strings.HasPrefix(id, prefix) {
					t.Errorf("ID %s is not in the node resource group", id)
				}
				if objects[id] {
					t.Errorf("duplicate ID %s", id)
				}
				objects[id] = true
			}
			external := map[string]bool{ids.subnet(VNetName(c)): true}
			for _, be := range in.Backends {
				external[ids.vmssIPConfig(NewScaleSet(c).Name, be.InstanceID)] = true
			}
			for _, lb := range m.LoadBalancers {
				define(lb.ID)
				for _, x := range lb.FrontendIPConfigurations {
					define(x.ID)
				}
				for _, x := range lb.BackendAddressPools {
					define(x.ID)
				}
				for _, x := range lb.LoadBalancingRules {
					define(x.ID)
				}
				for _, x := range lb.Probes {
					define(x.ID)
				}
				for _, x := range lb.OutboundRules {
					define(x.ID)
				}
			}
			for _, p := range m.PublicIPAddresses {
				define(p.ID)
			}
			define(m.SecurityGroup.ID)
			for _, r := range m.SecurityGroup.SecurityRules {
				define(r.ID)
				if !strings.HasPrefix(r.ID, m.SecurityGroup.ID+"/securityRules/") {
					t.Errorf("security rule %s not under %s", r.ID, m.SecurityGroup.ID)
				}
			}

			// refs records every reference from → to, and checks the target exists.
			refs := map[[2]string]bool{}
			ref := func(from, to string) {
				if !objects[to] && !external[to] {
					t.Errorf("%s refers to %s, which does not exist", from, to)
				}
				refs[[2]string{from, to}] = true
			}
			mirror := func(from, to string) {
				if !refs[[2]string{to, from}] {
					t.Errorf("%s has a back-reference to %s, which does not refer to it", from, to)
				}
			}
			for _, lb := range m.LoadBalancers {
				for _, r := range lb.LoadBalancingRules {
					ref(r.ID, r.FrontendIPConfiguration.ID)
					ref(r.ID, r.BackendAddressPool.ID)
					if r.Probe != nil {
						ref(r.ID, r.Probe.ID)
					}
				}
				for _, o := range lb.OutboundRules {
					for _, f := range o.FrontendIPConfigurations {
						ref(o.ID, f.ID)
					}
					ref(o.ID, o.BackendAddressPool.ID)
				}
				for _, f := range lb.FrontendIPConfigurations {
					if f.PublicIPAddress != nil {
						ref(f.ID, f.PublicIPAddress.ID)
					}
					if f.Subnet != nil {
						ref(f.ID, f.Subnet.ID)
					}
				}
				for _, p := range lb.BackendAddressPools {
					for _, b := range p.BackendIPConfigurations {
						ref(p.ID, b.ID)
					}
				}
			}
			for _, p := range m.PublicIPAddresses {
				if p.IPConfiguration != nil {
					ref(p.ID, p.IPConfiguration.ID)
				}
			}
			// Back-references, both ways.
			backRefs := 0
			for _, lb := range m.LoadBalancers {
				for _, f := range lb.FrontendIPConfigurations {
					for _, r := range append(slices.Clone(f.LoadBalancingRules), f.OutboundRules...) {
						mirror(f.ID, r.ID)
						backRefs++
					}
				}
				for _, p := range lb.BackendAddressPools {
					for _, r := range append(slices.Clone(p.LoadBalancingRules), p.OutboundRules...) {
						mirror(p.ID, r.ID)
						backRefs++
					}
				}
				for _, p := range lb.Probes {
					if len(p.LoadBalancingRules) == 0 {
						t.Errorf("probe %s serves no rule", p.Name)
					}
					for _, r := range p.LoadBalancingRules {
						mirror(p.ID, r.ID)
						backRefs++
					}
				}
			}
			for _, p := range m.PublicIPAddresses {
				if p.IPConfiguration != nil {
					mirror(p.ID, p.IPConfiguration.ID)
				}
			}
			// Every reference of a rule has its back-reference.
			forward := 0
			for k := range refs {
				if strings.Contains(k[0], "/loadBalancingRules/") || strings.Contains(k[0], "/outboundRules/") {
					forward++
				}
			}
			if forward != backRefs {
				t.Errorf("%d references from rules, %d back-references", forward, backRefs)
			}
		})
	}
}

// TestModelFacts checks what the golden files show, by name.
func TestModelFacts(t *testing.T) {
	c := modelCluster(t)
	cases := map[string]modelCase{}
	for _, tc := range modelCases() {
		cases[tc.name] = tc
	}
	build := func(name string) *Model { return Build(modelInput(t, c, cases[name])) }

	if m := build("empty"); len(m.LoadBalancers) != 0 || len(m.PublicIPAddresses) != 0 || len(m.SecurityGroup.SecurityRules) != 0 {
		t.Errorf("empty: %+v", m)
	}

	m := build("public-tcp")
	lb := m.LoadBalancers[0]
	r := lb.LoadBalancingRules[0]
	if lb.Name != "kubernetes" || len(m.LoadBalancers) != 1 || r.Protocol != "Tcp" || r.BackendPort != 80 || !r.EnableFloatingIP || !r.EnableTCPReset || r.DisableOutboundSnat || r.IdleTimeoutInMinutes != 4 {
		t.Errorf("public-tcp rule %+v", r)
	}
	if p := m.PublicIPAddresses[0]; p.IPAddress != "198.51.100.10" || p.Tags["k8s-azure-service"] != "default/web" || p.Tags["k8s-azure-cluster-name"] != "kubernetes" || !strings.HasPrefix(p.Name, "kubernetes-a") {
		t.Errorf("public-tcp public IP %+v", p)
	}
	if rules := m.SecurityGroup.SecurityRules; len(rules) != 1 || rules[0].SourceAddressPrefix != "Internet" || rules[0].DestinationAddressPrefix != "198.51.100.10" ||
		rules[0].Priority != 500 || !strings.HasPrefix(rules[0].Name, "k8s-azure-lb_allow_IPv4_") || !slices.Equal(rules[0].DestinationPortRanges, []string{"80"}) {
		t.Errorf("public-tcp NSG %+v", rules)
	}
	if !regexpMatch(`^aks-agentpool-\d{8}-nsg$`, m.SecurityGroup.Name) {
		t.Errorf("NSG name %s", m.SecurityGroup.Name)
	}

	m = build("floating-ip-disabled")
	for _, r := range m.LoadBalancers[0].LoadBalancingRules {
		if r.EnableFloatingIP || r.BackendPort == r.FrontendPort {
			t.Errorf("floating IP off: rule %+v", r)
		}
	}
	for _, r := range m.SecurityGroup.SecurityRules {
		if len(r.DestinationAddressPrefixes) != 3 || slices.Contains(r.DestinationPortRanges, "80") {
			t.Errorf("floating IP off: NSG rule %+v should target the nodes' NodePorts", r)
		}
	}

	m = build("internal-ha-ports")
	if len(m.LoadBalancers) != 1 || m.LoadBalancers[0].Name != "kubernetes-internal" {
		t.Fatalf("internal-ha-ports: %d load balancers", len(m.LoadBalancers))
	}
	if r := m.LoadBalancers[0].LoadBalancingRules; len(r) != 1 || r[0].Protocol != "All" || r[0].FrontendPort != 0 || r[0].BackendPort != 0 || !r[0].EnableTCPReset || r[0].Probe == nil {
		t.Errorf("HA ports rule %+v", r)
	}
	if len(m.SecurityGroup.SecurityRules) != 0 {
		t.Errorf("internal Service without source ranges has NSG rules %+v", m.SecurityGroup.SecurityRules)
	}

	m = build("shared-ip")
	for _, lb := range m.LoadBalancers {
		if len(lb.FrontendIPConfigurations) != 1 || len(lb.FrontendIPConfigurations[0].LoadBalancingRules) != 2 {
			t.Errorf("shared-ip %s: frontends %+v", lb.Name, lb.FrontendIPConfigurations)
		}
	}
	if len(m.PublicIPAddresses) != 1 || !strings.Contains(m.PublicIPAddresses[0].Tags["k8s-azure-service"], "default/web,default/api") {
		t.Errorf("shared-ip public IPs %+v", m.PublicIPAddresses)
	}

	m = build("dns-label-pip-tags")
	for _, p := range m.PublicIPAddresses {
		switch p.Name {
		case "my-static-ip":
			if p.Tags != nil || p.DNSSettings == nil || p.DNSSettings.FQDN != "static-app.eastus.cloudapp.azure.com" {
				t.Errorf("user-assigned public IP %+v", p)
			}
		default:
			if p.Tags["team"] != "net" || p.Tags["k8s-azure-service"] != "default/app" || p.Tags["k8s-azure-dns-label-service"] != "default/app" || p.DNSSettings.FQDN != "my-app.eastus.cloudapp.azure.com" {
				t.Errorf("public IP %+v", p)
			}
		}
	}

	m = build("source-ranges-deny-all")
	var deny *SecurityRule
	for i, r := range m.SecurityGroup.SecurityRules {
		if r.Access == "Deny" {
			deny = &m.SecurityGroup.SecurityRules[i]
		}
		if i > 0 && r.Priority <= m.SecurityGroup.SecurityRules[i-1].Priority {
			t.Errorf("rules not sorted by priority")
		}
	}
	if deny == nil || deny.Name != "k8s-azure-lb_deny-all_IPv4" || deny.Priority != 4095 || deny.SourceAddressPrefix != "*" || deny.DestinationPortRange != "*" {
		t.Errorf("deny-all rule %+v", deny)
	}
	found := false
	for _, r := range m.SecurityGroup.SecurityRules {
		if slices.Equal(r.SourceAddressPrefixes, []string{"192.0.2.10/32", "203.0.113.0/24"}) {
			found = true // the two /25 merged
		}
		if r.SourceAddressPrefix == "Internet" && slices.Equal(r.DestinationPortRanges, []string{"80"}) &&
			!slices.Equal(r.DestinationAddressPrefixes, []string{"198.51.100.33", "198.51.100.34"}) {
			t.Errorf("Services with the same ports should share the Internet rule: %+v", r)
		}
	}
	if !found {
		t.Errorf("no rule for the aggregated source ranges in %+v", m.SecurityGroup.SecurityRules)
	}

	for _, name := range []string{"outbound-auto", "outbound-2048"} {
		m = build(name)
		lb := m.LoadBalancers[0]
		o := lb.OutboundRules[0]
		tc := cases[name]
		if o.Name != "aksOutboundRule" || o.AllocatedOutboundPorts != tc.outboundPorts || o.IdleTimeoutInMinutes != tc.outboundIdle || !o.EnableTCPReset ||
			len(o.FrontendIPConfigurations) != len(tc.outboundIPs) || !strings.HasSuffix(o.BackendAddressPool.ID, "/aksOutboundBackendPool") {
			t.Errorf("%s: outbound rule %+v", name, o)
		}
		for _, r := range lb.LoadBalancingRules {
			if !r.DisableOutboundSnat {
				t.Errorf("%s: rule %s keeps outbound SNAT with an outbound rule", name, r.Name)
			}
		}
		for _, fe := range lb.FrontendIPConfigurations {
			if len(fe.OutboundRules) == 1 {
				if _, err := uuid.Parse(fe.Name); err != nil || !strings.HasSuffix(fe.PublicIPAddress.ID, "/"+fe.Name) {
					t.Errorf("%s: outbound frontend %+v", name, fe)
				}
			}
		}
	}
	if a, b := outboundIPName(c, 0), outboundIPName(c, 1); a == b || a != outboundIPName(modelCluster(t), 0) {
		t.Errorf("outbound IP names %s %s not stable and distinct", a, b)
	}
}

func regexpMatch(re, s string) bool {
	return regexp.MustCompile(re).MatchString(s)
}

// TestModelDeterministic: the same input gives the same model.
func TestModelDeterministic(t *testing.T) {
	c := modelCluster(t)
	for _, tc := range modelCases() {
		a, _ := json.Marshal(Build(modelInput(t, c, tc)))
		b, _ := json.Marshal(Build(modelInput(t, c, tc)))
		if !bytes.Equal(a, b) {
			t.Errorf("%s: two builds differ", tc.name)
		}
	}
}

func TestAggregatePrefixes(t *testing.T) {
	for _, tc := range []struct {
		in, want []string
	}{
		{[]string{"10.0.0.0/8", "10.1.0.0/16"}, []string{"10.0.0.0/8"}},
		{[]string{"10.0.0.0/25", "10.0.0.128/25"}, []string{"10.0.0.0/24"}},
		{[]string{"10.0.0.0/32", "10.0.0.1/32", "10.0.0.2/31"}, []string{"10.0.0.0/30"}},
		{[]string{"10.0.0.128/25", "10.0.1.0/25"}, []string{"10.0.0.128/25", "10.0.1.0/25"}},
		{[]string{"192.0.2.1/32", "0.0.0.0/0"}, []string{"0.0.0.0/0"}},
	} {
		var in []netip.Prefix
		for _, s := range tc.in {
			in = append(in, netip.MustParsePrefix(s))
		}
		var got []string
		for _, p := range aggregatePrefixes(in) {
			got = append(got, p.String())
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("aggregate %v = %v, want %v", tc.in, got, tc.want)
		}
	}
}
