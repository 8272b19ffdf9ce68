package l7

import (
	"fmt"
	"net/http"
	"net/netip"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestProxyRoutesByHostAndPath(t *testing.T) {
	a, b := echoBackend(t, "a"), echoBackend(t, "b")
	cfg := &Config{
		Listeners: []*Listener{httpListener(
			&Server{Hostnames: []string{"a.example.com"}, Routes: []*Route{prefixRoute("/", "a")}},
			&Server{Hostnames: []string{"b.example.com", "*.b.example.com"}, Routes: []*Route{
				{Match: Match{PathType: PathExact, Path: "/exact"}, Backends: []WeightedBackend{{Upstream: "a", Weight: 1}}},
				prefixRoute("/", "b"),
			}},
		)},
		Upstreams:    map[string]*Upstream{"a": upstream("a", endpoint(t, a)), "b": upstream("b", endpoint(t, b))},
		ServerHeader: "nginx",
	}
	tp := startProxy(t, cfg)
	c := tp.client(t, "http", nil)
	base := tp.url(t, "http")
	for _, tc := range []struct {
		name, host, path string
		code             int
		backend          string
	}{
		{name: "first host", host: "a.example.com", path: "/x", code: 200, backend: "a"},
		{name: "second host prefix", host: "b.example.com", path: "/x/y", code: 200, backend: "b"},
		{name: "second host exact path", host: "b.example.com", path: "/exact", code: 200, backend: "a"},
		{name: "wildcard host", host: "w.b.example.com:80", path: "/", code: 200, backend: "b"},
		{name: "unknown host without default server", host: "c.example.com", path: "/", code: 404},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := do(t, c, "GET", base+tc.path, nil, "Host", tc.host)
			if resp.StatusCode != tc.code {
				t.Fatalf("status = %d, want %d (%s)", resp.StatusCode, tc.code, body)
			}
			if got := resp.Header.Get("Server"); got != "nginx" {
				t.Errorf("Server = %q, want nginx", got)
			}
			if tc.backend == "" {
				_, page := NginxErrorPage(404)
				if body != string(page) || resp.Header.Get("Content-Type") != "text/html" {
					t.Errorf("body = %q (%s), want nginx's 404 page", body, resp.Header.Get("Content-Type"))
				}
				return
			}
			if e := decodeEcho(t, body); e.Backend != tc.backend || e.URI != tc.path {
				t.Errorf("served by %s with URI %q, want %s with %q", e.Backend, e.URI, tc.backend, tc.path)
			}
		})
	}
}

func TestHeadersToBackend(t *testing.T) {
	be := echoBackend(t, "be")
	for _, tc := range []struct {
		name    string
		fw      Forwarding
		route   func(*Route)
		reqHdr  []string
		target  string
		want    map[string]string
		absent  []string
		wantURI string
		host    string
	}{
		{
			name:   "defaults: client X-Forwarded-* ignored",
			fw:     Forwarding{GenerateRequestID: true},
			reqHdr: []string{"X-Forwarded-For", "1.2.3.4", "X-Forwarded-Proto", "https", "X-Forwarded-Host", "evil.test", "X-Real-IP", "9.9.9.9", "Proxy", "http://evil", "X-Forwarded-Port", "1"},
			target: "/a//b/../c?x=%41&y",
			want: map[string]string{
				"X-Real-Ip": "127.0.0.1", "X-Forwarded-For": "127.0.0.1", "X-Forwarded-Host": "app.example.com:8080",
				"X-Forwarded-Proto": "http", "X-Forwarded-Scheme": "http", "X-Scheme": "http",
				"X-Original-Forwarded-For": "1.2.3.4",
			},
			absent:  []string{"Proxy", "X-Original-Uri"},
			wantURI: "/a//b/../c?x=%41&y",
			host:    "app.example.com:8080",
		},
		{
			name:   "use-forwarded-headers trusts the client's",
			fw:     Forwarding{UseForwardedHeaders: true},
			reqHdr: []string{"X-Forwarded-For", "203.0.113.7, 10.0.0.1", "X-Forwarded-Proto", "https", "X-Forwarded-Host", "public.example.com, inner", "X-Forwarded-Port", "443"},
			want: map[string]string{
				"X-Real-Ip": "203.0.113.7", "X-Forwarded-For": "203.0.113.7", "X-Forwarded-Host": "public.example.com",
				"X-Forwarded-Proto": "https", "X-Forwarded-Port": "443", "X-Scheme": "https",
				"X-Original-Forwarded-For": "203.0.113.7, 10.0.0.1",
			},
			host: "public.example.com",
		},
		{
			name:   "compute-full-forwarded-for appends the peer",
			fw:     Forwarding{UseForwardedHeaders: true, ComputeFullForwardedFor: true},
			reqHdr: []string{"X-Forwarded-For", "203.0.113.7"},
			want:   map[string]string{"X-Forwarded-For": "203.0.113.7, 127.0.0.1", "X-Real-Ip": "203.0.113.7"},
		},
		{
			name:   "proxy-real-ip-cidr: an untrusted peer's header is not used",
			fw:     Forwarding{UseForwardedHeaders: true, RealIPFrom: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}},
			reqHdr: []string{"X-Forwarded-For", "203.0.113.7"},
			want:   map[string]string{"X-Real-Ip": "127.0.0.1", "X-Forwarded-For": "127.0.0.1"},
		},
		{
			name:   "client request id kept",
			fw:     Forwarding{GenerateRequestID: true},
			reqHdr: []string{"X-Request-ID", "my-id"},
			want:   map[string]string{"X-Request-Id": "my-id"},
		},
		{
			name:   "no request id when not generated",
			absent: []string{"X-Request-Id"},
		},
		{
			name:   "proxy-add-original-uri-header",
			fw:     Forwarding{AddOriginalURIHeader: true},
			target: "/o?q=1",
			want:   map[string]string{"X-Original-Uri": "/o?q=1"},
		},
		{
			name: "upstream-vhost, x-forwarded-prefix and custom headers",
			route: func(r *Route) {
				r.UpstreamHost = "internal.svc"
				r.ForwardedPrefix = "/app"
				r.RequestHeaders = HeaderModifier{Set: map[string]string{"X-Set": "1"}, Add: map[string]string{"X-Add": "2"}, Remove: []string{"X-Drop"}}
			},
			reqHdr: []string{"X-Drop", "x"},
			want:   map[string]string{"X-Forwarded-Prefix": "/app", "X-Set": "1", "X-Add": "2", "X-Forwarded-Host": "app.example.com"},
			absent: []string{"X-Drop"},
			host:   "internal.svc",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rt := prefixRoute("/", "be")
			if tc.route != nil {
				tc.route(rt)
			}
			cfg := oneRoute(rt, upstream("be", endpoint(t, be)))
			cfg.Forwarding = tc.fw
			cfg.Listeners[0].Servers[0].Hostnames = []string{"app.example.com", "public.example.com"}
			tp := startProxy(t, cfg)
			target := tc.target
			if target == "" {
				target = "/"
			}
			host := "app.example.com"
			if strings.Contains(tc.name, "defaults") {
				host = "app.example.com:8080"
			}
			hdr := append([]string{"Host", host}, tc.reqHdr...)
			resp, body := do(t, tp.client(t, "http", nil), "GET", tp.url(t, "http")+target, nil, hdr...)
			if resp.StatusCode != 200 {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			e := decodeEcho(t, body)
			for k, v := range tc.want {
				if got := e.Header.Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			for _, k := range tc.absent {
				if vs, ok := e.Header[http.CanonicalHeaderKey(k)]; ok {
					t.Errorf("%s = %q, want it absent", k, vs)
				}
			}
			if tc.fw.GenerateRequestID && tc.want["X-Request-Id"] == "" {
				if id := e.Header.Get("X-Request-Id"); !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(id) {
					t.Errorf("X-Request-Id = %q, want 32 hex digits", id)
				}
			}
			if tc.wantURI != "" && e.URI != tc.wantURI {
				t.Errorf("URI = %q, want %q (as the client sent it)", e.URI, tc.wantURI)
			}
			wantHost := tc.host
			if wantHost == "" {
				wantHost = "app.example.com"
			}
			if e.Host != wantHost {
				t.Errorf("Host = %q, want %q", e.Host, wantHost)
			}
			if got := e.Header.Get("X-Forwarded-Port"); tc.want["X-Forwarded-Port"] == "" && got != strings.Split(tp.Addr("http").String(), ":")[1] {
				t.Errorf("X-Forwarded-Port = %q, want the listener's port", got)
			}
			if resp.Header.Get("Date") == "" {
				t.Error("no Date header")
			}
		})
	}
}

func TestResponseHeaders(t *testing.T) {
	be := echoBackend(t, "be")
	rt := prefixRoute("/", "be")
	rt.ResponseHeaders = HeaderModifier{Set: map[string]string{"X-Frame-Options": "DENY"}, Remove: []string{"Content-Type"}}
	cfg := oneRoute(rt, upstream("be", endpoint(t, be)))
	cfg.ServerHeader = "nginx"
	tp := startProxy(t, cfg)
	resp, _ := do(t, tp.client(t, "http", nil), "GET", tp.url(t, "http")+"/", nil, "Host", "app.example.com")
	if got := resp.Header.Get("Server"); got != "nginx" {
		t.Errorf("Server = %q, want the proxy's, not the backend's", got)
	}
	if got := resp.Header.Get("X-Frame-Options"); got != "DENY" {
		t.Errorf("X-Frame-Options = %q", got)
	}
	if got := resp.Header.Get("Content-Type"); got != "" {
		t.Errorf("Content-Type = %q, want removed", got)
	}
}

func TestGeneratedResponses(t *testing.T) {
	be := echoBackend(t, "be")
	withoutEndpoints := &Upstream{Name: "empty"}
	srv := &Server{Hostnames: []string{"app.example.com"}, Routes: []*Route{
		{Match: Match{PathType: PathExact, Path: "/healthz"}, Respond: &Respond{Code: 200}},
		{Match: Match{PathType: PathExact, Path: "/text"}, Respond: &Respond{Code: 201, ContentType: "text/plain", Body: "made"}},
		{Match: Match{PathType: PathExact, Path: "/gone"}, Respond: &Respond{Code: 410}},
		prefixRoute("/empty", "empty"),
		prefixRoute("/missing", "nope"),
		{Match: Match{PathType: PathPrefix, Path: "/denied"}},
		prefixRoute("/ok", "be"),
	}}
	cfg := &Config{
		Listeners:    []*Listener{{Name: "http", Protocol: HTTP, Servers: []*Server{srv}, Default: &Server{NotFound: &Route{Respond: &Respond{Code: 404}}}}},
		Upstreams:    map[string]*Upstream{"be": upstream("be", endpoint(t, be)), "empty": withoutEndpoints},
		ServerHeader: "nginx",
	}
	tp := startProxy(t, cfg)
	for _, tc := range []struct {
		name, host, path string
		code             int
		body             string
		nginxPage        bool
	}{
		{name: "respond with empty body (healthz)", path: "/healthz", code: 200},
		{name: "respond with a body", path: "/text", code: 201, body: "made"},
		{name: "respond with an error code uses nginx's page", path: "/gone", code: 410, nginxPage: true},
		{name: "upstream without endpoints is 503", path: "/empty", code: 503, nginxPage: true},
		{name: "unknown upstream is 503", path: "/missing", code: 503, nginxPage: true},
		{name: "route without action is 503 (denied location)", path: "/denied", code: 503, nginxPage: true},
		{name: "default server 404", host: "nothing.test", path: "/", code: 404, nginxPage: true},
		{name: "path above the root is 400", path: "/a/../../x", code: 400, nginxPage: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			host := tc.host
			if host == "" {
				host = "app.example.com"
			}
			resp, body := rawDo(t, tp.Addr("http").String(), "GET "+tc.path+" HTTP/1.1\r\nHost: "+host+"\r\n\r\n")
			if resp.StatusCode != tc.code {
				t.Fatalf("status = %d, want %d", resp.StatusCode, tc.code)
			}
			want := tc.body
			if tc.nginxPage {
				_, page := NginxErrorPage(tc.code)
				want = string(page)
			}
			if body != want {
				t.Errorf("body = %q, want %q", body, want)
			}
			if resp.Header.Get("Server") != "nginx" {
				t.Errorf("Server = %q", resp.Header.Get("Server"))
			}
		})
	}
}

func TestHTTPSRedirect(t *testing.T) {
	be := echoBackend(t, "be")
	for _, tc := range []struct {
		name     string
		redirect Redirect
		fw       Forwarding
		target   string
		hdr      []string
		code     int
		location string
	}{
		{name: "ssl-redirect with 308 by default and the port dropped", target: "/path?q=1", hdr: []string{"Host", "app.example.com:8080"}, code: 308, location: "https://app.example.com/path?q=1"},
		{name: "trailing slash stripped (preserve-trailing-slash false)", redirect: Redirect{StripTrailingSlash: true}, target: "/path/", code: 308, location: "https://app.example.com/path"},
		{name: "root becomes the bare host", redirect: Redirect{StripTrailingSlash: true}, target: "/", code: 308, location: "https://app.example.com"},
		{name: "trailing slash kept", target: "/path/", code: 308, location: "https://app.example.com/path/"},
		{name: "http-redirect-code", redirect: Redirect{Code: 301}, target: "/x", code: 301, location: "https://app.example.com/x"},
		{name: "HTTPS port other than 443", redirect: Redirect{Port: 8443}, target: "/x", code: 308, location: "https://app.example.com:8443/x"},
		{name: "X-Forwarded-Proto https with use-forwarded-headers: no redirect", fw: Forwarding{UseForwardedHeaders: true}, hdr: []string{"X-Forwarded-Proto", "https"}, target: "/x", code: 200},
		{name: "X-Forwarded-Proto ignored without use-forwarded-headers", hdr: []string{"X-Forwarded-Proto", "https"}, target: "/x", code: 308, location: "https://app.example.com/x"},
		{name: "X-Forwarded-Host names the redirect host", fw: Forwarding{UseForwardedHeaders: true}, hdr: []string{"X-Forwarded-Host", "public.example.com:81"}, target: "/x", code: 308, location: "https://public.example.com/x"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rt := prefixRoute("/", "be")
			rd := tc.redirect
			rt.HTTPSRedirect = &rd
			rt.AllowSources = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
			if tc.code == 200 {
				rt.AllowSources = nil
			}
			cfg := oneRoute(rt, upstream("be", endpoint(t, be)))
			cfg.Forwarding = tc.fw
			tp := startProxy(t, cfg)
			hdr := tc.hdr
			if len(hdr) == 0 || hdr[0] != "Host" {
				hdr = append([]string{"Host", "app.example.com"}, hdr...)
			}
			resp, body := do(t, tp.client(t, "http", nil), "GET", tp.url(t, "http")+tc.target, nil, hdr...)
			if resp.StatusCode != tc.code {
				t.Fatalf("status = %d, want %d (%s)", resp.StatusCode, tc.code, body)
			}
			if got := resp.Header.Get("Location"); got != tc.location {
				t.Errorf("Location = %q, want %q", got, tc.location)
			}
			if tc.code != 200 {
				// The redirect comes before the allowlist (the client is not in it), as
				// ingress-nginx's rewrite phase runs before the access phase.
				_, page := NginxErrorPage(tc.code)
				if body != string(page) {
					t.Errorf("body = %q, want nginx's %d page", body, tc.code)
				}
			}
		})
	}
}

func TestSourceRanges(t *testing.T) {
	be := echoBackend(t, "be")
	p := netip.MustParsePrefix
	for _, tc := range []struct {
		name        string
		allow, deny []netip.Prefix
		fw          Forwarding
		hdr         []string
		code        int
	}{
		{name: "allowlist containing the client", allow: []netip.Prefix{p("127.0.0.0/8")}, code: 200},
		{name: "allowlist without the client", allow: []netip.Prefix{p("10.0.0.0/8"), p("::1/128")}, code: 403},
		{name: "denylist wins over allowlist", allow: []netip.Prefix{p("127.0.0.0/8")}, deny: []netip.Prefix{p("127.0.0.1/32")}, code: 403},
		{name: "denylist without the client", deny: []netip.Prefix{p("10.0.0.0/8")}, code: 200},
		{name: "real IP from X-Forwarded-For", allow: []netip.Prefix{p("10.0.0.0/8")}, fw: Forwarding{UseForwardedHeaders: true}, hdr: []string{"X-Forwarded-For", "10.1.2.3"}, code: 200},
		{name: "X-Forwarded-For ignored without use-forwarded-headers", allow: []netip.Prefix{p("10.0.0.0/8")}, hdr: []string{"X-Forwarded-For", "10.1.2.3"}, code: 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rt := prefixRoute("/", "be")
			rt.AllowSources, rt.DenySources = tc.allow, tc.deny
			cfg := oneRoute(rt, upstream("be", endpoint(t, be)))
			cfg.Forwarding = tc.fw
			tp := startProxy(t, cfg)
			resp, body := do(t, tp.client(t, "http", nil), "GET", tp.url(t, "http")+"/", nil, append([]string{"Host", "app.example.com"}, tc.hdr...)...)
			if resp.StatusCode != tc.code {
				t.Fatalf("status = %d, want %d", resp.StatusCode, tc.code)
			}
			if tc.code == 403 {
				_, page := NginxErrorPage(403)
				if body != string(page) {
					t.Errorf("body = %q, want nginx's 403 page", body)
				}
			}
		})
	}
}

func TestRateLimit(t *testing.T) {
	be := echoBackend(t, "be")
	get := func(tp *testProxy) int {
		resp, _ := do(t, tp.client(t, "http", nil), "GET", tp.url(t, "http")+"/", nil, "Host", "app.example.com")
		return resp.StatusCode
	}
	t.Run("limit-rps with burst: burst+1 at once, then the limit code", func(t *testing.T) {
		rt := prefixRoute("/", "be")
		rt.Meta = RouteMeta{Kind: "Ingress", Namespace: "default", Name: "app"}
		rt.RateLimit = &RateLimit{RPS: 1, Burst: 2}
		tp := startProxy(t, oneRoute(rt, upstream("be", endpoint(t, be))))
		for i := 0; i < 3; i++ {
			if code := get(tp); code != 200 {
				t.Fatalf("request %d: status %d, want 200", i, code)
			}
		}
		if code := get(tp); code != 503 {
			t.Fatalf("request 4: status %d, want 503", code)
		}
		// The counters belong to the Ingress, not to this Route object: an Update with a
		// new but equal configuration keeps them.
		rt2 := prefixRoute("/", "be")
		rt2.Meta, rt2.RateLimit = rt.Meta, &RateLimit{RPS: 1, Burst: 2}
		cfg2 := oneRoute(rt2, upstream("be", endpoint(t, be)))
		cfg2.Listeners[0].Addr = "127.0.0.1:0"
		if err := tp.Update(cfg2); err != nil {
			t.Fatal(err)
		}
		if code := get(tp); code != 503 {
			t.Fatalf("after Update: status %d, want 503", code)
		}
	})
	t.Run("limit-req-status-code and allowlist", func(t *testing.T) {
		rt := prefixRoute("/", "be")
		rt.RateLimit = &RateLimit{RPM: 1, Code: 429}
		tp := startProxy(t, oneRoute(rt, upstream("be", endpoint(t, be))))
		if code := get(tp); code != 200 {
			t.Fatalf("first: %d", code)
		}
		if code := get(tp); code != 429 {
			t.Fatalf("second: %d, want 429", code)
		}
		rt2 := prefixRoute("/", "be")
		rt2.RateLimit = &RateLimit{RPM: 1, Code: 429, Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}
		tp2 := startProxy(t, oneRoute(rt2, upstream("be", endpoint(t, be))))
		for i := 0; i < 5; i++ {
			if code := get(tp2); code != 200 {
				t.Fatalf("allowlisted request %d: %d", i, code)
			}
		}
	})
	t.Run("limit-connections counts requests in progress", func(t *testing.T) {
		release := make(chan struct{})
		var once sync.Once
		slow := echoBackendFunc(t, func(w http.ResponseWriter, r *http.Request) {
			<-release
			w.WriteHeader(200)
		})
		rt := prefixRoute("/", "slow")
		rt.RateLimit = &RateLimit{Connections: 1}
		tp := startProxy(t, oneRoute(rt, upstream("slow", endpoint(t, slow))))
		done := make(chan int)
		go func() { done <- get(tp) }()
		waitFor(t, func() bool { return inFlight(slow) == 1 })
		if code := get(tp); code != 503 {
			t.Errorf("second concurrent request: %d, want 503", code)
		}
		once.Do(func() { close(release) })
		if code := <-done; code != 200 {
			t.Errorf("first request: %d", code)
		}
		if code := get(tp); code != 200 {
			t.Errorf("after the first finished: %d", code)
		}
	})
}

func TestCORS(t *testing.T) {
	be := echoBackendFunc(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", "https://backend.test")
		fmt.Fprintf(w, "%s", r.Method)
	})
	cors := &CORS{
		AllowOrigins:     []string{"https://a.example.com", "https://*.example.org"},
		AllowMethods:     "GET, PUT, POST, DELETE, PATCH, OPTIONS",
		AllowHeaders:     "DNT,Keep-Alive,User-Agent,X-Requested-With,If-Modified-Since,Cache-Control,Content-Type,Range,Authorization",
		ExposeHeaders:    "X-Total",
		AllowCredentials: true,
		MaxAge:           1728000,
	}
	for _, tc := range []struct {
		name, method, origin string
		cors                 *CORS
		code                 int
		body                 string
		acao                 string
	}{
		{name: "preflight from an allowed origin", method: "OPTIONS", origin: "https://a.example.com", cors: cors, code: 204, acao: "https://a.example.com"},
		{name: "request from a wildcard origin, case-insensitive", method: "GET", origin: "HTTPS://x.Example.org", cors: cors, code: 200, body: "GET", acao: "HTTPS://x.Example.org"},
		{name: "wildcard stands for one label", method: "GET", origin: "https://a.b.example.org", cors: cors, code: 200, body: "GET", acao: "https://backend.test"},
		{name: "other origin: no CORS headers, preflight proxied", method: "OPTIONS", origin: "https://evil.test", cors: cors, code: 200, body: "OPTIONS", acao: "https://backend.test"},
		{name: "any origin", method: "GET", cors: &CORS{AllowOrigins: []string{"*"}, AllowMethods: "GET", MaxAge: 5}, code: 200, body: "GET", acao: "*"},
		{name: "any origin preflight", method: "OPTIONS", origin: "https://z.test", cors: &CORS{AllowOrigins: []string{"*"}}, code: 204, acao: "*"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rt := prefixRoute("/", "be")
			rt.CORS = tc.cors
			rt.RateLimit = &RateLimit{RPM: 1, Burst: 0} // preflights are answered before rate limits
			tp := startProxy(t, oneRoute(rt, upstream("be", endpoint(t, be))))
			c := tp.client(t, "http", nil)
			hdr := []string{"Host", "app.example.com"}
			if tc.origin != "" {
				hdr = append(hdr, "Origin", tc.origin)
			}
			if tc.code == 204 {
				// Use up the rate limit first.
				do(t, c, "GET", tp.url(t, "http")+"/", nil, "Host", "app.example.com")
			}
			resp, body := do(t, c, tc.method, tp.url(t, "http")+"/", nil, hdr...)
			if resp.StatusCode != tc.code || body != tc.body {
				t.Fatalf("got %d %q, want %d %q", resp.StatusCode, body, tc.code, tc.body)
			}
			if got := resp.Header.Get("Access-Control-Allow-Origin"); got != tc.acao {
				t.Errorf("Access-Control-Allow-Origin = %q, want %q", got, tc.acao)
			}
			if tc.acao != "" && tc.acao != "https://backend.test" {
				want := map[string]string{"Access-Control-Max-Age": fmt.Sprint(tc.cors.MaxAge), "Access-Control-Allow-Methods": tc.cors.AllowMethods}
				if tc.cors.AllowCredentials {
					want["Access-Control-Allow-Credentials"] = "true"
					want["Access-Control-Expose-Headers"] = "X-Total"
				}
				for k, v := range want {
					if got := resp.Header.Get(k); got != v {
						t.Errorf("%s = %q, want %q", k, got, v)
					}
				}
			}
			if tc.code == 204 && resp.Header.Get("Content-Type") != "text/plain charset=UTF-8" {
				t.Errorf("preflight Content-Type = %q", resp.Header.Get("Content-Type"))
			}
		})
	}
}

func TestMaxBody(t *testing.T) {
	var calls sync.Map
	be := echoBackendFunc(t, func(w http.ResponseWriter, r *http.Request) {
		calls.Store(r.URL.Path, true)
		echoHandler("be")(w, r)
	})
	rt := prefixRoute("/", "be")
	rt.MaxBodyBytes = 1000
	tp := startProxy(t, oneRoute(rt, upstream("be", endpoint(t, be))))
	c := tp.client(t, "http", nil)
	base := tp.url(t, "http")
	t.Run("Content-Length over the limit: 413 at once", func(t *testing.T) {
		resp, body := do(t, c, "POST", base+"/cl", strings.NewReader(strings.Repeat("x", 1001)), "Host", "app.example.com")
		_, page := NginxErrorPage(413)
		if resp.StatusCode != 413 || body != string(page) {
			t.Fatalf("got %d %q, want 413 with nginx's page", resp.StatusCode, body)
		}
		if _, ok := calls.Load("/cl"); ok {
			t.Error("the backend was called")
		}
	})
	t.Run("chunked body over the limit: 413", func(t *testing.T) {
		resp, _ := do(t, c, "POST", base+"/chunked", chunked{strings.NewReader(strings.Repeat("x", 5000))}, "Host", "app.example.com")
		if resp.StatusCode != 413 {
			t.Fatalf("status %d, want 413", resp.StatusCode)
		}
		if _, ok := calls.Load("/chunked"); ok {
			t.Error("the backend was called")
		}
	})
	t.Run("chunked body within the limit arrives with a Content-Length", func(t *testing.T) {
		resp, body := do(t, c, "POST", base+"/small", chunked{strings.NewReader(strings.Repeat("y", 999))}, "Host", "app.example.com")
		if resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
		e := decodeEcho(t, body)
		if len(e.Body) != 999 || e.Header.Get("Content-Length") != "999" {
			t.Errorf("backend got %d bytes with Content-Length %q", len(e.Body), e.Header.Get("Content-Length"))
		}
	})
	t.Run("body larger than the buffer is streamed", func(t *testing.T) {
		rec := newRecorder()
		p := New(Options{Observer: rec, BodyBufferBytes: 1024})
		cfg := oneRoute(prefixRoute("/", "be"), upstream("be", endpoint(t, be)))
		cfg.Listeners[0].Addr = "127.0.0.1:0"
		if err := p.Update(cfg); err != nil {
			t.Fatal(err)
		}
		defer p.Shutdown(t.Context())
		tp := &testProxy{Proxy: p, rec: rec}
		resp, body := do(t, tp.client(t, "http", nil), "PUT", tp.url(t, "http")+"/big", chunked{strings.NewReader(strings.Repeat("z", 100000))}, "Host", "app.example.com")
		if resp.StatusCode != 200 || len(decodeEcho(t, body).Body) != 100000 {
			t.Fatalf("status %d, body of %d bytes", resp.StatusCode, len(decodeEcho(t, body).Body))
		}
		if e := rec.wait(t, 1); e.BytesReceived != 100000 {
			t.Errorf("BytesReceived = %d", e.BytesReceived)
		}
	})
}

func TestRedirectAction(t *testing.T) {
	replace := "/new"
	for _, tc := range []struct {
		name     string
		rd       Redirect
		match    Match
		target   string
		host     string
		code     int
		location string
	}{
		{name: "permanent-redirect: a fixed URL", rd: Redirect{Code: 301, URL: "https://www.example.com/landing"}, target: "/a?b=1", code: 301, location: "https://www.example.com/landing"},
		{name: "URL with nginx variables", rd: Redirect{Code: 302, URL: "https://www.example.com$request_uri"}, target: "/a?b=1", code: 302, location: "https://www.example.com/a?b=1"},
		{name: "path replaced, query kept, port kept", rd: Redirect{Path: "/app"}, target: "/?q=1", host: "app.example.com:8080", code: 302, location: "http://app.example.com:8080/app?q=1"},
		{name: "query dropped", rd: Redirect{Code: 307, Path: "/app", DropQuery: true}, target: "/?q=1", code: 307, location: "http://app.example.com/app"},
		{name: "prefix replaced", rd: Redirect{Code: 308, PrefixReplace: &replace}, match: Match{PathType: PathPrefix, Path: "/old"}, target: "/old/x?y", code: 308, location: "http://app.example.com/new/x?y"},
		{name: "scheme, host and port", rd: Redirect{Code: 301, Scheme: "https", Host: "secure.example.com", Port: 8443}, target: "/p", code: 301, location: "https://secure.example.com:8443/p"},
		{name: "default port of the new scheme dropped", rd: Redirect{Scheme: "https", Port: 443}, target: "/p", code: 302, location: "https://app.example.com/p"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := tc.match
			if m.PathType == "" {
				m = Match{PathType: PathPrefix, Path: "/"}
			}
			rd := tc.rd
			tp := startProxy(t, oneRoute(&Route{Match: m, Redirect: &rd}))
			host := tc.host
			if host == "" {
				host = "app.example.com"
			}
			resp, body := do(t, tp.client(t, "http", nil), "GET", tp.url(t, "http")+tc.target, nil, "Host", host)
			if resp.StatusCode != tc.code || resp.Header.Get("Location") != tc.location {
				t.Fatalf("got %d %q, want %d %q", resp.StatusCode, resp.Header.Get("Location"), tc.code, tc.location)
			}
			if _, page := NginxErrorPage(tc.code); body != string(page) {
				t.Errorf("body = %q, want nginx's page", body)
			}
		})
	}
}

func TestRewrite(t *testing.T) {
	be := echoBackend(t, "be")
	apiRe := regexp.MustCompile(`(?i)^/api(/|$)(.*)`)
	full, pre := "/fixed", "/v1"
	for _, tc := range []struct {
		name    string
		match   Match
		rw      Rewrite
		target  string
		wantURI string
		host    string
	}{
		{name: "rewrite-target /$2", match: Match{PathType: PathRegex, Regex: apiRe}, rw: Rewrite{Regex: apiRe, Template: "/${2}"}, target: "/api/users?x=1", wantURI: "/users?x=1"},
		{name: "rewrite on the normalized path, escaped again", match: Match{PathType: PathRegex, Regex: apiRe}, rw: Rewrite{Regex: apiRe, Template: "/${2}"}, target: "/api//a%20b", wantURI: "/a%20b"},
		{name: "template arguments come before the request's", match: Match{PathType: PathRegex, Regex: apiRe}, rw: Rewrite{Regex: apiRe, Template: "/v2/${2}?y=2"}, target: "/api/u?x=1", wantURI: "/v2/u?y=2&x=1"},
		{name: "template ending with ? drops the request's arguments", match: Match{PathType: PathRegex, Regex: apiRe}, rw: Rewrite{Regex: apiRe, Template: "/v2/${2}?"}, target: "/api/u?x=1", wantURI: "/v2/u"},
		{name: "full path", match: Match{PathType: PathPrefix, Path: "/"}, rw: Rewrite{FullPath: &full}, target: "/any/thing?q", wantURI: "/fixed?q"},
		{name: "prefix replaced", match: Match{PathType: PathPrefix, Path: "/api"}, rw: Rewrite{PrefixReplace: &pre}, target: "/api/users", wantURI: "/v1/users"},
		{name: "hostname", match: Match{PathType: PathPrefix, Path: "/"}, rw: Rewrite{Hostname: "backend.internal"}, target: "/%7Eraw", wantURI: "/%7Eraw", host: "backend.internal"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rw := tc.rw
			rt := &Route{Match: tc.match, Rewrite: &rw, Backends: []WeightedBackend{{Upstream: "be"}}}
			tp := startProxy(t, oneRoute(rt, upstream("be", endpoint(t, be))))
			resp, body := do(t, tp.client(t, "http", nil), "GET", tp.url(t, "http")+tc.target, nil, "Host", "app.example.com")
			if resp.StatusCode != 200 {
				t.Fatalf("status %d", resp.StatusCode)
			}
			e := decodeEcho(t, body)
			if e.URI != tc.wantURI {
				t.Errorf("backend URI = %q, want %q", e.URI, tc.wantURI)
			}
			host := tc.host
			if host == "" {
				host = "app.example.com"
			}
			if e.Host != host {
				t.Errorf("backend Host = %q, want %q", e.Host, host)
			}
		})
	}
}

// echoBackendFunc starts a backend with its own handler, counting requests in progress.
func echoBackendFunc(t testing.TB, h http.HandlerFunc) *countingServer {
	t.Helper()
	cs := &countingServer{}
	cs.Server = newHTTPTestServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cs.mu.Lock()
		cs.active++
		cs.mu.Unlock()
		defer func() {
			cs.mu.Lock()
			cs.active--
			cs.mu.Unlock()
		}()
		h(w, r)
	}))
	t.Cleanup(cs.Close)
	return cs
}

func inFlight(cs *countingServer) int {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return cs.active
}

// waitFor polls cond for up to five seconds.
func waitFor(t testing.TB, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in time")
		}
		time.Sleep(2 * time.Millisecond)
	}
}
