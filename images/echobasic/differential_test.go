package echobasic

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestSameAnswersAsTheOriginal builds the original echo-basic from the conformance module
// (sigs.k8s.io/gateway-api/conformance/echo-basic, the module version go.mod pins), runs it
// and then the built-in on the same ports with the same environment, and compares their
// answers to the same requests: status, headers but Date, body. It needs the go command and
// is skipped with -short.
func TestSameAnswersAsTheOriginal(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the original echo-basic")
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command to build the original echo-basic")
	}
	original := filepath.Join(t.TempDir(), "echo-basic-original")
	if out, err := exec.Command("go", "build", "-o", original, "sigs.k8s.io/gateway-api/conformance/echo-basic").CombinedOutput(); err != nil {
		t.Skipf("build the original echo-basic: %v\n%s", err, out)
	}
	httpPort, h2cPort, httpsPort := freePort(t), freePort(t), freePort(t)
	certFile, keyFile := serverCertFiles(t)
	env := []string{"HTTP_PORT=" + httpPort, "H2C_PORT=" + h2cPort, "HTTPS_PORT=" + httpsPort,
		"TLS_SERVER_CERT=" + certFile, "TLS_SERVER_PRIVKEY=" + keyFile}

	type request struct {
		name, method, port, path, body string
		headers                        map[string]string
		h2c, tls                       bool
	}
	form := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
	requests := []request{
		{name: "echo", method: "GET", port: httpPort, path: "/"},
		{name: "echo with query", method: "GET", port: httpPort, path: "/a/b?c=d&e=f"},
		{name: "doubled slashes", method: "GET", port: httpPort, path: "//foo//bar?x=1"},
		{name: "dot segments", method: "GET", port: httpPort, path: "/a/../b"},
		{name: "health", method: "GET", port: httpPort, path: "/health"},
		{name: "health behind slashes", method: "GET", port: httpPort, path: "//health"},
		{name: "status", method: "GET", port: httpPort, path: "/status/418"},
		{name: "status with query", method: "GET", port: httpPort, path: "/status/418?x=y"},
		{name: "status not a code", method: "GET", port: httpPort, path: "/status/abc"},
		{name: "invalid delay", method: "GET", port: httpPort, path: "/?delay=forever"},
		{name: "delay in a form body", method: "POST", port: httpPort, path: "/form", body: "delay=nope", headers: form},
		{name: "set headers", method: "GET", port: httpPort, path: "/h", headers: map[string]string{"X-Echo-Set-Header": "A:1, b:2,C: three"}},
		{name: "head", method: "HEAD", port: httpPort, path: "/"},
		{name: "put with body", method: "PUT", port: httpPort, path: "/p", body: "payload"},
		{name: "websocket without upgrade", method: "GET", port: httpPort, path: "/ws"},
		{name: "h2c port over HTTP/1.1", method: "GET", port: h2cPort, path: "/"},
		{name: "h2c", method: "GET", port: h2cPort, path: "/x//y", h2c: true},
		{name: "https", method: "GET", port: httpsPort, path: "/secure", tls: true},
	}
	h2cClient := func() *http.Client {
		tr := &http.Transport{Protocols: new(http.Protocols), DisableKeepAlives: true}
		tr.Protocols.SetUnencryptedHTTP2(true)
		return &http.Client{Transport: tr}
	}()
	tlsClient := &http.Client{Transport: &http.Transport{
		DisableKeepAlives: true, ForceAttemptHTTP2: true,
		TLSClientConfig: &tls.Config{ServerName: "echo.example.com", InsecureSkipVerify: true}, //nolint:gosec // a test certificate
	}}
	h1Client := &http.Client{
		Transport:     &http.Transport{DisableKeepAlives: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	answers := func(start func()) []string {
		start()
		dial(t, httpPort).Close()
		dial(t, h2cPort).Close()
		dial(t, httpsPort).Close()
		var out []string
		for _, r := range requests {
			scheme := "http"
			if r.tls {
				scheme = "https"
			}
			req, err := http.NewRequest(r.method, scheme+"://127.0.0.1:"+r.port+r.path, strings.NewReader(r.body))
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range r.headers {
				req.Header.Set(k, v)
			}
			client := h1Client
			switch {
			case r.h2c:
				client = h2cClient
			case r.tls:
				client = tlsClient
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatalf("%s: %v", r.name, err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			var headers []string
			for k, v := range resp.Header {
				if k != "Date" {
					headers = append(headers, fmt.Sprintf("%s: %q", k, v))
				}
			}
			slices.Sort(headers)
			out = append(out, fmt.Sprintf("%s: %s %s\n%s\n%s", r.name, resp.Proto, resp.Status, strings.Join(headers, "\n"), body))
		}
		return out
	}

	var stop func()
	want := answers(func() {
		cmd := exec.Command(original)
		cmd.Env = append(os.Environ(), append(env, "NAMESPACE=ns", "INGRESS_NAME=ing", "SERVICE_NAME=svc", "POD_NAME=pod-1")...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		stop = func() { cmd.Process.Kill(); cmd.Wait() }
	})
	stop()
	got := answers(func() {
		cmd, _ := start(t, env...)
		stop = func() { cmd.Process.Kill(); cmd.Wait() }
	})
	stop()
	for i := range requests {
		if d := cmp.Diff(want[i], got[i]); d != "" {
			t.Errorf("%s (-original +built-in):\n%s", requests[i].name, d)
		}
	}
}

// serverCertFiles writes a self-signed server certificate and its key as PEM files.
func serverCertFiles(t *testing.T) (certFile, keyFile string) {
	t.Helper()
	cert, key := newCert(t, "echo.example.com", nil, nil)
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}
