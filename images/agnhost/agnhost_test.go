package agnhost

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

func get(t *testing.T, base, path string) (int, string) {
	t.Helper()
	resp, err := http.Get(base + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func port(t *testing.T, addr net.Addr) string {
	t.Helper()
	_, p, err := net.SplitHostPort(addr.String())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func udpServer(t *testing.T, n *netexec) *net.UDPConn {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	go n.serveUDP(conn)
	for !n.ready.Load() {
		time.Sleep(time.Millisecond)
	}
	return conn
}

func TestNetexecHTTP(t *testing.T) {
	host, _ := os.Hostname()
	n := newNetexec()
	srv := httptest.NewServer(n.handler())
	defer srv.Close()

	for _, tc := range []struct {
		path   string
		code   int
		body   string // exact, unless prefix is set
		prefix bool
	}{
		{"/hostname", 200, host, false},
		{"/hostName", 200, host, false},
		{"/echo?msg=hello", 200, "hello", false},
		{"/echo?msg=gone&code=503", 503, "gone", false},
		{"/clientip", 200, "127.0.0.1:", true},
		{"/", 200, "NOW: ", true},
		{"/serverport", 200, "8080", false},
		{"/healthz", 412, "", false}, // no UDP server yet
		{"/readyz", 412, "", false},
		{"/envvar", 400, "'var' query parameter is required\n", false},
		{"/envvar?var=MINAKS_SURELY_UNSET", 500, `env var "MINAKS_SURELY_UNSET" is not set` + "\n", false},
		{"/dial?host=127.0.0.1&port=1", 400, "request parameter not specified", true},
		{"/dial?request=x&host=127.0.0.1&port=1&protocol=icmp", 400, "unsupported protocol. icmp", true},
		{"/shell?cmd=" + url.QueryEscape("echo hello; echo err >&2"), 200, `{"output":"hello\nerr\n"}`, false},
		{"/shell?shellCommand=exit%203", 200, `{"error":"exit status 3"}`, false},
	} {
		code, body := get(t, srv.URL, tc.path)
		if code != tc.code || (tc.prefix && !strings.HasPrefix(body, tc.body)) || (!tc.prefix && body != tc.body) {
			t.Errorf("GET %s = %d %q, want %d %q", tc.path, code, body, tc.code, tc.body)
		}
	}

	req, _ := http.NewRequest("GET", srv.URL+"/header?key=X-Test", nil)
	req.Header.Set("X-Test", "forty-two")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "forty-two" {
		t.Errorf("/header?key=X-Test = %q", body)
	}

	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err = noFollow.Get(srv.URL + "/redirect?location=/echo%3Fmsg%3Dx&code=307")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 307 || resp.Header.Get("Location") != "/echo?msg=x" {
		t.Errorf("/redirect = %d Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}

	udp := udpServer(t, n)
	if code, _ := get(t, srv.URL, "/healthz"); code != 200 {
		t.Errorf("/healthz with the UDP server up = %d, want 200", code)
	}
	if code, body := get(t, srv.URL, "/readyz"); code != 200 || body != "ok" {
		t.Errorf("/readyz = %d %q, want 200 ok", code, body)
	}
	close(n.sigterm)
	if code, body := get(t, srv.URL, "/readyz"); code != 503 || body != "shutting down" {
		t.Errorf("/readyz after SIGTERM = %d %q, want 503 shutting down", code, body)
	}
	if code, _ := get(t, srv.URL, "/healthz"); code != 200 {
		t.Errorf("/healthz after SIGTERM = %d, want 200", code)
	}
	_ = udp
}

func TestNetexecDial(t *testing.T) {
	host, _ := os.Hostname()
	n := newNetexec()
	srv := httptest.NewServer(n.handler())
	defer srv.Close()
	udp := udpServer(t, n)
	httpPort := port(t, srv.Listener.Addr())
	udpPort := port(t, udp.LocalAddr())

	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	closedPort := port(t, closed.Addr())
	closed.Close()

	type result struct {
		Responses []string `json:"responses"`
		Errors    []string `json:"errors"`
	}
	for _, tc := range []struct {
		query     string
		responses []string
		errors    int
	}{
		{"request=hostname&protocol=http&host=127.0.0.1&port=" + httpPort + "&tries=2", []string{host, host}, 0},
		{"request=echo%3Fmsg%3Dhi&host=127.0.0.1&port=" + httpPort, []string{"hi"}, 0},
		{"request=hostname&protocol=udp&host=127.0.0.1&port=" + udpPort, []string{host}, 0},
		{"request=echo%20Hello&protocol=udp&host=127.0.0.1&port=" + udpPort, []string{"hello"}, 0},
		{"request=clientip&protocol=udp&host=127.0.0.1&port=" + udpPort, nil, 0},
		{"request=hostname&protocol=http&host=127.0.0.1&port=" + closedPort, nil, 1},
	} {
		code, body := get(t, srv.URL, "/dial?"+tc.query)
		var r result
		if err := json.Unmarshal([]byte(body), &r); err != nil || code != 200 {
			t.Errorf("/dial?%s = %d %q (%v)", tc.query, code, body, err)
			continue
		}
		if tc.responses != nil && !slices.Equal(r.Responses, tc.responses) {
			t.Errorf("/dial?%s responses = %q, want %q", tc.query, r.Responses, tc.responses)
		}
		if tc.responses == nil && tc.errors == 0 && (len(r.Responses) != 1 || !strings.HasPrefix(r.Responses[0], "127.0.0.1:")) {
			t.Errorf("/dial?%s responses = %q, want the client address", tc.query, r.Responses)
		}
		if len(r.Errors) != tc.errors {
			t.Errorf("/dial?%s errors = %q, want %d", tc.query, r.Errors, tc.errors)
		}
		if tc.errors > 0 && strings.Contains(body, "responses") {
			t.Errorf("/dial?%s = %s: upstream leaves out responses when the last try failed", tc.query, body)
		}
	}
}

func TestNetexecOverrideAndExit(t *testing.T) {
	host, _ := os.Hostname()
	n := newNetexec()
	n.httpOverride = "/hostname"
	srv := httptest.NewServer(n.handler())
	defer srv.Close()
	if _, body := get(t, srv.URL, "/anything/else"); body != host {
		t.Errorf("with --http-override=/hostname, GET /anything/else = %q, want %q", body, host)
	}

	codes := make(chan int, 1)
	exit = func(code int) { codes <- code }
	defer func() { exit = os.Exit }()
	n = newNetexec()
	srv2 := httptest.NewServer(n.handler())
	defer srv2.Close()
	get(t, srv2.URL, "/exit?code=3")
	if code := <-codes; code != 3 {
		t.Errorf("/exit?code=3 exited %d", code)
	}
}

func TestNetexecSCTP(t *testing.T) {
	ln, err := listenSCTP("127.0.0.1", 0)
	if err != nil {
		t.Skipf("no SCTP here: %v", err)
	}
	n := newNetexec()
	go n.serveSCTP(ln)
	defer ln.Close()
	host, _ := os.Hostname()
	got, err := dialSCTPRequest("hostname", ln.Addr().String())
	if err != nil || got != host {
		t.Errorf("SCTP hostname = %q, %v; want %q", got, err, host)
	}
	if code := connect(io.Discard, ln.Addr().String(), "sctp", 5*time.Second, "", "hostname"); code != 0 {
		t.Errorf("connect --protocol=sctp = %d, want 0", code)
	}
}

func TestServeHostname(t *testing.T) {
	srv := httptest.NewServer(hostnameHandler("pod-a", true))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/whatever")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "pod-a" || !resp.Close {
		t.Errorf("HTTP = %q (close %v), want pod-a and Connection: close", body, resp.Close)
	}

	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	defer ln.Close()
	go serveHostnameTCP(ln, "pod-b")
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(conn)
	conn.Close()
	if string(b) != "pod-b" {
		t.Errorf("TCP = %q, want pod-b", b)
	}

	pc, _ := net.ListenPacket("udp", "127.0.0.1:0")
	defer pc.Close()
	go serveHostnameUDP(pc, "pod-c")
	uc, _ := net.Dial("udp", pc.LocalAddr().String())
	defer uc.Close()
	uc.Write([]byte("hi"))
	uc.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 64)
	nr, err := uc.Read(buf)
	if err != nil || string(buf[:nr]) != "pod-c" {
		t.Errorf("UDP = %q, %v; want pod-c", buf[:nr], err)
	}
}

func TestConnect(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	defer ln.Close()
	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	closedAddr := closed.Addr().String()
	closed.Close()
	udpClosed, _ := net.ListenPacket("udp", "127.0.0.1:0")
	udpClosedAddr := udpClosed.LocalAddr().String()
	udpClosed.Close()
	n := newNetexec()
	udp := udpServer(t, n)

	for _, tc := range []struct {
		dest, protocol string
		timeout        time.Duration
		code           int
		stderr         string
	}{
		{ln.Addr().String(), "tcp", 5 * time.Second, 0, ""},
		{ln.Addr().String(), "", 0, 0, ""},
		{closedAddr, "tcp", 5 * time.Second, 1, "REFUSED\n"},
		{ln.Addr().String(), "tcp", time.Nanosecond, 1, "TIMEOUT\n"},
		{"no-port", "tcp", time.Second, 1, "UNKNOWN: "},
		{udp.LocalAddr().String(), "udp", 5 * time.Second, 0, ""},
		{udpClosedAddr, "udp", 5 * time.Second, 1, "REFUSED: "},
		{ln.Addr().String(), "icmp", time.Second, 1, "Unsupported protocol\n"},
	} {
		var stderr bytes.Buffer
		code := connect(&stderr, tc.dest, tc.protocol, tc.timeout, "hostname", "hostname")
		if code != tc.code || !strings.HasPrefix(stderr.String(), tc.stderr) || (tc.stderr == "" && stderr.Len() > 0) {
			t.Errorf("connect %s --protocol=%s --timeout=%v = %d %q, want %d %q", tc.dest, tc.protocol, tc.timeout, code, stderr.String(), tc.code, tc.stderr)
		}
	}
}

func TestPorter(t *testing.T) {
	got := porterPorts([]string{"HOME=/root", "SERVE_PORT_9001=foo", "SERVE_TLS_PORT_9443=tls=yes", "SERVE_UDP_PORT_9002=bar", "SERVE_TCP_PORT_9003=baz", "SERVE_SCTP_PORT_9004=qux"})
	want := []porterPort{{"tcp", "9001", "foo"}, {"udp", "9002", "bar"}, {"tcp", "9003", "baz"}, {"sctp", "9004", "qux"}, {"tls", "9443", "tls=yes"}}
	if !slices.Equal(got, want) {
		t.Errorf("porterPorts = %v, want %v", got, want)
	}

	srv := httptest.NewServer(porterHandler("foo", false))
	defer srv.Close()
	if _, body := get(t, srv.URL, "/any"); body != "foo" {
		t.Errorf("porter = %q, want foo", body)
	}
	js := httptest.NewServer(porterHandler("foo", true))
	defer js.Close()
	if _, body := get(t, js.URL, "/"); body != `{"Method":"GET","Body":"foo"}` {
		t.Errorf("porter --json-response = %q", body)
	}

	pc, _ := net.ListenPacket("udp", "127.0.0.1:0")
	go servePorterUDP(pc, "bar")
	defer pc.Close()
	uc, _ := net.Dial("udp", pc.LocalAddr().String())
	defer uc.Close()
	uc.Write([]byte("x"))
	uc.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 64)
	nr, err := uc.Read(buf)
	if err != nil || string(buf[:nr]) != "bar" {
		t.Errorf("porter UDP = %q, %v; want bar", buf[:nr], err)
	}

	if _, err := localhostCert(); err != nil {
		t.Errorf("localhostCert: %v", err)
	}
}

func TestLivenessAndTestWebserver(t *testing.T) {
	fresh := httptest.NewServer(livenessHandler(time.Now()))
	defer fresh.Close()
	if code, body := get(t, fresh.URL, "/healthz"); code != 200 || body != "ok" {
		t.Errorf("fresh /healthz = %d %q", code, body)
	}
	old := httptest.NewServer(livenessHandler(time.Now().Add(-11 * time.Second)))
	defer old.Close()
	if code, body := get(t, old.URL, "/healthz"); code != 500 || !strings.HasPrefix(body, "error: ") {
		t.Errorf("/healthz after 11s = %d %q, want 500", code, body)
	}

	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "hello.txt"), []byte("hi there"), 0o644)
	web := httptest.NewServer(testWebserverHandler(dir))
	defer web.Close()
	if code, body := get(t, web.URL, "/hello.txt"); code != 200 || body != "hi there" {
		t.Errorf("test-webserver /hello.txt = %d %q", code, body)
	}
	if code, _ := get(t, web.URL, "/missing"); code != 404 {
		t.Errorf("test-webserver /missing = %d, want 404", code)
	}
}

func TestParseFlags(t *testing.T) {
	fs := newFlags("connect")
	timeout := fs.Duration("timeout", 0, "")
	protocol := fs.String("protocol", "tcp", "")
	pos, _, ok := parseFlags(fs, []string{"10.0.0.1:80", "--timeout=5s", "--protocol", "udp", "--v=2"})
	if !ok || !slices.Equal(pos, []string{"10.0.0.1:80"}) || *timeout != 5*time.Second || *protocol != "udp" {
		t.Errorf("parseFlags = %q %v %v %q", pos, ok, *timeout, *protocol)
	}
	fs = newFlags("x")
	pos, _, ok = parseFlags(fs, []string{"a", "--", "--b", "c"})
	if !ok || !slices.Equal(pos, []string{"a", "--b", "c"}) {
		t.Errorf("parseFlags with -- = %q %v", pos, ok)
	}
	fs = newFlags("x")
	fs.SetOutput(io.Discard)
	if _, code, ok := parseFlags(fs, []string{"--nope"}); ok || code != 1 {
		t.Errorf("unknown flag: ok %v code %d, want false 1", ok, code)
	}
}

func TestMainUnknownSubcommand(t *testing.T) {
	stderr := os.Stderr
	os.Stderr, _ = os.Open(os.DevNull)
	defer func() { os.Stderr = stderr }()
	if code := Main([]string{"no-such-thing"}); code != 1 {
		t.Errorf("Main(no-such-thing) = %d, want 1", code)
	}
}

func TestUDPCommands(t *testing.T) {
	n := newNetexec()
	t.Setenv("MINAKS_TEST_VAR", "Value")
	for _, tc := range []struct{ in, want string }{
		{"echo Hello World\n", "hello world"},
		{"envvar MINAKS_TEST_VAR", "Value"},
		{"serverport", strconv.Itoa(n.udpPort)},
		{"clientip", "1.2.3.4:5"},
	} {
		if got, ok := n.command(tc.in, "1.2.3.4:5", n.udpPort); !ok || got != tc.want {
			t.Errorf("command(%q) = %q, %v; want %q", tc.in, got, ok, tc.want)
		}
	}
	if _, ok := n.command("bogus", "", 0); ok {
		t.Error("command(bogus) answered")
	}
}

// TestNetCloseWait runs upstream's CLOSE_WAIT server and client against each other over
// loopback, as runners and through net --serve: the server half-closes, the client sees EOF.
func TestNetCloseWait(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	done := make(chan error, 1)
	go func() {
		_, err := runNetRunner("nat-closewait-server", `{"LocalAddr":"`+addr+`","PostFinTimeoutSeconds":0}`)
		done <- err
	}()
	var out string
	var err error
	for range 50 {
		if out, err = runNetRunner("nat-closewait-client", `{"RemoteAddr":"`+addr+`","TimeoutSeconds":5}`); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil || !strings.Contains(out, "Server has half-closed the connection") {
		t.Fatalf("client: %v, output %q", err, out)
	}
	if err := <-done; err != nil {
		t.Errorf("server: %v", err)
	}
	if _, err := runNetRunner("no-such-runner", "{}"); err == nil {
		t.Error("an unknown runner ran")
	}
	if _, err := runNetRunner("nat-closewait-client", "{"); err == nil {
		t.Error("malformed options were accepted")
	}

	srv := httptest.NewServer(http.HandlerFunc(handleNetRun))
	defer srv.Close()
	resp, err := http.Post(srv.URL+"/run/nat-closewait-client", "application/json", strings.NewReader(`{"RemoteAddr":"`+addr+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	// The server has gone: the runner fails and says so.
	if resp.StatusCode != http.StatusInternalServerError || !strings.Contains(string(body), "Error from runner") {
		t.Errorf("POST /run/nat-closewait-client without a server = %d %q", resp.StatusCode, body)
	}
	if code := Main([]string{"net"}); code != 1 {
		t.Errorf("net without --runner or --serve = %d, want 1", code)
	}
}

// TestFakeRegistry pulls pause:testing from fake-registry-server's handler with
// go-containerregistry, as the image store does: with the credentials when private, its one
// layer holding the program as /pause.
func TestFakeRegistry(t *testing.T) {
	exe := []byte("#!/bin/sh\nexec sleep infinity\n")
	reg, err := newFakeRegistry(exe)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(basicAuth(reg))
	defer srv.Close()
	ref, err := name.ParseReference(strings.TrimPrefix(srv.URL, "http://")+"/pause:testing", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := remote.Image(ref); err == nil {
		t.Error("pulled without credentials from a private registry")
	}
	img, err := remote.Image(ref, remote.WithAuth(&authn.Basic{Username: "user", Password: "password"}))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cfg.Config.Entrypoint, []string{"/pause"}) || cfg.OS != "linux" {
		t.Errorf("config: entrypoint %q, os %q", cfg.Config.Entrypoint, cfg.OS)
	}
	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("layers: %d, %v", len(layers), err)
	}
	rc, err := layers[0].Uncompressed() // checks the diff ID against the config's
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	h, err := tr.Next()
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(tr)
	if h.Name != "pause" || h.Mode != 0o755 || !bytes.Equal(body, exe) {
		t.Errorf("layer: %s %o %q", h.Name, h.Mode, body)
	}
}
