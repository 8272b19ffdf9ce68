package tools

import (
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// run runs a tool's main and returns its exit code and what it wrote to stdout.
func run(t *testing.T, main func([]string) int, args ...string) (code int, stdout string) {
	t.Helper()
	stdout = capture(t, &os.Stdout, func() { code = main(args) })
	return code, stdout
}

// capture returns what fn writes to *f (os.Stdout or os.Stderr).
func capture(t *testing.T, f **os.File, fn func()) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	saved := *f
	*f = w
	out := make(chan string)
	go func() { b, _ := io.ReadAll(r); out <- string(b) }()
	fn()
	*f = saved
	w.Close()
	return <-out
}

func TestCurl(t *testing.T) {
	var flaky atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/missing":
			http.NotFound(w, r)
		case "/redirect":
			http.Redirect(w, r, "/", http.StatusFound)
		case "/peer":
			ip, _, _ := net.SplitHostPort(r.RemoteAddr)
			io.WriteString(w, ip)
		case "/echo":
			b, _ := io.ReadAll(r.Body)
			io.WriteString(w, r.Method+" "+r.URL.RawQuery+" "+r.Header.Get("Content-Type")+" "+string(b))
		case "/flaky":
			if flaky.Add(1) < 3 {
				http.Error(w, "busy", http.StatusServiceUnavailable)
				return
			}
			io.WriteString(w, "ok")
		default:
			w.Header().Set("X-Host", r.Host)
			io.WriteString(w, r.Method+" "+r.Header.Get("X-Test")+" "+r.Host)
		}
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	_, port, _ := net.SplitHostPort(host)
	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	closedAddr := closed.Addr().String()
	closed.Close()

	for _, tc := range []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"-g", "-q", "-s", srv.URL + "/"}, 0, "GET  " + host},
		{[]string{"-sS", "-o", "/dev/null", "-w", "%{http_code}", srv.URL + "/missing"}, 0, "404"},
		{[]string{"-fsS", srv.URL + "/missing"}, 22, ""},
		{[]string{"-s", "-o", "/dev/null", "-w", "%{http_code}", srv.URL + "/redirect"}, 0, "302"},
		{[]string{"-sL", srv.URL + "/redirect"}, 0, "GET  " + host},
		{[]string{"-s", "-X", "PUT", "-H", "X-Test: yes", "-H", "Host: example.test", srv.URL}, 0, "PUT yes example.test"},
		{[]string{"-s", "--resolve", "web.test:" + port + ":127.0.0.1", "http://web.test:" + port + "/"}, 0, "GET  web.test:" + port},
		{[]string{"-s", "--connect-timeout", "2", "http://" + closedAddr}, 7, ""},
		// -w is written whatever happened: 000 without a response (upstream's health check
		// node port tests count those as failures).
		{[]string{"-g", "-q", "-s", "-o", "/dev/null", "-w", "%{http_code}", "http://" + closedAddr + "/healthz"}, 7, "000"},
		// Once, for the last attempt: the flaky server's second 503.
		{[]string{"-s", "-o", "/dev/null", "-w", "%{http_code}", "--retry", "1", "--retry-delay", "0.01", srv.URL + "/flaky"}, 0, "503"},
		{[]string{"-s", "http://no-such-host.invalid/"}, 6, ""},
		{[]string{"-s", "-d", "a=1", "--data-urlencode", "b=x y", srv.URL + "/echo"}, 0, "POST  application/x-www-form-urlencoded a=1&b=x+y"},
		{[]string{"-sG", "-d", "a=1", srv.URL + "/echo?z=0"}, 0, "GET z=0&a=1  "},
		{[]string{"-s", "--json", `{"a":1}`, srv.URL + "/echo"}, 0, `POST  application/json {"a":1}`},
		{[]string{"-s", "--retry", "3", "--retry-delay", "0.01", srv.URL + "/flaky"}, 0, "ok"}, // its third answer
		// --interface: an address to send from (any 127/8 address is lo's), or a device.
		{[]string{"-s", "--interface", "127.0.0.2", srv.URL + "/peer"}, 0, "127.0.0.2"},
		{[]string{"-s", "--interface", "host!127.0.0.3", srv.URL + "/peer"}, 0, "127.0.0.3"},
		{[]string{"-s", "--interface", "lo", srv.URL + "/peer"}, 0, "127.0.0.1"},
		{[]string{"-s", "--interface", "no-such-if0", srv.URL + "/peer"}, 45, ""},
		{[]string{"-s", "--interface", "192.0.2.1", srv.URL + "/peer"}, 45, ""},
		{[]string{"--bogus", srv.URL}, 2, ""},
	} {
		code, out := run(t, curlMain, tc.args...)
		if code != tc.code || out != tc.out {
			t.Errorf("curl %v: exit %d, %q; want %d, %q", tc.args, code, out, tc.code, tc.out)
		}
	}
}

// TestCurlTLS: the server's CA given with --cacert is trusted, an unknown one is
// refused with curl's exit code 60, and -k skips the check.
func TestCurlTLS(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "secure") }))
	defer srv.Close()
	ca := filepath.Join(t.TempDir(), "ca.crt")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"-sS", "--cacert", ca, srv.URL}, 0, "secure"},
		{[]string{"-s", srv.URL}, 60, ""},
		{[]string{"-sk", srv.URL}, 0, "secure"},
		{[]string{"-s", "--cacert", "/nonexistent", srv.URL}, 77, ""},
	} {
		code, out := run(t, curlMain, tc.args...)
		if code != tc.code || out != tc.out {
			t.Errorf("curl %v: exit %d, %q; want %d, %q", tc.args, code, out, tc.code, tc.out)
		}
	}
}

func TestDig(t *testing.T) {
	mux := dns.NewServeMux()
	mux.HandleFunc("svc.test.", func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		if r.Question[0].Qtype == dns.TypeA {
			m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: r.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 30}, A: net.IPv4(10, 0, 0, 7)})
		}
		w.WriteMsg(m)
	})
	for _, proto := range []string{"udp", "tcp"} {
		var srv *dns.Server
		if proto == "udp" {
			pc, err := net.ListenPacket("udp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			srv = &dns.Server{PacketConn: pc, Handler: mux}
		} else {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			srv = &dns.Server{Listener: l, Handler: mux}
		}
		go srv.ActivateAndServe()
		defer srv.Shutdown()
		var hostPort string
		if srv.PacketConn != nil {
			hostPort = srv.PacketConn.LocalAddr().String()
		} else {
			hostPort = srv.Listener.Addr().String()
		}
		h, p, _ := net.SplitHostPort(hostPort)
		server := []string{"@" + h, "-p", p, "+" + strings.Replace(proto, "udp", "notcp", 1)}
		args := append(server, "+short", "svc.test", "A")
		if code, out := run(t, digMain, args...); code != 0 || out != "10.0.0.7\n" {
			t.Errorf("dig %v: exit %d, %q", args, code, out)
		}
		// As the upstream DNS tests ask: an empty answer is no output.
		args = append(server, "+noall", "+answer", "svc.test", "AAAA")
		if code, out := run(t, digMain, args...); code != 0 || out != "" {
			t.Errorf("dig %v: exit %d, %q", args, code, out)
		}
	}
}

// TestGetent: names resolve as glibc's getent prints them, files are searched by name and
// number, and what is missing exits 2.
func TestGetent(t *testing.T) {
	dir := t.TempDir()
	passwd := filepath.Join(dir, "passwd")
	if err := os.WriteFile(passwd, []byte("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	services := filepath.Join(dir, "services")
	if err := os.WriteFile(services, []byte("# comment\nhttp\t\t80/tcp\t\twww\t# WorldWideWeb HTTP\ndomain\t\t53/udp\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		main func([]string) int
		args []string
		code int
		out  string
	}{
		{getentMain, []string{"hosts", "127.0.0.1"}, 0, ""}, // the name is the host's
		{getentMain, []string{"ahostsv4", "10.0.0.1"}, 0, "10.0.0.1        STREAM 10.0.0.1\n10.0.0.1        DGRAM\n10.0.0.1        RAW\n"},
		{getentMain, []string{"hosts", "no-such-host.invalid"}, 2, ""},
		{getentMain, []string{"nosuchdb", "x"}, 1, ""},
		{func(a []string) int { return fileEntries(passwd, "passwd", a) }, []string{"65534"}, 0, "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"},
		{func(a []string) int { return fileEntries(passwd, "passwd", a) }, []string{"root", "ghost"}, 2, "root:x:0:0:root:/root:/bin/sh\n"},
		{func(a []string) int { return fileEntries(services, "services", a) }, []string{"www"}, 0, "http\t\t80/tcp\t\twww\t\n"},
		{func(a []string) int { return fileEntries(services, "services", a) }, []string{"53/udp"}, 0, "domain\t\t53/udp\n"},
	} {
		code, out := run(t, tc.main, tc.args...)
		if code != tc.code || (tc.out != "" && out != tc.out) {
			t.Errorf("getent %v: exit %d, %q; want %d, %q", tc.args, code, out, tc.code, tc.out)
		}
	}
	if code, out := run(t, getentMain, "hosts", "localhost"); code != 0 || !strings.Contains(out, "localhost") {
		t.Errorf("getent hosts localhost: exit %d, %q", code, out)
	}
}

// TestNC: nc sends stdin and prints what comes back, over TCP until the server closes and
// over UDP until idle for -w; -z only connects; a refused connection exits 1.
func TestNC(t *testing.T) {
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer tcp.Close()
	go func() {
		for {
			c, err := tcp.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				b := make([]byte, 64)
				n, _ := c.Read(b)
				fmt.Fprintf(c, "tcp got %s", b[:n])
			}()
		}
	}()
	udp, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	go func() {
		b := make([]byte, 64)
		for {
			n, from, err := udp.ReadFrom(b)
			if err != nil {
				return
			}
			udp.WriteTo([]byte("udp got "+string(b[:n])), from)
		}
	}()
	_, tport, _ := net.SplitHostPort(tcp.Addr().String())
	_, uport, _ := net.SplitHostPort(udp.LocalAddr().String())
	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	_, cport, _ := net.SplitHostPort(closed.Addr().String())
	closed.Close()

	for _, tc := range []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"-v", "-t", "-w", "2", "127.0.0.1", tport}, 0, "tcp got hostName\n"},
		{[]string{"-v", "-u", "-w", "1", "127.0.0.1", uport}, 0, "udp got hostName\n"},
		{[]string{"-w1", "-u", "127.0.0.1", uport}, 0, "udp got hostName\n"},
		// -W 1: done at the first answer, not at -w's end (as the Conntrack tests' probe uses it).
		{[]string{"-w", "30", "-W", "1", "-u", "-p", freeUDPPort(t), "127.0.0.1", uport}, 0, "udp got hostName\n"},
		{[]string{"-vz", "127.0.0.1", tport}, 0, ""},
		{[]string{"-w", "1", "127.0.0.1", cport}, 1, ""},
		{[]string{"-x", "127.0.0.1", tport}, 1, ""},
	} {
		r, w, _ := os.Pipe()
		stdin := os.Stdin
		os.Stdin = r
		io.WriteString(w, "hostName\n")
		w.Close()
		start := time.Now()
		code, out := run(t, ncMain, tc.args...)
		if took := time.Since(start); took > 10*time.Second {
			t.Errorf("nc %v took %v", tc.args, took)
		}
		os.Stdin = stdin
		r.Close()
		if code != tc.code || out != tc.out {
			t.Errorf("nc %v: exit %d, %q; want %d, %q", tc.args, code, out, tc.code, tc.out)
		}
	}
}

// freeUDPPort is a local UDP port nothing uses.
func freeUDPPort(t *testing.T) string {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, p, _ := net.SplitHostPort(c.LocalAddr().String())
	return p
}

// runErr is run with stderr captured too.
func runErr(t *testing.T, main func([]string) int, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	stderr = capture(t, &os.Stderr, func() { code, stdout = run(t, main, args...) })
	return code, stdout, stderr
}

func TestWget(t *testing.T) {
	hang := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/missing":
			http.NotFound(w, r)
		case "/redirect":
			http.Redirect(w, r, "/", http.StatusFound)
		case "/hang":
			<-hang
		case "/echo":
			b, _ := io.ReadAll(r.Body)
			fmt.Fprintf(w, "%s %s %s %s", r.Method, r.Header.Get("X-Test"), r.Header.Get("User-Agent"), b)
		default:
			fmt.Fprint(w, "hello")
		}
	}))
	defer srv.Close()
	defer close(hang) // before Close, which waits for the handlers
	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	refused := "http://" + closed.Addr().String() + "/"
	closed.Close()

	for _, tc := range []struct {
		args         []string
		code         int
		out, errPart string
	}{
		{[]string{"-q", "-O", "-", "-T", "1", srv.URL}, 0, "hello", ""},
		{[]string{"-qO-", srv.URL + "/redirect"}, 0, "hello", ""},
		{[]string{"-O-", srv.URL}, 0, "hello", "Connecting to " + strings.TrimPrefix(srv.URL, "http://")},
		{[]string{"-q", "-O", "-", "--header", "X-Test: yes", "-U", "agent", "--post-data", "a=b", srv.URL + "/echo"}, 0, "POST yes agent a=b", ""},
		{[]string{"--spider", "-q", srv.URL}, 0, "", ""},
		{[]string{"-q", "-O", "-", srv.URL + "/missing"}, 1, "", "wget: server returned error: HTTP/1.1 404 Not Found"},
		// Debian's BusyBox crashes here; wget times the read out.
		{[]string{"-q", "-O", "-", "-T", "1", srv.URL + "/hang"}, 1, "", "wget: download timed out"},
		{[]string{"-q", "-O", "-", "-T", "1", refused}, 1, "", "wget: can't connect to remote host (127.0.0.1): Connection refused"},
		{[]string{"-q", "-x", srv.URL}, 1, "", "invalid option -- 'x'"},
		{[]string{"-q"}, 1, "", "missing URL"},
	} {
		code, out, errOut := runErr(t, wgetMain, tc.args...)
		if code != tc.code || out != tc.out || !strings.Contains(errOut, tc.errPart) {
			t.Errorf("wget %q: exit %d, %q, stderr %q; want %d, %q, stderr with %q", tc.args, code, out, errOut, tc.code, tc.out, tc.errPart)
		}
	}

	// Saved as the URL's base name in -P's directory, or index.html.
	dir := t.TempDir()
	for _, tc := range []struct{ url, file string }{{srv.URL + "/page.txt", "page.txt"}, {srv.URL + "/", "index.html"}} {
		if code, _, errOut := runErr(t, wgetMain, "-P", dir, tc.url); code != 0 {
			t.Fatalf("wget -P %s %s: exit %d: %s", dir, tc.url, code, errOut)
		}
		if b, err := os.ReadFile(filepath.Join(dir, tc.file)); err != nil || string(b) != "hello" {
			t.Errorf("%s: %q, %v", tc.file, b, err)
		}
	}
}
