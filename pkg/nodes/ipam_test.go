package nodes

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
)

func TestIPAM(t *testing.T) {
	p := NewIPAM(netip.MustParseAddr("10.244.0.2"), netip.MustParseAddr("10.244.0.4"))
	a, _ := p.Allocate("a")
	b, _ := p.Allocate("b")
	if a.String() != "10.244.0.2" || b.String() != "10.244.0.3" {
		t.Fatalf("a=%s b=%s", a, b)
	}
	if again, _ := p.Allocate("a"); again != a {
		t.Errorf("second Allocate for a = %s, want %s", again, a)
	}
	// A freed address is not handed out again at once.
	p.Release("a")
	c, _ := p.Allocate("c")
	if c.String() != "10.244.0.4" {
		t.Errorf("c = %s, want 10.244.0.4", c)
	}
	d, _ := p.Allocate("d")
	if d.String() != "10.244.0.2" {
		t.Errorf("d = %s, want the freed 10.244.0.2", d)
	}
	if _, err := p.Allocate("e"); err == nil || !strings.Contains(err.Error(), "no free pod address") {
		t.Errorf("exhausted: %v", err)
	}
	if p.InUse() != 3 {
		t.Errorf("InUse = %d", p.InUse())
	}
}

func TestIPAMRecovery(t *testing.T) {
	p := NewIPAM(netip.MustParseAddr("10.224.0.5"), netip.MustParseAddr("10.224.0.34"))
	// After a restart, running pods keep their addresses and new ones go around them.
	for i, owner := range []string{"x", "y"} {
		if err := p.Reserve(netip.MustParseAddr(fmt.Sprintf("10.224.0.%d", 5+i*2)), owner); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Reserve(netip.MustParseAddr("10.224.0.5"), "z"); err == nil {
		t.Error("two owners for one address")
	}
	if err := p.Reserve(netip.MustParseAddr("10.224.0.35"), "z"); err == nil {
		t.Error("address outside the range reserved")
	}
	a, _ := p.Allocate("new")
	if a.String() != "10.224.0.8" {
		t.Errorf("first allocation after recovery = %s, want 10.224.0.8", a)
	}
}

func TestPodIPv6(t *testing.T) {
	r4, r6 := netip.MustParsePrefix("10.244.1.0/24"), netip.MustParsePrefix("fd12:3456:789a:0:1::/80")
	for v4, want := range map[string]string{
		"10.244.1.2":   "fd12:3456:789a:0:1::2",
		"10.244.1.254": "fd12:3456:789a:0:1::fe",
	} {
		if got := podIPv6(netip.MustParseAddr(v4), r4, r6); got.String() != want || !r6.Contains(got) {
			t.Errorf("podIPv6(%s) = %s, want %s", v4, got, want)
		}
	}
}
