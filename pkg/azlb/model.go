package azlb

import (
	"cmp"
	"crypto/md5" //nolint:gosec // CPA names NSG rules with an MD5 digest
	"encoding/hex"
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	v1 "k8s.io/api/core/v1"

	"github.com/minaks/minaks/pkg/apiserver/config"
)

// Backend is a member of the backend pools: a node, by its VMSS instance.
type Backend struct {
	Name       string
	InstanceID int
	IP         netip.Addr
}

// ServiceLB is a Service of type LoadBalancer with its parsed configuration and what the cloud
// gave it.
type ServiceLB struct {
	Service *v1.Service
	Config  *ServiceConfig
	// FrontendIP is its frontend address: a public IP's, or a private one in the subnet.
	FrontendIP netip.Addr
	// PublicIPName names the public IP resource of a public frontend: azure-pip-name, or
	// kubernetes-<base> of the Service that created it (shared frontends keep the first's).
	PublicIPName string
}

// Input is everything Build needs.
type Input struct {
	Cluster *config.Cluster
	// Backends are the nodes the service controller passes (exclusion label already applied),
	// sorted by name.
	Backends []Backend
	// Services are sorted by namespace/name.
	Services []ServiceLB
	// OutboundIPs are the managed outbound public IPs (outbound type loadBalancer), in order.
	OutboundIPs []netip.Addr
	// OutboundPorts is the SNAT ports per node (0: automatic); OutboundIdleTimeout in minutes.
	OutboundPorts       int32
	OutboundIdleTimeout int32
}

// Build is the model Azure would hold for in: the load balancers "kubernetes" and
// "kubernetes-internal" with their frontends, pools, rules, probes and outbound rule, the public
// IPs, and the NSG rules cloud-provider-azure makes for the Services. Everything is sorted, so
// the same input gives the same model.
func Build(in Input) *Model {
	c := in.Cluster
	ids := newARMIDs(c)
	public := newLBBuilder(in, ids, lbNamePublic)
	internal := newLBBuilder(in, ids, lbNameInternal)
	for i := range in.Services {
		s := &in.Services[i]
		if s.Config == nil {
			continue
		}
		b := public
		if s.Config.Internal {
			b = internal
		}
		b.addService(s)
	}
	if len(in.OutboundIPs) > 0 {
		public.addOutbound()
	}

	m := &Model{LoadBalancers: []LoadBalancer{}, PublicIPAddresses: []PublicIPAddress{}}
	for _, b := range []*lbBuilder{public, internal} {
		if lb, ok := b.loadBalancer(); ok {
			m.LoadBalancers = append(m.LoadBalancers, lb)
		}
	}
	m.PublicIPAddresses = public.publicIPs()
	m.SecurityGroup = buildSecurityGroup(in, ids)
	return m
}

// lbBuilder gathers one load balancer's objects.
type lbBuilder struct {
	in   Input
	ids  armIDs
	name string
	// snatOff is the rules' disableOutboundSnat: AKS disables outbound SNAT on load-balancing
	// rules when the outbound rule provides it (outbound type loadBalancer).
	snatOff bool

	frontends []*frontendGroup
	byKey     map[string]*frontendGroup
	rules     []LoadBalancingRule
	ruleNames map[string]bool
	probes    map[string]*Probe
	outbound  []*frontendGroup
	outRule   *OutboundRule
}

// frontendGroup is a frontend configuration and the Services that share it, the first one
// (in input order) having created it.
type frontendGroup struct {
	fe       FrontendIPConfiguration
	ip       netip.Addr
	services []*ServiceLB
	pipName  string
}

func newLBBuilder(in Input, ids armIDs, name string) *lbBuilder {
	return &lbBuilder{
		in: in, ids: ids, name: name, snatOff: len(in.OutboundIPs) > 0,
		byKey: map[string]*frontendGroup{}, ruleNames: map[string]bool{}, probes: map[string]*Probe{},
	}
}

func (b *lbBuilder) id(kind, name string) string { return b.ids.lbChild(b.name, kind, name) }

// frontendFor is the Service's frontend configuration: the one of the first Service with the
// same frontend IP, or a new one named after the Service.
func (b *lbBuilder) frontendFor(s *ServiceLB) *frontendGroup {
	cfg := s.Config
	k := "service:" + cfg.Base
	if s.FrontendIP.IsValid() {
		k = "ip:" + s.FrontendIP.String()
	}
	if g, ok := b.byKey[k]; ok {
		g.services = append(g.services, s)
		return g
	}
	name := cpaFrontendName(cfg.Base, cfg.InternalSubnet)
	g := &frontendGroup{
		fe:       FrontendIPConfiguration{Name: name, ID: b.id("frontendIPConfigurations", name), ProvisioningState: provisioningSucceeded},
		ip:       s.FrontendIP,
		services: []*ServiceLB{s},
	}
	if cfg.Internal {
		g.fe.PrivateIPAllocationMethod = "Dynamic"
		if cfg.RequestedIP.IsValid() {
			g.fe.PrivateIPAllocationMethod = "Static"
		}
		if s.FrontendIP.IsValid() {
			g.fe.PrivateIPAddress = s.FrontendIP.String()
		}
		g.fe.PrivateIPAddressVersion = "IPv4"
		g.fe.Subnet = &SubResource{ID: b.ids.subnet(VNetName(b.in.Cluster))}
	} else {
		g.pipName = s.PublicIPName
		if g.pipName == "" {
			g.pipName = cpaClusterName + "-" + cfg.Base
		}
		g.fe.PublicIPAddress = &SubResource{ID: b.ids.publicIP(g.pipName)}
	}
	b.byKey[k] = g
	b.frontends = append(b.frontends, g)
	return g
}

// addService adds the Service's frontend, rules and probes.
func (b *lbBuilder) addService(s *ServiceLB) {
	cfg := s.Config
	fe := b.frontendFor(s)
	for _, r := range cfg.Rules {
		if b.ruleNames[r.Name] {
			continue
		}
		b.ruleNames[r.Name] = true
		ha := r.Protocol == "All"
		protocol := armTransportProtocol(r.Protocol)
		rule := LoadBalancingRule{
			Name: r.Name, ID: b.id("loadBalancingRules", r.Name),
			FrontendIPConfiguration: SubResource{ID: fe.fe.ID},
			BackendAddressPool:      SubResource{ID: b.id("backendAddressPools", backendPoolName)},
			Protocol:                protocol,
			FrontendPort:            r.Port,
			BackendPort:             r.Port,
			EnableFloatingIP:        true,
			LoadDistribution:        cmp.Or(cfg.LoadDistribution, "Default"),
			IdleTimeoutInMinutes:    cmp.Or(cfg.IdleTimeout, cpaDefaultIdleTimeout),
			// CPA sets TCP reset on TCP rules and the HA-ports rule only.
			EnableTCPReset:      (protocol == "Tcp" || ha) && cfg.TCPReset,
			DisableOutboundSnat: b.snatOff,
			ProvisioningState:   provisioningSucceeded,
		}
		// Floating IP off: the packet goes to node:NodePort (CPA leaves the HA-ports rule alone).
		if !cfg.FloatingIP && !ha {
			rule.BackendPort, rule.EnableFloatingIP = r.NodePort, false
		}
		if r.Probe != nil {
			rule.Probe = &SubResource{ID: b.probe(r.Probe).ID}
		}
		b.rules = append(b.rules, rule)
	}
}

// armTransportProtocol is a rule's protocol for a Service port's: SCTP goes as All, as CPA's
// getProtocolsFromKubernetesProtocol has it.
func armTransportProtocol(p v1.Protocol) string {
	switch p {
	case v1.ProtocolTCP:
		return "Tcp"
	case v1.ProtocolUDP:
		return "Udp"
	}
	return "All"
}

// probe is the load balancer's probe of that name, added the first time.
func (b *lbBuilder) probe(pc *ProbeConfig) *Probe {
	if pr, ok := b.probes[pc.Name]; ok {
		return pr
	}
	pr := &Probe{
		Name: pc.Name, ID: b.id("probes", pc.Name),
		Protocol: pc.Protocol, Port: pc.Port,
		IntervalInSeconds: cmp.Or(pc.IntervalInSeconds, probeDefaultInterval),
		// CPA sets the probe threshold to the number of probes: that many failures take a
		// backend out, that many successes bring it back.
		NumberOfProbes:    cmp.Or(pc.NumberOfProbes, probeDefaultNumProbes),
		ProbeThreshold:    cmp.Or(pc.NumberOfProbes, probeDefaultNumProbes),
		ProvisioningState: provisioningSucceeded,
	}
	if pc.Protocol == "Http" || pc.Protocol == "Https" {
		pr.RequestPath = cmp.Or(pc.RequestPath, probeDefaultPath)
	}
	b.probes[pc.Name] = pr
	return pr
}

// addOutbound adds AKS's outbound SNAT: a frontend per managed outbound IP, the pool
// aksOutboundBackendPool and the rule aksOutboundRule.
func (b *lbBuilder) addOutbound() {
	c := b.in.Cluster
	rule := &OutboundRule{
		Name: outboundRuleName, ID: b.id("outboundRules", outboundRuleName),
		BackendAddressPool:     SubResource{ID: b.id("backendAddressPools", outboundPoolName)},
		Protocol:               "All",
		AllocatedOutboundPorts: b.in.OutboundPorts,
		IdleTimeoutInMinutes:   b.in.OutboundIdleTimeout,
		EnableTCPReset:         true,
		ProvisioningState:      provisioningSucceeded,
	}
	for i, ip := range b.in.OutboundIPs {
		name := outboundIPName(c, i)
		g := &frontendGroup{
			fe: FrontendIPConfiguration{
				Name: name, ID: b.id("frontendIPConfigurations", name),
				PublicIPAddress:   &SubResource{ID: b.ids.publicIP(name)},
				ProvisioningState: provisioningSucceeded,
			},
			ip:      ip,
			pipName: name,
		}
		b.outbound = append(b.outbound, g)
		rule.FrontendIPConfigurations = append(rule.FrontendIPConfigurations, SubResource{ID: g.fe.ID})
	}
	b.outRule = rule
}

// pool is a backend pool holding every backend's NIC IP configuration.
func (b *lbBuilder) pool(name string) BackendAddressPool {
	vmss := NewScaleSet(b.in.Cluster).Name
	p := BackendAddressPool{
		Name: name, ID: b.id("backendAddressPools", name),
		BackendIPConfigurations: []SubResource{},
		ProvisioningState:       provisioningSucceeded,
	}
	for _, be := range b.in.Backends {
		p.BackendIPConfigurations = append(p.BackendIPConfigurations, SubResource{ID: b.ids.vmssIPConfig(vmss, be.InstanceID)})
	}
	return p
}

// loadBalancer is the load balancer, if it has a frontend (Azure has none without), with the
// back-references filled and everything sorted by name.
func (b *lbBuilder) loadBalancer() (LoadBalancer, bool) {
	if len(b.frontends)+len(b.outbound) == 0 {
		return LoadBalancer{}, false
	}
	c := b.in.Cluster
	lb := LoadBalancer{
		Name: b.name, ID: b.ids.loadBalancer(b.name), Type: "Microsoft.Network/loadBalancers",
		Location: c.Location, ResourceGroup: c.NodeResourceGroup(),
		SKU:                 SKU{Name: "Standard", Tier: "Regional"},
		ProvisioningState:   provisioningSucceeded,
		BackendAddressPools: []BackendAddressPool{b.pool(backendPoolName)},
		LoadBalancingRules:  slices.SortedFunc(slices.Values(b.rules), func(x, y LoadBalancingRule) int { return strings.Compare(x.Name, y.Name) }),
		Probes:              []Probe{},
		OutboundRules:       []OutboundRule{},
	}
	if b.outRule != nil {
		lb.BackendAddressPools = append(lb.BackendAddressPools, b.pool(outboundPoolName))
	}
	if lb.LoadBalancingRules == nil {
		lb.LoadBalancingRules = []LoadBalancingRule{}
	}
	if b.outRule != nil {
		lb.OutboundRules = append(lb.OutboundRules, *b.outRule)
	}
	for _, g := range append(slices.Clone(b.frontends), b.outbound...) {
		lb.FrontendIPConfigurations = append(lb.FrontendIPConfigurations, g.fe)
	}
	for _, name := range slices.Sorted(maps.Keys(b.probes)) {
		lb.Probes = append(lb.Probes, *b.probes[name])
	}
	slices.SortFunc(lb.FrontendIPConfigurations, func(x, y FrontendIPConfiguration) int { return strings.Compare(x.Name, y.Name) })
	slices.SortFunc(lb.BackendAddressPools, func(x, y BackendAddressPool) int { return strings.Compare(x.Name, y.Name) })

	// Back-references.
	frontends := map[string]*FrontendIPConfiguration{}
	for i := range lb.FrontendIPConfigurations {
		frontends[lb.FrontendIPConfigurations[i].ID] = &lb.FrontendIPConfigurations[i]
	}
	pools := map[string]*BackendAddressPool{}
	for i := range lb.BackendAddressPools {
		pools[lb.BackendAddressPools[i].ID] = &lb.BackendAddressPools[i]
	}
	probes := map[string]*Probe{}
	for i := range lb.Probes {
		probes[lb.Probes[i].ID] = &lb.Probes[i]
	}
	for _, r := range lb.LoadBalancingRules {
		ref := SubResource{ID: r.ID}
		if fe := frontends[r.FrontendIPConfiguration.ID]; fe != nil {
			fe.LoadBalancingRules = append(fe.LoadBalancingRules, ref)
		}
		if p := pools[r.BackendAddressPool.ID]; p != nil {
			p.LoadBalancingRules = append(p.LoadBalancingRules, ref)
		}
		if r.Probe != nil {
			if p := probes[r.Probe.ID]; p != nil {
				p.LoadBalancingRules = append(p.LoadBalancingRules, ref)
			}
		}
	}
	for _, o := range lb.OutboundRules {
		ref := SubResource{ID: o.ID}
		for _, f := range o.FrontendIPConfigurations {
			if fe := frontends[f.ID]; fe != nil {
				fe.OutboundRules = append(fe.OutboundRules, ref)
			}
		}
		if p := pools[o.BackendAddressPool.ID]; p != nil {
			p.OutboundRules = append(p.OutboundRules, ref)
		}
	}
	return lb, true
}

// publicIPs are the public IPs of the public frontends, tagged as CPA tags those it creates,
// and the managed outbound IPs, sorted by name.
func (b *lbBuilder) publicIPs() []PublicIPAddress {
	c := b.in.Cluster
	out := []PublicIPAddress{}
	seen := map[string]bool{}
	add := func(g *frontendGroup, tags map[string]string, dns *DNSSettings) {
		if seen[g.pipName] {
			return
		}
		seen[g.pipName] = true
		pip := PublicIPAddress{
			Name: g.pipName, ID: b.ids.publicIP(g.pipName), Type: "Microsoft.Network/publicIPAddresses",
			Location: c.Location, ResourceGroup: c.NodeResourceGroup(),
			SKU:                      SKU{Name: "Standard", Tier: "Regional"},
			Tags:                     tags,
			PublicIPAllocationMethod: "Static",
			PublicIPAddressVersion:   "IPv4",
			IdleTimeoutInMinutes:     4,
			DNSSettings:              dns,
			IPConfiguration:          &SubResource{ID: g.fe.ID},
			ProvisioningState:        provisioningSucceeded,
		}
		if g.ip.IsValid() {
			pip.IPAddress = g.ip.String()
		}
		out = append(out, pip)
	}
	for _, g := range b.frontends {
		if g.pipName == "" {
			continue
		}
		// A public IP named by azure-pip-name is the user's: CPA leaves its tags alone.
		managed := g.services[0].Config.PIPName == ""
		var (
			tags        map[string]string
			names       []string
			dns         *DNSSettings
			dnsOwner    string
			annotations = map[string]string{}
		)
		for _, s := range g.services {
			name := s.Service.Namespace + "/" + s.Service.Name
			names = append(names, name)
			maps.Copy(annotations, s.Config.PIPTags)
			if dns == nil && s.Config.DNSLabel != "" {
				dns = &DNSSettings{DomainNameLabel: s.Config.DNSLabel, FQDN: s.Config.DNSLabel + "." + c.Location + ".cloudapp.azure.com"}
				dnsOwner = name
			}
		}
		if managed {
			// azure-pip-tags, then the tags CPA keeps itself: the cluster, the Services using
			// the public IP and the one owning its DNS label.
			tags = annotations
			tags["k8s-azure-cluster-name"] = cpaClusterName
			tags["k8s-azure-service"] = strings.Join(names, ",")
			if dnsOwner != "" {
				tags["k8s-azure-dns-label-service"] = dnsOwner
			}
		}
		add(g, tags, dns)
	}
	for _, g := range b.outbound {
		add(g, map[string]string{"aks-managed-type": "aks-slb-managed-outbound-ip"}, nil)
	}
	slices.SortFunc(out, func(x, y PublicIPAddress) int { return strings.Compare(x.Name, y.Name) })
	return out
}

// buildSecurityGroup is the NSG with the rules CPA's access control makes for the Services,
// in input order: allow rules named after their protocol, sources and ports (Services with the
// same ones share a rule and add their destination), priorities from 500 up, and one deny-all
// rule from 4095 down.
func buildSecurityGroup(in Input, ids armIDs) SecurityGroup {
	c := in.Cluster
	name := securityGroupName(c)
	nb := &nsgBuilder{prefix: ids.securityGroup(name) + "/securityRules/", rules: map[string]*SecurityRule{}, used: map[int32]bool{}}
	var backendIPs []string
	for _, be := range in.Backends {
		if be.IP.Is4() {
			backendIPs = append(backendIPs, be.IP.String())
		}
	}
	for i := range in.Services {
		s := &in.Services[i]
		cfg := s.Config
		if cfg == nil || cfg.DisableNSGRule {
			continue
		}
		// The destination is the frontend IP, or with floating IP off the nodes (and the ports
		// their NodePorts).
		var dst []string
		if !cfg.FloatingIP {
			dst = backendIPs
		} else if s.FrontendIP.Is4() {
			dst = []string{s.FrontendIP.String()}
		}
		if len(dst) == 0 {
			continue
		}
		ports := map[string][]int32{}
		for _, sp := range s.Service.Spec.Ports {
			p := sp.Port
			if !cfg.FloatingIP {
				p = sp.NodePort
			}
			proto := armSecurityProtocol(sp.Protocol)
			ports[proto] = append(ports[proto], p)
		}
		tags := slices.Clone(cfg.ServiceTags)
		if allowFromInternet(cfg) {
			tags = append(tags, "Internet")
		}
		var v4 []netip.Prefix
		for _, r := range cfg.SourceRanges {
			if r.Addr().Is4() {
				v4 = append(v4, r)
			}
		}
		var ranges []string
		for _, r := range aggregatePrefixes(v4) {
			ranges = append(ranges, r.String())
		}
		for _, proto := range []string{"Tcp", "Udp", "*"} {
			ps, ok := ports[proto]
			if !ok {
				continue
			}
			for _, tag := range tags {
				nb.allow(proto, []string{tag}, dst, ps)
			}
			if len(ranges) > 0 {
				nb.allow(proto, ranges, dst, ps)
			}
		}
		if cfg.DenyAllExceptSourceRanges && len(cfg.SourceRanges) > 0 {
			nb.denyAll(dst)
		}
	}
	sg := SecurityGroup{Name: name, ID: ids.securityGroup(name), Location: c.Location, ResourceGroup: c.NodeResourceGroup(), SecurityRules: []SecurityRule{}}
	for _, r := range nb.rules {
		sg.SecurityRules = append(sg.SecurityRules, *r)
	}
	slices.SortFunc(sg.SecurityRules, func(x, y SecurityRule) int { return cmp.Compare(x.Priority, y.Priority) })
	return sg
}

// armSecurityProtocol is an NSG rule's protocol for a Service port's (SCTP goes as *).
func armSecurityProtocol(p v1.Protocol) string {
	switch p {
	case v1.ProtocolTCP:
		return "Tcp"
	case v1.ProtocolUDP:
		return "Udp"
	}
	return "*"
}

// allowFromInternet is CPA's AccessControl.IsAllowFromInternet: a public Service without service
// tags or restricting source ranges is open to the Internet tag; an internal one only with a
// source range that allows everything.
func allowFromInternet(cfg *ServiceConfig) bool {
	if len(cfg.ServiceTags) > 0 {
		return false
	}
	allowAll := slices.ContainsFunc(cfg.SourceRanges, func(r netip.Prefix) bool { return r.Bits() == 0 })
	if len(cfg.SourceRanges) > 0 && !allowAll {
		return false
	}
	if !cfg.Internal {
		return true
	}
	return len(cfg.SourceRanges) > 0
}

// aggregatePrefixes merges overlapping and neighbouring prefixes, as CPA's prefix tree does.
func aggregatePrefixes(in []netip.Prefix) []netip.Prefix {
	ps := make([]netip.Prefix, 0, len(in))
	for _, p := range in {
		ps = append(ps, p.Masked())
	}
	for {
		slices.SortFunc(ps, func(x, y netip.Prefix) int {
			return cmp.Or(x.Addr().Compare(y.Addr()), cmp.Compare(x.Bits(), y.Bits()))
		})
		// Sorted so, a prefix overlapping the last one kept is inside it.
		var out []netip.Prefix
		for _, p := range ps {
			if len(out) > 0 && out[len(out)-1].Overlaps(p) {
				continue
			}
			out = append(out, p)
		}
		merged := false
		for i := 0; i+1 < len(out); i++ {
			x, y := out[i], out[i+1]
			if x.Bits() == y.Bits() && x.Bits() > 0 {
				px, _ := x.Addr().Prefix(x.Bits() - 1)
				py, _ := y.Addr().Prefix(y.Bits() - 1)
				if px == py {
					out[i], out[i+1] = px, px
					merged = true
				}
			}
		}
		ps = out
		if !merged {
			return ps
		}
	}
}

// nsgBuilder is CPA's securitygroup.RuleHelper on an NSG without Service rules.
type nsgBuilder struct {
	prefix string
	rules  map[string]*SecurityRule
	used   map[int32]bool
}

const (
	nsgMinPriority = 500
	nsgMaxPriority = 4096
)

// rule is the rule of that name, created with the first free priority from 500 up (or from
// 4095 down).
func (b *nsgBuilder) rule(name string, fromEnd bool) *SecurityRule {
	if r, ok := b.rules[name]; ok {
		return r
	}
	p, end, step := int32(nsgMinPriority), int32(nsgMaxPriority), int32(1)
	if fromEnd {
		p, end, step = nsgMaxPriority-1, nsgMinPriority-1, -1
	}
	for ; p != end && b.used[p]; p += step {
	}
	b.used[p] = true
	r := &SecurityRule{Name: name, ID: b.prefix + name, Priority: p, Direction: "Inbound", SourcePortRange: "*", ProvisioningState: provisioningSucceeded}
	b.rules[name] = r
	return r
}

// allow adds dsts to the allow rule for the protocol, sources and ports, named
// k8s-azure-lb_allow_IPv4_<md5 of "<protocol>_<sources>_<ports>">.
func (b *nsgBuilder) allow(protocol string, srcs, dsts []string, ports []int32) {
	srcs = slices.Sorted(slices.Values(srcs))
	var portRanges []string
	for _, p := range ports {
		portRanges = append(portRanges, strconv.Itoa(int(p)))
	}
	slices.Sort(portRanges)
	sum := md5.Sum([]byte(protocol + "_" + strings.Join(srcs, ",") + "_" + strings.Join(portRanges, ","))) //nolint:gosec
	r := b.rule("k8s-azure-lb_allow_IPv4_"+hex.EncodeToString(sum[:]), false)
	r.Protocol, r.Access = protocol, "Allow"
	if len(srcs) == 1 {
		r.SourceAddressPrefix = srcs[0]
	} else {
		r.SourceAddressPrefixes = srcs
	}
	setDestinations(r, dsts)
	r.DestinationPortRanges = portRanges
}

// denyAll adds dsts to k8s-azure-lb_deny-all_IPv4, which denies everything else to them.
func (b *nsgBuilder) denyAll(dsts []string) {
	r := b.rule("k8s-azure-lb_deny-all_IPv4", true)
	r.Protocol, r.Access = "*", "Deny"
	r.SourceAddressPrefix = "*"
	setDestinations(r, dsts)
	r.DestinationPortRange = "*"
}

// setDestinations adds dsts to the rule's destinations, sorted without duplicates: one goes in
// destinationAddressPrefix, more in destinationAddressPrefixes.
func setDestinations(r *SecurityRule, dsts []string) {
	all := append(append([]string{r.DestinationAddressPrefix}, r.DestinationAddressPrefixes...), dsts...)
	all = slices.DeleteFunc(all, func(s string) bool { return s == "" })
	slices.Sort(all)
	all = slices.Compact(all)
	r.DestinationAddressPrefix, r.DestinationAddressPrefixes = "", nil
	if len(all) == 1 {
		r.DestinationAddressPrefix = all[0]
	} else {
		r.DestinationAddressPrefixes = all
	}
}
