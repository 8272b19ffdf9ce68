package boomserver

import (
	"net/netip"
	"testing"
)

// TestSegment: an encoded segment parses back, and its checksum verifies (the sum over the
// pseudo-header and the segment, checksum included, is all ones) for both families, with
// data of odd length.
func TestSegment(t *testing.T) {
	for _, pair := range [][2]string{{"10.244.1.5", "10.244.0.9"}, {"fd00:244::5", "fd00:244::9"}} {
		src, dst := netip.MustParseAddr(pair[0]), netip.MustParseAddr(pair[1])
		s := segment{srcPort: port, dstPort: 40000, seq: 1, ack: 2, flags: flagPSH | flagACK, window: 512}
		b := s.encode(src, dst, []byte("boom!!!"))
		got, err := parseSegment(b)
		if err != nil || got != s {
			t.Errorf("parse(encode(%+v)) = %+v, %v", s, got, err)
		}
		if string(b[headerLen:]) != "boom!!!" || b[12]>>4 != 5 {
			t.Errorf("segment %x: data offset %d", b, b[12]>>4)
		}
		if c := checksum(src, dst, b); c != 0 {
			t.Errorf("%s → %s: the checksum does not verify (%#x)", src, dst, c)
		}
	}
	if _, err := parseSegment(make([]byte, 10)); err == nil {
		t.Error("a short segment parsed")
	}
}
