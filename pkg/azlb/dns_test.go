package azlb

import (
	"context"
	"encoding/binary"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// fakeResolver answers every A query on loopback with 192.0.2.55.
func fakeResolver(t *testing.T) string {
	t.Helper()
	// The same port for UDP and TCP: a port free for UDP may be taken for TCP, so try again.
	var pc net.PacketConn
	var l net.Listener
	for try := 0; ; try++ {
		var err error
		if pc, err = net.ListenPacket("udp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		if l, err = net.Listen("tcp", pc.LocalAddr().String()); err == nil {
			break
		}
		pc.Close()
		if try == 10 {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { pc.Close(); l.Close() })
	go func() {
		buf := make([]byte, 512)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			_, _ = pc.WriteTo(answer(buf[:n]), from)
		}
	}()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			q, err := readTCPMessage(c)
			if err == nil {
				_ = writeTCPMessage(c, answer(q))
			}
			c.Close()
		}
	}()
	return pc.LocalAddr().String()
}

// answer turns a query into a response with one A record.
func answer(q []byte) []byte {
	r := append([]byte(nil), q...)
	binary.BigEndian.PutUint16(r[2:], 0x8180)
	binary.BigEndian.PutUint16(r[6:], 1)
	return append(r, 0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 55)
}

// query is a DNS query for example.test A with the given ID.
func query(id uint16) []byte {
	q := binary.BigEndian.AppendUint16(nil, id)
	q = append(q, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0)
	q = append(q, 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 4, 't', 'e', 's', 't', 0, 0, 1, 0, 1)
	return q
}

func TestDNSForwards(t *testing.T) {
	up := fakeResolver(t)
	// The first upstream does not answer; the second does.
	dead, _ := net.ListenPacket("udp", "127.0.0.1:0")
	deadAddr := dead.LocalAddr().String()
	dead.Close()
	d := &DNS{Upstreams: []string{deadAddr, up}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pc, _ := net.ListenPacket("udp", "127.0.0.1:0")
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	go d.ServeUDP(ctx, pc)
	go d.ServeTCP(ctx, l)

	c, err := net.Dial("udp", pc.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write(query(0x1234)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 512)
	n, err := c.Read(buf)
	if err != nil || binary.BigEndian.Uint16(buf) != 0x1234 || !slices.Equal(buf[n-4:n], []byte{192, 0, 2, 55}) {
		t.Errorf("UDP answer %x, %v", buf[:n], err)
	}

	tc, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	_ = tc.SetDeadline(time.Now().Add(5 * time.Second))
	if err := writeTCPMessage(tc, query(0x4321)); err != nil {
		t.Fatal(err)
	}
	r, err := readTCPMessage(tc)
	if err != nil || binary.BigEndian.Uint16(r) != 0x4321 || !slices.Equal(r[len(r)-4:], []byte{192, 0, 2, 55}) {
		t.Errorf("TCP answer %x, %v", r, err)
	}
}

func TestHostResolvers(t *testing.T) {
	path := filepath.Join(t.TempDir(), "resolv.conf")
	_ = os.WriteFile(path, []byte("# comment\nsearch example.internal\nnameserver 127.0.0.53\nnameserver ::1\noptions edns0\n"), 0o644)
	got, err := HostResolvers(path)
	if err != nil || !slices.Equal(got, []string{"127.0.0.53:53", "[::1]:53"}) {
		t.Errorf("HostResolvers = %v, %v", got, err)
	}
	_ = os.WriteFile(path, []byte("search x\n"), 0o644)
	if _, err := HostResolvers(path); err == nil {
		t.Error("no nameserver accepted")
	}
}

// TestDNSLocalNames answers a public IP's DNS name itself and forwards the rest.
func TestDNSLocalNames(t *testing.T) {
	d := &DNS{Upstreams: []string{fakeResolver(t)}, Local: func(name string) (netip.Addr, bool) {
		if name == "myapp.eastus.cloudapp.azure.com" {
			return netip.MustParseAddr("198.51.100.7"), true
		}
		return netip.Addr{}, false
	}}
	ask := func(name string, qtype uint16) *dns.Msg {
		t.Helper()
		q := new(dns.Msg)
		q.SetQuestion(name, qtype)
		b, _ := q.Pack()
		reply, err := d.exchange("udp", b)
		if err != nil {
			t.Fatal(err)
		}
		var m dns.Msg
		if err := m.Unpack(reply); err != nil {
			t.Fatal(err)
		}
		return &m
	}
	if m := ask("MyApp.eastus.cloudapp.azure.com.", dns.TypeA); len(m.Answer) != 1 || m.Answer[0].(*dns.A).A.String() != "198.51.100.7" || !m.Authoritative {
		t.Errorf("local A: %v", m)
	}
	if m := ask("myapp.eastus.cloudapp.azure.com.", dns.TypeAAAA); len(m.Answer) != 0 || m.Rcode != dns.RcodeSuccess {
		t.Errorf("local AAAA: %v, want no data", m)
	}
	if m := ask("example.test.", dns.TypeA); len(m.Answer) != 1 || m.Answer[0].(*dns.A).A.String() != "192.0.2.55" {
		t.Errorf("forwarded: %v", m)
	}
}
