package e2e

import (
	"encoding/binary"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/minaks/minaks/pkg/netstack/netns"
)

// TestAzureDNS checks 168.63.129.16: nodes resolve through it, and it forwards to the upstream
// resolver (here a fake one on the host's loopback, so no query leaves the machine).
func TestAzureDNS(t *testing.T) {
	c := newTestCluster(t)
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	go func() {
		buf := make([]byte, 512)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			r := append([]byte(nil), buf[:n]...)
			binary.BigEndian.PutUint16(r[2:], 0x8180)
			binary.BigEndian.PutUint16(r[6:], 1)
			r = append(r, 0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 55)
			_, _ = pc.WriteTo(r, from)
		}
	}()
	c.mustMinaks("up", "--node-count", "1", "--upstream-dns", pc.LocalAddr().String())
	node := c.nodes().Items[0].Metadata.Name

	var conn net.Conn
	if err := netns.Do("minaks."+c.name+"."+node, func() (err error) {
		conn, err = net.Dial("udp", "168.63.129.16:53")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	q := []byte{0xab, 0xcd, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 4, 't', 'e', 's', 't', 0, 0, 1, 0, 1}
	if _, err := conn.Write(q); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 512)
	n, err := conn.Read(buf)
	if err != nil || n < 4 || buf[0] != 0xab || !slices.Equal(buf[n-4:n], []byte{192, 0, 2, 55}) {
		t.Errorf("answer from 168.63.129.16: %x, %v", buf[:max(n, 0)], err)
	}

	// On the node, as on an AKS node: resolv.conf points at Azure DNS, and names resolve through it.
	if out := c.mustMinaks("exec", node, "--", "cat", "/etc/resolv.conf"); !strings.Contains(out, "nameserver 168.63.129.16") ||
		!strings.Contains(out, ".internal.cloudapp.net") {
		t.Errorf("node resolv.conf:\n%s", out)
	}
	if out := c.mustMinaks("exec", node, "--", "hostname"); strings.TrimSpace(out) != node {
		t.Errorf("node hostname %q, want %s", out, node)
	}
	if out := c.mustMinaks("exec", node, "--", "getent", "ahostsv4", "example.test"); !strings.Contains(out, "192.0.2.55") {
		t.Errorf("getent on the node:\n%s", out)
	}
}
