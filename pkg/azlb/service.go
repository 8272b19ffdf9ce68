package azlb

import (
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"

	v1 "k8s.io/api/core/v1"
	cloudprovider "k8s.io/cloud-provider"

	"github.com/minaks/minaks/pkg/apiserver/config"
)

// ServiceConfig is a Service of type LoadBalancer read the way cloud-provider-azure reads it:
// its spec and its service.beta.kubernetes.io/azure-* annotations, validated.
type ServiceConfig struct {
	// Base is "a" + the UID without dashes, cut to 32 characters.
	Base string
	// Internal: azure-load-balancer-internal; InternalSubnet its -internal-subnet.
	Internal       bool
	InternalSubnet string
	// RequestedIP is azure-load-balancer-ipv4, else spec.loadBalancerIP (invalid when unset).
	RequestedIP netip.Addr
	// PIPName is azure-pip-name; PIPTags azure-pip-tags; DNSLabel azure-dns-label-name.
	PIPName  string
	PIPTags  map[string]string
	DNSLabel string
	// FloatingIP is false with azure-disable-load-balancer-floating-ip.
	FloatingIP bool
	// IdleTimeout is in minutes (4 unless annotated); TCPReset is on unless disabled.
	IdleTimeout int32
	TCPReset    bool
	// HAPorts: azure-load-balancer-enable-high-availability-ports (internal only).
	HAPorts bool
	// LoadDistribution is SourceIP with sessionAffinity ClientIP, else Default.
	LoadDistribution string
	// Rules are the load-balancing rules, one per Service port that has one (HA ports: one).
	Rules []RuleConfig
	// SourceRanges are spec.loadBalancerSourceRanges (or the legacy annotation) and
	// azure-allowed-ip-ranges; ServiceTags azure-allowed-service-tags.
	SourceRanges              []netip.Prefix
	ServiceTags               []string
	DenyAllExceptSourceRanges bool
	DisableNSGRule            bool
	// Warnings name what minaks reads but cannot emulate (each becomes a Warning Event).
	Warnings []string
}

// RuleConfig is one load-balancing rule and its probe.
type RuleConfig struct {
	// Name is <base>[-<subnet>]-<PROTOCOL>-<port>.
	Name string
	// Protocol is the Service port's (TCP, UDP, SCTP), or "All" for the HA-ports rule.
	Protocol v1.Protocol
	// Port is the frontend port (0 for HA ports); NodePort the Service port's node port.
	Port     int32
	NodePort int32
	// Probe is nil when the rule has none (UDP, SCTP, port_{n}_no_probe_rule).
	Probe *ProbeConfig
}

// ProbeConfig is a health probe as the rule needs it.
type ProbeConfig struct {
	// Name is the probe's name (the rule's, or the shared one for externalTrafficPolicy Local).
	Name              string
	Protocol          string // Tcp, Http, Https
	Port              int32
	RequestPath       string
	IntervalInSeconds int32
	NumberOfProbes    int32
}

// ParseService reads svc. The error names every annotation or field that is invalid. The
// config is returned even then, as far as it could be read, so that its Warnings can be shown.
func ParseService(svc *v1.Service, c *config.Cluster) (*ServiceConfig, error) {
	p := &svcParser{
		svc:  svc,
		c:    c,
		ann:  svc.Annotations,
		seen: map[string]bool{},
		cfg:  &ServiceConfig{Base: cloudprovider.DefaultLoadBalancerName(svc)},
	}
	if p.ann == nil {
		p.ann = map[string]string{}
	}
	p.parseFrontend()
	p.parseRuleSettings()
	p.parseAccess()
	p.parseRules()
	p.checkNodePorts()
	p.warnNotEmulated()
	if len(p.problems) > 0 {
		return p.cfg, errors.New(strings.Join(p.problems, "; "))
	}
	return p.cfg, nil
}

// The Service annotations cloud-provider-azure reads (its pkg/consts).
const (
	annPrefix              = "service.beta.kubernetes.io/"
	annInternal            = annPrefix + "azure-load-balancer-internal"
	annInternalSubnet      = annPrefix + "azure-load-balancer-internal-subnet"
	annIPv4                = annPrefix + "azure-load-balancer-ipv4"
	annIPv6                = annPrefix + "azure-load-balancer-ipv6"
	annPIPName             = annPrefix + "azure-pip-name"
	annPIPNameIPv6         = annPrefix + "azure-pip-name-ipv6"
	annPIPPrefixID         = annPrefix + "azure-pip-prefix-id"
	annPIPPrefixIDIPv6     = annPrefix + "azure-pip-prefix-id-ipv6"
	annPIPTags             = annPrefix + "azure-pip-tags"
	annPIPIPTags           = annPrefix + "azure-pip-ip-tags"
	annDNSLabelName        = annPrefix + "azure-dns-label-name"
	annLBResourceGroup     = annPrefix + "azure-load-balancer-resource-group"
	annProbeProtocol       = annPrefix + "azure-load-balancer-health-probe-protocol"
	annProbeRequestPath    = annPrefix + "azure-load-balancer-health-probe-request-path"
	annProbeInterval       = annPrefix + "azure-load-balancer-health-probe-interval"
	annProbeNumOfProbe     = annPrefix + "azure-load-balancer-health-probe-num-of-probe"
	annDisableFloatingIP   = annPrefix + "azure-disable-load-balancer-floating-ip"
	annIdleTimeout         = annPrefix + "azure-load-balancer-tcp-idle-timeout"
	annDisableTCPReset     = annPrefix + "azure-load-balancer-disable-tcp-reset"
	annHAPorts             = annPrefix + "azure-load-balancer-enable-high-availability-ports"
	annAllowedServiceTags  = annPrefix + "azure-allowed-service-tags"
	annAllowedIPRanges     = annPrefix + "azure-allowed-ip-ranges"
	annLegacySourceRanges  = v1.AnnotationLoadBalancerSourceRangesKey
	annDenyAllExcept       = annPrefix + "azure-deny-all-except-load-balancer-source-ranges"
	annSharedSecurityRule  = annPrefix + "azure-shared-securityrule"
	annDisableNSGRule      = annPrefix + "azure-disable-load-balancer-nsg-rule"
	annLBMode              = annPrefix + "azure-load-balancer-mode"
	annLBConfigurations    = annPrefix + "azure-load-balancer-configurations"
	annAdditionalPublicIPs = annPrefix + "azure-additional-public-ips"
	annMixedProtocols      = annPrefix + "azure-load-balancer-mixed-protocols"
	annPLSPrefix           = annPrefix + "azure-pls-"
)

// The per-port annotations: service.beta.kubernetes.io/port_{port}_<param>.
const (
	portNoLBRule          = "no_lb_rule"
	portNoProbeRule       = "no_probe_rule"
	portProbeProtocol     = "health-probe_protocol"
	portProbePort         = "health-probe_port"
	portProbeRequestPath  = "health-probe_request-path"
	portProbeInterval     = "health-probe_interval"
	portProbeNumOfProbe   = "health-probe_num-of-probe"
	probeDefaultInterval  = 5
	probeDefaultNumProbes = 2
	probeDefaultPath      = "/"
	// localProbePath is kube-proxy's per-Service health check (externalTrafficPolicy Local).
	localProbePath = "/healthz"
	// cpaDefaultIdleTimeout is the rules' idle timeout in minutes unless annotated.
	cpaDefaultIdleTimeout = 4
)

func portAnnotation(port int32, param string) string {
	return fmt.Sprintf("%sport_%d_%s", annPrefix, port, param)
}

var (
	portAnnotationRE = regexp.MustCompile(`^service\.beta\.kubernetes\.io/port_(\d+)_(.+)$`)
	// dnsLabelRE is Azure's rule for a public IP's domain name label.
	dnsLabelRE = regexp.MustCompile(`^[a-z][a-z0-9-]{1,61}[a-z0-9]$`)
	// pipNameRE is Azure's rule for a public IP resource name.
	pipNameRE = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9._-]{0,78}[A-Za-z0-9_])?$`)
)

// emulatedServiceTags are the service tags the emulated NSG has addresses for.
var emulatedServiceTags = []string{"Internet", "VirtualNetwork", "AzureLoadBalancer"}

// svcParser reads one Service, collecting problems (the error) and warnings.
type svcParser struct {
	svc      *v1.Service
	c        *config.Cluster
	ann      map[string]string
	cfg      *ServiceConfig
	problems []string
	seen     map[string]bool

	// Whether a probe took its protocol or request path from the Service-wide annotation.
	globalProtocolUsed, globalPathUsed bool
}

// fail records a problem: "<key or field>: "<value>": <reason>".
func (p *svcParser) fail(key, value, format string, args ...any) {
	p.failf("%s: %q: %s", key, value, fmt.Sprintf(format, args...))
}

func (p *svcParser) failf(format string, args ...any) {
	if msg := fmt.Sprintf(format, args...); !p.seen["e"+msg] {
		p.seen["e"+msg] = true
		p.problems = append(p.problems, msg)
	}
}

func (p *svcParser) warn(format string, args ...any) {
	if msg := fmt.Sprintf(format, args...); !p.seen["w"+msg] {
		p.seen["w"+msg] = true
		p.cfg.Warnings = append(p.cfg.Warnings, msg)
	}
}

// flag reads a boolean annotation as CPA does: "true" in any case is true, anything else false.
func (p *svcParser) flag(key string) bool {
	v, ok := p.ann[key]
	switch {
	case !ok || strings.EqualFold(v, "false"):
		return false
	case strings.EqualFold(v, "true"):
		return true
	}
	p.warn(`%s: %q is neither "true" nor "false"; AKS reads it as "false"`, key, v)
	return false
}

func (p *svcParser) portFlag(port int32, param string) bool {
	return p.flag(portAnnotation(port, param))
}

// parseFrontend reads where the frontend lives: internal or public, subnet, address, public IP.
func (p *svcParser) parseFrontend() {
	cfg, ann := p.cfg, p.ann

	v, ok := ann[annInternal]
	cfg.Internal = ok && v == "true"
	switch {
	case !ok || cfg.Internal || v == "false":
	case strings.EqualFold(v, "true"):
		p.warn(`%s: %q: AKS makes the load balancer internal only for exactly "true" (the comparison is case-sensitive); this Service gets a public frontend`, annInternal, v)
	default:
		p.warn(`%s: %q is neither "true" nor "false"; AKS gives this Service a public frontend`, annInternal, v)
	}

	if v, ok := ann[annInternalSubnet]; ok && strings.TrimSpace(v) != "" {
		switch {
		case !cfg.Internal:
			p.warn("%s has no effect on a public Service; AKS reads it only with %s: \"true\"", annInternalSubnet, annInternal)
		case v != aksSubnetName:
			p.fail(annInternalSubnet, v, "failed to get subnet: %s/%s: virtual network %s has one subnet, %s", VNetName(p.c), v, VNetName(p.c), aksSubnetName)
		default:
			cfg.InternalSubnet = v
		}
	}

	if v := ann[annIPv4]; v != "" {
		a, err := netip.ParseAddr(v)
		switch {
		case err != nil:
			p.fail(annIPv4, v, "not an IP address")
		case !a.Is4():
			p.fail(annIPv4, v, "must be an IPv4 address (%s is the IPv6 one)", annIPv6)
		default:
			cfg.RequestedIP = a
		}
		if lbIP := p.svc.Spec.LoadBalancerIP; lbIP != "" && lbIP != v {
			p.warn("spec.loadBalancerIP %q is ignored: %s takes precedence", lbIP, annIPv4)
		}
	} else if v := p.svc.Spec.LoadBalancerIP; v != "" {
		a, err := netip.ParseAddr(v)
		switch {
		case err != nil:
			p.fail("spec.loadBalancerIP", v, "not an IP address")
		case !a.Is4():
			p.warn("spec.loadBalancerIP %q is an IPv6 address; AKS uses it only for an IPv6 frontend, which minaks does not emulate", v)
		default:
			cfg.RequestedIP = a
		}
	}

	if v, ok := ann[annPIPName]; ok && v != "" {
		switch {
		case cfg.Internal:
			p.warn("%s has no effect on an internal Service", annPIPName)
		case !pipNameRE.MatchString(v):
			p.fail(annPIPName, v, "not a valid public IP name (1 to 80 letters, digits, '_', '.' and '-', starting with a letter or digit and ending with a letter, digit or '_')")
		default:
			cfg.PIPName = v
		}
	}

	if v, ok := ann[annPIPTags]; ok {
		cfg.PIPTags = p.parsePIPTags(v)
		switch {
		case cfg.Internal:
			p.warn("%s has no effect on an internal Service", annPIPTags)
			cfg.PIPTags = nil
		case cfg.PIPName != "":
			p.warn("%s has no effect with %s: AKS leaves the tags of a public IP it did not create alone", annPIPTags, annPIPName)
		}
	}

	if v, ok := ann[annDNSLabelName]; ok && v != "" {
		switch {
		case cfg.Internal:
			p.warn("%s has no effect on an internal Service", annDNSLabelName)
		case !dnsLabelRE.MatchString(v):
			p.fail(annDNSLabelName, v, "not a valid DNS label: 3 to 63 lowercase letters, digits and hyphens, starting with a letter and ending with a letter or digit")
		default:
			cfg.DNSLabel = v
		}
	}
}

// parsePIPTags reads "k1=v1,k2=v2" as CPA's parseTags does: pairs that are not key=value, or
// have an empty key, are skipped.
func (p *svcParser) parsePIPTags(v string) map[string]string {
	var tags map[string]string
	for _, kv := range strings.Split(v, ",") {
		parts := strings.Split(kv, "=")
		if len(parts) != 2 || strings.TrimSpace(parts[0]) == "" {
			if strings.TrimSpace(kv) != "" {
				p.warn("%s: %q is not a key=value pair; AKS skips it", annPIPTags, kv)
			}
			continue
		}
		if tags == nil {
			tags = map[string]string{}
		}
		tags[strings.TrimSpace(parts[0])] = strings.TrimSpace(parts[1])
	}
	return tags
}

// parseRuleSettings reads what every load-balancing rule of the Service shares.
func (p *svcParser) parseRuleSettings() {
	cfg, svc := p.cfg, p.svc
	cfg.FloatingIP = !p.flag(annDisableFloatingIP)
	cfg.TCPReset = !p.flag(annDisableTCPReset)
	cfg.IdleTimeout = cpaDefaultIdleTimeout
	if v, ok := p.ann[annIdleTimeout]; ok {
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 32)
		switch {
		case err != nil:
			p.fail(annIdleTimeout, v, "idle timeout value must be a whole number representing minutes between 4 and 100")
		case n < 4 || n > 100:
			p.fail(annIdleTimeout, v, "idle timeout value must be a whole number representing minutes between 4 and 100")
		default:
			cfg.IdleTimeout = int32(n)
		}
	}
	if p.flag(annHAPorts) {
		if cfg.Internal {
			cfg.HAPorts = true
		} else {
			p.warn("%s has no effect on a public Service: AKS enables HA ports only on the internal load balancer and makes one rule per port", annHAPorts)
		}
	}
	cfg.LoadDistribution = "Default"
	if svc.Spec.SessionAffinity == v1.ServiceAffinityClientIP {
		cfg.LoadDistribution = "SourceIP"
	}
}

// parseAccess reads the NSG shaping: source ranges, service tags, deny-all, no rule.
func (p *svcParser) parseAccess() {
	cfg, svc := p.cfg, p.svc

	for i, s := range svc.Spec.LoadBalancerSourceRanges {
		if r, err := cpaParsePrefix(strings.TrimSpace(s)); err != nil {
			p.fail(fmt.Sprintf("spec.loadBalancerSourceRanges[%d]", i), s, "%v", err)
		} else {
			cfg.SourceRanges = append(cfg.SourceRanges, r)
		}
	}
	specRanges := len(svc.Spec.LoadBalancerSourceRanges) > 0
	for _, key := range []string{annAllowedIPRanges, annLegacySourceRanges} {
		v, ok := p.ann[key]
		if !ok {
			continue
		}
		if specRanges {
			p.failf("cannot set both spec.LoadBalancerSourceRanges and service annotation %s", key)
			continue
		}
		for _, s := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' }) {
			if r, err := cpaParsePrefix(s); err != nil {
				p.fail(key, v, "%v", err)
			} else {
				cfg.SourceRanges = append(cfg.SourceRanges, r)
			}
		}
	}
	for _, r := range cfg.SourceRanges {
		if r.Addr().Is6() {
			p.warn("source range %s is IPv6: AKS applies it to an IPv6 frontend, which minaks does not emulate", r)
		}
	}

	if v, ok := p.ann[annAllowedServiceTags]; ok {
		for _, tag := range strings.Split(v, ",") {
			if tag = strings.TrimSpace(tag); tag == "" {
				continue
			}
			cfg.ServiceTags = append(cfg.ServiceTags, tag)
			if !slices.ContainsFunc(emulatedServiceTags, func(t string) bool { return strings.EqualFold(t, tag) }) {
				p.warn("%s: the NSG rule allows service tag %s, but the emulated NSG has no address list for it (only Internet, VirtualNetwork and AzureLoadBalancer), so no traffic matches it", annAllowedServiceTags, tag)
			}
		}
		if len(cfg.ServiceTags) > 0 && specRanges {
			p.warn("%s with spec.loadBalancerSourceRanges: the NSG allows the service tags, but kube-proxy on the nodes drops traffic from outside spec.loadBalancerSourceRanges; use %s with service tags instead", annAllowedServiceTags, annAllowedIPRanges)
		}
	}

	cfg.DenyAllExceptSourceRanges = p.flag(annDenyAllExcept)
	if cfg.DenyAllExceptSourceRanges && len(cfg.SourceRanges) == 0 {
		p.warn("%s has no effect without spec.loadBalancerSourceRanges or %s", annDenyAllExcept, annAllowedIPRanges)
	}
	p.flag(annSharedSecurityRule) // CPA shares rules with equal protocol, sources and ports anyway
	cfg.DisableNSGRule = p.flag(annDisableNSGRule)
	if cfg.DisableNSGRule && (len(cfg.SourceRanges) > 0 || len(cfg.ServiceTags) > 0 || cfg.DenyAllExceptSourceRanges) {
		p.warn("%s: AKS adds no NSG rule for this Service, so its source ranges, service tags and deny-all rule have no effect in the NSG", annDisableNSGRule)
	}
}

// cpaParsePrefix is CPA's iputil.ParsePrefix: a CIDR whose address is the network's.
func cpaParsePrefix(s string) (netip.Prefix, error) {
	r, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("invalid CIDR `%s`: %w", s, err)
	}
	if r.Addr() != r.Masked().Addr() {
		return netip.Prefix{}, fmt.Errorf("invalid CIDR `%s`: not a valid network prefix, should be properly masked like %s", s, r.Masked())
	}
	return r, nil
}

// ruleName names a rule (and its probe) of this Service.
func (p *svcParser) ruleName(protocol v1.Protocol, port int32) string {
	return cpaRuleName(p.cfg.Base, p.cfg.InternalSubnet, protocol, port)
}

// parseRules makes the load-balancing rules and their probes as CPA's getExpectedLBRules.
func (p *svcParser) parseRules() {
	cfg, svc := p.cfg, p.svc
	ports := svc.Spec.Ports
	if len(ports) == 0 {
		p.failf("spec.ports: a Service of type LoadBalancer needs at least one port")
		return
	}

	// externalTrafficPolicy Local: one HTTP probe on kube-proxy's health check node port, named
	// like a TCP rule on that port, for every rule without a probe of its own.
	var local *ProbeConfig
	if svc.Spec.Type == v1.ServiceTypeLoadBalancer && svc.Spec.ExternalTrafficPolicy == v1.ServiceExternalTrafficPolicyLocal {
		hc := svc.Spec.HealthCheckNodePort
		interval, count, errs := p.intervalAndCount(hc)
		for _, e := range errs {
			p.failf("%s", e)
		}
		local = &ProbeConfig{
			Name: p.ruleName(v1.ProtocolTCP, hc), Protocol: "Http", Port: hc, RequestPath: localProbePath,
			IntervalInSeconds: interval, NumberOfProbes: count,
		}
	}

	if cfg.HAPorts {
		// One rule for every port and protocol, named after the first port; its probe is the
		// Local one, or the first port's that can have one (errors only skip a port).
		r := RuleConfig{Name: p.ruleName(ports[0].Protocol, ports[0].Port), Protocol: "All"}
		if local != nil {
			r.Probe = local
		} else {
			for i, port := range ports {
				probe, errs := p.portProbe(i, port, r.Name, false)
				for _, e := range errs {
					p.warn("%s; AKS skips port %d when it picks the probe of the HA-ports rule", e, port.Port)
				}
				if probe != nil {
					r.Probe = probe
					break
				}
			}
		}
		cfg.Rules = []RuleConfig{r}
		for _, port := range ports {
			for _, param := range []string{portNoLBRule, portNoProbeRule} {
				if _, ok := p.ann[portAnnotation(port.Port, param)]; ok {
					p.warn("%s has no effect with HA ports: AKS makes one rule for all ports", portAnnotation(port.Port, param))
				}
			}
		}
		if !cfg.FloatingIP {
			p.warn("%s has no effect on the HA-ports rule (AKS keeps its floating IP on), but the NSG rules still open the NodePorts on the node addresses", annDisableFloatingIP)
		}
	} else {
		for i, port := range ports {
			if p.portFlag(port.Port, portNoLBRule) {
				continue
			}
			switch port.Protocol {
			case v1.ProtocolTCP, v1.ProtocolUDP:
			case v1.ProtocolSCTP:
				if !cfg.Internal {
					p.fail(fmt.Sprintf("spec.ports[%d].protocol", i), string(port.Protocol), "SCTP is only supported on standard loadbalancer in internal mode")
					continue
				}
			default:
				p.fail(fmt.Sprintf("spec.ports[%d].protocol", i), string(port.Protocol), "only TCP, UDP and SCTP are supported for Azure LoadBalancers")
				continue
			}
			r := RuleConfig{Name: p.ruleName(port.Protocol, port.Port), Protocol: port.Protocol, Port: port.Port, NodePort: port.NodePort}
			if !p.portFlag(port.Port, portNoProbeRule) {
				probe, errs := p.portProbe(i, port, r.Name, local != nil)
				for _, e := range errs {
					p.failf("%s", e)
				}
				switch {
				case probe != nil:
					r.Probe = probe
				case local != nil:
					r.Probe = local
				}
			}
			cfg.Rules = append(cfg.Rules, r)
		}
	}

	if v, ok := p.ann[annProbeProtocol]; ok && !p.globalProtocolUsed {
		p.warn("%s: %q has no effect: no probe of this Service takes its protocol from it (externalTrafficPolicy Local probes HTTP %s on the health check node port; appProtocol and port_{port}_%s take precedence; UDP and SCTP ports have no probe)", annProbeProtocol, v, localProbePath, portProbeProtocol)
	}
	if v, ok := p.ann[annProbeRequestPath]; ok && !p.globalPathUsed {
		p.warn("%s: %q has no effect: no Http or Https probe of this Service takes its path from it", annProbeRequestPath, v)
	}
	for _, key := range slices.Sorted(maps.Keys(p.ann)) {
		m := portAnnotationRE.FindStringSubmatch(key)
		if m == nil {
			continue
		}
		n, _ := strconv.ParseInt(m[1], 10, 32)
		// The Local probe reads the interval and number of probes of the health check node port.
		localProbeKey := local != nil && n == int64(local.Port) && (m[2] == portProbeInterval || m[2] == portProbeNumOfProbe)
		if !localProbeKey && !slices.ContainsFunc(ports, func(sp v1.ServicePort) bool { return int64(sp.Port) == n }) {
			p.warn("%s has no effect: the Service has no port %s", key, m[1])
		}
		if !slices.Contains([]string{portNoLBRule, portNoProbeRule, portProbeProtocol, portProbePort, portProbeRequestPath, portProbeInterval, portProbeNumOfProbe}, m[2]) {
			p.warn("%s is not an annotation cloud-provider-azure reads (check the spelling); it has no effect", key)
		}
	}
}

// portProbe is CPA's buildHealthProbeRulesForPort: the probe of one TCP port, nil when it has
// none of its own (UDP and SCTP, or externalTrafficPolicy Local without a probe port override).
// It returns the problems with the port's probe annotations.
func (p *svcParser) portProbe(i int, port v1.ServicePort, name string, local bool) (*ProbeConfig, []string) {
	if port.Protocol == v1.ProtocolUDP || port.Protocol == v1.ProtocolSCTP {
		return nil, nil
	}
	probe := &ProbeConfig{Name: name}

	key := portAnnotation(port.Port, portProbePort)
	if v, ok := p.ann[key]; ok {
		n, err := p.probePort(v)
		if err != "" {
			return nil, []string{fmt.Sprintf("%s: %q: %s", key, v, err)}
		}
		probe.Port = n
	} else if local {
		return nil, nil
	} else {
		probe.Port = port.NodePort
	}

	// Protocol: the port's annotation, then appProtocol, then the Service's annotation, then Tcp.
	var protocol, from string
	fromAppProtocol := false
	if v, ok := p.ann[portAnnotation(port.Port, portProbeProtocol)]; ok {
		protocol, from = v, portAnnotation(port.Port, portProbeProtocol)
	} else if port.AppProtocol != nil {
		protocol, from, fromAppProtocol = *port.AppProtocol, fmt.Sprintf("spec.ports[%d].appProtocol", i), true
	} else if v, ok := p.ann[annProbeProtocol]; ok {
		protocol, from = v, annProbeProtocol
		p.globalProtocolUsed = true
	} else {
		protocol = "Tcp"
	}
	switch strings.ToLower(strings.TrimSpace(protocol)) {
	case "tcp":
		probe.Protocol = "Tcp"
	case "http":
		probe.Protocol = "Http"
	case "https":
		probe.Protocol = "Https"
	default:
		probe.Protocol = "Tcp"
		if !fromAppProtocol {
			p.warn("%s: %q is not Tcp, Http or Https; AKS falls back to a Tcp probe", from, protocol)
		} else if _, ok := p.ann[annProbeProtocol]; ok {
			// An appProtocol like grpc or kubernetes.io/h2c is common and quietly means Tcp,
			// except that it hides the Service's probe protocol annotation.
			p.warn("%s %q takes precedence over %s and is not tcp, http or https; AKS falls back to a Tcp probe for port %d", from, protocol, annProbeProtocol, port.Port)
		}
	}

	pathKey := portAnnotation(port.Port, portProbeRequestPath)
	if probe.Protocol == "Tcp" {
		if v, ok := p.ann[pathKey]; ok {
			p.warn("%s: %q has no effect: the probe of port %d is Tcp", pathKey, v, port.Port)
		}
	} else if v, ok := p.ann[pathKey]; ok {
		probe.RequestPath = v
	} else if v, ok := p.ann[annProbeRequestPath]; ok {
		probe.RequestPath = v
		p.globalPathUsed = true
	} else {
		probe.RequestPath = probeDefaultPath
	}

	interval, count, errs := p.intervalAndCount(port.Port)
	if len(errs) > 0 {
		return nil, errs
	}
	probe.IntervalInSeconds, probe.NumberOfProbes = interval, count
	return probe, nil
}

// probePort resolves port_{port}_health-probe_port: a Service port's name or number means its
// NodePort, another number is taken as it is.
func (p *svcParser) probePort(v string) (int32, string) {
	for _, sp := range p.svc.Spec.Ports {
		if sp.Name != "" && strings.EqualFold(sp.Name, v) {
			return sp.NodePort, ""
		}
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Sprintf("port %s not found in service", v)
	}
	if n < 0 || n > 65535 {
		return 0, fmt.Sprintf("port %d is out of range", n)
	}
	for _, sp := range p.svc.Spec.Ports {
		if int(sp.Port) == n {
			return sp.NodePort, ""
		}
	}
	return int32(n), ""
}

// intervalAndCount are a probe's interval and number of probes: the port's annotations, else
// the Service's, else 5 s and 2; at least 5 s and 2 probes, and less than 120 s in total.
func (p *svcParser) intervalAndCount(port int32) (int32, int32, []string) {
	count, countFrom, err1 := p.probeInt(port, portProbeNumOfProbe, annProbeNumOfProbe, "num-of-probe", probeDefaultNumProbes)
	interval, intervalFrom, err2 := p.probeInt(port, portProbeInterval, annProbeInterval, "interval", probeDefaultInterval)
	var errs []string
	for _, e := range []string{err1, err2} {
		if e != "" {
			errs = append(errs, e)
		}
	}
	if len(errs) == 0 && interval*count >= 120 {
		errs = append(errs, fmt.Sprintf("%s × %s: total probe should be less than 120, please adjust interval and number of probe accordingly", intervalFrom, countFrom))
	}
	return interval, count, errs
}

// probeInt reads one of the integer probe settings; from names where the value came from.
func (p *svcParser) probeInt(port int32, param, global, short string, def int32) (value int32, from, problem string) {
	key := portAnnotation(port, param)
	v, ok := p.ann[key]
	if !ok {
		key = global
		v, ok = p.ann[key]
	}
	if !ok {
		return def, fmt.Sprintf("default %s %d", short, def), ""
	}
	from = fmt.Sprintf("%s: %q", key, v)
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 32)
	if err != nil {
		return 0, from, fmt.Sprintf("%s: %s value must be a whole number", from, short)
	}
	if n < int64(def) {
		return 0, from, fmt.Sprintf("%s: the minimum value of %s is %d", from, short, def)
	}
	return int32(n), from, ""
}

// checkNodePorts refuses what needs a NodePort the Service does not have: with
// allocateLoadBalancerNodePorts false, AKS works only when floating IP is on and no probe
// targets a NodePort (externalTrafficPolicy Local, a probe port override, or no probe).
func (p *svcParser) checkNodePorts() {
	if a := p.svc.Spec.AllocateLoadBalancerNodePorts; a == nil || *a {
		return
	}
	for _, r := range p.cfg.Rules {
		if r.Protocol != "All" && !p.cfg.FloatingIP && r.NodePort == 0 {
			p.failf("spec.allocateLoadBalancerNodePorts: false: rule %s sends to the NodePort of port %d (%s), and the port has none", r.Name, r.Port, annDisableFloatingIP)
		}
		if r.Probe != nil && r.Probe.Port == 0 {
			p.failf("spec.allocateLoadBalancerNodePorts: false: probe %s probes a NodePort the Service does not have; AKS allows node ports off only when no probe needs one (externalTrafficPolicy Local, a port_{port}_%s override, or port_{port}_%s)",
				r.Probe.Name, portProbePort, portNoProbeRule)
		}
	}
}

// warnNotEmulated names the annotations minaks reads but cannot emulate, and those it does not
// know at all.
func (p *svcParser) warnNotEmulated() {
	known := []string{
		annInternal, annInternalSubnet, annIPv4, annPIPName, annPIPTags, annDNSLabelName,
		annProbeProtocol, annProbeRequestPath, annProbeInterval, annProbeNumOfProbe,
		annDisableFloatingIP, annIdleTimeout, annDisableTCPReset, annHAPorts,
		annAllowedServiceTags, annAllowedIPRanges, annLegacySourceRanges, annDenyAllExcept,
		annSharedSecurityRule, annDisableNSGRule,
	}
	for _, key := range slices.Sorted(maps.Keys(p.ann)) {
		v := p.ann[key]
		switch {
		case slices.Contains(known, key), portAnnotationRE.MatchString(key):
		case strings.HasPrefix(key, annPLSPrefix):
			p.warn("%s: minaks does not emulate Private Link Service; no private link service is created", key)
		case key == annPIPPrefixID:
			p.warn("%s: minaks does not emulate public IP prefixes; the public IP comes from the cluster's public range", key)
		case key == annPIPIPTags:
			p.warn("%s: minaks does not emulate the IP tags of public IPs (routing preference and the like)", key)
		case key == annLBResourceGroup:
			if !strings.EqualFold(strings.TrimSpace(v), p.c.NodeResourceGroup()) && strings.TrimSpace(v) != "" {
				p.warn("%s: %q: minaks keeps every public IP in the node resource group %s; a public IP in another resource group is not emulated", key, v, p.c.NodeResourceGroup())
			}
		case key == annIPv6, key == annPIPNameIPv6, key == annPIPPrefixIDIPv6:
			p.warn("%s: minaks emulates IPv4 frontends only; the annotation has no effect", key)
		case key == annLBMode:
			p.warn("%s: AKS ignores it with a Standard load balancer (it selects among Basic load balancers of availability sets)", key)
		case key == annLBConfigurations:
			p.warn("%s: the cluster has one Standard load balancer of each kind (no multiple standard load balancers); the annotation has no effect", key)
		case key == annAdditionalPublicIPs:
			p.warn("%s: minaks does not emulate additional public IPs; they are neither in the Service status nor in the NSG rules", key)
		case key == annMixedProtocols:
			p.warn("%s: obsolete, cloud-provider-azure no longer reads it (TCP and UDP ports always mix)", key)
		case strings.HasPrefix(key, annPrefix+"azure-"):
			p.warn("%s is not an annotation cloud-provider-azure reads (check the spelling); it has no effect", key)
		}
	}
	for _, f := range p.svc.Spec.IPFamilies {
		if f == v1.IPv6Protocol {
			p.warn("spec.ipFamilies includes IPv6: minaks emulates the IPv4 frontend only")
		}
	}
}
