package netstack

import (
	"crypto/rand"
	"encoding/hex"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/minaks/minaks/pkg/netstack/netns"
	"github.com/minaks/minaks/pkg/netstack/netnstest"
)

func TestNames(t *testing.T) {
	if got := HostLinkName("minaks"); len(got) != 11 || !strings.HasPrefix(got, "mk-") {
		t.Errorf("HostLinkName = %q", got)
	}
	if HostLinkName("a") == HostLinkName("b") {
		t.Error("host link names collide")
	}
	// One cluster's prefix never matches another cluster's namespaces.
	if strings.HasPrefix(FabricNS("a-b"), NSPrefix("a")) {
		t.Errorf("%s matches the prefix of cluster a", FabricNS("a-b"))
	}
}

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
}

func TestFabricAndNodes(t *testing.T) {
	requireRoot(t)
	suffix := make([]byte, 3)
	_, _ = rand.Read(suffix)
	cluster := "nstest-" + hex.EncodeToString(suffix)
	forwarding, err := os.ReadFile(forwardingSysctl)
	if err != nil {
		t.Fatal(err)
	}
	// A public range of its own, so that the test never meets a real cluster's routes.
	public := netip.MustParsePrefix("203.0.113.0/24")
	t.Cleanup(func() {
		if err := RemoveCluster(cluster); err != nil {
			t.Error(err)
		}
		if got, _ := os.ReadFile(forwardingSysctl); string(got) != string(forwarding) {
			t.Errorf("ip_forward is %q after RemoveCluster, was %q", got, forwarding)
		}
		for _, c := range hostChains(cluster, netip.Addr{}, netip.Prefix{}) {
			if out, err := netns.Run("", "", "iptables-save", "-t", c.Table); err != nil || strings.Contains(string(out), c.Name) {
				t.Errorf("%s chain %s left (%v)", c.Table, c.Name, err)
			}
		}
		if left, _ := netns.List(NSPrefix(cluster)); len(left) > 0 {
			t.Errorf("namespaces left: %v", left)
		}
		if _, err := net.InterfaceByName(HostLinkName(cluster)); err == nil {
			t.Errorf("host link %s left", HostLinkName(cluster))
		}
		if rs, _ := netlink.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Dst: ipNet(public)}, netlink.RT_FILTER_DST); len(rs) > 0 {
			t.Errorf("routes to %s left: %v", public, rs)
		}
	})

	// A subnet of its own, so that the test never meets a real cluster's routes.
	f := &Fabric{Cluster: cluster, Subnet: netip.MustParsePrefix("10.231.0.0/16"), PublicIPRange: public}
	if err := f.Ensure(); err != nil {
		t.Fatal(err)
	}
	if !f.HostRoute {
		t.Fatalf("no host route: %s", f.HostRouteConflict)
	}
	if got, _ := os.ReadFile(forwardingSysctl); string(got) != "1\n" {
		t.Errorf("host ip_forward = %q with a cluster up", got)
	}
	for _, c := range hostChains(cluster, netip.Addr{}, netip.Prefix{}) {
		if _, err := netns.Run("", "", c.jumpRule("-C")...); err != nil {
			t.Errorf("no jump to %s: %v", c.Name, err)
		}
	}
	nics := []NodeNIC{
		{NS: NSPrefix(cluster) + "node0", Port: "vmss000000", Alias: "node0", IP: netip.MustParseAddr("10.231.0.4")},
		{NS: NSPrefix(cluster) + "node1", Port: "vmss000001", Alias: "node1", IP: netip.MustParseAddr("10.231.0.5")},
	}
	for _, n := range nics {
		if err := f.AttachNode(n); err != nil {
			t.Fatal(err)
		}
	}
	// Everything is idempotent: a second pass changes nothing and fails nothing.
	if err := f.Ensure(); err != nil {
		t.Fatalf("second Ensure: %v", err)
	}
	if err := f.AttachNode(nics[0]); err != nil {
		t.Fatalf("second AttachNode: %v", err)
	}

	netnstest.Serve(t, nics[1].NS, "10.231.0.5:8080", netnstest.Text("node1"))
	netnstest.Serve(t, nics[0].NS, "10.231.0.4:8080", netnstest.Text("node0"))
	for _, tc := range []struct{ from, to, want string }{
		{nics[0].NS, "10.231.0.5:8080", "node1"}, // node to node across the bridge
		{nics[1].NS, "10.231.0.4:8080", "node0"},
		{"", "10.231.0.5:8080", "node1"}, // host to node through the edge
	} {
		got, err := netnstest.Fetch(tc.from, tc.to, "")
		if err != nil || got != tc.want {
			t.Errorf("from %q to %s: %q, %v; want %q", tc.from, tc.to, got, err, tc.want)
		}
	}

	// A public address the cluster holds is routed into its fabric; the rest of the range goes
	// there too and is dropped: a connection to it times out, it does not leave the host.
	if err := f.RouteHostAddrs([]netip.Addr{netip.MustParseAddr("203.0.113.9")}); err != nil {
		t.Fatal(err)
	}
	if owner, err := HostAddrOwner(netip.MustParseAddr("203.0.113.9")); err != nil || owner != cluster {
		t.Errorf("203.0.113.9 routed to %q (%v), want %s", owner, err, cluster)
	}
	edge, err := net.InterfaceByName(HostLinkName(cluster))
	if err != nil {
		t.Fatal(err)
	}
	if rs, err := netlink.RouteGet(net.ParseIP("203.0.113.10")); err != nil || len(rs) != 1 || rs[0].LinkIndex != edge.Index {
		t.Errorf("ip route get 203.0.113.10: %+v, %v; want dev %s", rs, err, edge.Name)
	}
	if c, err := net.DialTimeout("tcp", "203.0.113.10:80", 500*time.Millisecond); err == nil || !os.IsTimeout(err) {
		t.Errorf("a connection to an address no frontend holds: %v, want a time-out", err)
		if c != nil {
			c.Close()
		}
	}

	// The fabric's route table: pod ranges via their nodes, read back, and removed.
	r1 := netip.MustParsePrefix("10.245.1.0/24")
	if err := f.RoutePodRange(r1, nics[1].IP); err != nil {
		t.Fatal(err)
	}
	if err := f.RoutePodRange(netip.MustParsePrefix("10.245.0.0/24"), nics[0].IP); err != nil {
		t.Fatal(err)
	}
	routes, err := f.PodRangeRoutes()
	if err != nil || len(routes) != 2 || routes[r1] != nics[1].IP {
		t.Errorf("PodRangeRoutes = %v, %v", routes, err)
	}
	if err := f.UnroutePodRange(r1); err != nil {
		t.Fatal(err)
	}
	if err := f.UnroutePodRange(r1); err != nil {
		t.Errorf("removing a missing route: %v", err)
	}
	if routes, _ := f.PodRangeRoutes(); len(routes) != 1 {
		t.Errorf("after removal: %v", routes)
	}

	// A second fabric for the same subnet does not steal the first one's host route.
	other := "nstest-" + hex.EncodeToString(suffix) + "b"
	t.Cleanup(func() { _ = RemoveCluster(other) })
	f2 := &Fabric{Cluster: other, Subnet: f.Subnet}
	if err := f2.Ensure(); err != nil {
		t.Fatal(err)
	}
	if f2.HostRoute || !strings.Contains(f2.HostRouteConflict, cluster) {
		t.Errorf("second fabric: host route %v, conflict %q; want none, naming %s", f2.HostRoute, f2.HostRouteConflict, cluster)
	}
	if f2.Edge == f.Edge {
		t.Errorf("both fabrics use edge %s", f.Edge)
	}
	if got, err := netnstest.Fetch("", "10.231.0.5:8080", ""); err != nil || got != "node1" {
		t.Errorf("first cluster unreachable after the second came: %q %v", got, err)
	}

	// Started (TakeHostRoute), the second takes the route over; the first's resync leaves it so,
	// and takes it back once the second is gone.
	f2.TakeHostRoute = true
	if err := f2.Ensure(); err != nil {
		t.Fatal(err)
	}
	if !f2.HostRoute || f2.HostRouteTakenFrom != cluster {
		t.Errorf("second fabric taking over: host route %v, taken from %q; want it, from %s", f2.HostRoute, f2.HostRouteTakenFrom, cluster)
	}
	if owner, err := HostRouteOwner(f.Subnet); err != nil || owner != other {
		t.Errorf("host routes %s to %q (%v), want %s", f.Subnet, owner, err, other)
	}
	if err := f.Ensure(); err != nil {
		t.Fatal(err)
	}
	if f.HostRoute {
		t.Error("the first fabric's resync took the route back from a running cluster")
	}
	if err := RemoveCluster(other); err != nil {
		t.Fatal(err)
	}
	if err := f.Ensure(); err != nil {
		t.Fatal(err)
	}
	if got, err := netnstest.Fetch("", "10.231.0.5:8080", ""); !f.HostRoute || err != nil || got != "node1" {
		t.Errorf("first cluster after the second went: host route %v, %q %v", f.HostRoute, got, err)
	}
}
