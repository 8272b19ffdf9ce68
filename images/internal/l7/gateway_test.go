package l7

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// Tests of what the Gateway API translator needs from the proxy: backends that stand for
// invalid references, filters per backend, mirror percentages, Envoy's forwarding headers
// and HTTP/2 over cleartext on a plain listener.

func TestBackendStatus(t *testing.T) {
	be := echoBackend(t, "be")
	rt := prefixRoute("/", "be")
	rt.Backends = []WeightedBackend{{Upstream: "be", Weight: 1}, {Upstream: "invalid: ns/missing:80", Weight: 1, Status: 500}}
	tp := startProxy(t, oneRoute(rt, upstream("be", endpoint(t, be))))
	c := tp.client(t, "http", nil)
	codes := map[int]int{}
	for i := 0; i < 200; i++ {
		resp, _ := do(t, c, "GET", tp.url(t, "http")+"/", nil, "Host", "app.example.com")
		codes[resp.StatusCode]++
	}
	// Half of the requests, within a wide margin: a binomial(200, 0.5) is in [60, 140]
	// with a probability that only a broken choice misses.
	if codes[200] < 60 || codes[500] < 60 || codes[200]+codes[500] != 200 {
		t.Errorf("status counts %v, want about 100 of 200 and 500", codes)
	}
	if e := tp.rec.wait(t, 200); e.Status != 200 && e.Status != 500 {
		t.Errorf("entry status %d", e.Status)
	}
}

func TestBackendHeaders(t *testing.T) {
	a, b := echoBackend(t, "a"), echoBackend(t, "b")
	rt := prefixRoute("/", "a")
	rt.RequestHeaders = HeaderModifier{Set: map[string]string{"Route": "yes", "Backend": "route"}}
	rt.Backends = []WeightedBackend{
		{Upstream: "a", Weight: 1, RequestHeaders: HeaderModifier{Set: map[string]string{"Backend": "a"}}, ResponseHeaders: HeaderModifier{Add: map[string]string{"X-From": "a"}}},
		{Upstream: "b", Weight: 1, RequestHeaders: HeaderModifier{Set: map[string]string{"Backend": "b"}}, ResponseHeaders: HeaderModifier{Add: map[string]string{"X-From": "b"}}},
	}
	tp := startProxy(t, oneRoute(rt, upstream("a", endpoint(t, a)), upstream("b", endpoint(t, b))))
	c := tp.client(t, "http", nil)
	seen := map[string]bool{}
	for i := 0; i < 40; i++ {
		resp, body := do(t, c, "GET", tp.url(t, "http")+"/", nil, "Host", "app.example.com")
		e := decodeEcho(t, body)
		if e.Header.Get("Backend") != e.Backend || e.Header.Get("Route") != "yes" || resp.Header.Get("X-From") != e.Backend {
			t.Fatalf("backend %s saw Backend %q Route %q, client got X-From %q", e.Backend, e.Header.Get("Backend"), e.Header.Get("Route"), resp.Header.Get("X-From"))
		}
		seen[e.Backend] = true
	}
	if !seen["a"] || !seen["b"] {
		t.Errorf("40 requests reached %v", seen)
	}
}

func TestMirrorPercent(t *testing.T) {
	be := echoBackend(t, "be")
	var always, never, half atomic.Int32
	counter := func(n *atomic.Int32) *httptest.Server {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { n.Add(1) }))
		t.Cleanup(s.Close)
		return s
	}
	rt := prefixRoute("/", "be")
	rt.Mirrors = []MirrorPolicy{{Target: "always", Percent: 100}, {Target: "never", Percent: 0}, {Target: "half", Percent: 50}}
	tp := startProxy(t, oneRoute(rt, upstream("be", endpoint(t, be)),
		upstream("always", endpoint(t, counter(&always))), upstream("never", endpoint(t, counter(&never))), upstream("half", endpoint(t, counter(&half)))))
	c := tp.client(t, "http", nil)
	const n = 100
	for i := 0; i < n; i++ {
		do(t, c, "GET", tp.url(t, "http")+"/", nil, "Host", "app.example.com")
	}
	deadline := time.Now().Add(5 * time.Second)
	for always.Load() < n && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if always.Load() != n || never.Load() != 0 || half.Load() < 20 || half.Load() > 80 {
		t.Errorf("mirrored: 100%% %d, 0%% %d, 50%% %d of %d", always.Load(), never.Load(), half.Load(), n)
	}
}

func TestEnvoyForwarding(t *testing.T) {
	be := echoBackend(t, "be")
	cfg := oneRoute(prefixRoute("/", "be"), upstream("be", endpoint(t, be)))
	cfg.Forwarding = Forwarding{Envoy: true, UseForwardedHeaders: true, GenerateRequestID: true}
	cfg.ServerHeader = "istio-envoy"
	tp := startProxy(t, cfg)
	resp, body := do(t, tp.client(t, "http", nil), "GET", tp.url(t, "http")+"/", nil,
		"Host", "app.example.com", "X-Forwarded-For", "203.0.113.1, 198.51.100.2", "X-Forwarded-Proto", "https",
		"X-Request-Id", "client-id", "X-Envoy-Attempt-Count", "7", "X-Real-IP", "203.0.113.9")
	h := decodeEcho(t, body).Header
	want := map[string]string{
		"X-Forwarded-For":          "203.0.113.1, 198.51.100.2, 127.0.0.1",
		"X-Forwarded-Proto":        "http",
		"X-Envoy-External-Address": "127.0.0.1",
		"X-Envoy-Attempt-Count":    "1",
		"X-Real-Ip":                "203.0.113.9",
	}
	for k, v := range want {
		if h.Get(k) != v {
			t.Errorf("%s: %q, want %q", k, h.Get(k), v)
		}
	}
	if id := h.Get("X-Request-Id"); !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(id) {
		t.Errorf("X-Request-Id %q, want a new UUID", id)
	}
	for _, k := range []string{"X-Forwarded-Host", "X-Forwarded-Port", "X-Scheme", "X-Original-Forwarded-For"} {
		if _, ok := h[k]; ok {
			t.Errorf("backend got %s: %q", k, h.Get(k))
		}
	}
	if resp.Header.Get("Server") != "istio-envoy" || resp.Header.Get("X-Envoy-Upstream-Service-Time") == "" {
		t.Errorf("response headers %v", resp.Header)
	}
}

func TestH2CListener(t *testing.T) {
	be := echoBackend(t, "be")
	cfg := oneRoute(prefixRoute("/", "be"), upstream("be", endpoint(t, be)))
	h2c := func(t *testing.T, tp *testProxy) (*http.Response, error) {
		tr := &http.Transport{Protocols: new(http.Protocols)}
		tr.Protocols.SetUnencryptedHTTP2(true)
		defer tr.CloseIdleConnections()
		req, _ := http.NewRequest("GET", tp.url(t, "http")+"/", nil)
		req.Host = "app.example.com"
		resp, err := (&http.Client{Transport: tr, Timeout: 5 * time.Second}).Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		return resp, err
	}
	tp := startProxy(t, cfg)
	if _, err := h2c(t, tp); err == nil {
		t.Errorf("a listener without H2C accepted HTTP/2 with prior knowledge")
	}
	// Turning H2C on reopens the socket (on the same Addr, here 127.0.0.1:0: a new port).
	next := oneRoute(prefixRoute("/", "be"), upstream("be", endpoint(t, be)))
	next.Listeners[0].Addr = cfg.Listeners[0].Addr
	next.Listeners[0].H2C = true
	if err := tp.Update(next); err != nil {
		t.Fatalf("update: %v", err)
	}
	resp, err := h2c(t, tp)
	if err != nil || resp.StatusCode != 200 || resp.ProtoMajor != 2 {
		t.Fatalf("h2c request: %v %v", resp, err)
	}
	r, body := do(t, tp.client(t, "http", nil), "GET", tp.url(t, "http")+"/", nil, "Host", "app.example.com")
	if r.StatusCode != 200 || !strings.Contains(body, `"Proto":"HTTP/1.1"`) {
		t.Errorf("HTTP/1.1 on an H2C listener: %d %s", r.StatusCode, body)
	}

	// On a fixed address, the old socket is closed before the new one binds it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fixed := ln.Addr().String()
	ln.Close()
	first := oneRoute(prefixRoute("/", "be"), upstream("be", endpoint(t, be)))
	first.Listeners[0].Addr = fixed
	tp = startProxy(t, first)
	for _, on := range []bool{true, false, true} {
		cfg := oneRoute(prefixRoute("/", "be"), upstream("be", endpoint(t, be)))
		cfg.Listeners[0].Addr, cfg.Listeners[0].H2C = fixed, on
		if err := tp.Update(cfg); err != nil {
			t.Fatalf("update to H2C %v on %s: %v", on, fixed, err)
		}
		if _, err := h2c(t, tp); (err == nil) != on {
			t.Errorf("H2C %v on %s: h2c request error %v", on, fixed, err)
		}
	}
}
