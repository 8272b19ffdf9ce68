package coredns

import (
	"bytes"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/minaks/minaks/images"
)

// loopback is where the tests' servers listen; no test sends a packet elsewhere.
const loopback = "127.0.0.1"

func TestRegistered(t *testing.T) {
	for _, ref := range []string{
		"mcr.microsoft.com/oss/v2/kubernetes/coredns:v1.13.1-20",
		"mcr.microsoft.com/oss/kubernetes/coredns:v1.9.4",
		"registry.k8s.io/coredns/coredns:v1.12.0",
		"coredns/coredns:1.15.0",
		"docker.io/coredns/coredns",
	} {
		img, err := images.Lookup(ref)
		if err != nil {
			t.Errorf("Lookup(%s): %v", ref, err)
			continue
		}
		if img.Name != "coredns" || img.Program != "coredns" || img.Binary != images.KubeBinary {
			t.Errorf("Lookup(%s) = %s (program %q, binary %q)", ref, img.Name, img.Program, img.Binary)
		}
	}
}

// upstreamOrder is plugin.cfg of CoreDNS 1.15.0 (core/dnsserver/zdirectives.go).
var upstreamOrder = []string{
	"root", "metadata", "geoip", "cancel", "proxyproto", "quic", "grpc_server", "https", "https3",
	"timeouts", "multisocket", "reload", "nsid", "bufsize", "bind", "debug", "trace", "ready",
	"health", "pprof", "shed", "prometheus", "errors", "log", "dnstap", "local", "dns64", "siit",
	"any", "chaos", "loadbalance", "tsig", "rewrite", "autopath", "acl", "cache", "header",
	"dnssec", "tls", "minimal", "template", "transfer", "dynupdate", "hosts", "route53", "azure",
	"clouddns", "k8s_external", "kubernetes", "file", "auto", "secondary", "etcd", "loop",
	"forward", "grpc", "erratic", "whoami", "on", "sign", "view", "nomad",
}

func TestDirectivesFollowUpstreamOrder(t *testing.T) {
	last := -1
	for _, d := range Directives {
		i := slices.Index(upstreamOrder, d)
		if i < 0 {
			t.Errorf("directive %q is not one of upstream's", d)
			continue
		}
		if i <= last {
			t.Errorf("directive %q is out of upstream's order", d)
		}
		last = i
	}
	// Everything AKS's Corefile uses, and coredns-custom's usual plugins.
	for _, d := range []string{"errors", "ready", "health", "kubernetes", "prometheus", "forward",
		"cache", "loop", "reload", "loadbalance", "template", "log", "hosts", "rewrite"} {
		if !slices.Contains(Directives, d) {
			t.Errorf("directive %q is not compiled in", d)
		}
	}
}

// TestNoProcessFlags checks that coremain's flags are off the process's FlagSet: minaks-kube
// also parses kube-proxy's command line, which takes that FlagSet in.
func TestNoProcessFlags(t *testing.T) {
	for _, name := range []string{"conf", "dns.port", "p", "pidfile", "plugins", "version", "quiet", "log-format"} {
		if flag.Lookup(name) != nil {
			t.Errorf("flag -%s registered on the process's FlagSet", name)
		}
	}
}

func TestFlags(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "Corefile")
	writeFile(t, bad, ".:0 {\n    bind 127.0.0.1\n    etcd\n}\n")
	for _, tc := range []struct {
		name     string
		args     []string
		code     int
		out, err string
		notInOut string
	}{
		{"version", []string{"-version"}, 0, "CoreDNS-" + Version + "\nlinux/", "", ""},
		{"plugins", []string{"-plugins"}, 0, "\nkubernetes\n", "", "\netcd\n"},
		{"unknown flag", []string{"-nope"}, 2, "", "flag provided but not defined: -nope", ""},
		{"extra arguments", []string{"-conf", bad, "extra"}, 1, "", "extra command line arguments: [extra]", ""},
		{"missing Corefile", []string{"-conf", filepath.Join(dir, "missing")}, 1, "", "no such file or directory", ""},
		{"plugin not compiled in", []string{"-conf", bad}, 1, "", "Unknown directive 'etcd'", ""},
		{"bad log format", []string{"-conf", bad, "-log-format", "xml"}, 1, "", `unknown log format "xml"`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr syncBuffer
			code := run(tc.args, &stdout, &stderr, nil)
			if code != tc.code {
				t.Errorf("exit code %d, want %d (stdout %q, stderr %q)", code, tc.code, stdout.String(), stderr.String())
			}
			if !strings.Contains(stdout.String(), tc.out) {
				t.Errorf("stdout %q does not contain %q", stdout.String(), tc.out)
			}
			if tc.notInOut != "" && strings.Contains(stdout.String(), tc.notInOut) {
				t.Errorf("stdout %q contains %q", stdout.String(), tc.notInOut)
			}
			if !strings.Contains(stderr.String(), tc.err) {
				t.Errorf("stderr %q does not contain %q", stderr.String(), tc.err)
			}
		})
	}
}

// TestMainPicksUpCorednsCustom runs Main with AKS's layout (a Corefile that imports
// custom/*.override into its default block and custom/*.server beside it), changes the
// ConfigMap-like custom directory the way the kubelet does, and sees the answers change
// without a restart; then SIGTERM stops it with exit code 0.
func TestMainPicksUpCorednsCustom(t *testing.T) {
	upstream := startUpstream(t, map[string]string{"up.example.": "192.0.2.99"})
	port, healthPort, readyPort := freePort(t), freePort(t), freePort(t)
	dir := t.TempDir()
	custom := newConfigMapDir(t, filepath.Join(dir, "custom"))
	custom.update(map[string]string{
		"hosts.override": "hosts {\n    192.0.2.7 custom.example\n    fallthrough\n}\n",
	})
	corefile := filepath.Join(dir, "Corefile")
	writeFile(t, corefile, fmt.Sprintf(`.:%d {
    bind %[2]s
    errors
    health %[2]s:%[3]d
    ready %[2]s:%[4]d
    template IN A tmpl.example {
        answer "{{ .Name }} 60 IN A 192.0.2.53"
    }
    forward . %[5]s
    reload 2s
    loadbalance
    import custom/*.override
}
import custom/*.server
`, port, loopback, healthPort, readyPort, upstream))

	done := make(chan int, 1)
	go func() { done <- Main([]string{"-conf", corefile}) }()
	server := net.JoinHostPort(loopback, fmt.Sprint(port))
	waitAnswer(t, done, server, "tmpl.example.", "192.0.2.53")
	for name, want := range map[string]string{
		"tmpl.example.":   "192.0.2.53", // template
		"up.example.":     "192.0.2.99", // forward
		"custom.example.": "192.0.2.7",  // hosts, from custom/hosts.override
		"zone.test.":      "NXDOMAIN",   // no custom/*.server yet: forwarded
	} {
		if got := answer(server, name); got != want {
			t.Errorf("%s = %s, want %s", name, got, want)
		}
	}
	for _, u := range []string{
		fmt.Sprintf("http://%s:%d/health", loopback, healthPort),
		fmt.Sprintf("http://%s:%d/ready", loopback, readyPort),
	} {
		waitHTTP(t, u)
	}

	// coredns-custom edited: the override changes, a server block is added.
	custom.update(map[string]string{
		"hosts.override": "hosts {\n    192.0.2.8 custom.example\n    fallthrough\n}\n",
		"zone.server": fmt.Sprintf(`zone.test:%d {
    bind %s
    template IN A zone.test {
        answer "{{ .Name }} 60 IN A 192.0.2.77"
    }
}
`, port, loopback),
	})
	waitAnswer(t, done, server, "custom.example.", "192.0.2.8")
	waitAnswer(t, done, server, "zone.test.", "192.0.2.77")
	if got := answer(server, "tmpl.example."); got != "192.0.2.53" {
		t.Errorf("after the reload tmpl.example. = %s", got)
	}

	// coredns-custom emptied.
	custom.update(nil)
	waitAnswer(t, done, server, "custom.example.", "NXDOMAIN")
	waitAnswer(t, done, server, "zone.test.", "NXDOMAIN")

	syscall.Kill(syscall.Getpid(), syscall.SIGTERM)
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("exit code after SIGTERM = %d, want 0", code)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("CoreDNS did not stop on SIGTERM")
	}
	assertReleased(t, port)
}

// TestSIGUSR1Reloads changes a Corefile without the reload plugin and reloads it with SIGUSR1,
// with the port from -dns.port; a reload with a broken Corefile keeps the running one.
func TestSIGUSR1Reloads(t *testing.T) {
	port := freePort(t)
	dir := t.TempDir()
	corefile := filepath.Join(dir, "Corefile")
	hosts := func(ip string) string {
		return fmt.Sprintf(". {\n    bind %s\n    hosts {\n        %s a.example\n    }\n}\n", loopback, ip)
	}
	writeFile(t, corefile, hosts("192.0.2.1"))
	sigs := make(chan os.Signal, 1)
	done := make(chan int, 1)
	var stdout syncBuffer
	go func() {
		done <- run([]string{"-conf", corefile, "-dns.port", fmt.Sprint(port)}, &stdout, &stdout, sigs)
	}()
	server := net.JoinHostPort(loopback, fmt.Sprint(port))
	waitAnswer(t, done, server, "a.example.", "192.0.2.1")

	writeFile(t, corefile, hosts("192.0.2.2"))
	time.Sleep(100 * time.Millisecond)
	if got := answer(server, "a.example."); got != "192.0.2.1" {
		t.Errorf("without reload or SIGUSR1 the answer changed to %s", got)
	}
	sigs <- syscall.SIGUSR1
	waitAnswer(t, done, server, "a.example.", "192.0.2.2")

	writeFile(t, corefile, ". {\n    nosuchplugin\n}\n")
	sigs <- syscall.SIGUSR1
	sigs <- syscall.SIGHUP // ignored, as upstream
	time.Sleep(200 * time.Millisecond)
	if got := answer(server, "a.example."); got != "192.0.2.2" {
		t.Errorf("after a failed reload a.example. = %s, want the running 192.0.2.2", got)
	}

	sigs <- syscall.SIGTERM
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("exit code after SIGTERM = %d, want 0", code)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("CoreDNS did not stop on SIGTERM")
	}
	for _, want := range []string{"CoreDNS-" + Version, "SIGUSR1: Reloading", "Unknown directive 'nosuchplugin'"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("log does not contain %q:\n%s", want, stdout.String())
		}
	}
	assertReleased(t, port)
}

// configMapDir lays files out as the kubelet's atomic writer does for a ConfigMap volume:
// a timestamped directory, a ..data symlink to it, and one symlink per key through ..data;
// an update swaps ..data by rename.
type configMapDir struct {
	t   *testing.T
	dir string
	n   int
}

func newConfigMapDir(t *testing.T, dir string) *configMapDir {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return &configMapDir{t: t, dir: dir}
}

func (c *configMapDir) update(data map[string]string) {
	t := c.t
	t.Helper()
	old, _ := os.Readlink(filepath.Join(c.dir, "..data"))
	c.n++
	ts := fmt.Sprintf("..2026_01_01_00_00_%02d.%d", c.n, os.Getpid())
	if err := os.Mkdir(filepath.Join(c.dir, ts), 0o755); err != nil {
		t.Fatal(err)
	}
	for k, v := range data {
		writeFile(t, filepath.Join(c.dir, ts, k), v)
	}
	tmp := filepath.Join(c.dir, "..data_tmp")
	if err := os.Symlink(ts, tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(c.dir, "..data")); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(c.dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if _, keep := data[e.Name()]; !keep && !strings.HasPrefix(e.Name(), "..") {
			os.Remove(filepath.Join(c.dir, e.Name()))
		}
	}
	for k := range data {
		if _, err := os.Lstat(filepath.Join(c.dir, k)); err != nil {
			if err := os.Symlink(filepath.Join("..data", k), filepath.Join(c.dir, k)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if old != "" {
		os.RemoveAll(filepath.Join(c.dir, old))
	}
}

// startUpstream serves A records for names on a loopback UDP port, NXDOMAIN for the rest.
func startUpstream(t *testing.T, records map[string]string) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", net.JoinHostPort(loopback, "0"))
	if err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		q := r.Question[0]
		switch ip, ok := records[q.Name]; {
		case ok && q.Qtype == dns.TypeA:
			m.Answer = append(m.Answer, &dns.A{
				Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60},
				A:   net.ParseIP(ip),
			})
		case !ok && q.Name != ".":
			m.Rcode = dns.RcodeNameError
		}
		w.WriteMsg(m)
	})}
	go srv.ActivateAndServe()
	t.Cleanup(func() { srv.Shutdown() })
	return pc.LocalAddr().String()
}

// answer is the first A record for name, "NXDOMAIN", another rcode's name, or the error.
func answer(server, name string) string {
	m := new(dns.Msg)
	m.SetQuestion(name, dns.TypeA)
	c := &dns.Client{Timeout: time.Second}
	r, _, err := c.Exchange(m, server)
	if err != nil {
		return "error: " + err.Error()
	}
	if r.Rcode != dns.RcodeSuccess {
		return dns.RcodeToString[r.Rcode]
	}
	for _, rr := range r.Answer {
		if a, ok := rr.(*dns.A); ok {
			return a.A.String()
		}
	}
	return "no answer"
}

// waitAnswer polls server until name has want, for up to 30 s (reload 2s has a 1 s jitter;
// the first start includes loading the plugins).
func waitAnswer(t *testing.T, done <-chan int, server, name, want string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		got := answer(server, name)
		if got == want {
			return
		}
		select {
		case code := <-done:
			t.Fatalf("CoreDNS exited with %d while waiting for %s = %s (last %s)", code, name, want, got)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s = %s, want %s", name, got, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func waitHTTP(t *testing.T, url string) {
	t.Helper()
	c := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := c.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			err = fmt.Errorf("status %s", resp.Status)
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: %v", url, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// freePort is a loopback port free for both TCP and UDP.
func freePort(t *testing.T) int {
	t.Helper()
	for range 20 {
		ln, err := net.Listen("tcp", net.JoinHostPort(loopback, "0"))
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		pc, err := net.ListenPacket("udp", ln.Addr().String())
		ln.Close()
		if err == nil {
			pc.Close()
			return port
		}
	}
	t.Fatal("no free loopback port")
	return 0
}

// assertReleased checks that CoreDNS let go of port's sockets.
func assertReleased(t *testing.T, port int) {
	t.Helper()
	addr := net.JoinHostPort(loopback, fmt.Sprint(port))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Errorf("TCP %s still in use after stop: %v", addr, err)
	} else {
		ln.Close()
	}
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		t.Errorf("UDP %s still in use after stop: %v", addr, err)
	} else {
		pc.Close()
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// syncBuffer is a bytes.Buffer that CoreDNS's goroutines may write while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
