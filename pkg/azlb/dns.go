package azlb

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/miekg/dns"
	"k8s.io/klog/v2"
)

// DNS is Azure-provided DNS at 168.63.129.16, the resolver of every node: it answers the DNS
// names of the cluster's public IPs (<label>.<region>.cloudapp.azure.com) itself and forwards
// every other query, unchanged, to the upstream resolvers (by default the host's), over UDP
// and TCP.
type DNS struct {
	Upstreams []string
	// Local resolves the names Azure itself holds (nil: none).
	Local func(name string) (netip.Addr, bool)
}

// HostResolvers reads the nameservers of a resolv.conf as IP:53.
func HostResolvers(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "nameserver" {
			if a, err := netip.ParseAddr(fields[1]); err == nil {
				out = append(out, netip.AddrPortFrom(a, 53).String())
			}
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no nameserver in " + path)
	}
	return out, sc.Err()
}

const dnsTimeout = 2 * time.Second

// ServeUDP answers queries on pc until ctx is done.
func (d *DNS) ServeUDP(ctx context.Context, pc net.PacketConn) {
	go func() { <-ctx.Done(); pc.Close() }()
	buf := make([]byte, 65535)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			return
		}
		query := append([]byte(nil), buf[:n]...)
		go func() {
			if reply, err := d.exchange("udp", query); err == nil {
				_, _ = pc.WriteTo(reply, from)
			} else {
				klog.FromContext(ctx).V(2).Info("DNS query not forwarded", "from", from, "err", err)
			}
		}()
	}
}

// ServeTCP answers length-prefixed queries on l until ctx is done.
func (d *DNS) ServeTCP(ctx context.Context, l net.Listener) {
	go func() { <-ctx.Done(); l.Close() }()
	for {
		conn, err := l.Accept()
		if err != nil {
			return
		}
		go func() {
			defer conn.Close()
			for {
				_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
				query, err := readTCPMessage(conn)
				if err != nil {
					return
				}
				reply, err := d.exchange("tcp", query)
				if err != nil || writeTCPMessage(conn, reply) != nil {
					return
				}
			}
		}()
	}
}

// exchange answers a query for a local name, or sends it to the upstreams in turn until one
// answers.
func (d *DNS) exchange(network string, query []byte) ([]byte, error) {
	if reply := d.answerLocal(query); reply != nil {
		return reply, nil
	}
	var errs []error
	for _, up := range d.Upstreams {
		conn, err := net.DialTimeout(network, up, dnsTimeout)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		_ = conn.SetDeadline(time.Now().Add(dnsTimeout))
		var reply []byte
		if network == "tcp" {
			if err = writeTCPMessage(conn, query); err == nil {
				reply, err = readTCPMessage(conn)
			}
		} else if _, err = conn.Write(query); err == nil {
			buf := make([]byte, 65535)
			var n int
			n, err = conn.Read(buf)
			reply = buf[:n]
		}
		conn.Close()
		if err == nil {
			return reply, nil
		}
		errs = append(errs, err)
	}
	return nil, errors.Join(errs...)
}

func readTCPMessage(r io.Reader) ([]byte, error) {
	var n uint16
	if err := binary.Read(r, binary.BigEndian, &n); err != nil {
		return nil, err
	}
	msg := make([]byte, n)
	_, err := io.ReadFull(r, msg)
	return msg, err
}

func writeTCPMessage(w io.Writer, msg []byte) error {
	b := binary.BigEndian.AppendUint16(nil, uint16(len(msg)))
	_, err := w.Write(append(b, msg...))
	return err
}

// localTTL is the TTL of the public IPs' DNS records, as Azure DNS gives them.
const localTTL = 10

// answerLocal answers a query for a name Local holds: its A record (other types: no data).
func (d *DNS) answerLocal(query []byte) []byte {
	if d.Local == nil {
		return nil
	}
	var m dns.Msg
	if m.Unpack(query) != nil || len(m.Question) != 1 {
		return nil
	}
	q := m.Question[0]
	a, ok := d.Local(strings.ToLower(strings.TrimSuffix(q.Name, ".")))
	if !ok {
		return nil
	}
	reply := new(dns.Msg)
	reply.SetReply(&m)
	reply.Authoritative = true
	if q.Qtype == dns.TypeA || q.Qtype == dns.TypeANY {
		reply.Answer = append(reply.Answer, &dns.A{
			Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: localTTL},
			A:   net.IP(a.AsSlice()),
		})
	}
	b, err := reply.Pack()
	if err != nil {
		return nil
	}
	return b
}
