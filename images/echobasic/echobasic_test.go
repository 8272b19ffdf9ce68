package echobasic

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/net/websocket"

	"github.com/minaks/minaks/images"
)

func testServer() *Server {
	return &Server{
		HTTPPort: "3000",
		Context:  Context{Namespace: "testNamespace", Ingress: "testIngress", Service: "testService", Pod: "testPod"},
		Out:      io.Discard,
	}
}

// The tests named after the original's (echo-basic_test.go in the conformance module) check
// the same expectations through the handlers.

func TestHealthHandler(t *testing.T) {
	rr := httptest.NewRecorder()
	testServer().Handler().ServeHTTP(rr, httptest.NewRequest("GET", "/health", nil))
	if rr.Code != http.StatusOK || rr.Body.String() != "OK" {
		t.Errorf("/health = %d %q, want 200 OK", rr.Code, rr.Body.String())
	}
}

func TestDelayResponse(t *testing.T) {
	for _, tc := range []struct {
		name    string
		target  string
		wantErr bool
	}{
		{"whole duration", "/?delay=10ms", false},
		{"decimal duration", "/?delay=0.01s", false},
		{"no delay", "/", false},
		{"invalid", "/?delay=invalid", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := delay(httptest.NewRequest("GET", tc.target, nil))
			if (err != nil) != tc.wantErr {
				t.Errorf("delay(%s) = %v", tc.target, err)
			}
		})
	}
	// The wait happens before the answer.
	start := time.Now()
	rr := httptest.NewRecorder()
	testServer().Handler().ServeHTTP(rr, httptest.NewRequest("GET", "/x?delay=50ms", nil))
	if took := time.Since(start); rr.Code != 200 || took < 50*time.Millisecond {
		t.Errorf("delayed echo %d after %v", rr.Code, took)
	}
	// An invalid delay is a 500 with the parse error as JSON.
	rr = httptest.NewRecorder()
	testServer().Handler().ServeHTTP(rr, httptest.NewRequest("GET", "/x?delay=invalid", nil))
	if want := `{"message":"time: invalid duration \"invalid\""}`; rr.Code != 500 || rr.Body.String() != want {
		t.Errorf("invalid delay = %d %s, want 500 %s", rr.Code, rr.Body.String(), want)
	}
}

func TestStatusHandler(t *testing.T) {
	for _, tc := range []struct {
		target string
		want   int
	}{
		{"/status/200", 200},
		{"/status/404", 404},
		{"/status/305", 305},
		{"/status/invalid", 400},
		// Judged on the request URI as sent: a query string or a longer code is a 400.
		{"/status/201?x=1", 400},
		{"/status/2010", 400},
		{"/status/", 400},
	} {
		t.Run(tc.target, func(t *testing.T) {
			rr := httptest.NewRecorder()
			testServer().Handler().ServeHTTP(rr, httptest.NewRequest("GET", tc.target, nil))
			if rr.Code != tc.want {
				t.Errorf("%s = %d, want %d", tc.target, rr.Code, tc.want)
			}
		})
	}
}

func TestEchoHandler(t *testing.T) {
	rr := httptest.NewRecorder()
	testServer().Handler().ServeHTTP(rr, httptest.NewRequest("GET", "/", nil))
	if rr.Code != http.StatusOK {
		t.Errorf("status %d", rr.Code)
	}
	if ct := rr.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	if o := rr.Header().Get("X-Content-Type-Options"); o != "nosniff" {
		t.Errorf("X-Content-Type-Options %q", o)
	}
	var got RequestAssertions
	if err := json.Unmarshal(rr.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if got.Path != "/" || got.Namespace != "testNamespace" {
		t.Errorf("echo %+v", got)
	}
}

// TestEchoBody checks the whole body: the original's field order, one-space indentation,
// headers sorted, no tls for plain HTTP.
func TestEchoBody(t *testing.T) {
	req := httptest.NewRequest("POST", "/a//b?c=d", strings.NewReader(""))
	req.Host = "example.com"
	req.Header.Set("User-Agent", "test")
	req.Header.Add("X-Multi", "1")
	req.Header.Add("X-Multi", "2")
	rr := httptest.NewRecorder()
	testServer().Handler().ServeHTTP(rr, req)
	want := `{
 "path": "/a//b?c=d",
 "host": "example.com",
 "method": "POST",
 "proto": "HTTP/1.1",
 "headers": {
  "User-Agent": [
   "test"
  ],
  "X-Multi": [
   "1",
   "2"
  ]
 },
 "httpPort": "3000",
 "namespace": "testNamespace",
 "ingress": "testIngress",
 "service": "testService",
 "pod": "testPod"
}`
	if d := cmp.Diff(want, rr.Body.String()); d != "" {
		t.Errorf("echo body (-want +got):\n%s", d)
	}
}

func TestWriteEchoResponseHeaders(t *testing.T) {
	for _, tc := range []struct {
		name string
		sets []string
		want http.Header
	}{
		{"single header", []string{"Header1:Value1"}, http.Header{"Header1": {"Value1"}}},
		{"headers separated by commas", []string{"Header2:Value2, Header3:Value3"}, http.Header{"Header2": {"Value2"}, "Header3": {"Value3"}}},
		{"empty", []string{""}, http.Header{"": {""}}},
		{"case kept", []string{"x-lower:v"}, http.Header{"x-lower": {"v"}}},
		{"a name twice joins the values", []string{"A:1", "A: 2"}, http.Header{"A": {"1,2"}}},
		{"value with a colon", []string{"Location:http://x"}, http.Header{"Location": {"http://x"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rr := httptest.NewRecorder()
			h := http.Header{}
			for _, s := range tc.sets {
				h.Add("X-Echo-Set-Header", s)
			}
			setEchoHeaders(rr, h)
			if d := cmp.Diff(tc.want, rr.Header()); d != "" {
				t.Errorf("headers (-want +got):\n%s", d)
			}
		})
	}
}

func TestEchoHandlerHTTPPort(t *testing.T) {
	for _, port := range []string{"3002", "3004"} {
		s := testServer()
		s.HTTPPort = port
		rr := httptest.NewRecorder()
		s.Handler().ServeHTTP(rr, httptest.NewRequest("GET", "/", nil))
		var got RequestAssertions
		if err := json.Unmarshal(rr.Body.Bytes(), &got); err != nil {
			t.Fatal(err)
		}
		if got.HTTPPort != port {
			t.Errorf("httpPort %q, want %q", got.HTTPPort, port)
		}
	}
}

func TestProcessError(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"message", errors.New("Test error message"), "Test error message"},
		{"a JSON error", json.Unmarshal([]byte(`testing invalid JSON`), new(any)), "invalid character"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rr := httptest.NewRecorder()
			writeError(rr, tc.err, http.StatusInternalServerError)
			if rr.Code != 500 || rr.Header().Get("Content-Type") != "application/json" || rr.Header().Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("%d %v", rr.Code, rr.Header())
			}
			var body struct {
				Message string `json:"message"`
			}
			if err := json.Unmarshal(rr.Body.Bytes(), &body); err != nil || !strings.Contains(body.Message, tc.want) {
				t.Errorf("body %s (%v), want a message with %q", rr.Body.String(), err, tc.want)
			}
		})
	}
}

func TestTLSStateToAssertions(t *testing.T) {
	got := tlsAssertions(&tls.ConnectionState{
		Version:            tls.VersionTLS13,
		NegotiatedProtocol: "http/2",
		ServerName:         "test-example.com",
		CipherSuite:        tls.TLS_AES_256_GCM_SHA384,
		PeerCertificates:   []*x509.Certificate{},
	})
	want := &TLSAssertions{Version: "TLSv1.3", NegotiatedProtocol: "http/2", ServerName: "test-example.com", CipherSuite: "TLS_AES_256_GCM_SHA384"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
	if tlsAssertions(nil) != nil {
		t.Error("assertions for plain HTTP")
	}
}

// TestPreservedSlashes: a path with "//" is routed as if folded, without the mux's redirect,
// and echoed as sent; /health and /status/ work behind doubled slashes too.
func TestPreservedSlashes(t *testing.T) {
	srv := httptest.NewServer(testServer().Handler())
	defer srv.Close()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, tc := range []struct {
		path, wantBody string
		want           int
	}{
		{"//foo//bar", `"path": "//foo//bar"`, 200},
		{"//health", "OK", 200},
		{"/status//418", "", 400}, // routed to /status/, but the URI as sent is not /status/NNN
		{"/a/../b", "", 307},      // the mux still cleans dot segments (the code is the Go release's)
	} {
		resp, err := client.Get(srv.URL + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.want || !strings.Contains(string(body), tc.wantBody) {
			t.Errorf("GET %s = %d %s, want %d with %q", tc.path, resp.StatusCode, body, tc.want, tc.wantBody)
		}
	}
}

func TestWebSocket(t *testing.T) {
	srv := httptest.NewServer(testServer().Handler())
	defer srv.Close()
	ws, err := websocket.Dial("ws"+strings.TrimPrefix(srv.URL, "http")+"/ws", "", srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	for _, msg := range []string{"hello", "again"} {
		if err := websocket.Message.Send(ws, msg); err != nil {
			t.Fatal(err)
		}
		var got string
		if err := websocket.Message.Receive(ws, &got); err != nil {
			t.Fatal(err)
		}
		if got != msg {
			t.Errorf("echoed %q, want %q", got, msg)
		}
	}
	// x/net/websocket's Handler refuses a handshake without an Origin, and a plain GET.
	for _, tc := range []struct {
		name    string
		headers map[string]string
		want    int
	}{
		{"no Origin", map[string]string{"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}, http.StatusForbidden},
		{"no upgrade", nil, http.StatusBadRequest},
	} {
		req, _ := http.NewRequest("GET", srv.URL+"/ws", nil)
		for k, v := range tc.headers {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s: GET /ws = %d, want %d", tc.name, resp.StatusCode, tc.want)
		}
	}
}

func TestH2C(t *testing.T) {
	srv := httptest.NewUnstartedServer(testServer().H2CHandler())
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.Start()
	defer srv.Close()

	tr := &http.Transport{Protocols: new(http.Protocols)}
	tr.Protocols.SetUnencryptedHTTP2(true)
	resp, err := (&http.Client{Transport: tr}).Get(srv.URL + "/any/path")
	if err != nil {
		t.Fatal(err)
	}
	var got RequestAssertions
	err = json.NewDecoder(resp.Body).Decode(&got)
	resp.Body.Close()
	if err != nil || got.Proto != "HTTP/2.0" || got.Path != "/any/path" {
		t.Errorf("h2c echo %+v (%v)", got, err)
	}

	resp, err = http.Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || string(body) != "Expected h2c request" {
		t.Errorf("HTTP/1.1 on the h2c port = %d %q", resp.StatusCode, body)
	}

	// An HTTP/1.1 request asking to upgrade gets its answer over HTTP/2.
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	io.WriteString(conn, "GET /up HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n")
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	line := make([]byte, 64)
	n, _ := conn.Read(line)
	if !bytes.HasPrefix(line[:n], []byte("HTTP/1.1 101 Switching Protocols")) {
		t.Errorf("upgrade answered %q", line[:n])
	}
}

// TestHTTPS serves the handler with TLSConfig and a client certificate signed by the CA it
// trusts: the echo reports the connection, the peer certificate included.
func TestHTTPS(t *testing.T) {
	dir := t.TempDir()
	caCert, caKey := newCert(t, "ca", nil, nil)
	clientCert, clientKey := newCert(t, "client", caCert, caKey)
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caCert.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := TLSConfig(caFile)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(testServer().Handler())
	srv.TLS = cfg
	srv.EnableHTTP2 = true
	srv.StartTLS()
	defer srv.Close()

	client := srv.Client()
	tr := client.Transport.(*http.Transport)
	tr.TLSClientConfig.ServerName = "example.com"
	tr.TLSClientConfig.InsecureSkipVerify = true
	tr.TLSClientConfig.Certificates = []tls.Certificate{{Certificate: [][]byte{clientCert.Raw}, PrivateKey: clientKey}}
	resp, err := client.Get(srv.URL + "/tls")
	if err != nil {
		t.Fatal(err)
	}
	var got RequestAssertions
	err = json.NewDecoder(resp.Body).Decode(&got)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if got.TLS == nil || got.TLS.Version != "TLSv1.3" || got.TLS.ServerName != "example.com" || got.TLS.NegotiatedProtocol != "h2" ||
		got.TLS.CipherSuite == "" || len(got.TLS.PeerCertificates) != 1 || !strings.HasPrefix(got.TLS.PeerCertificates[0], "-----BEGIN CERTIFICATE-----\n") {
		t.Errorf("tls assertions %+v", got.TLS)
	}

	if _, err := TLSConfig(filepath.Join(dir, "missing.pem")); err == nil {
		t.Error("a missing CA file was accepted")
	}
	bad := filepath.Join(dir, "bad.pem")
	os.WriteFile(bad, []byte("not PEM"), 0o600)
	if _, err := TLSConfig(bad); err == nil || !strings.Contains(err.Error(), "unable to append certificate") {
		t.Errorf("bad CA file: %v", err)
	}
}

// newCert makes an ECDSA certificate named cn, signed by parent (self-signed without one).
func newCert(t *testing.T, cn string, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  parent == nil,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	signer, signerKey := tmpl, key
	if parent != nil {
		signer, signerKey = parent, parentKey
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, &key.PublicKey, signerKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

func TestRegistered(t *testing.T) {
	for _, ref := range []string{
		"registry.k8s.io/gateway-api/conformance/echo-basic:v1.5.1",
		"gcr.io/k8s-staging-gateway-api/echo-basic:v20260204-monthly-2026.01-60-g28382302",
	} {
		img, err := images.Lookup(ref)
		if err != nil {
			t.Fatal(err)
		}
		if img.Name != "echo-basic" || img.Binary != images.KubeBinary || img.Entrypoint[0] != "/echo-basic" {
			t.Errorf("%s: %+v", ref, img)
		}
	}
}

var _ = context.Background
