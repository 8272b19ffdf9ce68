package l7

import (
	"bufio"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// statusBackend answers every request with code.
func statusBackend(t testing.TB, code int) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(code)
		fmt.Fprintf(w, "status %d", code)
	}))
	t.Cleanup(s.Close)
	return s
}

func TestRetries(t *testing.T) {
	ok := echoBackend(t, "ok")
	bad := statusBackend(t, 502)
	dead := deadEndpoint(t)
	okEP, badEP := endpoint(t, ok), endpoint(t, bad)
	errTimeout := []RetryOn{RetryError, RetryTimeout}
	for _, tc := range []struct {
		name     string
		eps      []netip.AddrPort
		retry    Retry
		method   string
		code     int
		addrs    []netip.AddrPort
		statuses string
	}{
		{name: "connection refused goes to the next endpoint", eps: []netip.AddrPort{dead, okEP}, retry: Retry{On: errTimeout, Tries: 3}, code: 200, addrs: []netip.AddrPort{dead, okEP}, statuses: "502, 200"},
		{name: "POST is retried when it was not sent", eps: []netip.AddrPort{dead, okEP}, retry: Retry{On: errTimeout, Tries: 3}, method: "POST", code: 200, addrs: []netip.AddrPort{dead, okEP}, statuses: "502, 200"},
		{name: "http_502 goes to the next endpoint", eps: []netip.AddrPort{badEP, okEP}, retry: Retry{On: []RetryOn{RetryError, RetryHTTP502}, Tries: 3}, code: 200, addrs: []netip.AddrPort{badEP, okEP}, statuses: "502, 200"},
		{name: "a sent POST is not retried on http_502", eps: []netip.AddrPort{badEP, okEP}, retry: Retry{On: []RetryOn{RetryHTTP502}, Tries: 3}, method: "POST", code: 502, addrs: []netip.AddrPort{badEP}, statuses: "502"},
		{name: "non_idempotent allows it", eps: []netip.AddrPort{badEP, okEP}, retry: Retry{On: []RetryOn{RetryHTTP502, RetryNonIdempotent}, Tries: 3}, method: "POST", code: 200, addrs: []netip.AddrPort{badEP, okEP}, statuses: "502, 200"},
		{name: "the last answer passes when tries are used up", eps: []netip.AddrPort{badEP, badEP}, retry: Retry{On: []RetryOn{RetryHTTP502}, Tries: 2}, code: 502, addrs: []netip.AddrPort{badEP, badEP}, statuses: "502, 502"},
		{name: "no retry without conditions (proxy_next_upstream off)", eps: []netip.AddrPort{dead, okEP}, code: 502, addrs: []netip.AddrPort{dead}, statuses: "502"},
		{name: "tries bound the attempts", eps: []netip.AddrPort{dead, dead, dead}, retry: Retry{On: errTimeout, Tries: 2}, code: 502, addrs: []netip.AddrPort{dead, dead}, statuses: "502, 502"},
		{name: "one endpoint is tried tries times", eps: []netip.AddrPort{dead}, retry: Retry{On: errTimeout, Tries: 3}, code: 502, addrs: []netip.AddrPort{dead, dead, dead}, statuses: "502, 502, 502"},
		{name: "tries 0 means every endpoint", eps: []netip.AddrPort{dead, dead, okEP}, retry: Retry{On: errTimeout}, code: 200, addrs: []netip.AddrPort{dead, dead, okEP}, statuses: "502, 502, 200"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rt := prefixRoute("/", "up")
			rt.Retry = tc.retry
			tp := startProxy(t, oneRoute(rt, upstream("up", tc.eps...)))
			method := tc.method
			if method == "" {
				method = "GET"
			}
			resp, body := do(t, tp.client(t, "http", nil), method, tp.url(t, "http")+"/", strings.NewReader("payload"), "Host", "app.example.com")
			if resp.StatusCode != tc.code {
				t.Fatalf("status = %d, want %d (%s)", resp.StatusCode, tc.code, body)
			}
			if tc.code == 502 && tc.statuses == strings.Repeat("502, ", len(tc.addrs)-1)+"502" && tc.eps[0] == dead {
				if _, page := NginxErrorPage(502); body != string(page) {
					t.Errorf("body = %q, want nginx's 502 page", body)
				}
			}
			e := tp.rec.wait(t, 1)
			var addrs []string
			for _, a := range tc.addrs {
				addrs = append(addrs, a.String())
			}
			if got, want := e.UpstreamAddr(), strings.Join(addrs, ", "); got != want {
				t.Errorf("$upstream_addr = %q, want %q", got, want)
			}
			if got := e.UpstreamStatus(); got != tc.statuses {
				t.Errorf("$upstream_status = %q, want %q", got, tc.statuses)
			}
		})
	}
}

func TestTimeouts(t *testing.T) {
	slow := echoBackendFunc(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(2 * time.Second):
		case <-r.Context().Done():
		}
		w.WriteHeader(200)
	})
	ok := echoBackend(t, "ok")
	t.Run("read timeout is 504", func(t *testing.T) {
		rt := prefixRoute("/", "slow")
		rt.Timeouts.Read = 100 * time.Millisecond
		tp := startProxy(t, oneRoute(rt, upstream("slow", endpoint(t, slow))))
		start := time.Now()
		resp, body := do(t, tp.client(t, "http", nil), "GET", tp.url(t, "http")+"/", nil, "Host", "app.example.com")
		if resp.StatusCode != 504 {
			t.Fatalf("status %d, want 504", resp.StatusCode)
		}
		if _, page := NginxErrorPage(504); body != string(page) {
			t.Errorf("body = %q", body)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("took %v", d)
		}
		if got := tp.rec.wait(t, 1).UpstreamStatus(); got != "504" {
			t.Errorf("$upstream_status = %q", got)
		}
	})
	t.Run("timeout goes to the next endpoint", func(t *testing.T) {
		rt := prefixRoute("/", "up")
		rt.Timeouts.Read = 100 * time.Millisecond
		rt.Retry = Retry{On: []RetryOn{RetryError, RetryTimeout}, Tries: 3}
		tp := startProxy(t, oneRoute(rt, upstream("up", endpoint(t, slow), endpoint(t, ok))))
		resp, _ := do(t, tp.client(t, "http", nil), "GET", tp.url(t, "http")+"/", nil, "Host", "app.example.com")
		if resp.StatusCode != 200 {
			t.Fatalf("status %d, want 200", resp.StatusCode)
		}
		if got := tp.rec.wait(t, 1).UpstreamStatus(); got != "504, 200" {
			t.Errorf("$upstream_status = %q", got)
		}
	})
	t.Run("read timeout between body reads", func(t *testing.T) {
		stall := echoBackendFunc(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "10")
			w.WriteHeader(200)
			_, _ = io.WriteString(w, "12345")
			w.(http.Flusher).Flush()
			select {
			case <-time.After(2 * time.Second):
			case <-r.Context().Done():
			}
		})
		rt := prefixRoute("/", "stall")
		rt.Timeouts.Read = 150 * time.Millisecond
		tp := startProxy(t, oneRoute(rt, upstream("stall", endpoint(t, stall))))
		req, _ := http.NewRequest("GET", tp.url(t, "http")+"/", nil)
		req.Host = "app.example.com"
		start := time.Now()
		resp, err := tp.client(t, "http", nil).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err == nil || string(b) != "12345" {
			t.Errorf("read %q, %v; want the first half and an error", b, err)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("took %v", d)
		}
	})
	t.Run("client gone first is logged 499", func(t *testing.T) {
		tp := startProxy(t, oneRoute(prefixRoute("/", "slow"), upstream("slow", endpoint(t, slow))))
		c := tp.client(t, "http", nil)
		c.Timeout = 100 * time.Millisecond
		req, _ := http.NewRequest("GET", tp.url(t, "http")+"/", nil)
		req.Host = "app.example.com"
		if _, err := c.Do(req); err == nil {
			t.Fatal("the client did not time out")
		}
		if e := tp.rec.wait(t, 1); e.Status != 499 || e.BodyBytesSent != 0 {
			t.Errorf("entry status %d, %d bytes; want 499, 0", e.Status, e.BodyBytesSent)
		}
	})
	t.Run("request timeout", func(t *testing.T) {
		rt := prefixRoute("/", "slow")
		rt.Timeouts.Request = 100 * time.Millisecond
		tp := startProxy(t, oneRoute(rt, upstream("slow", endpoint(t, slow))))
		resp, _ := do(t, tp.client(t, "http", nil), "GET", tp.url(t, "http")+"/", nil, "Host", "app.example.com")
		if resp.StatusCode != 504 {
			t.Fatalf("status %d, want 504", resp.StatusCode)
		}
	})
}

func TestWebSocket(t *testing.T) {
	// A backend that switches protocols and echoes bytes, as a WebSocket server would after
	// its handshake.
	ws := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "websocket" {
			http.Error(w, "not an upgrade", http.StatusBadRequest)
			return
		}
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		fmt.Fprintf(brw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
		brw.Flush()
		_, _ = io.Copy(conn, brw)
	}))
	t.Cleanup(ws.Close)
	for _, tc := range []struct {
		name    string
		disable bool
		status  int
	}{
		{name: "upgrade passes through", status: 101},
		{name: "upgrade disabled", disable: true, status: 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rt := prefixRoute("/", "ws")
			rt.DisableUpgrade = tc.disable
			tp := startProxy(t, oneRoute(rt, upstream("ws", endpoint(t, ws))))
			c, err := net.Dial("tcp", tp.Addr("http").String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(5 * time.Second))
			fmt.Fprintf(c, "GET /chat HTTP/1.1\r\nHost: app.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
			br := bufio.NewReader(c)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
			}
			if tc.status != 101 {
				return
			}
			for _, msg := range []string{"hello", "world"} {
				fmt.Fprint(c, msg)
				buf := make([]byte, len(msg))
				if _, err := io.ReadFull(br, buf); err != nil || string(buf) != msg {
					t.Fatalf("echo = %q, %v; want %q", buf, err, msg)
				}
			}
		})
	}
}

func TestMirror(t *testing.T) {
	be := echoBackend(t, "be")
	got := make(chan echo, 4)
	mirror := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- echo{Method: r.Method, URI: r.RequestURI, Host: r.Host, Header: r.Header, Body: string(b)}
		w.WriteHeader(500)
	}))
	t.Cleanup(mirror.Close)
	for _, tc := range []struct {
		name, target, host string
	}{
		{name: "to an upstream", target: "mirror", host: "app.example.com"},
		{name: "to a URL (mirror-target)", target: "http://" + mirror.Listener.Addr().String() + "$request_uri", host: mirror.Listener.Addr().String()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rt := prefixRoute("/", "be")
			rt.Mirror = []string{tc.target}
			tp := startProxy(t, oneRoute(rt, upstream("be", endpoint(t, be)), upstream("mirror", endpoint(t, mirror))))
			resp, body := do(t, tp.client(t, "http", nil), "POST", tp.url(t, "http")+"/m?x=1", strings.NewReader("copy me"), "Host", "app.example.com")
			if resp.StatusCode != 200 || decodeEcho(t, body).Body != "copy me" {
				t.Fatalf("main request: %d %s", resp.StatusCode, body)
			}
			select {
			case m := <-got:
				if m.Method != "POST" || m.URI != "/m?x=1" || m.Body != "copy me" || m.Host != tc.host || m.Header.Get("X-Original-Uri") != "/m?x=1" {
					t.Errorf("mirror got %+v", m)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("the mirror got nothing")
			}
		})
	}
}

// named is a backend that answers with its name.
func named(t testing.TB, name string) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, name)
	}))
	t.Cleanup(s.Close)
	return s
}

func TestAffinity(t *testing.T) {
	b0, b1, b2 := named(t, "b0"), named(t, "b1"), named(t, "b2")
	eps := []netip.AddrPort{endpoint(t, b0), endpoint(t, b1), endpoint(t, b2)}
	cookieRe := regexp.MustCompile(`^INGRESSCOOKIE=([^|;]+)\|([0-9a-f]{32}); Expires=[A-Z][a-z]{2}, \d\d-[A-Z][a-z]{2}-\d\d \d\d:\d\d:\d\d GMT; Max-Age=172800; Path=/app; HttpOnly; SameSite=Lax$`)
	aff := func(persistent, change bool) *CookieAffinity {
		return &CookieAffinity{Name: "INGRESSCOOKIE", MaxAge: 172800, Expires: 172800, SameSite: "Lax", Persistent: persistent, ChangeOnFailure: change}
	}
	config := func(a *CookieAffinity, eps ...netip.AddrPort) *Config {
		rt := prefixRoute("/app", "app")
		rt.Meta.Path = "/app"
		rt.Affinity = a
		rt.Retry = Retry{On: []RetryOn{RetryError, RetryTimeout}, Tries: 3}
		cfg := oneRoute(rt, upstream("default-app-80", eps...))
		rt.Backends[0].Upstream = "default-app-80"
		cfg.Listeners[0].Addr = "127.0.0.1:0"
		return cfg
	}
	for _, persistent := range []bool{false, true} {
		t.Run(fmt.Sprintf("persistent=%v", persistent), func(t *testing.T) {
			tp := startProxy(t, config(aff(persistent, false), eps...))
			c := tp.client(t, "http", nil)
			url := tp.url(t, "http") + "/app"
			resp, first := do(t, c, "GET", url, nil, "Host", "app.example.com")
			set := resp.Header.Get("Set-Cookie")
			m := cookieRe.FindStringSubmatch(set)
			if m == nil {
				t.Fatalf("Set-Cookie = %q, want ingress-nginx's sticky cookie", set)
			}
			sum := md5.Sum([]byte("default-app-80"))
			inner := hex.EncodeToString(sum[:])
			sum = md5.Sum([]byte(inner + "default-app-80"))
			if m[2] != hex.EncodeToString(sum[:]) {
				t.Errorf("backend key = %q, want md5(md5(name)..name)", m[2])
			}
			if persistent {
				idx := map[string]int{"b0": 0, "b1": 1, "b2": 2}[first]
				ep := eps[idx]
				sum := md5.Sum([]byte("default-app-80" + ep.String()))
				if m[1] != hex.EncodeToString(sum[:]) {
					t.Errorf("persistent key = %q, want md5(upstream name .. endpoint)", m[1])
				}
			}
			cookie := "INGRESSCOOKIE=" + m[1] + "|" + m[2]
			for i := 0; i < 10; i++ {
				resp, got := do(t, c, "GET", url, nil, "Host", "app.example.com", "Cookie", cookie)
				if got != first {
					t.Fatalf("request %d went to %s, want %s", i, got, first)
				}
				if sc := resp.Header.Get("Set-Cookie"); sc != "" {
					t.Errorf("request %d: Set-Cookie %q, want none for a pinned client", i, sc)
				}
			}
			// The pinned endpoint goes away: the client is pinned again elsewhere.
			var rest []netip.AddrPort
			for i, ep := range eps {
				if []string{"b0", "b1", "b2"}[i] != first {
					rest = append(rest, ep)
				}
			}
			if err := tp.Update(config(aff(persistent, false), rest...)); err != nil {
				t.Fatal(err)
			}
			resp, got := do(t, c, "GET", url, nil, "Host", "app.example.com", "Cookie", cookie)
			if got == first || resp.StatusCode != 200 {
				t.Fatalf("after removing %s: served by %s (%d)", first, got, resp.StatusCode)
			}
			if persistent && !cookieRe.MatchString(resp.Header.Get("Set-Cookie")) {
				t.Errorf("no new cookie: %q", resp.Header.Get("Set-Cookie"))
			}
		})
	}
	t.Run("session-cookie-change-on-failure", func(t *testing.T) {
		dead := deadEndpoint(t)
		sum := md5.Sum([]byte("default-app-80" + dead.String()))
		deadKey := hex.EncodeToString(sum[:])
		for _, change := range []bool{false, true} {
			tp := startProxy(t, config(aff(true, change), dead, eps[0]))
			resp, body := do(t, tp.client(t, "http", nil), "GET", tp.url(t, "http")+"/app", nil, "Host", "app.example.com", "Cookie", "INGRESSCOOKIE="+deadKey+"|x")
			if change {
				if resp.StatusCode != 200 || body != "b0" || !cookieRe.MatchString(resp.Header.Get("Set-Cookie")) {
					t.Errorf("change on failure: %d %q, Set-Cookie %q", resp.StatusCode, body, resp.Header.Get("Set-Cookie"))
				}
			} else if resp.StatusCode != 502 {
				t.Errorf("without change on failure: %d, want 502 (the cookie keeps the dead endpoint)", resp.StatusCode)
			}
		}
	})
	t.Run("secure over TLS, domain", func(t *testing.T) {
		a := &CookieAffinity{Name: "s", Domain: "example.com", Path: "/", Secure: true}
		rq := &request{r: httptest.NewRequest("GET", "/", nil), rt: &compiledRoute{r: &Route{}}}
		up := newUpstreamView(upstream("u", eps[0]), &balancerState{})
		if got := rq.affinityCookie(a, "k", up); !strings.HasPrefix(got, "s=k|") || !strings.HasSuffix(got, "; Domain=example.com; Path=/; Secure; HttpOnly") {
			t.Errorf("cookie = %q", got)
		}
	})
}

func TestBalancing(t *testing.T) {
	b0, b1, b2 := named(t, "b0"), named(t, "b1"), named(t, "b2")
	eps := []netip.AddrPort{endpoint(t, b0), endpoint(t, b1), endpoint(t, b2)}
	t.Run("round robin", func(t *testing.T) {
		tp := startProxy(t, oneRoute(prefixRoute("/", "up"), upstream("up", eps...)))
		c := tp.client(t, "http", nil)
		var got []string
		for i := 0; i < 6; i++ {
			_, body := do(t, c, "GET", tp.url(t, "http")+"/", nil, "Host", "app.example.com")
			got = append(got, body)
		}
		if strings.Join(got, ",") != "b0,b1,b2,b0,b1,b2" {
			t.Errorf("order = %v", got)
		}
	})
	t.Run("consistent hash by $arg_user", func(t *testing.T) {
		up := upstream("up", eps...)
		up.Balance, up.HashBy = ConsistentHash, "$arg_user"
		tp := startProxy(t, oneRoute(prefixRoute("/", "up"), up))
		c := tp.client(t, "http", nil)
		seen := map[string]bool{}
		for u := 0; u < 20; u++ {
			var first string
			for i := 0; i < 3; i++ {
				_, body := do(t, c, "GET", fmt.Sprintf("%s/?user=u%d", tp.url(t, "http"), u), nil, "Host", "app.example.com")
				if i == 0 {
					first = body
				} else if body != first {
					t.Fatalf("user u%d went to %s then %s", u, first, body)
				}
			}
			seen[first] = true
		}
		if len(seen) < 2 {
			t.Errorf("20 users all on %v", seen)
		}
	})
	t.Run("ewma prefers the faster endpoint", func(t *testing.T) {
		slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			time.Sleep(30 * time.Millisecond)
			_, _ = io.WriteString(w, "slow")
		}))
		defer slow.Close()
		up := upstream("up", endpoint(t, slow), eps[0])
		up.Balance = EWMA
		tp := startProxy(t, oneRoute(prefixRoute("/", "up"), up))
		c := tp.client(t, "http", nil)
		fast := 0
		for i := 0; i < 30; i++ {
			if _, body := do(t, c, "GET", tp.url(t, "http")+"/", nil, "Host", "app.example.com"); body == "b0" {
				fast++
			}
		}
		if fast < 25 {
			t.Errorf("fast endpoint served %d of 30", fast)
		}
	})
	t.Run("canary weight", func(t *testing.T) {
		rt := &Route{Match: Match{PathType: PathPrefix, Path: "/"}, Backends: []WeightedBackend{
			{Upstream: "main", Weight: 70}, {Upstream: "canary", Weight: 30, Canary: true},
		}}
		tp := startProxy(t, oneRoute(rt, upstream("main", eps[0]), upstream("canary", eps[1])))
		c := tp.client(t, "http", nil)
		counts := map[string]int{}
		for i := 0; i < 300; i++ {
			_, body := do(t, c, "GET", tp.url(t, "http")+"/", nil, "Host", "app.example.com")
			counts[body]++
		}
		if counts["b1"] < 60 || counts["b1"] > 130 {
			t.Errorf("canary got %d of 300, want about 90", counts["b1"])
		}
		var canary, main int
		tp.rec.wait(t, 300)
		tp.rec.mu.Lock()
		for _, e := range tp.rec.entries {
			if e.UpstreamName != "main" {
				t.Errorf("$proxy_upstream_name = %q, want main", e.UpstreamName)
				break
			}
			switch e.AlternativeUpstreamName {
			case "canary":
				canary++
			case "":
				main++
			}
		}
		tp.rec.mu.Unlock()
		if canary != counts["b1"] || main != counts["b0"] {
			t.Errorf("entries: %d canary, %d main; responses %v", canary, main, counts)
		}
	})
	t.Run("canary weight 0 never serves", func(t *testing.T) {
		rt := &Route{Match: Match{PathType: PathPrefix, Path: "/"}, Backends: []WeightedBackend{
			{Upstream: "main", Weight: 100}, {Upstream: "canary", Weight: 0, Canary: true},
		}}
		tp := startProxy(t, oneRoute(rt, upstream("main", eps[0]), upstream("canary", eps[1])))
		c := tp.client(t, "http", nil)
		for i := 0; i < 20; i++ {
			if _, body := do(t, c, "GET", tp.url(t, "http")+"/", nil, "Host", "app.example.com"); body != "b0" {
				t.Fatalf("served by %s", body)
			}
		}
	})
	t.Run("round robin position survives an endpoint change", func(t *testing.T) {
		cfg := func(eps ...netip.AddrPort) *Config {
			c := oneRoute(prefixRoute("/", "up"), upstream("up", eps...))
			c.Listeners[0].Addr = "127.0.0.1:0"
			return c
		}
		tp := startProxy(t, cfg(eps[0], eps[1]))
		c := tp.client(t, "http", nil)
		if _, body := do(t, c, "GET", tp.url(t, "http")+"/", nil, "Host", "app.example.com"); body != "b0" {
			t.Fatalf("first: %s", body)
		}
		if err := tp.Update(cfg(eps...)); err != nil {
			t.Fatal(err)
		}
		if _, body := do(t, c, "GET", tp.url(t, "http")+"/", nil, "Host", "app.example.com"); body != "b1" {
			t.Fatalf("after the endpoint change: %s, want b1", body)
		}
	})
}

func TestErrorPages(t *testing.T) {
	var seen atomic.Pointer[echo]
	errs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.Store(&echo{Method: r.Method, URI: r.RequestURI, Host: r.Host, Header: r.Header.Clone()})
		code := r.Header.Get("X-Code")
		w.Header().Set("Content-Type", "text/plain")
		var c int
		fmt.Sscan(code, &c)
		w.WriteHeader(c)
		fmt.Fprintf(w, "custom %s", code)
	}))
	t.Cleanup(errs.Close)
	be := statusBackend(t, 404)
	newCfg := func(main string) *Config {
		rt := prefixRoute("/", main)
		rt.Meta = RouteMeta{Kind: "Ingress", Namespace: "shop", Name: "web", Service: "web", ServicePort: "80"}
		rt.Errors = &ErrorPages{Codes: []int{404, 503}, Upstream: "custom-default-backend-errors"}
		return oneRoute(rt, upstream("web", endpoint(t, be)), upstream("empty"), upstream("custom-default-backend-errors", endpoint(t, errs)))
	}
	t.Run("backend answer intercepted", func(t *testing.T) {
		tp := startProxy(t, newCfg("web"))
		resp, body := do(t, tp.client(t, "http", nil), "GET", tp.url(t, "http")+"/missing?q=1", nil, "Host", "app.example.com", "Accept", "application/json", "X-Request-ID", "rid")
		if resp.StatusCode != 404 || body != "custom 404" {
			t.Fatalf("got %d %q, want the error backend's answer", resp.StatusCode, body)
		}
		e := seen.Load()
		want := map[string]string{
			"X-Code": "404", "X-Format": "application/json", "X-Original-Uri": "/missing?q=1", "X-Namespace": "shop",
			"X-Ingress-Name": "web", "X-Service-Name": "web", "X-Service-Port": "80", "X-Request-Id": "rid",
		}
		for k, v := range want {
			if got := e.Header.Get(k); got != v {
				t.Errorf("%s = %q, want %q", k, got, v)
			}
		}
		if e.URI != "/?q=1" || e.Method != "GET" || e.Host != "app.example.com" {
			t.Errorf("error backend got %s %s (Host %s), want GET /?q=1", e.Method, e.URI, e.Host)
		}
		entry := tp.rec.wait(t, 1)
		if want := endpoint(t, be).String() + " : " + endpoint(t, errs).String(); entry.UpstreamAddr() != want {
			t.Errorf("$upstream_addr = %q, want %q", entry.UpstreamAddr(), want)
		}
		if entry.UpstreamName != "custom-default-backend-errors" {
			t.Errorf("$proxy_upstream_name = %q", entry.UpstreamName)
		}
	})
	t.Run("the proxy's own 503 intercepted", func(t *testing.T) {
		tp := startProxy(t, newCfg("empty"))
		resp, body := do(t, tp.client(t, "http", nil), "GET", tp.url(t, "http")+"/", nil, "Host", "app.example.com")
		if resp.StatusCode != 503 || body != "custom 503" {
			t.Fatalf("got %d %q", resp.StatusCode, body)
		}
	})
	t.Run("error backend without endpoints", func(t *testing.T) {
		cfg := newCfg("web")
		cfg.Upstreams["custom-default-backend-errors"].Endpoints = nil
		tp := startProxy(t, cfg)
		resp, body := do(t, tp.client(t, "http", nil), "GET", tp.url(t, "http")+"/", nil, "Host", "app.example.com")
		if _, page := NginxErrorPage(503); resp.StatusCode != 503 || body != string(page) {
			t.Fatalf("got %d %q", resp.StatusCode, body)
		}
	})
}

func TestObserverEntry(t *testing.T) {
	be := echoBackend(t, "be")
	rt := prefixRoute("/", "default-be-80")
	rt.Meta = RouteMeta{Kind: "Ingress", Namespace: "default", Name: "be", Service: "be", ServicePort: "80", Path: "/"}
	cfg := oneRoute(rt, upstream("default-be-80", endpoint(t, be)))
	cfg.Forwarding.GenerateRequestID = true
	tp := startProxy(t, cfg)
	c := tp.client(t, "http", nil)
	_, body := do(t, c, "POST", tp.url(t, "http")+"/x?y=1", strings.NewReader("hello"), "Host", "App.Example.com", "User-Agent", "ua/1", "Referer", "https://ref.test/")
	e := tp.rec.wait(t, 1)
	if e.Status != 200 || e.Method != "POST" || e.URI != "/x?y=1" || e.Proto != "HTTP/1.1" || e.Host != "app.example.com" ||
		e.Scheme != "http" || e.Listener != "http" || e.RemoteAddr != "127.0.0.1" || e.UserAgent != "ua/1" || e.Referer != "https://ref.test/" {
		t.Errorf("entry = %+v", e)
	}
	if e.BodyBytesSent != int64(len(body)) || e.BytesReceived != 5 || e.RequestLength < 60 {
		t.Errorf("sizes: sent %d (body %d), received %d, request length %d", e.BodyBytesSent, len(body), e.BytesReceived, e.RequestLength)
	}
	if e.Route.Name != "be" || e.Path != "/" || e.UpstreamName != "default-be-80" || len(e.Upstreams) != 1 || e.Upstreams[0].Status != 200 || e.Upstreams[0].ResponseLength != int64(len(body)) {
		t.Errorf("route and upstream: %+v", e)
	}
	line := tp.rec.lines[0]
	re := regexp.MustCompile(`^127\.0\.0\.1 - - \[\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\] "POST /x\?y=1 HTTP/1\.1" 200 \d+ "https://ref\.test/" "ua/1" \d+ \d+\.\d{3} \[default-be-80\] \[\] 127\.0\.0\.1:\d+ \d+ \d+\.\d{3} 200 [0-9a-f]{32}$`)
	if !re.MatchString(line) {
		t.Errorf("log line %q does not have ingress-nginx's upstreaminfo format", line)
	}
	// A request no route serves has no upstream.
	do(t, c, "GET", tp.url(t, "http")+"/", nil, "Host", "nothing.test")
	if e := tp.rec.wait(t, 2); e.Status != 404 || len(e.Upstreams) != 0 || !strings.Contains(tp.rec.lines[1], `[-] [] - - - -`) {
		t.Errorf("404 entry: %+v, line %q", e, tp.rec.lines[1])
	}
}
