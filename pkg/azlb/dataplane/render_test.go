package dataplane

import (
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func testConfig() *Config {
	a := netip.MustParseAddr
	p := netip.MustParsePrefix
	return &Config{
		Backends: []Backend{
			{Name: "aks-nodepool1-1-vmss000000", ID: 0, IP: a("10.224.0.4")},
			{Name: "aks-nodepool1-1-vmss000001", ID: 1, IP: a("10.224.0.5")},
		},
		Frontends: []netip.Addr{a("203.0.113.1"), a("203.0.113.2"), a("10.224.0.7")},
		Subnet:    p("10.224.0.0/16"),
		Rules: []Rule{
			{Name: "aabc-TCP-80", Frontend: a("203.0.113.2"), Protocol: "tcp", Port: 80, FloatingIP: true,
				Distribution: DistributionDefault, IdleTimeout: 4 * time.Minute, TCPReset: true,
				Healthy: []string{"aks-nodepool1-1-vmss000000", "aks-nodepool1-1-vmss000001"}},
			{Name: "aabc-UDP-53", Frontend: a("203.0.113.2"), Protocol: "udp", Port: 53, FloatingIP: false, BackendPort: 31053,
				Distribution: DistributionSourceIP, Healthy: []string{"aks-nodepool1-1-vmss000001"}},
			{Name: "adef-aks-subnet-TCP-443", Frontend: a("10.224.0.7"), Protocol: "tcp", Port: 443, FloatingIP: true,
				Distribution: DistributionDefault, IdleTimeout: 30 * time.Minute},
		},
		NSG: []SecurityRule{
			{Name: "k8s-azure-lb_allow_IPv4_abc", Priority: 500, Allow: true, Protocol: "tcp",
				Sources: []netip.Prefix{p("198.51.100.0/24")}, Destinations: []netip.Prefix{p("203.0.113.2/32")}, Ports: []string{"80"}},
			{Name: "k8s-azure-lb_deny-all_IPv4", Priority: 4095, Destinations: []netip.Prefix{p("203.0.113.2/32")}},
		},
		VNet:     []netip.Prefix{p("10.224.0.0/12")},
		Host:     a("169.254.100.1"),
		Outbound: &Outbound{IPs: []netip.Addr{a("203.0.113.1")}, PortsPerNode: 1024, IdleTimeout: 30 * time.Minute, Sources: []netip.Prefix{p("10.244.0.0/16")}},
	}
}

// TestRenderParses checks the script with nft itself (--check: parsed and validated by the
// kernel's rules, nothing applied), when nft is installed and we are root.
func TestRenderParses(t *testing.T) {
	script := Render(testConfig())
	if os.Getenv("DUMP") != "" {
		t.Log(script)
	}
	if os.Geteuid() != 0 {
		t.Skip("nft --check needs root")
	}
	nft, err := exec.LookPath("nft")
	if err != nil {
		t.Skip("nft not installed")
	}
	cmd := exec.Command("unshare", "--net", nft, "--check", "-f", "-")
	cmd.Stdin = strings.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nft --check: %v\n%s\n%s", err, out, script)
	}
}

func TestRender(t *testing.T) {
	script := Render(testConfig())
	for _, want := range []string{
		// new flows by frontend, protocol and port
		`elements = { 10.224.0.7 . tcp . 443 : goto rule-adef-aks-subnet-TCP-443, 203.0.113.2 . tcp . 80 : goto rule-aabc-TCP-80, 203.0.113.2 . udp . 53 : goto rule-aabc-UDP-53 }`,
		// Default: 5-tuple over both healthy backends; SourceIP: addresses over the one
		`meta mark set jhash ip saddr . ip daddr . meta l4proto . th sport . th dport mod 2 seed 0x4d4c42 map { 0 : 0x4d4c0001, 1 : 0x4d4c0002 }`,
		`meta mark set jhash ip saddr . ip daddr mod 1 seed 0x4d4c42 map { 0 : 0x4d4c0002 }`,
		// TCP reset on for rule 0, off for rule 2; rule 2 has no healthy backend
		`tcp flags & (syn | ack | fin | rst) != syn ct state new counter reject with tcp reset`,
		`counter drop comment "no healthy backend"`,
		`ct timeout set "idle-240s"`,
		`policy = { established : 1800 }`,
		// floating IP off: DNAT to each backend's NodePort by its mark
		`meta mark 0x4d4c0001 ip daddr 203.0.113.2 udp dport 53 dnat to 10.224.0.4:31053`,
		`meta mark 0x4d4c0002 ip daddr 203.0.113.2 udp dport 53 dnat to 10.224.0.5:31053`,
		// NSG in priority order, then Azure's defaults
		"ip saddr 198.51.100.0/24 ip daddr 203.0.113.2 meta l4proto tcp th dport 80 accept comment \"500 k8s-azure-lb_allow_IPv4_abc\"\n\t\tip daddr 203.0.113.2 drop comment \"4095 k8s-azure-lb_deny-all_IPv4\"\n\t\tip saddr 10.224.0.0/12 accept",
		`counter drop comment "65500 DenyAllInBound"`,
		`ip saddr 169.254.100.1 ip daddr 10.224.0.0/12 accept`,
		// outbound: a block of ports per node
		`ip saddr 10.224.0.5 meta l4proto { tcp, udp } snat to 203.0.113.1:2048-3071`,
		`ip saddr 10.244.0.0/16 snat to 203.0.113.1`,
	} {
		if !strings.Contains(script, want) {
			t.Errorf("script lacks %q:\n%s", want, script)
		}
	}
	if strings.Contains(script, "dnat to 10.224.0.4:0") || strings.Contains(script, "203.0.113.2 tcp dport 80 dnat") {
		t.Errorf("floating IP rule DNATed:\n%s", script)
	}
}

func TestOutboundBlocks(t *testing.T) {
	a, b := netip.MustParseAddr("198.51.100.1"), netip.MustParseAddr("198.51.100.2")
	o := &Outbound{IPs: []netip.Addr{a, b}, PortsPerNode: 32000}
	for i, want := range []struct {
		ip          netip.Addr
		first, last int
	}{{a, 1024, 33023}, {a, 33024, 65023}, {b, 1024, 33023}} {
		ip, first, last := o.Block(i)
		if ip != want.ip || first != want.first || last != want.last {
			t.Errorf("block %d = %s:%d-%d, want %s:%d-%d", i, ip, first, last, want.ip, want.first, want.last)
		}
	}
}

// TestDiff checks that a change touches only what changed, and (as root, with nft) that
// applying the difference gives the same table as applying the new configuration whole.
func TestDiff(t *testing.T) {
	old := testConfig()
	if d := build(old).diff(build(old)); d != "" {
		t.Errorf("no change, script:\n%s", d)
	}

	// A backend's probe goes down: one rule chain is rewritten, nothing else.
	health := testConfig()
	health.Rules[0].Healthy = health.Rules[0].Healthy[:1]
	d := build(health).diff(build(old))
	if want := "flush chain ip minaks-lb rule-aabc-TCP-80\n"; !strings.HasPrefix(d, want) || strings.Count(d, "\n") != 5 {
		t.Errorf("health change, script:\n%s", d)
	}

	// A rule and its frontend go, another comes.
	next := testConfig()
	next.Rules = next.Rules[1:]
	next.Rules = append(next.Rules, Rule{Name: "anew-TCP-8080", Frontend: netip.MustParseAddr("203.0.113.3"), Protocol: "tcp", Port: 8080,
		FloatingIP: true, IdleTimeout: 10 * time.Minute, Healthy: []string{"aks-nodepool1-1-vmss000000"}})
	next.Frontends = []netip.Addr{netip.MustParseAddr("203.0.113.1"), netip.MustParseAddr("203.0.113.2"), netip.MustParseAddr("203.0.113.3")}
	d = build(next).diff(build(old))
	for _, want := range []string{
		"add ct timeout ip minaks-lb idle-600s",
		"add chain ip minaks-lb rule-anew-TCP-8080",
		"add element ip minaks-lb rules { 203.0.113.3 . tcp . 8080 : goto rule-anew-TCP-8080 }",
		"delete element ip minaks-lb rules { 203.0.113.2 . tcp . 80 }",
		"delete element ip minaks-lb frontends { 10.224.0.7 }",
		"delete chain ip minaks-lb rule-aabc-TCP-80",
		"delete ct timeout ip minaks-lb idle-240s",
	} {
		if !strings.Contains(d, want) {
			t.Errorf("script lacks %q:\n%s", want, d)
		}
	}
	if strings.Index(d, "delete element ip minaks-lb rules { 203.0.113.2 . tcp . 80 }") > strings.Index(d, "delete chain ip minaks-lb rule-aabc-TCP-80") {
		t.Errorf("chain deleted before the element that refers to it:\n%s", d)
	}

	if os.Geteuid() != 0 {
		t.Skip("applying needs root")
	}
	if _, err := exec.LookPath("nft"); err != nil {
		t.Skip("nft not installed")
	}
	list := func(scripts ...string) string {
		t.Helper()
		dir := t.TempDir()
		sh := ""
		for i, s := range scripts {
			f := filepath.Join(dir, fmt.Sprint(i))
			if err := os.WriteFile(f, []byte(s), 0o644); err != nil {
				t.Fatal(err)
			}
			sh += "nft -f " + f + " && "
		}
		out, err := exec.Command("unshare", "--net", "sh", "-c", sh+"nft list table ip "+Table).CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		// The same objects, whatever order they were made in.
		lines := strings.Split(string(out), "\n")
		slices.Sort(lines)
		return strings.Join(lines, "\n")
	}
	if got, want := list(Render(old), build(next).diff(build(old))), list(Render(next)); got != want {
		t.Errorf("old + diff:\n%s\nwant, as new whole:\n%s", got, want)
	}
}
