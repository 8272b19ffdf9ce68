package app

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/minaks/minaks/pkg/apiserver/config"
	"github.com/minaks/minaks/pkg/azlb"
)

const (
	armNet = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/MC_minaks_lbtest_eastus/providers/Microsoft.Network"
	// webBase and apiBase are the Bases of default/web (public, two probes) and apps/api
	// (internal, no probe).
	webBase = "a1111111122223333444455555555555"
	apiBase = "a2222222233334444555566666666666"
	// outFE is the managed outbound IP's frontend and public IP.
	outFE = "0f0f0f0f-0000-0000-0000-000000000001"
)

func lbID(lb string, kind, name string) string {
	return armNet + "/loadBalancers/" + lb + "/" + kind + "/" + name
}

func ref(id string) azlb.SubResource { return azlb.SubResource{ID: id} }

func lbRule(lb, base string, port int32, probe bool) azlb.LoadBalancingRule {
	name := base + "-TCP-" + strconv.Itoa(int(port))
	r := azlb.LoadBalancingRule{
		Name:                    name,
		ID:                      lbID(lb, "loadBalancingRules", name),
		FrontendIPConfiguration: ref(lbID(lb, "frontendIPConfigurations", base)),
		BackendAddressPool:      ref(lbID(lb, "backendAddressPools", "kubernetes")),
		Protocol:                "Tcp",
		FrontendPort:            port,
		BackendPort:             port,
		EnableFloatingIP:        true,
		LoadDistribution:        "Default",
		IdleTimeoutInMinutes:    4,
		ProvisioningState:       "Succeeded",
	}
	if probe {
		p := ref(lbID(lb, "probes", name))
		r.Probe = &p
	}
	return r
}

func lbProbe(lb, base string, port int32) azlb.Probe {
	name := base + "-TCP-" + strconv.Itoa(int(port))
	return azlb.Probe{
		Name: name, ID: lbID(lb, "probes", name), Protocol: "Http", Port: 30000 + port, RequestPath: "/healthz",
		IntervalInSeconds: 5, NumberOfProbes: 2, ProbeThreshold: 1,
		LoadBalancingRules: []azlb.SubResource{ref(lbID(lb, "loadBalancingRules", name))},
	}
}

func health(probe, backend, state string) azlb.BackendHealth {
	return azlb.BackendHealth{LoadBalancer: "kubernetes", Probe: probe, Backend: backend, IPAddress: "10.224.0.4", State: state, Since: "2025-01-01T00:00:00Z", Detail: "HTTP 200"}
}

// testLBStatus is a cluster with a public Service default/web (ports 80 and 443, a probe each,
// public IP kubernetes-<base>), an internal Service apps/api (port 8080, no probe), a Service
// default/broken that failed, and the managed outbound IP.
func testLBStatus() *azlb.Status {
	pool := func(lb string, name string) azlb.BackendAddressPool {
		return azlb.BackendAddressPool{Name: name, ID: lbID(lb, "backendAddressPools", name), BackendIPConfigurations: []azlb.SubResource{ref("n0"), ref("n1"), ref("n2")}}
	}
	public := azlb.LoadBalancer{
		Name: "kubernetes", ID: armNet + "/loadBalancers/kubernetes", SKU: azlb.SKU{Name: "Standard"},
		FrontendIPConfigurations: []azlb.FrontendIPConfiguration{
			{Name: outFE, ID: lbID("kubernetes", "frontendIPConfigurations", outFE), PublicIPAddress: &azlb.SubResource{ID: armNet + "/publicIPAddresses/" + outFE},
				OutboundRules: []azlb.SubResource{ref(lbID("kubernetes", "outboundRules", "aksOutboundRule"))}},
			{Name: webBase, ID: lbID("kubernetes", "frontendIPConfigurations", webBase), PublicIPAddress: &azlb.SubResource{ID: armNet + "/publicIPAddresses/kubernetes-" + webBase},
				LoadBalancingRules: []azlb.SubResource{ref(lbID("kubernetes", "loadBalancingRules", webBase+"-TCP-80")), ref(lbID("kubernetes", "loadBalancingRules", webBase+"-TCP-443"))}},
		},
		BackendAddressPools: []azlb.BackendAddressPool{pool("kubernetes", "aksOutboundBackendPool"), pool("kubernetes", "kubernetes")},
		LoadBalancingRules:  []azlb.LoadBalancingRule{lbRule("kubernetes", webBase, 80, true), lbRule("kubernetes", webBase, 443, true)},
		Probes:              []azlb.Probe{lbProbe("kubernetes", webBase, 80), lbProbe("kubernetes", webBase, 443)},
		OutboundRules: []azlb.OutboundRule{{
			Name: "aksOutboundRule", ID: lbID("kubernetes", "outboundRules", "aksOutboundRule"),
			FrontendIPConfigurations: []azlb.SubResource{ref(lbID("kubernetes", "frontendIPConfigurations", outFE))},
			BackendAddressPool:       ref(lbID("kubernetes", "backendAddressPools", "aksOutboundBackendPool")),
			Protocol:                 "All", IdleTimeoutInMinutes: 30,
		}},
	}
	internal := azlb.LoadBalancer{
		Name: "kubernetes-internal", ID: armNet + "/loadBalancers/kubernetes-internal", SKU: azlb.SKU{Name: "Standard"},
		FrontendIPConfigurations: []azlb.FrontendIPConfiguration{
			{Name: apiBase, ID: lbID("kubernetes-internal", "frontendIPConfigurations", apiBase), PrivateIPAddress: "10.224.0.7", PrivateIPAllocationMethod: "Dynamic"},
		},
		BackendAddressPools: []azlb.BackendAddressPool{pool("kubernetes-internal", "kubernetes")},
		LoadBalancingRules:  []azlb.LoadBalancingRule{lbRule("kubernetes-internal", apiBase, 8080, false)},
		Probes:              []azlb.Probe{},
	}
	nsgRule := func(name, dst string, prio int32) azlb.SecurityRule {
		return azlb.SecurityRule{Name: name, Protocol: "Tcp", Access: "Allow", Direction: "Inbound", Priority: prio,
			SourceAddressPrefix: "Internet", SourcePortRange: "*", DestinationAddressPrefix: dst, DestinationPortRange: "80"}
	}
	return &azlb.Status{
		Model: azlb.Model{
			LoadBalancers: []azlb.LoadBalancer{public, internal},
			PublicIPAddresses: []azlb.PublicIPAddress{
				{Name: outFE, ID: armNet + "/publicIPAddresses/" + outFE, IPAddress: "20.0.0.1"},
				{Name: "kubernetes-" + webBase, ID: armNet + "/publicIPAddresses/kubernetes-" + webBase, IPAddress: "20.0.0.2",
					DNSSettings:     &azlb.DNSSettings{DomainNameLabel: "web", FQDN: "web.eastus.cloudapp.azure.com"},
					IPConfiguration: &azlb.SubResource{ID: lbID("kubernetes", "frontendIPConfigurations", webBase)}},
			},
			SecurityGroup: azlb.SecurityGroup{Name: "aks-agentpool-12345678-nsg", SecurityRules: []azlb.SecurityRule{
				nsgRule(webBase+"-TCP-80-Internet", "20.0.0.2", 500),
				nsgRule(apiBase+"-TCP-8080-Internet", "10.224.0.7", 501),
				nsgRule("allow-all-vnet", "VirtualNetwork", 4096),
			}},
		},
		Services: []azlb.ServiceStatus{
			{Namespace: "default", Name: "web", Base: webBase, LoadBalancer: "kubernetes", Frontend: webBase, FrontendIP: "20.0.0.2", PublicIP: "kubernetes-" + webBase},
			{Namespace: "apps", Name: "api", Base: apiBase, LoadBalancer: "kubernetes-internal", Frontend: apiBase, FrontendIP: "10.224.0.7"},
			{Namespace: "default", Name: "broken", Error: "PublicIPAddress nope not found"},
		},
		Health: []azlb.BackendHealth{
			// vmss000001 fails the 443 probe: it is up for neither web's port.
			health(webBase+"-TCP-80", "vmss000000", "Up"),
			health(webBase+"-TCP-443", "vmss000000", "Up"),
			health(webBase+"-TCP-80", "vmss000001", "Up"),
			health(webBase+"-TCP-443", "vmss000001", "Down"),
			health(webBase+"-TCP-80", "vmss000002", "Up"),
			health(webBase+"-TCP-443", "vmss000002", "Up"),
		},
	}
}

// line is the line of out that starts with prefix.
func line(t *testing.T, out, prefix string) string {
	t.Helper()
	for l := range strings.SplitSeq(out, "\n") {
		if strings.HasPrefix(l, prefix) {
			return l
		}
	}
	t.Fatalf("no line starting with %q in:\n%s", prefix, out)
	return ""
}

func TestLBList(t *testing.T) {
	var b bytes.Buffer
	if err := printLBList(&b, lbList(testLBStatus())); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for prefix, want := range map[string][]string{
		"NAMESPACE/NAME":             {"LOAD BALANCER", "FRONTEND IP", "PORTS", "PROBES", "PUBLIC IP", "ERROR"},
		"default/web":                {" kubernetes ", "20.0.0.2", " 80/TCP,443/TCP ", " 2/3 up ", "kubernetes-" + webBase},
		"apps/api":                   {" kubernetes-internal ", "10.224.0.7", " 8080/TCP ", " - "},
		"default/broken":             {"PublicIPAddress nope not found"},
		"(outbound) aksOutboundRule": {" kubernetes ", "20.0.0.1", "SNAT auto", outFE},
	} {
		l := line(t, out, prefix)
		for _, w := range want {
			if !strings.Contains(l, w) {
				t.Errorf("line %q lacks %q", l, w)
			}
		}
	}
	// Services sort by namespace/name, before the outbound rule.
	if i, j, k := strings.Index(out, "apps/api"), strings.Index(out, "default/broken"), strings.Index(out, "(outbound)"); !(i < j && j < k) {
		t.Errorf("rows out of order:\n%s", out)
	}

	// Without errors, no ERROR column.
	s := testLBStatus()
	s.Services = s.Services[:2]
	b.Reset()
	if err := printLBList(&b, lbList(s)); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "ERROR") {
		t.Errorf("ERROR column without errors:\n%s", b.String())
	}
}

func TestBackendsUp(t *testing.T) {
	h := testLBStatus().Health
	for _, tc := range []struct {
		probes    []string
		up, total int
	}{
		{[]string{webBase + "-TCP-80"}, 3, 3},
		{[]string{webBase + "-TCP-80", webBase + "-TCP-443"}, 2, 3},
		{[]string{"other"}, 0, 3},
		{nil, 0, 0},
	} {
		if up, total := backendsUp(h, tc.probes); up != tc.up || total != tc.total {
			t.Errorf("backendsUp(%v) = %d/%d, want %d/%d", tc.probes, up, total, tc.up, tc.total)
		}
	}
}

// names returns the Name of each element.
func names[T any](items []T, name func(T) string) []string {
	out := []string{}
	for _, i := range items {
		out = append(out, name(i))
	}
	return out
}

func TestServiceView(t *testing.T) {
	s := testLBStatus()
	web, err := findLBService(s, "web")
	if err != nil {
		t.Fatal(err)
	}
	v := serviceView(s, web)
	if len(v.LoadBalancers) != 1 {
		t.Fatalf("load balancers = %v, want kubernetes only", names(v.LoadBalancers, func(l azlb.LoadBalancer) string { return l.Name }))
	}
	lb := v.LoadBalancers[0]
	for what, tc := range map[string]struct{ got, want []string }{
		"frontends":  {names(lb.FrontendIPConfigurations, func(f azlb.FrontendIPConfiguration) string { return f.Name }), []string{webBase}},
		"rules":      {names(lb.LoadBalancingRules, func(r azlb.LoadBalancingRule) string { return r.Name }), []string{webBase + "-TCP-80", webBase + "-TCP-443"}},
		"probes":     {names(lb.Probes, func(p azlb.Probe) string { return p.Name }), []string{webBase + "-TCP-80", webBase + "-TCP-443"}},
		"pools":      {names(lb.BackendAddressPools, func(p azlb.BackendAddressPool) string { return p.Name }), []string{"kubernetes"}},
		"outbound":   {names(lb.OutboundRules, func(r azlb.OutboundRule) string { return r.Name }), []string{}},
		"public IPs": {names(v.PublicIPAddresses, func(p azlb.PublicIPAddress) string { return p.Name }), []string{"kubernetes-" + webBase}},
		"NSG rules":  {names(v.SecurityGroup.SecurityRules, func(r azlb.SecurityRule) string { return r.Name }), []string{webBase + "-TCP-80-Internet"}},
	} {
		if strings.Join(tc.got, " ") != strings.Join(tc.want, " ") {
			t.Errorf("web's %s = %v, want %v", what, tc.got, tc.want)
		}
	}
	if len(v.Health) != 6 {
		t.Errorf("web's health has %d entries, want 6", len(v.Health))
	}

	api, err := findLBService(s, "apps/api")
	if err != nil {
		t.Fatal(err)
	}
	v = serviceView(s, api)
	if len(v.LoadBalancers) != 1 || v.LoadBalancers[0].Name != "kubernetes-internal" || len(v.LoadBalancers[0].LoadBalancingRules) != 1 {
		t.Errorf("api's load balancers = %+v, want kubernetes-internal with one rule", v.LoadBalancers)
	}
	if len(v.PublicIPAddresses) != 0 || len(v.Health) != 0 || len(v.SecurityGroup.SecurityRules) != 1 {
		t.Errorf("api: public IPs %v, health %v, NSG rules %v; want none, none, one", v.PublicIPAddresses, v.Health, v.SecurityGroup.SecurityRules)
	}

	// A Service whose load balancer failed has none of the objects.
	broken, _ := findLBService(s, "default/broken")
	if v := serviceView(s, broken); len(v.LoadBalancers)+len(v.PublicIPAddresses)+len(v.SecurityGroup.SecurityRules) != 0 {
		t.Errorf("broken's view has objects: %+v", v)
	}
}

func TestLBShowTable(t *testing.T) {
	s := testLBStatus()
	web, _ := findLBService(s, "default/web")
	var b bytes.Buffer
	if err := printLBView(&b, serviceView(s, web), time.Date(2025, 1, 1, 0, 5, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"Service default/web",
		"Load balancer kubernetes (Standard",
		"80 → kubernetes:80", "443 → kubernetes:443",
		"/healthz", "5s × 2",
		"vmss000001", "Down", "5m0s ago",
		"web.eastus.cloudapp.azure.com",
		"Network security group aks-agentpool-12345678-nsg:",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	for _, unwanted := range []string{apiBase, outFE, "aksOutboundRule", "aksOutboundBackendPool", "kubernetes-internal", "allow-all-vnet"} {
		if strings.Contains(out, unwanted) {
			t.Errorf("web's output shows %q:\n%s", unwanted, out)
		}
	}

	b.Reset()
	if err := printLBView(&b, wholeView(&azlb.Status{}), time.Now()); err != nil {
		t.Fatal(err)
	}
	if got := b.String(); got != "no load balancers\n" {
		t.Errorf("empty status prints %q", got)
	}
}

// runLB runs `minaks lb ARGS...` against a cluster "lbtest" in dir.
func runLB(t *testing.T, dir string, args ...string) (string, error) {
	t.Helper()
	cmd := newLBCommand()
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs(append(args, "--name", "lbtest", "--state-dir", dir))
	err := cmd.Execute()
	return out.String(), err
}

func TestLBCommands(t *testing.T) {
	dir := t.TempDir()
	c := &config.Cluster{Name: "lbtest", StateDir: filepath.Join(dir, "lbtest")}
	if err := os.MkdirAll(c.StateDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := c.Save(); err != nil {
		t.Fatal(err)
	}

	// No status file yet: nothing to show.
	if out, err := runLB(t, dir, "list"); err != nil || out != "no load balancers\n" {
		t.Errorf("lb list without a status = %q, %v", out, err)
	}
	out, err := runLB(t, dir, "show")
	if err != nil {
		t.Fatal(err)
	}
	var empty map[string]json.RawMessage
	if err := json.Unmarshal([]byte(out), &empty); err != nil {
		t.Fatal(err)
	}
	if string(empty["loadBalancers"]) != "[]" || string(empty["health"]) != "[]" {
		t.Errorf("lb show without a status:\n%s", out)
	}

	b, err := json.Marshal(testLBStatus())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(c.Path(azlb.StatusFile), b, 0o644); err != nil {
		t.Fatal(err)
	}

	// show prints az's JSON of the Service's objects and the health of its probes.
	if out, err = runLB(t, dir, "show", "default/web"); err != nil {
		t.Fatal(err)
	}
	var shown struct {
		LoadBalancers []struct {
			Name               string `json:"name"`
			LoadBalancingRules []struct {
				Name         string `json:"name"`
				FrontendPort int32  `json:"frontendPort"`
			} `json:"loadBalancingRules"`
		} `json:"loadBalancers"`
		PublicIPAddresses    []struct{ IPAddress string } `json:"publicIPAddresses"`
		NetworkSecurityGroup struct{ Name string }        `json:"networkSecurityGroup"`
		Health               []azlb.BackendHealth         `json:"health"`
	}
	if err := json.Unmarshal([]byte(out), &shown); err != nil {
		t.Fatalf("%v in:\n%s", err, out)
	}
	if len(shown.LoadBalancers) != 1 || len(shown.LoadBalancers[0].LoadBalancingRules) != 2 || shown.LoadBalancers[0].LoadBalancingRules[0].FrontendPort != 80 ||
		len(shown.PublicIPAddresses) != 1 || shown.PublicIPAddresses[0].IPAddress != "20.0.0.2" ||
		shown.NetworkSecurityGroup.Name != "aks-agentpool-12345678-nsg" || len(shown.Health) != 6 {
		t.Errorf("lb show default/web:\n%s", out)
	}
	if !strings.Contains(out, "\n  \"loadBalancers\": [\n    {\n      \"name\": \"kubernetes\",") {
		t.Errorf("lb show is not indented by 2 spaces:\n%s", out)
	}

	// --all is everything.
	if out, err = runLB(t, dir, "show", "--all"); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{apiBase, webBase, "aksOutboundRule", "allow-all-vnet"} {
		if !strings.Contains(out, want) {
			t.Errorf("lb show --all lacks %q", want)
		}
	}

	if out, err = runLB(t, dir, "list", "-o", "json"); err != nil {
		t.Fatal(err)
	}
	var rows []lbListRow
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatal(err)
	}
	if len(rows) != 4 || rows[2].Name != "web" || rows[2].BackendsUp != 2 || !rows[3].Outbound {
		t.Errorf("lb list -o json:\n%s", out)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"show", "nope/x"}, `service "nope/x" has no load balancer in cluster "lbtest"`},
		{[]string{"show", "x"}, `service "default/x" has no load balancer in cluster "lbtest"`},
		{[]string{"show", "web", "-o", "yaml"}, "--output=yaml"},
		{[]string{"list", "-o", "wide"}, "--output=wide"},
		{[]string{"show", "web", "--all"}, "--all"},
	} {
		if _, err := runLB(t, dir, tc.args...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("lb %v: error %v, want one saying %q", tc.args, err, tc.want)
		}
	}

	if _, err := runLB(t, filepath.Join(dir, "elsewhere"), "list"); err == nil || !strings.Contains(err.Error(), `no cluster "lbtest"`) {
		t.Errorf("lb list of a missing cluster: %v", err)
	}
}
