package l7

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// testCert is a self-signed certificate made for a test.
type testCert struct {
	cert *tls.Certificate
	pool *x509.CertPool
	pem  []byte
}

// newCert makes a certificate for hosts (DNS names or IP addresses).
func newCert(t testing.TB, hosts ...string) testCert {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("generate key: %v", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: hosts[0]},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatalf("create certificate: %v", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("parse certificate: %v", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return testCert{
		cert: &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf},
		pool: pool,
		pem:  pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
	}
}

// echo is what an echo backend saw of a request.
type echo struct {
	Backend string
	Method  string
	URI     string
	Host    string
	Proto   string
	Header  http.Header
	Body    string
}

// echoBackend starts a backend that answers every request with what it saw, as JSON.
func echoBackend(t testing.TB, name string) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(echoHandler(name))
	t.Cleanup(s.Close)
	return s
}

func echoHandler(name string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Server", "backend/"+name)
		_ = json.NewEncoder(w).Encode(echo{
			Backend: name, Method: r.Method, URI: r.RequestURI, Host: r.Host, Proto: r.Proto,
			Header: r.Header, Body: string(b),
		})
	}
}

// endpoint is a test server's address as an endpoint.
func endpoint(t testing.TB, s any) netip.AddrPort {
	t.Helper()
	switch v := s.(type) {
	case *httptest.Server:
		return netip.MustParseAddrPort(v.Listener.Addr().String())
	case *countingServer:
		return netip.MustParseAddrPort(v.Listener.Addr().String())
	case net.Listener:
		return netip.MustParseAddrPort(v.Addr().String())
	}
	t.Fatalf("no endpoint in %T", s)
	return netip.AddrPort{}
}

// countingServer is a test server that counts the requests in progress.
type countingServer struct {
	*httptest.Server
	mu     sync.Mutex
	active int
}

func newHTTPTestServer(h http.Handler) *httptest.Server { return httptest.NewServer(h) }

// chunked hides a reader's length so that the client sends it chunked.
type chunked struct{ io.Reader }

// deadEndpoint is an address where nothing listens (connections are refused). Its port stays
// bound, not listening, for the test's life: a port merely closed again may be given to a
// listener opened later (the proxy's own), which would then answer in its place.
func deadEndpoint(t testing.TB) netip.AddrPort {
	t.Helper()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), uint16(sa.(*unix.SockaddrInet4).Port))
}

// recorder is an Observer that keeps copies of the entries.
type recorder struct {
	mu      sync.Mutex
	entries []Entry
	lines   []string
	cond    *sync.Cond
}

func newRecorder() *recorder {
	r := &recorder{}
	r.cond = sync.NewCond(&r.mu)
	return r
}

func (r *recorder) Observe(e *Entry) {
	c := *e
	c.Upstreams = slices.Clone(e.Upstreams)
	line := e.UpstreamInfo()
	r.mu.Lock()
	r.entries = append(r.entries, c)
	r.lines = append(r.lines, line)
	r.cond.Broadcast()
	r.mu.Unlock()
}

// wait waits for the n-th entry (1-based) and returns it.
func (r *recorder) wait(t testing.TB, n int) *Entry {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	r.mu.Lock()
	defer r.mu.Unlock()
	for len(r.entries) < n {
		if time.Now().After(deadline) {
			t.Fatalf("got %d entries, want %d", len(r.entries), n)
		}
		r.mu.Unlock()
		time.Sleep(5 * time.Millisecond)
		r.mu.Lock()
	}
	e := r.entries[n-1]
	return &e
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.entries)
}

// testProxy is a proxy with an HTTP and an HTTPS listener on loopback.
type testProxy struct {
	*Proxy
	rec *recorder
}

// startProxy starts a proxy serving cfg. Listeners with an empty Addr get 127.0.0.1:0.
func startProxy(t testing.TB, cfg *Config) *testProxy {
	t.Helper()
	rec := newRecorder()
	p := New(Options{Observer: rec})
	for _, l := range cfg.Listeners {
		if l.Addr == "" {
			l.Addr = "127.0.0.1:0"
		}
	}
	if cfg.ErrorPage == nil {
		cfg.ErrorPage = NginxErrorPage
	}
	if err := p.Update(cfg); err != nil {
		t.Fatalf("update: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := p.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return &testProxy{Proxy: p, rec: rec}
}

// url is the base URL of a listener.
func (tp *testProxy) url(t testing.TB, listener string) string {
	t.Helper()
	a := tp.Addr(listener)
	if a == nil {
		t.Fatalf("listener %s is not open", listener)
	}
	scheme := "http"
	if strings.Contains(listener, "https") || strings.Contains(listener, "tls") {
		scheme = "https"
	}
	return scheme + "://" + a.String()
}

// client returns an HTTP client that sends every request to the proxy's listener whatever
// the URL's host, as curl --resolve does.
func (tp *testProxy) client(t testing.TB, listener string, tc *tls.Config) *http.Client {
	t.Helper()
	addr := tp.Addr(listener).String()
	d := net.Dialer{Timeout: 5 * time.Second}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return d.DialContext(ctx, network, addr)
		},
		TLSClientConfig:    tc,
		DisableCompression: true,
		ForceAttemptHTTP2:  true,
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{
		Transport:     tr,
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// do sends a request and returns the response with its body read.
func do(t testing.TB, c *http.Client, method, url string, body io.Reader, hdr ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if strings.EqualFold(hdr[i], "Host") {
			req.Host = hdr[i+1]
		} else {
			req.Header.Add(hdr[i], hdr[i+1])
		}
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("read %s %s: %v", method, url, err)
	}
	return resp, string(b)
}

// decodeEcho parses an echo backend's answer.
func decodeEcho(t testing.TB, body string) echo {
	t.Helper()
	var e echo
	if err := json.Unmarshal([]byte(body), &e); err != nil {
		t.Fatalf("decode echo %q: %v", body, err)
	}
	return e
}

// upstream builds an Upstream of test servers.
func upstream(name string, eps ...netip.AddrPort) *Upstream {
	return &Upstream{Name: name, Endpoints: eps}
}

// httpListener is a plain listener with the given servers.
func httpListener(servers ...*Server) *Listener {
	return &Listener{Name: "http", Protocol: HTTP, Servers: servers}
}

// prefixRoute routes a path prefix to one upstream.
func prefixRoute(path, up string) *Route {
	return &Route{Match: Match{PathType: PathPrefix, Path: path}, Backends: []WeightedBackend{{Upstream: up, Weight: 100}}}
}

// oneRoute is a config with one host, one route, one upstream.
func oneRoute(rt *Route, ups ...*Upstream) *Config {
	cfg := &Config{
		Listeners: []*Listener{httpListener(&Server{Hostnames: []string{"app.example.com"}, Routes: []*Route{rt}})},
		Upstreams: map[string]*Upstream{},
	}
	for _, u := range ups {
		cfg.Upstreams[u.Name] = u
	}
	return cfg
}

// rawDo writes a request as is on a new connection and reads the response.
func rawDo(t testing.TB, addr, request string) (*http.Response, string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, request); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return resp, string(b)
}

func pemEncode(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}
