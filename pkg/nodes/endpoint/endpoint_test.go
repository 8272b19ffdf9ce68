package endpoint

import (
	"bufio"
	"context"
	"encoding/json"
	"net"
	"net/netip"
	"testing"
	"time"
)

// An announcement is answered only once the agent reports the endpoint enforced.
func TestServer(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	changed := make(chan struct{}, 1)
	s := &Server{Changed: func() { changed <- struct{}{} }}
	agentSide, kubeletSide := net.Pipe()
	go s.handle(ctx, agentSide)

	e := Endpoint{Namespace: "ns", Name: "p", UID: "u1", IPs: []netip.Addr{netip.MustParseAddr("10.244.0.9")}}
	req, _ := json.Marshal(e)
	if _, err := kubeletSide.Write(append(req, '\n')); err != nil {
		t.Fatal(err)
	}
	select {
	case <-changed:
	case <-time.After(5 * time.Second):
		t.Fatal("the agent was not told")
	}
	if got := s.Pending(); len(got["u1"]) != 1 || got["u1"][0] != e.IPs[0] {
		t.Fatalf("Pending = %v", got)
	}
	s.Enforced(func(Endpoint) bool { return false })
	answer := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(kubeletSide).ReadString('\n')
		answer <- line
	}()
	select {
	case a := <-answer:
		t.Fatalf("answered %q before the endpoint was enforced", a)
	case <-time.After(50 * time.Millisecond):
	}
	s.Enforced(func(got Endpoint) bool { return got.UID == "u1" })
	select {
	case a := <-answer:
		if a != "ok\n" {
			t.Errorf("answer %q", a)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no answer after the endpoint was enforced")
	}
	if got := s.Pending(); len(got) != 0 {
		t.Errorf("still pending: %v", got)
	}
}
