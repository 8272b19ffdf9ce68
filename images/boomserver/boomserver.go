package boomserver

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log"
	"net"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/minaks/minaks/images"
)

// port is the server's TCP port, upstream's.
const port = 9000

func init() {
	images.Register(&images.Image{
		Name:        "regression-issue-74839",
		References:  []string{"registry.k8s.io/e2e-test-images/regression-issue-74839", "gcr.io/kubernetes-e2e-test-images/regression-issue-74839"},
		Program:     "regression-issue-74839",
		Entrypoint:  []string{"/regression-issue-74839"},
		Paths:       []string{"/regression-issue-74839"},
		Ports:       []int{port},
		Main:        Main,
		Description: "Kubernetes e2e test image: a TCP server that injects out-of-window segments (kubernetes#74839)",
	})
}

// Main serves port 9000 and watches, on each of the pod's addresses (POD_IPS, or POD_IP, from
// the downward API), the segments that come to it: once a connection is established, it sends
// the client the bad segment.
func Main([]string) int {
	ips := podIPs()
	if len(ips) == 0 {
		log.Print("No valid IP found")
		return 1
	}
	for _, ip := range ips {
		log.Printf("external ip: %v", ip)
		go func() {
			if err := probe(ip); err != nil {
				log.Printf("probing %v: %v", ip, err)
				os.Exit(1)
			}
		}()
	}
	log.Printf("listen on 0.0.0.0:%d", port)
	l, err := net.Listen("tcp", fmt.Sprintf(":%d", port))
	if err != nil {
		log.Print(err)
		return 1
	}
	for {
		conn, err := l.Accept()
		if err != nil {
			log.Print(err)
			return 1
		}
		go func() {
			time.Sleep(10 * time.Second) // the client's connection stays open a while
			conn.Close()
		}()
	}
}

// probe reads the TCP segments to ip on a raw socket and, for each connection to the server
// once its handshake's ACK arrives, writes the client a segment 100,000 bytes before its
// window, carrying "boom!!!".
func probe(ip netip.Addr) error {
	log.Printf("probing %v", ip)
	network := "ip4:tcp"
	if ip.Is6() {
		network = "ip6:tcp"
	}
	conn, err := net.ListenIP(network, &net.IPAddr{IP: ip.AsSlice()})
	if err != nil {
		return err
	}
	pending := map[string]uint32{} // client → the sequence number it expects next
	buf := make([]byte, 4096)
	for {
		n, from, err := conn.ReadFrom(buf)
		if err != nil {
			log.Printf("conn.ReadFrom() error: %v", err)
			continue
		}
		seg, err := parseSegment(buf[:n])
		if err != nil || seg.dstPort != port {
			continue
		}
		client := fmt.Sprintf("%s:%d", from, seg.srcPort)
		switch {
		case seg.flags&flagSYN != 0:
			pending[client] = seg.seq + 1
			continue
		case seg.flags&flagRST != 0:
			log.Println("ERROR: RST received")
		}
		next, ok := pending[client]
		if seg.flags&flagACK == 0 || !ok {
			continue
		}
		log.Println("connection established")
		delete(pending, client)
		remote, _ := netip.ParseAddr(from.String())
		bad := segment{
			srcPort: port, dstPort: seg.srcPort, ack: next,
			seq:    seg.ack - 100000, // out of the client's window
			flags:  flagPSH | flagACK,
			window: seg.window,
		}
		if _, err := conn.WriteTo(bad.encode(ip, remote, []byte("boom!!!")), from); err != nil {
			log.Printf("conn.WriteTo() error: %v", err)
		} else {
			log.Println("boom packet injected")
		}
	}
}

// podIPs are the pod's addresses from the downward API.
func podIPs() []netip.Addr {
	list := os.Getenv("POD_IPS")
	if list == "" {
		list = os.Getenv("POD_IP")
	}
	var ips []netip.Addr
	for _, s := range strings.Split(list, ",") {
		if ip, err := netip.ParseAddr(strings.TrimSpace(s)); err == nil {
			ips = append(ips, ip)
		}
	}
	return ips
}

// TCP flags.
const (
	flagFIN = 1 << iota
	flagSYN
	flagRST
	flagPSH
	flagACK
)

// segment is a TCP header without options.
type segment struct {
	srcPort, dstPort uint16
	seq, ack         uint32
	flags            uint16 // the low 9 bits of the offset/flags word
	window           uint16
}

const headerLen = 20

func parseSegment(b []byte) (segment, error) {
	if len(b) < headerLen {
		return segment{}, errors.New("short TCP segment")
	}
	be := binary.BigEndian
	return segment{
		srcPort: be.Uint16(b), dstPort: be.Uint16(b[2:]),
		seq: be.Uint32(b[4:]), ack: be.Uint32(b[8:]),
		flags: be.Uint16(b[12:]) & 0x1ff, window: be.Uint16(b[14:]),
	}, nil
}

// encode is the segment with data, its checksum over the pseudo-header of src and dst.
func (s segment) encode(src, dst netip.Addr, data []byte) []byte {
	b := make([]byte, headerLen, headerLen+len(data))
	be := binary.BigEndian
	be.PutUint16(b, s.srcPort)
	be.PutUint16(b[2:], s.dstPort)
	be.PutUint32(b[4:], s.seq)
	be.PutUint32(b[8:], s.ack)
	be.PutUint16(b[12:], headerLen/4<<12|s.flags)
	be.PutUint16(b[14:], s.window)
	b = append(b, data...)
	be.PutUint16(b[16:], checksum(src, dst, b))
	return b
}

// checksum is TCP's checksum of seg (its checksum field zero) with the IPv4 or IPv6
// pseudo-header of src and dst.
func checksum(src, dst netip.Addr, seg []byte) uint16 {
	var pseudo []byte
	pseudo = append(pseudo, src.AsSlice()...)
	pseudo = append(pseudo, dst.AsSlice()...)
	if src.Is4() {
		pseudo = append(pseudo, 0, 6)
		pseudo = binary.BigEndian.AppendUint16(pseudo, uint16(len(seg)))
	} else {
		pseudo = binary.BigEndian.AppendUint32(pseudo, uint32(len(seg)))
		pseudo = append(pseudo, 0, 0, 0, 6)
	}
	var sum uint32
	for _, part := range [][]byte{pseudo, seg} {
		for i := 0; i+1 < len(part); i += 2 {
			sum += uint32(binary.BigEndian.Uint16(part[i:]))
		}
		if len(part)%2 == 1 {
			sum += uint32(part[len(part)-1]) << 8
		}
	}
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}
