package app

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/minaks/minaks/pkg/apiserver/config"
	"github.com/minaks/minaks/pkg/azlb"
	"github.com/minaks/minaks/pkg/cluster"
)

func newLBCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "lb",
		Short: "Show the emulated Azure load balancers of a cluster",
		Long: `Show what Azure would hold for the cluster's Services of type LoadBalancer and its outbound
connectivity: the load balancers kubernetes and kubernetes-internal, their public IPs and the
node pool's network security group, with the live state of every health probe. The daemon
keeps them in <state-dir>/<name>/` + azlb.StatusFile + `.`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(newLBListCommand(), newLBShowCommand())
	return cmd
}

func newLBListCommand() *cobra.Command {
	o := config.NewOptions()
	output := "table"
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the Services of type LoadBalancer with their frontends, ports and probe state",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != "table" && output != "json" {
				return fmt.Errorf("--output=%s: must be table or json", output)
			}
			s, err := loadLBStatus(o, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			rows := lbList(s)
			if output == "json" {
				return writeJSON(cmd.OutOrStdout(), rows)
			}
			return printLBList(cmd.OutOrStdout(), rows)
		},
	}
	o.AddNameFlags(cmd.Flags())
	cmd.Flags().StringVarP(&output, "output", "o", output, "output format: table or json")
	return cmd
}

func newLBShowCommand() *cobra.Command {
	o := config.NewOptions()
	output := "json"
	var all bool
	cmd := &cobra.Command{
		Use:   "show [NAMESPACE/SERVICE | --all]",
		Short: "Show the load balancer objects of one Service, or all of them",
		Long: `Show the load balancer objects of a Service as 'az network lb show', 'az network public-ip
show' and 'az network nsg show' would print them: its frontend IP configuration, the rules and
probes named after it, the backend pools they use, its public IP and the NSG rules for its
frontend IP. A top-level "health" array adds what Azure only shows as metrics: the state of each
probe on each backend. Without a Service (or with --all), everything the cluster has.`,
		Example: `  minaks lb show default/web
  minaks lb show web -o table
  minaks lb show --all`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if output != "table" && output != "json" {
				return fmt.Errorf("--output=%s: must be json or table", output)
			}
			if all && len(args) > 0 {
				return errors.New("--all and a Service cannot be combined")
			}
			s, err := loadLBStatus(o, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			v := wholeView(s)
			if len(args) > 0 {
				svc, err := findLBService(s, args[0])
				if err != nil {
					return fmt.Errorf("%w in cluster %q", err, o.Name)
				}
				v = serviceView(s, svc)
			}
			if output == "json" {
				return writeJSON(cmd.OutOrStdout(), v)
			}
			return printLBView(cmd.OutOrStdout(), v, time.Now())
		},
	}
	o.AddNameFlags(cmd.Flags())
	cmd.Flags().StringVarP(&output, "output", "o", output, "output format: json or table")
	cmd.Flags().BoolVar(&all, "all", false, "show every load balancer object (the default without a Service)")
	return cmd
}

// loadLBStatus reads the load balancer state the cluster's daemon last wrote. A cluster that
// has not written it yet has no Service of type LoadBalancer and no outbound IP: its status is
// empty. A cluster that is not running is shown as it was, with a warning on warn.
func loadLBStatus(o *config.Options, warn io.Writer) (*azlb.Status, error) {
	c, err := loadCluster(o)
	if err != nil {
		return nil, err
	}
	if d, err := cluster.FindDaemons(c.Name); err == nil && len(d) == 0 {
		fmt.Fprintf(warn, "Cluster %q is not running: its load balancers are shown as it last saw them.\n", c.Name)
	}
	return readLBStatus(c.Path(azlb.StatusFile))
}

// readLBStatus reads a Status file; a missing one is an empty Status.
func readLBStatus(file string) (*azlb.Status, error) {
	b, err := os.ReadFile(file)
	if errors.Is(err, os.ErrNotExist) {
		return &azlb.Status{}, nil
	}
	if err != nil {
		return nil, err
	}
	s := &azlb.Status{}
	if err := json.Unmarshal(b, s); err != nil {
		return nil, fmt.Errorf("read %s: %w", file, err)
	}
	return s, nil
}

func writeJSON(out io.Writer, v any) error {
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// findLBService finds the Service named by NAMESPACE/NAME, or NAME in namespace default.
func findLBService(s *azlb.Status, key string) (*azlb.ServiceStatus, error) {
	ns, name, ok := strings.Cut(key, "/")
	if !ok {
		ns, name = "default", key
	}
	for i := range s.Services {
		if svc := &s.Services[i]; svc.Namespace == ns && svc.Name == name {
			return svc, nil
		}
	}
	return nil, fmt.Errorf("service %q has no load balancer", ns+"/"+name)
}

// lbView is what `minaks lb show` prints: the model, all of it or one Service's part, shaped as
// az prints the objects, plus the live health of its probes.
type lbView struct {
	azlb.Model
	Health []azlb.BackendHealth `json:"health"`
	// service is the Service the view is cut to; nil for the whole model.
	service *azlb.ServiceStatus
}

// wholeView is the whole model, its lists never null.
func wholeView(s *azlb.Status) *lbView {
	v := &lbView{Model: s.Model, Health: s.Health}
	if v.LoadBalancers == nil {
		v.LoadBalancers = []azlb.LoadBalancer{}
	}
	if v.PublicIPAddresses == nil {
		v.PublicIPAddresses = []azlb.PublicIPAddress{}
	}
	if v.SecurityGroup.SecurityRules == nil {
		v.SecurityGroup.SecurityRules = []azlb.SecurityRule{}
	}
	if v.Health == nil {
		v.Health = []azlb.BackendHealth{}
	}
	return v
}

// serviceView cuts the model down to one Service's objects: its load balancer with only its
// frontend, the rules named after it (its Base) on that frontend, the probes named after it
// that those rules use, the backend pools they send to, the outbound rules of the frontend
// (none, unless it is shared with outbound), its public IP, the NSG rules whose destination
// includes its frontend IP, and the health of its probes.
func serviceView(s *azlb.Status, svc *azlb.ServiceStatus) *lbView {
	v := &lbView{
		Model: azlb.Model{
			LoadBalancers:     []azlb.LoadBalancer{},
			PublicIPAddresses: []azlb.PublicIPAddress{},
			SecurityGroup:     s.Model.SecurityGroup,
		},
		Health:  []azlb.BackendHealth{},
		service: svc,
	}
	v.SecurityGroup.SecurityRules = []azlb.SecurityRule{}
	if ip, err := netip.ParseAddr(svc.FrontendIP); err == nil {
		for _, r := range s.Model.SecurityGroup.SecurityRules {
			if destinationIncludes(r, ip) {
				v.SecurityGroup.SecurityRules = append(v.SecurityGroup.SecurityRules, r)
			}
		}
	}

	var fe *azlb.FrontendIPConfiguration
	var lb *azlb.LoadBalancer
	for i := range s.Model.LoadBalancers {
		if l := &s.Model.LoadBalancers[i]; l.Name == svc.LoadBalancer {
			for j := range l.FrontendIPConfigurations {
				if f := &l.FrontendIPConfigurations[j]; f.Name == svc.Frontend {
					lb, fe = l, f
				}
			}
		}
	}
	if fe != nil {
		out := *lb
		out.FrontendIPConfigurations = []azlb.FrontendIPConfiguration{*fe}
		out.LoadBalancingRules = []azlb.LoadBalancingRule{}
		out.Probes = []azlb.Probe{}
		out.BackendAddressPools = []azlb.BackendAddressPool{}
		out.OutboundRules = []azlb.OutboundRule{}
		rules, probes, pools := map[string]bool{}, map[string]bool{}, map[string]bool{}
		for _, r := range lb.LoadBalancingRules {
			if strings.HasPrefix(r.Name, svc.Base) && sameID(r.FrontendIPConfiguration.ID, fe.ID) {
				out.LoadBalancingRules = append(out.LoadBalancingRules, r)
				rules[strings.ToLower(r.ID)] = true
				pools[strings.ToLower(r.BackendAddressPool.ID)] = true
				if r.Probe != nil {
					probes[strings.ToLower(r.Probe.ID)] = true
				}
			}
		}
		for _, r := range lb.OutboundRules {
			if slices.ContainsFunc(r.FrontendIPConfigurations, func(f azlb.SubResource) bool { return sameID(f.ID, fe.ID) }) {
				out.OutboundRules = append(out.OutboundRules, r)
				pools[strings.ToLower(r.BackendAddressPool.ID)] = true
			}
		}
		probeNames := map[string]bool{}
		for _, p := range lb.Probes {
			used := probes[strings.ToLower(p.ID)] || slices.ContainsFunc(p.LoadBalancingRules, func(r azlb.SubResource) bool { return rules[strings.ToLower(r.ID)] })
			if strings.HasPrefix(p.Name, svc.Base) && used {
				out.Probes = append(out.Probes, p)
				probeNames[p.Name] = true
			}
		}
		for _, p := range lb.BackendAddressPools {
			if pools[strings.ToLower(p.ID)] {
				out.BackendAddressPools = append(out.BackendAddressPools, p)
			}
		}
		v.LoadBalancers = append(v.LoadBalancers, out)
		for _, h := range s.Health {
			if h.LoadBalancer == lb.Name && probeNames[h.Probe] {
				v.Health = append(v.Health, h)
			}
		}
	}

	for _, p := range s.Model.PublicIPAddresses {
		if (svc.PublicIP != "" && p.Name == svc.PublicIP) || (fe != nil && fe.PublicIPAddress != nil && sameID(p.ID, fe.PublicIPAddress.ID)) {
			v.PublicIPAddresses = append(v.PublicIPAddresses, p)
		}
	}
	return v
}

// sameID compares ARM IDs, which are case-insensitive.
func sameID(a, b string) bool { return a != "" && strings.EqualFold(a, b) }

// destinationIncludes tells whether an NSG rule's destination, an address or a prefix, covers
// ip. Service tags and "*" do not count: they are not the rules made for a Service.
func destinationIncludes(r azlb.SecurityRule, ip netip.Addr) bool {
	for _, d := range append([]string{r.DestinationAddressPrefix}, r.DestinationAddressPrefixes...) {
		if a, err := netip.ParseAddr(d); err == nil && a == ip {
			return true
		}
		if p, err := netip.ParsePrefix(d); err == nil && p.Contains(ip) {
			return true
		}
	}
	return false
}

// lbListRow is one line of `minaks lb list`: a Service of type LoadBalancer, or an outbound
// rule.
type lbListRow struct {
	Namespace string `json:"namespace,omitempty"`
	// Name is the Service's, or the outbound rule's (aksOutboundRule).
	Name string `json:"name"`
	// Outbound marks an outbound rule.
	Outbound     bool     `json:"outbound,omitempty"`
	LoadBalancer string   `json:"loadBalancer"`
	FrontendIPs  []string `json:"frontendIPs"`
	// Ports are the frontend ports of the Service's rules, as 80/TCP; "all" for HA ports.
	Ports []string `json:"ports,omitempty"`
	// AllocatedOutboundPorts is an outbound rule's SNAT ports per node; 0 is automatic.
	AllocatedOutboundPorts int32 `json:"allocatedOutboundPorts,omitempty"`
	// Probes is the number of the Service's health probes; BackendsUp of Backends pass all of
	// them.
	Probes     int      `json:"probes"`
	BackendsUp int      `json:"backendsUp"`
	Backends   int      `json:"backends"`
	PublicIPs  []string `json:"publicIPAddresses"`
	Error      string   `json:"error,omitempty"`
}

// lbList is the rows of `minaks lb list`: the Services by namespace and name, then the
// outbound rules.
func lbList(s *azlb.Status) []lbListRow {
	rows := []lbListRow{}
	svcs := slices.Clone(s.Services)
	slices.SortStableFunc(svcs, func(a, b azlb.ServiceStatus) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
	})
	for i := range svcs {
		svc := &svcs[i]
		v := serviceView(s, svc)
		row := lbListRow{
			Namespace:    svc.Namespace,
			Name:         svc.Name,
			LoadBalancer: svc.LoadBalancer,
			FrontendIPs:  []string{},
			PublicIPs:    []string{},
			Error:        svc.Error,
		}
		if svc.FrontendIP != "" {
			row.FrontendIPs = append(row.FrontendIPs, svc.FrontendIP)
		}
		if svc.PublicIP != "" {
			row.PublicIPs = append(row.PublicIPs, svc.PublicIP)
		}
		for _, lb := range v.LoadBalancers {
			for _, r := range lb.LoadBalancingRules {
				p := "all"
				if r.FrontendPort != 0 || !strings.EqualFold(r.Protocol, "All") {
					p = fmt.Sprintf("%d/%s", r.FrontendPort, strings.ToUpper(r.Protocol))
				}
				if !slices.Contains(row.Ports, p) {
					row.Ports = append(row.Ports, p)
				}
			}
			var probes []string
			for _, p := range lb.Probes {
				probes = append(probes, p.Name)
			}
			row.Probes = len(probes)
			row.BackendsUp, row.Backends = backendsUp(v.Health, probes)
		}
		rows = append(rows, row)
	}
	for _, lb := range s.Model.LoadBalancers {
		for _, r := range lb.OutboundRules {
			row := lbListRow{
				Name:                   r.Name,
				Outbound:               true,
				LoadBalancer:           lb.Name,
				FrontendIPs:            []string{},
				PublicIPs:              []string{},
				AllocatedOutboundPorts: r.AllocatedOutboundPorts,
			}
			for _, f := range r.FrontendIPConfigurations {
				ip, pip := frontendAddress(s.Model, &lb, f.ID)
				if ip != "" {
					row.FrontendIPs = append(row.FrontendIPs, ip)
				}
				if pip != "" {
					row.PublicIPs = append(row.PublicIPs, pip)
				}
			}
			rows = append(rows, row)
		}
	}
	return rows
}

// backendsUp counts the backends in health, and those of them for which every one of probes
// says Up.
func backendsUp(health []azlb.BackendHealth, probes []string) (up, total int) {
	if len(probes) == 0 {
		return 0, 0
	}
	upProbes := map[string]map[string]bool{} // backend → probe → Up
	var backends []string
	for _, h := range health {
		if upProbes[h.Backend] == nil {
			upProbes[h.Backend] = map[string]bool{}
			backends = append(backends, h.Backend)
		}
		if h.State == "Up" {
			upProbes[h.Backend][h.Probe] = true
		}
	}
	for _, b := range backends {
		if !slices.ContainsFunc(probes, func(p string) bool { return !upProbes[b][p] }) {
			up++
		}
	}
	return up, len(backends)
}

// frontendAddress is the IP address of lb's frontend id and the name of its public IP, if it
// has one.
func frontendAddress(m azlb.Model, lb *azlb.LoadBalancer, id string) (ip, publicIP string) {
	for _, f := range lb.FrontendIPConfigurations {
		if !sameID(f.ID, id) {
			continue
		}
		if f.PublicIPAddress == nil {
			return f.PrivateIPAddress, ""
		}
		for _, p := range m.PublicIPAddresses {
			if sameID(p.ID, f.PublicIPAddress.ID) {
				return p.IPAddress, p.Name
			}
		}
		return "", path.Base(f.PublicIPAddress.ID)
	}
	return "", ""
}

func printLBList(out io.Writer, rows []lbListRow) error {
	if len(rows) == 0 {
		_, err := fmt.Fprintln(out, "no load balancers")
		return err
	}
	withErrors := slices.ContainsFunc(rows, func(r lbListRow) bool { return r.Error != "" })
	w := tabwriter.NewWriter(out, 0, 0, 3, ' ', 0)
	header := "NAMESPACE/NAME\tLOAD BALANCER\tFRONTEND IP\tPORTS\tPROBES\tPUBLIC IP"
	if withErrors {
		header += "\tERROR"
	}
	fmt.Fprintln(w, header)
	for _, r := range rows {
		name, ports, probes := r.Namespace+"/"+r.Name, strings.Join(r.Ports, ","), "-"
		switch {
		case r.Outbound:
			name, ports = "(outbound) "+r.Name, "SNAT auto"
			if r.AllocatedOutboundPorts != 0 {
				ports = fmt.Sprintf("SNAT %d/node", r.AllocatedOutboundPorts)
			}
		case r.Probes > 0 && r.Backends == 0:
			probes = "not probed yet"
		case r.Probes > 0:
			probes = fmt.Sprintf("%d/%d up", r.BackendsUp, r.Backends)
		}
		line := strings.Join([]string{name, orDash(r.LoadBalancer), orDash(strings.Join(r.FrontendIPs, ",")), orDash(ports), probes, orDash(strings.Join(r.PublicIPs, ","))}, "\t")
		if withErrors {
			line += "\t" + orDash(r.Error)
		}
		fmt.Fprintln(w, line)
	}
	return w.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// printLBView prints a view as sections: the Service, each load balancer with its frontends,
// rules, probes, backend pools and probe health, the public IPs and the NSG rules.
func printLBView(out io.Writer, v *lbView, now time.Time) error {
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	if svc := v.service; svc != nil {
		uid := ""
		if svc.UID != "" {
			uid = " (uid " + svc.UID + ")"
		}
		fmt.Fprintf(w, "Service %s/%s%s\n", svc.Namespace, svc.Name, uid)
		fmt.Fprintf(w, "  load balancer %s, frontend %s, IP %s, public IP %s\n", orDash(svc.LoadBalancer), orDash(svc.Frontend), orDash(svc.FrontendIP), orDash(svc.PublicIP))
		if svc.Error != "" {
			fmt.Fprintf(w, "  error: %s\n", svc.Error)
		}
	} else if len(v.LoadBalancers) == 0 && len(v.PublicIPAddresses) == 0 && len(v.SecurityGroup.SecurityRules) == 0 {
		fmt.Fprintln(w, "no load balancers")
		return w.Flush()
	}
	for i := range v.LoadBalancers {
		printLB(w, v, &v.LoadBalancers[i], now)
	}
	if len(v.PublicIPAddresses) > 0 {
		fmt.Fprintln(w, "Public IPs:")
		fmt.Fprintln(w, "  NAME\tIP\tFQDN\tFRONTEND")
		for _, p := range v.PublicIPAddresses {
			fqdn, fe := "-", "-"
			if p.DNSSettings != nil && p.DNSSettings.FQDN != "" {
				fqdn = p.DNSSettings.FQDN
			}
			if p.IPConfiguration != nil {
				fe = path.Base(p.IPConfiguration.ID)
			}
			fmt.Fprintf(w, "  %s\t%s\t%s\t%s\n", p.Name, orDash(p.IPAddress), fqdn, fe)
		}
	}
	if rules := v.SecurityGroup.SecurityRules; len(rules) > 0 {
		fmt.Fprintf(w, "Network security group %s:\n", v.SecurityGroup.Name)
		fmt.Fprintln(w, "  PRIORITY\tNAME\tACCESS\tPROTOCOL\tSOURCE\tDESTINATION\tPORTS")
		rules = slices.Clone(rules)
		slices.SortStableFunc(rules, func(a, b azlb.SecurityRule) int { return cmp.Compare(a.Priority, b.Priority) })
		for _, r := range rules {
			fmt.Fprintf(w, "  %d\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Priority, r.Name, r.Access, r.Protocol,
				prefixes(r.SourceAddressPrefix, r.SourceAddressPrefixes),
				prefixes(r.DestinationAddressPrefix, r.DestinationAddressPrefixes),
				prefixes(r.DestinationPortRange, r.DestinationPortRanges))
		}
	}
	return w.Flush()
}

func printLB(w io.Writer, v *lbView, lb *azlb.LoadBalancer, now time.Time) {
	about := slices.DeleteFunc([]string{lb.SKU.Name, lb.ResourceGroup, lb.ProvisioningState}, func(s string) bool { return s == "" })
	fmt.Fprintf(w, "Load balancer %s (%s)\n", lb.Name, strings.Join(about, ", "))
	if len(lb.FrontendIPConfigurations) > 0 {
		fmt.Fprintln(w, "  Frontends:")
		fmt.Fprintln(w, "    NAME\tIP\tPUBLIC IP\tRULES")
		for _, f := range lb.FrontendIPConfigurations {
			ip, pip := frontendAddress(v.Model, lb, f.ID)
			rules := 0
			for _, r := range lb.LoadBalancingRules {
				if sameID(r.FrontendIPConfiguration.ID, f.ID) {
					rules++
				}
			}
			for _, r := range lb.OutboundRules {
				if slices.ContainsFunc(r.FrontendIPConfigurations, func(s azlb.SubResource) bool { return sameID(s.ID, f.ID) }) {
					rules++
				}
			}
			fmt.Fprintf(w, "    %s\t%s\t%s\t%d\n", f.Name, orDash(ip), orDash(pip), rules)
		}
	}
	if len(lb.LoadBalancingRules) > 0 {
		fmt.Fprintln(w, "  Rules:")
		fmt.Fprintln(w, "    NAME\tPROTOCOL\tPORTS\tFLOATING IP\tDISTRIBUTION\tIDLE\tPROBE")
		for _, r := range lb.LoadBalancingRules {
			probe := "-"
			if r.Probe != nil {
				probe = path.Base(r.Probe.ID)
			}
			fmt.Fprintf(w, "    %s\t%s\t%d → %s:%d\t%s\t%s\t%dm\t%s\n", r.Name, r.Protocol, r.FrontendPort,
				path.Base(r.BackendAddressPool.ID), r.BackendPort, onOff(r.EnableFloatingIP), r.LoadDistribution, r.IdleTimeoutInMinutes, probe)
		}
	}
	if len(lb.Probes) > 0 {
		fmt.Fprintln(w, "  Probes:")
		fmt.Fprintln(w, "    NAME\tPROTOCOL\tPORT\tPATH\tINTERVAL")
		for _, p := range lb.Probes {
			fmt.Fprintf(w, "    %s\t%s\t%d\t%s\t%ds × %d\n", p.Name, p.Protocol, p.Port, orDash(p.RequestPath), p.IntervalInSeconds, p.NumberOfProbes)
		}
	}
	if len(lb.OutboundRules) > 0 {
		fmt.Fprintln(w, "  Outbound rules:")
		fmt.Fprintln(w, "    NAME\tFRONTEND IPS\tPOOL\tSNAT PORTS\tIDLE")
		for _, r := range lb.OutboundRules {
			var ips []string
			for _, f := range r.FrontendIPConfigurations {
				if ip, _ := frontendAddress(v.Model, lb, f.ID); ip != "" {
					ips = append(ips, ip)
				}
			}
			ports := "auto"
			if r.AllocatedOutboundPorts != 0 {
				ports = fmt.Sprintf("%d/node", r.AllocatedOutboundPorts)
			}
			fmt.Fprintf(w, "    %s\t%s\t%s\t%s\t%dm\n", r.Name, orDash(strings.Join(ips, ",")), path.Base(r.BackendAddressPool.ID), ports, r.IdleTimeoutInMinutes)
		}
	}
	if len(lb.BackendAddressPools) > 0 {
		fmt.Fprintln(w, "  Backend pools:")
		for _, p := range lb.BackendAddressPools {
			fmt.Fprintf(w, "    %s\t%d members\n", p.Name, len(p.BackendIPConfigurations))
		}
	}
	var health []azlb.BackendHealth
	for _, h := range v.Health {
		if h.LoadBalancer == lb.Name {
			health = append(health, h)
		}
	}
	if len(health) > 0 {
		fmt.Fprintln(w, "  Backends:")
		fmt.Fprintln(w, "    BACKEND\tIP\tPROBE\tSTATE\tSINCE\tDETAIL")
		for _, h := range health {
			fmt.Fprintf(w, "    %s\t%s\t%s\t%s\t%s\t%s\n", h.Backend, h.IPAddress, h.Probe, h.State, age(h.Since, now), orDash(h.Detail))
		}
	}
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// prefixes prints an NSG field that is either one value or a list.
func prefixes(one string, many []string) string {
	if len(many) > 0 {
		return strings.Join(many, ",")
	}
	return orDash(one)
}

// age prints an RFC 3339 time as the time since then ("3m20s ago").
func age(since string, now time.Time) string {
	t, err := time.Parse(time.RFC3339, since)
	if err != nil {
		return orDash(since)
	}
	return now.Sub(t).Round(time.Second).String() + " ago"
}
