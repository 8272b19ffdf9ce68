package l7

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	proxyproto "github.com/pires/go-proxyproto"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

// tlsSetup is an HTTPS listener with three servers, HSTS on one of them, and the same
// servers on an HTTP listener.
type tlsSetup struct {
	tp           *testProxy
	def, a, wild testCert
}

func newTLSSetup(t *testing.T) *tlsSetup {
	s := &tlsSetup{
		def:  newCert(t, "ingress.local"),
		a:    newCert(t, "a.example.com"),
		wild: newCert(t, "*.w.example.com"),
	}
	be := echoBackend(t, "be")
	hsts := map[string]string{"Strict-Transport-Security": "max-age=31536000; includeSubDomains"}
	sa := &Server{Hostnames: []string{"a.example.com"}, Certificate: s.a.cert, TLSResponseHeaders: hsts, Routes: []*Route{prefixRoute("/", "be")}}
	sw := &Server{Hostnames: []string{"*.w.example.com"}, Certificate: s.wild.cert, Routes: []*Route{prefixRoute("/", "be")}}
	sc := &Server{Hostnames: []string{"c.example.com"}, Routes: []*Route{{Match: Match{PathType: PathPrefix, Path: "/"}, Respond: &Respond{Code: 200, Body: "c"}}}}
	https := &Listener{Name: "https", Protocol: HTTPS, Servers: []*Server{sa, sw, sc}, DefaultCertificate: s.def.cert, SingleLabelWildcards: true}
	http := &Listener{Name: "http", Protocol: HTTP, Servers: []*Server{sa, sw, sc}}
	s.tp = startProxy(t, &Config{Listeners: []*Listener{http, https}, Upstreams: map[string]*Upstream{"be": upstream("be", endpoint(t, be))}})
	return s
}

func TestTLS(t *testing.T) {
	s := newTLSSetup(t)
	addr := s.tp.Addr("https").String()
	for _, tc := range []struct {
		name, sni string
		want      testCert
	}{
		{name: "SNI names a server with a certificate", sni: "a.example.com", want: s.a},
		{name: "SNI is case-insensitive", sni: "A.Example.COM", want: s.a},
		{name: "wildcard certificate", sni: "x.w.example.com", want: s.wild},
		{name: "wildcard matches one label only", sni: "x.y.w.example.com", want: s.def},
		{name: "server without certificate: the default", sni: "c.example.com", want: s.def},
		{name: "unknown SNI: the default", sni: "nope.test", want: s.def},
		{name: "no SNI: the default", want: s.def},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn, err := tls.Dial("tcp", addr, &tls.Config{ServerName: tc.sni, InsecureSkipVerify: true})
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if got := conn.ConnectionState().PeerCertificates[0]; !got.Equal(tc.want.cert.Leaf) {
				t.Errorf("certificate for %q is %v, want %v", tc.sni, got.DNSNames, tc.want.cert.Leaf.DNSNames)
			}
		})
	}
	t.Run("HTTP/2 over TLS, HSTS, Host routed independently of SNI", func(t *testing.T) {
		c := s.tp.client(t, "https", &tls.Config{ServerName: "a.example.com", RootCAs: s.a.pool})
		resp, body := do(t, c, "GET", "https://a.example.com/x", nil)
		if resp.ProtoMajor != 2 || resp.StatusCode != 200 {
			t.Fatalf("got %s %d", resp.Proto, resp.StatusCode)
		}
		if e := decodeEcho(t, body); e.Proto != "HTTP/1.1" || e.Header.Get("X-Forwarded-Proto") != "https" || e.Header.Get("X-Forwarded-Port") != "443" {
			t.Errorf("backend saw %s, X-Forwarded-Proto %q, X-Forwarded-Port %q", e.Proto, e.Header.Get("X-Forwarded-Proto"), e.Header.Get("X-Forwarded-Port"))
		}
		if got := resp.Header.Get("Strict-Transport-Security"); got != "max-age=31536000; includeSubDomains" {
			t.Errorf("HSTS = %q", got)
		}
		// Same connection's SNI is a.example.com; Host c.example.com is served by c.
		resp, body = do(t, c, "GET", "https://a.example.com/", nil, "Host", "c.example.com")
		if body != "c" {
			t.Errorf("Host c.example.com over SNI a.example.com served %q (%d)", body, resp.StatusCode)
		}
	})
	t.Run("no HSTS over plain HTTP", func(t *testing.T) {
		resp, _ := do(t, s.tp.client(t, "http", nil), "GET", s.tp.url(t, "http")+"/", nil, "Host", "a.example.com")
		if got := resp.Header.Get("Strict-Transport-Security"); got != "" {
			t.Errorf("HSTS over HTTP: %q", got)
		}
	})
	t.Run("TLS 1.1 refused", func(t *testing.T) {
		conn, err := tls.Dial("tcp", addr, &tls.Config{ServerName: "a.example.com", InsecureSkipVerify: true, MaxVersion: tls.VersionTLS11})
		if err == nil {
			conn.Close()
			t.Fatal("TLS 1.1 handshake succeeded")
		}
	})
	t.Run("TLS 1.2 and 1.3 with http/1.1", func(t *testing.T) {
		for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
			conn, err := tls.Dial("tcp", addr, &tls.Config{ServerName: "a.example.com", RootCAs: s.a.pool, MinVersion: v, MaxVersion: v, NextProtos: []string{"http/1.1"}})
			if err != nil {
				t.Fatalf("version %x: %v", v, err)
			}
			if st := conn.ConnectionState(); st.Version != v || st.NegotiatedProtocol != "http/1.1" {
				t.Errorf("version %x, ALPN %q", st.Version, st.NegotiatedProtocol)
			}
			conn.Close()
		}
	})
	t.Run("ssl-redirect does not apply over TLS", func(t *testing.T) {
		// Covered by the route check: passScheme is https. Here: a redirect route answers
		// over HTTP but not over HTTPS.
		rt := prefixRoute("/", "be")
		rt.HTTPSRedirect = &Redirect{}
		be := echoBackend(t, "be")
		cert := newCert(t, "r.example.com")
		srv := &Server{Hostnames: []string{"r.example.com"}, Certificate: cert.cert, Routes: []*Route{rt}}
		tp := startProxy(t, &Config{
			Listeners: []*Listener{{Name: "http", Protocol: HTTP, Servers: []*Server{srv}}, {Name: "https", Protocol: HTTPS, Servers: []*Server{srv}}},
			Upstreams: map[string]*Upstream{"be": upstream("be", endpoint(t, be))},
		})
		if resp, _ := do(t, tp.client(t, "http", nil), "GET", tp.url(t, "http")+"/p", nil, "Host", "r.example.com"); resp.StatusCode != 308 {
			t.Errorf("over HTTP: %d, want 308", resp.StatusCode)
		}
		if resp, _ := do(t, tp.client(t, "https", &tls.Config{RootCAs: cert.pool}), "GET", "https://r.example.com/p", nil); resp.StatusCode != 200 {
			t.Errorf("over HTTPS: %d, want 200", resp.StatusCode)
		}
	})
}

func TestPassthrough(t *testing.T) {
	// The backend terminates TLS itself, with its own certificate.
	backCert := newCert(t, "pass.example.com", "x.pt.example.com")
	back := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "backend saw SNI %s over %s", r.TLS.ServerName, r.Proto)
	}))
	back.TLS = &tls.Config{Certificates: []tls.Certificate{*backCert.cert}}
	back.EnableHTTP2 = true
	back.StartTLS()
	t.Cleanup(back.Close)
	term := newCert(t, "term.example.com")
	srv := &Server{Hostnames: []string{"term.example.com"}, Certificate: term.cert, Routes: []*Route{{Match: Match{PathType: PathPrefix, Path: "/"}, Respond: &Respond{Code: 200, Body: "terminated"}}}}
	tp := startProxy(t, &Config{
		Listeners: []*Listener{{Name: "https", Protocol: HTTPS, Servers: []*Server{srv}, DefaultCertificate: term.cert,
			Passthrough: map[string]string{"pass.example.com": "pt", "*.pt.example.com": "pt"}}},
		Upstreams: map[string]*Upstream{"pt": upstream("pt", endpoint(t, back))},
	})
	for _, tc := range []struct {
		name, host string
		pool       testCert
		body       string
	}{
		{name: "passthrough by exact SNI", host: "pass.example.com", pool: backCert, body: "backend saw SNI pass.example.com over HTTP/2.0"},
		{name: "passthrough by wildcard SNI", host: "x.pt.example.com", pool: backCert, body: "backend saw SNI x.pt.example.com over HTTP/2.0"},
		{name: "other SNI terminated here", host: "term.example.com", pool: term, body: "terminated"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tp.client(t, "https", &tls.Config{RootCAs: tc.pool.pool})
			resp, body := do(t, c, "GET", "https://"+tc.host+"/", nil)
			if resp.StatusCode != 200 || body != tc.body {
				t.Fatalf("got %d %q, want %q", resp.StatusCode, body, tc.body)
			}
		})
	}
}

func TestProxyProtocol(t *testing.T) {
	be := echoBackend(t, "be")
	cfg := oneRoute(prefixRoute("/", "be"), upstream("be", endpoint(t, be)))
	cfg.Listeners[0].ProxyProtocol = true
	tp := startProxy(t, cfg)
	addr := tp.Addr("http").String()
	t.Run("v1", func(t *testing.T) {
		resp, body := rawDo(t, addr, "PROXY TCP4 198.51.100.7 10.0.0.1 5555 80\r\nGET / HTTP/1.1\r\nHost: app.example.com\r\nConnection: close\r\n\r\n")
		if resp.StatusCode != 200 || decodeEcho(t, body).Header.Get("X-Real-Ip") != "198.51.100.7" {
			t.Fatalf("got %d %s", resp.StatusCode, body)
		}
	})
	t.Run("v2", func(t *testing.T) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		h := proxyproto.HeaderProxyFromAddrs(2, &net.TCPAddr{IP: net.ParseIP("2001:db8::7"), Port: 4444}, &net.TCPAddr{IP: net.ParseIP("2001:db8::1"), Port: 80})
		if _, err := h.WriteTo(c); err != nil {
			t.Fatal(err)
		}
		fmt.Fprint(c, "GET / HTTP/1.1\r\nHost: app.example.com\r\nConnection: close\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		if got := decodeEcho(t, string(b)).Header.Get("X-Forwarded-For"); got != "2001:db8::7" {
			t.Errorf("X-Forwarded-For = %q", got)
		}
	})
	t.Run("no header: connection closed", func(t *testing.T) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		fmt.Fprint(c, "GET / HTTP/1.1\r\nHost: app.example.com\r\n\r\n")
		if _, err := http.ReadResponse(bufio.NewReader(c), nil); err == nil {
			t.Error("got a response without PROXY header")
		}
	})
}

func TestUpstreamProtocols(t *testing.T) {
	tlsBack := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "tls sni=%q %s", r.TLS.ServerName, r.Proto)
	}))
	tlsBack.Config.ErrorLog = log.New(io.Discard, "", 0) // the handshake with a wrong CA fails on purpose
	tlsBack.StartTLS()
	t.Cleanup(tlsBack.Close)
	h2c := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "h2c %s", r.Proto)
	}), Protocols: new(http.Protocols)}
	h2c.Protocols.SetUnencryptedHTTP2(true)
	h2cLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go h2c.Serve(h2cLn)
	t.Cleanup(func() { h2c.Close() })
	other := newCert(t, "other.test")
	for _, tc := range []struct {
		name string
		up   *Upstream
		code int
		body string
	}{
		{name: "HTTPS without verification, no SNI", up: &Upstream{Protocol: UpstreamHTTPS, Endpoints: []netip.AddrPort{endpoint(t, tlsBack)}}, code: 200, body: `tls sni="" HTTP/1.1`},
		{name: "HTTPS with proxy-ssl-name", up: &Upstream{Protocol: UpstreamHTTPS, ServerName: "example.com", Endpoints: []netip.AddrPort{endpoint(t, tlsBack)}}, code: 200, body: `tls sni="example.com" HTTP/1.1`},
		{name: "HTTPS verified with the right CA", up: &Upstream{Protocol: UpstreamHTTPS, RootCAs: pemOf(tlsBack), Endpoints: []netip.AddrPort{endpoint(t, tlsBack)}}, code: 200, body: `tls sni="" HTTP/1.1`},
		{name: "HTTPS verified with another CA fails", up: &Upstream{Protocol: UpstreamHTTPS, RootCAs: other.pem, Endpoints: []netip.AddrPort{endpoint(t, tlsBack)}}, code: 502},
		{name: "H2C", up: &Upstream{Protocol: UpstreamH2C, Endpoints: []netip.AddrPort{endpoint(t, h2cLn)}}, code: 200, body: "h2c HTTP/2.0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.up.Name = "up"
			tp := startProxy(t, oneRoute(prefixRoute("/", "up"), tc.up))
			resp, body := do(t, tp.client(t, "http", nil), "GET", tp.url(t, "http")+"/", nil, "Host", "app.example.com")
			if resp.StatusCode != tc.code || tc.body != "" && body != tc.body {
				t.Fatalf("got %d %q, want %d %q", resp.StatusCode, body, tc.code, tc.body)
			}
		})
	}
}

func pemOf(s *httptest.Server) []byte {
	return pemEncode(s.Certificate().Raw)
}

func TestGRPC(t *testing.T) {
	cert := newCert(t, "grpc.example.com")
	backCert := newCert(t, "backend.internal")
	start := func(creds credentials.TransportCredentials) net.Listener {
		var opts []grpc.ServerOption
		if creds != nil {
			opts = append(opts, grpc.Creds(creds))
		}
		s := grpc.NewServer(opts...)
		hs := health.NewServer()
		hs.SetServingStatus("shop", healthpb.HealthCheckResponse_SERVING)
		healthpb.RegisterHealthServer(s, hs)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go s.Serve(ln)
		t.Cleanup(s.Stop)
		return ln
	}
	plain := start(nil)
	secure := start(credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{*backCert.cert}}))
	for _, tc := range []struct {
		name string
		up   *Upstream
	}{
		{name: "backend-protocol GRPC (h2c)", up: &Upstream{Protocol: UpstreamGRPC, Endpoints: []netip.AddrPort{endpoint(t, plain)}}},
		{name: "backend-protocol GRPCS", up: &Upstream{Protocol: UpstreamGRPCS, Endpoints: []netip.AddrPort{endpoint(t, secure)}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.up.Name = "grpc"
			srv := &Server{Hostnames: []string{"grpc.example.com"}, Certificate: cert.cert, Routes: []*Route{prefixRoute("/", "grpc")}}
			tp := startProxy(t, &Config{
				Listeners: []*Listener{{Name: "https", Protocol: HTTPS, Servers: []*Server{srv}}},
				Upstreams: map[string]*Upstream{"grpc": tc.up},
			})
			conn, err := grpc.NewClient("passthrough:///"+tp.Addr("https").String(),
				grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{ServerName: "grpc.example.com", RootCAs: cert.pool})))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			client := healthpb.NewHealthClient(conn)
			resp, err := client.Check(ctx, &healthpb.HealthCheckRequest{Service: "shop"})
			if err != nil || resp.Status != healthpb.HealthCheckResponse_SERVING {
				t.Fatalf("Check = %v, %v", resp, err)
			}
			// A gRPC error travels in trailers.
			_, err = client.Check(ctx, &healthpb.HealthCheckRequest{Service: "unknown"})
			if status.Code(err) != codes.NotFound {
				t.Errorf("Check(unknown) = %v, want NotFound", err)
			}
			// A server stream.
			stream, err := client.Watch(ctx, &healthpb.HealthCheckRequest{Service: "shop"})
			if err != nil {
				t.Fatal(err)
			}
			if msg, err := stream.Recv(); err != nil || msg.Status != healthpb.HealthCheckResponse_SERVING {
				t.Errorf("Watch = %v, %v", msg, err)
			}
			e := tp.rec.wait(t, 2)
			if e.Proto != "HTTP/2.0" || !strings.HasPrefix(e.URI, "/grpc.health.v1.Health/") {
				t.Errorf("entry %s %s", e.Proto, e.URI)
			}
		})
	}
}
