package azlb

import (
	"fmt"
	"net/netip"
	"runtime"
	"strings"
	"testing"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/minaks/minaks/pkg/apiserver/config/configtest"
)

// testUID gives every test Service a fixed UID, so its base name is a0f1e2d3c4b5a69788796a5b4c3d2e1f.
const (
	testUID  = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
	testBase = "a0f1e2d3c4b5a69788796a5b4c3d2e1f"
)

// testService is a public TCP Service on port 80 (NodePort 30080), changed by the mutators.
func testService(mutate ...func(*v1.Service)) *v1.Service {
	svc := &v1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "web", UID: types.UID(testUID)},
		Spec: v1.ServiceSpec{
			Type:                  v1.ServiceTypeLoadBalancer,
			ExternalTrafficPolicy: v1.ServiceExternalTrafficPolicyCluster,
			SessionAffinity:       v1.ServiceAffinityNone,
			Ports:                 []v1.ServicePort{{Name: "http", Protocol: v1.ProtocolTCP, Port: 80, NodePort: 30080}},
		},
	}
	for _, m := range mutate {
		m(svc)
	}
	return svc
}

// withAnn sets annotations, given as key, value, … with keys relative to service.beta.kubernetes.io/
// unless they contain a "/".
func withAnn(kv ...string) func(*v1.Service) {
	return func(svc *v1.Service) {
		if svc.Annotations == nil {
			svc.Annotations = map[string]string{}
		}
		for i := 0; i+1 < len(kv); i += 2 {
			k := kv[i]
			if !strings.Contains(k, "/") {
				k = annPrefix + k
			}
			svc.Annotations[k] = kv[i+1]
		}
	}
}

func withPorts(ports ...v1.ServicePort) func(*v1.Service) {
	return func(svc *v1.Service) { svc.Spec.Ports = ports }
}

func tcp(name string, port, nodePort int32) v1.ServicePort {
	return v1.ServicePort{Name: name, Protocol: v1.ProtocolTCP, Port: port, NodePort: nodePort}
}

func udp(name string, port, nodePort int32) v1.ServicePort {
	return v1.ServicePort{Name: name, Protocol: v1.ProtocolUDP, Port: port, NodePort: nodePort}
}

func withAppProtocol(p v1.ServicePort, app string) v1.ServicePort {
	p.AppProtocol = &app
	return p
}

func local(healthCheckNodePort int32) func(*v1.Service) {
	return func(svc *v1.Service) {
		svc.Spec.ExternalTrafficPolicy = v1.ServiceExternalTrafficPolicyLocal
		svc.Spec.HealthCheckNodePort = healthCheckNodePort
	}
}

// line is the caller's line, so that a failing table row names itself.
func line() string {
	_, file, n, _ := runtime.Caller(1)
	return fmt.Sprintf("%s:%d", file[strings.LastIndex(file, "/")+1:], n)
}

func TestBaseName(t *testing.T) {
	cfg, err := ParseService(testService(), configtest.Cluster(t, nil))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Base != testBase || len(cfg.Base) != 32 {
		t.Errorf("base %q, want %q", cfg.Base, testBase)
	}
}

// TestParseServiceValidation: every annotation, good and bad. A bad value fails with an error
// naming the key (or spec field) and the value; good ones set the config.
func TestParseServiceValidation(t *testing.T) {
	c := configtest.Cluster(t, nil)
	for _, tc := range []struct {
		line    string
		name    string
		svc     *v1.Service
		wantErr []string // substrings of the error; none means no error
		check   func(*ServiceConfig) string
	}{
		{line(), "defaults", testService(), nil, func(c *ServiceConfig) string {
			if c.Internal || !c.FloatingIP || !c.TCPReset || c.IdleTimeout != 4 || c.LoadDistribution != "Default" || c.HAPorts || c.RequestedIP.IsValid() {
				return fmt.Sprintf("%+v", c)
			}
			return ""
		}},
		{line(), "internal", testService(withAnn("azure-load-balancer-internal", "true")), nil, func(c *ServiceConfig) string {
			return cond(c.Internal, "not internal")
		}},
		{line(), "internal is case-sensitive in AKS", testService(withAnn("azure-load-balancer-internal", "True")), nil, func(c *ServiceConfig) string {
			return cond(!c.Internal && hasWarning(c, "case-sensitive"), "internal %v, warnings %q", c.Internal, c.Warnings)
		}},
		{line(), "internal subnet", testService(withAnn("azure-load-balancer-internal", "true", "azure-load-balancer-internal-subnet", "aks-subnet")), nil, func(c *ServiceConfig) string {
			return cond(c.InternalSubnet == "aks-subnet", "subnet %q", c.InternalSubnet)
		}},
		{line(), "unknown subnet", testService(withAnn("azure-load-balancer-internal", "true", "azure-load-balancer-internal-subnet", "apps")),
			[]string{annInternalSubnet + `: "apps"`, "has one subnet, aks-subnet"}, nil},
		{line(), "subnet on a public Service", testService(withAnn("azure-load-balancer-internal-subnet", "apps")), nil, func(c *ServiceConfig) string {
			return cond(c.InternalSubnet == "" && hasWarning(c, annInternalSubnet), "subnet %q warnings %q", c.InternalSubnet, c.Warnings)
		}},
		{line(), "ipv4 annotation", testService(withAnn("azure-load-balancer-ipv4", "198.51.100.7"), func(s *v1.Service) { s.Spec.LoadBalancerIP = "198.51.100.8" }), nil, func(c *ServiceConfig) string {
			return cond(c.RequestedIP == netip.MustParseAddr("198.51.100.7") && hasWarning(c, "spec.loadBalancerIP"), "requested %s, warnings %q", c.RequestedIP, c.Warnings)
		}},
		{line(), "ipv4 annotation not an address", testService(withAnn("azure-load-balancer-ipv4", "198.51.100")), []string{annIPv4 + `: "198.51.100": not an IP address`}, nil},
		{line(), "ipv4 annotation with IPv6", testService(withAnn("azure-load-balancer-ipv4", "fd00::1")), []string{annIPv4 + `: "fd00::1": must be an IPv4 address`}, nil},
		{line(), "spec.loadBalancerIP", testService(func(s *v1.Service) { s.Spec.LoadBalancerIP = "10.224.0.50" }), nil, func(c *ServiceConfig) string {
			return cond(c.RequestedIP == netip.MustParseAddr("10.224.0.50"), "requested %s", c.RequestedIP)
		}},
		{line(), "bad spec.loadBalancerIP", testService(func(s *v1.Service) { s.Spec.LoadBalancerIP = "x" }), []string{`spec.loadBalancerIP: "x"`}, nil},
		{line(), "pip name", testService(withAnn("azure-pip-name", "my-ip")), nil, func(c *ServiceConfig) string {
			return cond(c.PIPName == "my-ip", "pip %q", c.PIPName)
		}},
		{line(), "bad pip name", testService(withAnn("azure-pip-name", "-ip")), []string{annPIPName + `: "-ip"`}, nil},
		{line(), "pip tags", testService(withAnn("azure-pip-tags", "team=net, env = prod,broken")), nil, func(c *ServiceConfig) string {
			return cond(len(c.PIPTags) == 2 && c.PIPTags["team"] == "net" && c.PIPTags["env"] == "prod" && hasWarning(c, `"broken" is not a key=value pair`),
				"tags %v warnings %q", c.PIPTags, c.Warnings)
		}},
		{line(), "dns label", testService(withAnn("azure-dns-label-name", "my-app")), nil, func(c *ServiceConfig) string {
			return cond(c.DNSLabel == "my-app", "label %q", c.DNSLabel)
		}},
		{line(), "dns label uppercase", testService(withAnn("azure-dns-label-name", "MyApp")), []string{annDNSLabelName + `: "MyApp": not a valid DNS label`}, nil},
		{line(), "dns label too short", testService(withAnn("azure-dns-label-name", "ab")), []string{annDNSLabelName + `: "ab"`}, nil},
		{line(), "dns label too long", testService(withAnn("azure-dns-label-name", "a"+strings.Repeat("b", 63))), []string{annDNSLabelName}, nil},
		{line(), "dns label ends with hyphen", testService(withAnn("azure-dns-label-name", "app-")), []string{annDNSLabelName}, nil},
		{line(), "floating IP off", testService(withAnn("azure-disable-load-balancer-floating-ip", "true")), nil, func(c *ServiceConfig) string {
			return cond(!c.FloatingIP, "floating IP on")
		}},
		{line(), "TCP reset off", testService(withAnn("azure-load-balancer-disable-tcp-reset", "TRUE")), nil, func(c *ServiceConfig) string {
			return cond(!c.TCPReset, "TCP reset on")
		}},
		{line(), "bad boolean reads as false", testService(withAnn("azure-disable-load-balancer-floating-ip", "yes")), nil, func(c *ServiceConfig) string {
			return cond(c.FloatingIP && hasWarning(c, annDisableFloatingIP+`: "yes" is neither "true" nor "false"`), "floating %v warnings %q", c.FloatingIP, c.Warnings)
		}},
		{line(), "idle timeout", testService(withAnn("azure-load-balancer-tcp-idle-timeout", "30")), nil, func(c *ServiceConfig) string {
			return cond(c.IdleTimeout == 30, "idle %d", c.IdleTimeout)
		}},
		{line(), "idle timeout 100", testService(withAnn("azure-load-balancer-tcp-idle-timeout", "100")), nil, nil},
		{line(), "idle timeout too long", testService(withAnn("azure-load-balancer-tcp-idle-timeout", "200")),
			[]string{annIdleTimeout + `: "200": idle timeout value must be a whole number representing minutes between 4 and 100`}, nil},
		{line(), "idle timeout too short", testService(withAnn("azure-load-balancer-tcp-idle-timeout", "3")), []string{annIdleTimeout + `: "3"`}, nil},
		{line(), "idle timeout not a number", testService(withAnn("azure-load-balancer-tcp-idle-timeout", "4m")), []string{annIdleTimeout + `: "4m"`}, nil},
		{line(), "HA ports", testService(withAnn("azure-load-balancer-internal", "true", "azure-load-balancer-enable-high-availability-ports", "true")), nil, func(c *ServiceConfig) string {
			return cond(c.HAPorts, "no HA ports")
		}},
		{line(), "HA ports on a public Service", testService(withAnn("azure-load-balancer-enable-high-availability-ports", "true")), nil, func(c *ServiceConfig) string {
			return cond(!c.HAPorts && len(c.Rules) == 1 && hasWarning(c, annHAPorts), "HA %v warnings %q", c.HAPorts, c.Warnings)
		}},
		{line(), "session affinity", testService(func(s *v1.Service) { s.Spec.SessionAffinity = v1.ServiceAffinityClientIP }), nil, func(c *ServiceConfig) string {
			return cond(c.LoadDistribution == "SourceIP", "distribution %q", c.LoadDistribution)
		}},
		{line(), "source ranges", testService(func(s *v1.Service) { s.Spec.LoadBalancerSourceRanges = []string{"203.0.113.0/24", " 192.0.2.1/32"} }), nil, func(c *ServiceConfig) string {
			return cond(len(c.SourceRanges) == 2 && c.SourceRanges[1].String() == "192.0.2.1/32", "ranges %v", c.SourceRanges)
		}},
		{line(), "bad source range", testService(func(s *v1.Service) { s.Spec.LoadBalancerSourceRanges = []string{"203.0.113.1/24"} }),
			[]string{`spec.loadBalancerSourceRanges[0]: "203.0.113.1/24": invalid CIDR` + " `203.0.113.1/24`: not a valid network prefix, should be properly masked like 203.0.113.0/24"}, nil},
		{line(), "legacy source ranges annotation", testService(withAnn("load-balancer-source-ranges", "203.0.113.0/24 198.51.100.0/24")), nil, func(c *ServiceConfig) string {
			return cond(len(c.SourceRanges) == 2, "ranges %v", c.SourceRanges)
		}},
		{line(), "allowed IP ranges", testService(withAnn("azure-allowed-ip-ranges", "203.0.113.0/24,10.0.0.0/8")), nil, func(c *ServiceConfig) string {
			return cond(len(c.SourceRanges) == 2, "ranges %v", c.SourceRanges)
		}},
		{line(), "bad allowed IP range", testService(withAnn("azure-allowed-ip-ranges", "203.0.113.0/24,nope")), []string{annAllowedIPRanges + `: "203.0.113.0/24,nope": invalid CIDR`}, nil},
		{line(), "source ranges and allowed IP ranges", testService(withAnn("azure-allowed-ip-ranges", "10.0.0.0/8"), func(s *v1.Service) { s.Spec.LoadBalancerSourceRanges = []string{"203.0.113.0/24"} }),
			[]string{"cannot set both spec.LoadBalancerSourceRanges and service annotation " + annAllowedIPRanges}, nil},
		{line(), "service tags", testService(withAnn("azure-allowed-service-tags", "AzureFrontDoor.Backend, VirtualNetwork")), nil, func(c *ServiceConfig) string {
			return cond(len(c.ServiceTags) == 2 && c.ServiceTags[1] == "VirtualNetwork" && hasWarning(c, "AzureFrontDoor.Backend") && !hasWarning(c, "service tag VirtualNetwork"),
				"tags %q warnings %q", c.ServiceTags, c.Warnings)
		}},
		{line(), "service tags with spec source ranges", testService(withAnn("azure-allowed-service-tags", "Internet"), func(s *v1.Service) { s.Spec.LoadBalancerSourceRanges = []string{"203.0.113.0/24"} }), nil, func(c *ServiceConfig) string {
			return cond(hasWarning(c, "kube-proxy on the nodes drops traffic"), "warnings %q", c.Warnings)
		}},
		{line(), "deny all", testService(withAnn("azure-deny-all-except-load-balancer-source-ranges", "true", "azure-allowed-ip-ranges", "10.0.0.0/8")), nil, func(c *ServiceConfig) string {
			return cond(c.DenyAllExceptSourceRanges, "no deny all")
		}},
		{line(), "deny all without ranges", testService(withAnn("azure-deny-all-except-load-balancer-source-ranges", "true")), nil, func(c *ServiceConfig) string {
			return cond(hasWarning(c, "has no effect without"), "warnings %q", c.Warnings)
		}},
		{line(), "no NSG rule", testService(withAnn("azure-disable-load-balancer-nsg-rule", "true", "azure-shared-securityrule", "true")), nil, func(c *ServiceConfig) string {
			return cond(c.DisableNSGRule && len(c.Warnings) == 0, "disable %v warnings %q", c.DisableNSGRule, c.Warnings)
		}},
		{line(), "probe interval too short", testService(withAnn("azure-load-balancer-health-probe-interval", "4")),
			[]string{annProbeInterval + `: "4": the minimum value of interval is 5`}, nil},
		{line(), "probe count too low", testService(withAnn("azure-load-balancer-health-probe-num-of-probe", "1")),
			[]string{annProbeNumOfProbe + `: "1": the minimum value of num-of-probe is 2`}, nil},
		{line(), "probe interval not a number", testService(withAnn("azure-load-balancer-health-probe-interval", "5s")),
			[]string{annProbeInterval + `: "5s": interval value must be a whole number`}, nil},
		{line(), "probe total 120 s", testService(withAnn("azure-load-balancer-health-probe-interval", "60")),
			[]string{"total probe should be less than 120", annProbeInterval}, nil},
		{line(), "probe total 118 s", testService(withAnn("azure-load-balancer-health-probe-interval", "59")), nil, func(c *ServiceConfig) string {
			return cond(c.Rules[0].Probe.IntervalInSeconds == 59, "probe %+v", c.Rules[0].Probe)
		}},
		{line(), "per-port probe total", testService(withAnn("port_80_health-probe_interval", "20", "port_80_health-probe_num-of-probe", "6")),
			[]string{"total probe should be less than 120", portAnnotation(80, portProbeInterval), portAnnotation(80, portProbeNumOfProbe)}, nil},
		{line(), "per-port probe interval too short", testService(withAnn("port_80_health-probe_interval", "2")),
			[]string{portAnnotation(80, portProbeInterval) + `: "2": the minimum value of interval is 5`}, nil},
		{line(), "unknown probe protocol", testService(withAnn("azure-load-balancer-health-probe-protocol", "htttp")), nil, func(c *ServiceConfig) string {
			return cond(c.Rules[0].Probe.Protocol == "Tcp" && hasWarning(c, annProbeProtocol+`: "htttp" is not Tcp, Http or Https`), "probe %+v warnings %q", c.Rules[0].Probe, c.Warnings)
		}},
		{line(), "request path on a Tcp probe", testService(withAnn("port_80_health-probe_request-path", "/ready")), nil, func(c *ServiceConfig) string {
			return cond(c.Rules[0].Probe.RequestPath == "" && hasWarning(c, "the probe of port 80 is Tcp"), "probe %+v warnings %q", c.Rules[0].Probe, c.Warnings)
		}},
		{line(), "probe port not in the Service", testService(withAnn("port_80_health-probe_port", "metrics")),
			[]string{portAnnotation(80, portProbePort) + `: "metrics": port metrics not found in service`}, nil},
		{line(), "probe port out of range", testService(withAnn("port_80_health-probe_port", "70000")),
			[]string{portAnnotation(80, portProbePort) + `: "70000": port 70000 is out of range`}, nil},
		{line(), "SCTP on a public Service", testService(withPorts(v1.ServicePort{Protocol: v1.ProtocolSCTP, Port: 9, NodePort: 30009})),
			[]string{`spec.ports[0].protocol: "SCTP": SCTP is only supported on standard loadbalancer in internal mode`}, nil},
		{line(), "SCTP on an internal Service", testService(withAnn("azure-load-balancer-internal", "true"), withPorts(v1.ServicePort{Protocol: v1.ProtocolSCTP, Port: 9, NodePort: 30009})), nil, func(c *ServiceConfig) string {
			return cond(len(c.Rules) == 1 && c.Rules[0].Probe == nil && c.Rules[0].Name == testBase+"-SCTP-9", "rules %+v", c.Rules)
		}},
		{line(), "node ports off with floating IP and ETP Local", testService(local(32000), func(s *v1.Service) {
			s.Spec.AllocateLoadBalancerNodePorts = ptr.To(false)
			s.Spec.Ports[0].NodePort = 0
		}), nil, nil},
		{line(), "node ports off with a NodePort probe", testService(func(s *v1.Service) {
			s.Spec.AllocateLoadBalancerNodePorts = ptr.To(false)
			s.Spec.Ports[0].NodePort = 0
		}), []string{"spec.allocateLoadBalancerNodePorts: false: probe " + testBase + "-TCP-80 probes a NodePort the Service does not have"}, nil},
		{line(), "node ports off with no probe", testService(withAnn("port_80_no_probe_rule", "true"), func(s *v1.Service) {
			s.Spec.AllocateLoadBalancerNodePorts = ptr.To(false)
			s.Spec.Ports[0].NodePort = 0
		}), nil, nil},
		{line(), "node ports off with floating IP off", testService(local(32000), withAnn("azure-disable-load-balancer-floating-ip", "true"), func(s *v1.Service) {
			s.Spec.AllocateLoadBalancerNodePorts = ptr.To(false)
			s.Spec.Ports[0].NodePort = 0
		}), []string{"spec.allocateLoadBalancerNodePorts: false: rule " + testBase + "-TCP-80 sends to the NodePort of port 80"}, nil},
		{line(), "every problem in one error", testService(withAnn("azure-load-balancer-tcp-idle-timeout", "1", "azure-dns-label-name", "X", "azure-load-balancer-health-probe-num-of-probe", "0")),
			[]string{annIdleTimeout, annDNSLabelName, annProbeNumOfProbe}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := ParseService(tc.svc, c)
			if len(tc.wantErr) == 0 && err != nil {
				t.Fatalf("%s: %v", tc.line, err)
			}
			if len(tc.wantErr) > 0 {
				if err == nil {
					t.Fatalf("%s: no error, want %q", tc.line, tc.wantErr)
				}
				for _, want := range tc.wantErr {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("%s: error %q does not contain %q", tc.line, err, want)
					}
				}
			}
			if tc.check != nil {
				if msg := tc.check(cfg); msg != "" {
					t.Errorf("%s: %s", tc.line, msg)
				}
			}
		})
	}
}

// cond is "" when ok, else the message.
func cond(ok bool, format string, args ...any) string {
	if ok {
		return ""
	}
	return fmt.Sprintf(format, args...)
}

func hasWarning(c *ServiceConfig, sub string) bool {
	for _, w := range c.Warnings {
		if strings.Contains(w, sub) {
			return true
		}
	}
	return false
}

// describeRules is the rules and probes in one line each: "name proto port/nodePort probe",
// the probe as "Proto:port[path] interval×count name" or "-".
func describeRules(rules []RuleConfig) []string {
	var out []string
	for _, r := range rules {
		probe := "-"
		if p := r.Probe; p != nil {
			probe = fmt.Sprintf("%s:%d%s %dx%d %s", p.Protocol, p.Port, p.RequestPath, p.IntervalInSeconds, p.NumberOfProbes, strings.TrimPrefix(p.Name, testBase))
		}
		out = append(out, fmt.Sprintf("%s %s %d/%d %s", strings.TrimPrefix(r.Name, testBase), r.Protocol, r.Port, r.NodePort, probe))
	}
	return out
}

// TestProbeDecisions is CPA's decision table: which rules a Service gets, and which probe each.
func TestProbeDecisions(t *testing.T) {
	c := configtest.Cluster(t, nil)
	internal := withAnn("azure-load-balancer-internal", "true")
	for _, tc := range []struct {
		line string
		name string
		svc  *v1.Service
		want []string
	}{
		{line(), "TCP: Tcp probe on the NodePort", testService(), []string{"-TCP-80 TCP 80/30080 Tcp:30080 5x2 -TCP-80"}},
		{line(), "UDP: no probe", testService(withPorts(udp("dns", 53, 30053))), []string{"-UDP-53 UDP 53/30053 -"}},
		{line(), "mixed protocols", testService(withPorts(tcp("dns-tcp", 53, 30053), udp("dns", 53, 30054))), []string{
			"-TCP-53 TCP 53/30053 Tcp:30053 5x2 -TCP-53",
			"-UDP-53 UDP 53/30054 -",
		}},
		{line(), "appProtocol http: Http probe on /", testService(withPorts(withAppProtocol(tcp("http", 80, 30080), "http"))), []string{"-TCP-80 TCP 80/30080 Http:30080/ 5x2 -TCP-80"}},
		{line(), "appProtocol https with request path", testService(withPorts(withAppProtocol(tcp("https", 443, 30443), "HTTPS")), withAnn("azure-load-balancer-health-probe-request-path", "/healthz")),
			[]string{"-TCP-443 TCP 443/30443 Https:30443/healthz 5x2 -TCP-443"}},
		{line(), "appProtocol grpc: Tcp", testService(withPorts(withAppProtocol(tcp("grpc", 9000, 30900), "grpc"))), []string{"-TCP-9000 TCP 9000/30900 Tcp:30900 5x2 -TCP-9000"}},
		{line(), "appProtocol beats the Service annotation", testService(withPorts(withAppProtocol(tcp("grpc", 9000, 30900), "tcp")), withAnn("azure-load-balancer-health-probe-protocol", "http")),
			[]string{"-TCP-9000 TCP 9000/30900 Tcp:30900 5x2 -TCP-9000"}},
		{line(), "Service annotation http", testService(withAnn("azure-load-balancer-health-probe-protocol", "Http", "azure-load-balancer-health-probe-request-path", "/ready", "azure-load-balancer-health-probe-interval", "10", "azure-load-balancer-health-probe-num-of-probe", "3")),
			[]string{"-TCP-80 TCP 80/30080 Http:30080/ready 10x3 -TCP-80"}},
		{line(), "port annotations beat the Service's", testService(withPorts(withAppProtocol(tcp("http", 80, 30080), "tcp"), tcp("https", 443, 30443)),
			withAnn("azure-load-balancer-health-probe-protocol", "http", "azure-load-balancer-health-probe-request-path", "/a",
				"port_80_health-probe_protocol", "https", "port_80_health-probe_request-path", "/b", "port_80_health-probe_interval", "7", "port_80_health-probe_num-of-probe", "4")),
			[]string{
				"-TCP-80 TCP 80/30080 Https:30080/b 7x4 -TCP-80",
				"-TCP-443 TCP 443/30443 Http:30443/a 5x2 -TCP-443",
			}},
		{line(), "probe port by name and by number", testService(withPorts(tcp("http", 80, 30080), tcp("https", 443, 30443), tcp("admin", 8080, 30808)),
			withAnn("port_443_health-probe_port", "http", "port_8080_health-probe_port", "443")),
			[]string{
				"-TCP-80 TCP 80/30080 Tcp:30080 5x2 -TCP-80",
				"-TCP-443 TCP 443/30443 Tcp:30080 5x2 -TCP-443",
				"-TCP-8080 TCP 8080/30808 Tcp:30443 5x2 -TCP-8080",
			}},
		{line(), "probe port not a Service port: taken as it is", testService(withAnn("port_80_health-probe_port", "10256", "port_80_health-probe_protocol", "http", "port_80_health-probe_request-path", "/healthz")),
			[]string{"-TCP-80 TCP 80/30080 Http:10256/healthz 5x2 -TCP-80"}},
		{line(), "no_probe_rule and no_lb_rule", testService(withPorts(tcp("http", 80, 30080), tcp("https", 443, 30443), tcp("admin", 8080, 30808)),
			withAnn("port_443_no_probe_rule", "true", "port_8080_no_lb_rule", "true")),
			[]string{
				"-TCP-80 TCP 80/30080 Tcp:30080 5x2 -TCP-80",
				"-TCP-443 TCP 443/30443 -",
			}},
		{line(), "ETP Local: one shared HTTP probe on the health check node port", testService(local(32000), withPorts(tcp("http", 80, 30080), tcp("https", 443, 30443), udp("quic", 443, 30444))),
			[]string{
				"-TCP-80 TCP 80/30080 Http:32000/healthz 5x2 -TCP-32000",
				"-TCP-443 TCP 443/30443 Http:32000/healthz 5x2 -TCP-32000",
				"-UDP-443 UDP 443/30444 Http:32000/healthz 5x2 -TCP-32000",
			}},
		{line(), "ETP Local ignores the protocol annotation and appProtocol", testService(local(32000), withPorts(withAppProtocol(tcp("http", 80, 30080), "https")), withAnn("azure-load-balancer-health-probe-protocol", "tcp")),
			[]string{"-TCP-80 TCP 80/30080 Http:32000/healthz 5x2 -TCP-32000"}},
		{line(), "ETP Local with a probe port override", testService(local(32000), withPorts(tcp("http", 80, 30080), tcp("https", 443, 30443)), withAnn("port_443_health-probe_port", "443", "port_443_health-probe_protocol", "https")),
			[]string{
				"-TCP-80 TCP 80/30080 Http:32000/healthz 5x2 -TCP-32000",
				"-TCP-443 TCP 443/30443 Https:30443/ 5x2 -TCP-443",
			}},
		{line(), "ETP Local interval from the health check node port's annotation", testService(local(32000), withAnn("port_32000_health-probe_interval", "10")),
			[]string{"-TCP-80 TCP 80/30080 Http:32000/healthz 10x2 -TCP-32000"}},
		{line(), "ETP Local no_probe_rule", testService(local(32000), withAnn("port_80_no_probe_rule", "true")), []string{"-TCP-80 TCP 80/30080 -"}},
		{line(), "internal subnet in the names", testService(internal, withAnn("azure-load-balancer-internal-subnet", "aks-subnet")),
			[]string{"-aks-subnet-TCP-80 TCP 80/30080 Tcp:30080 5x2 -aks-subnet-TCP-80"}},
		{line(), "HA ports: one All rule named after the first port", testService(internal, withAnn("azure-load-balancer-enable-high-availability-ports", "true"), withPorts(udp("dns", 53, 30053), tcp("http", 80, 30080))),
			[]string{"-UDP-53 All 0/0 Tcp:30080 5x2 -UDP-53"}},
		{line(), "HA ports with ETP Local", testService(internal, local(32000), withAnn("azure-load-balancer-enable-high-availability-ports", "true"), withPorts(tcp("http", 80, 30080))),
			[]string{"-TCP-80 All 0/0 Http:32000/healthz 5x2 -TCP-32000"}},
		{line(), "HA ports skips a port whose probe is bad", testService(internal, withAnn("azure-load-balancer-enable-high-availability-ports", "true", "port_80_health-probe_port", "nope"), withPorts(tcp("http", 80, 30080), tcp("https", 443, 30443))),
			[]string{"-TCP-80 All 0/0 Tcp:30443 5x2 -TCP-80"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := ParseService(tc.svc, c)
			if err != nil {
				t.Fatalf("%s: %v", tc.line, err)
			}
			got := describeRules(cfg.Rules)
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("%s: rules\n  %s\nwant\n  %s", tc.line, strings.Join(got, "\n  "), strings.Join(tc.want, "\n  "))
			}
		})
	}
}

func TestRuleNames(t *testing.T) {
	for _, tc := range []struct {
		line, subnet string
		protocol     v1.Protocol
		port         int32
		want         string
	}{
		{line(), "", v1.ProtocolTCP, 80, testBase + "-TCP-80"},
		{line(), "", v1.ProtocolUDP, 53, testBase + "-UDP-53"},
		{line(), "aks-subnet", v1.ProtocolTCP, 443, testBase + "-aks-subnet-TCP-443"},
		// 75 characters at most: the subnet is cut.
		{line(), strings.Repeat("s", 60), v1.ProtocolTCP, 8080, testBase + "-" + strings.Repeat("s", 75-len(testBase+"-TCP-8080")-1) + "-TCP-8080"},
	} {
		if got := cpaRuleName(testBase, tc.subnet, tc.protocol, tc.port); got != tc.want || len(got) > 75 {
			t.Errorf("%s: %q, want %q", tc.line, got, tc.want)
		}
	}
	if got := cpaFrontendName(testBase, "aks-subnet"); got != testBase+"-aks-subnet" {
		t.Errorf("frontend name %q", got)
	}
	// Cut to 75 characters, a cut ending in a digit becomes "_".
	if got := cpaFrontendName(testBase, strings.Repeat("x", 41)+"12345"); len(got) != 75 || !strings.HasSuffix(got, "x_") {
		t.Errorf("long frontend name %q (%d)", got, len(got))
	}
}

func TestWarnings(t *testing.T) {
	c := configtest.Cluster(t, nil)
	for _, tc := range []struct {
		line string
		svc  *v1.Service
		want []string // substrings, one warning each
	}{
		{line(), testService(withAnn("azure-pls-create", "true", "azure-pls-name", "x")), []string{annPLSPrefix + "create: minaks does not emulate Private Link Service", annPLSPrefix + "name: minaks does not emulate Private Link Service"}},
		{line(), testService(withAnn("azure-pip-prefix-id", "/subscriptions/x/resourceGroups/y/providers/Microsoft.Network/publicIPPrefixes/z")), []string{annPIPPrefixID + ": minaks does not emulate public IP prefixes"}},
		{line(), testService(withAnn("azure-pip-ip-tags", "RoutingPreference=Internet")), []string{annPIPIPTags}},
		{line(), testService(withAnn("azure-load-balancer-resource-group", "other-rg")), []string{annLBResourceGroup + `: "other-rg"`}},
		{line(), testService(withAnn("azure-load-balancer-ipv6", "fd00::1", "azure-pip-name-ipv6", "v6")), []string{annIPv6 + ": minaks emulates IPv4 frontends only", annPIPNameIPv6}},
		{line(), testService(withAnn("azure-load-balancer-mode", "__auto__")), []string{annLBMode}},
		{line(), testService(withAnn("azure-additional-public-ips", "20.0.0.1")), []string{annAdditionalPublicIPs}},
		{line(), testService(withAnn("azure-load-balancer-internall", "true")), []string{annPrefix + "azure-load-balancer-internall is not an annotation cloud-provider-azure reads"}},
		{line(), testService(withAnn("port_81_no_lb_rule", "true")), []string{portAnnotation(81, portNoLBRule) + " has no effect: the Service has no port 81"}},
		{line(), testService(withAnn("port_80_health-probe_path", "/")), []string{portAnnotation(80, "health-probe_path") + " is not an annotation"}},
		{line(), testService(local(32000), withAnn("azure-load-balancer-health-probe-protocol", "http")), []string{annProbeProtocol + `: "http" has no effect`}},
		{line(), testService(withPorts(udp("dns", 53, 30053)), withAnn("azure-load-balancer-health-probe-request-path", "/x")), []string{annProbeRequestPath + `: "/x" has no effect`}},
		{line(), testService(withAnn("azure-dns-label-name", "app", "azure-load-balancer-internal", "true")), []string{annDNSLabelName + " has no effect on an internal Service"}},
		{line(), testService(withAnn("azure-pip-name", "mine", "azure-pip-tags", "a=b")), []string{annPIPTags + " has no effect with " + annPIPName}},
		{line(), testService(func(s *v1.Service) { s.Spec.IPFamilies = []v1.IPFamily{v1.IPv4Protocol, v1.IPv6Protocol} }), []string{"spec.ipFamilies includes IPv6"}},
		{line(), testService(withAnn("azure-load-balancer-internal", "true", "azure-load-balancer-enable-high-availability-ports", "true", "azure-disable-load-balancer-floating-ip", "true", "port_80_no_lb_rule", "true")),
			[]string{annDisableFloatingIP + " has no effect on the HA-ports rule", portAnnotation(80, portNoLBRule) + " has no effect with HA ports"}},
		{line(), testService(local(32000), withAnn("port_32000_health-probe_interval", "10")), nil},
		// Annotations that work are silent.
		{line(), testService(withAnn("azure-load-balancer-resource-group", "MC_minaks-rg_minaks_eastus", "azure-load-balancer-tcp-idle-timeout", "10", "azure-pip-tags", "a=b")), nil},
	} {
		cfg, err := ParseService(tc.svc, c)
		if err != nil {
			t.Errorf("%s: %v", tc.line, err)
			continue
		}
		for _, want := range tc.want {
			if !hasWarning(cfg, want) {
				t.Errorf("%s: no warning %q in %q", tc.line, want, cfg.Warnings)
			}
		}
		if len(cfg.Warnings) != len(tc.want) {
			t.Errorf("%s: %d warnings %q, want %d", tc.line, len(cfg.Warnings), cfg.Warnings, len(tc.want))
		}
	}
}
