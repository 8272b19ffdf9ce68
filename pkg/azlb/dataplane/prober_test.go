package dataplane

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

// TestProberTransitions runs HTTP and TCP probes against a local server (from loopback, the
// host's namespace standing in for the fabric): up on the first 200, down after
// numberOfProbes failures, up again after probeThreshold successes; OnChange on each change.
func TestProberTransitions(t *testing.T) {
	saved := ProbeSource
	ProbeSource = netip.MustParseAddr("127.0.0.1")
	t.Cleanup(func() { ProbeSource = saved })

	var code atomic.Int32
	code.Store(http.StatusOK)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		w.WriteHeader(int(code.Load()))
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	port, _ := strconv.Atoi(l.Addr().(*net.TCPAddr).AddrPort().String()[len("127.0.0.1:"):])

	changes := make(chan struct{}, 100)
	p := &Prober{OnChange: func() { changes <- struct{}{} }}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	http := Target{LoadBalancer: "kubernetes", Probe: "p-http", Backend: "n0", IP: netip.MustParseAddr("127.0.0.1"),
		Protocol: "Http", Port: int32(port), Path: "/healthz", Interval: 100 * time.Millisecond, Failures: 2, Successes: 2}
	wrongPath := http
	wrongPath.Probe, wrongPath.Path = "p-root", "/"
	closed := http
	closed.Probe, closed.Protocol, closed.Port = "p-tcp-closed", "Tcp", 1
	p.Set(ctx, []Target{http, wrongPath, closed})

	state := func(probe string) Health { return p.Health()[Key{"kubernetes", probe, "n0"}] }
	waitFor := func(probe, want string, within time.Duration) {
		t.Helper()
		deadline := time.Now().Add(within)
		for time.Now().Before(deadline) {
			if state(probe).State == want {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Fatalf("%s: %+v, want %s", probe, state(probe), want)
	}
	waitFor("p-http", Up, time.Second)
	waitFor("p-root", Down, time.Second)
	if h := state("p-root"); h.Detail != "HTTP 404" {
		t.Errorf("p-root detail %q, want HTTP 404", h.Detail)
	}
	waitFor("p-tcp-closed", Down, time.Second)

	code.Store(http503)
	start := time.Now()
	waitFor("p-http", Down, time.Second)
	if d := time.Since(start); d < 100*time.Millisecond {
		t.Errorf("down after %v: one failure must not be enough (numberOfProbes 2)", d)
	}
	code.Store(200)
	waitFor("p-http", Up, time.Second)
	if len(changes) < 4 {
		t.Errorf("%d OnChange calls, want at least 4", len(changes))
	}

	p.Set(ctx, []Target{http})
	if n := len(p.Health()); n != 1 {
		t.Errorf("%d targets after Set with one, want 1", n)
	}
}

const http503 = 503
