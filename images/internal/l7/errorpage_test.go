package l7

import (
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

// golden compares got with testdata/name, or writes it there with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run with -update to create it): %v", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s differs (-want +got):\n%s", path, diff)
	}
}

func TestNginxErrorPage(t *testing.T) {
	// The page from the brief, byte for byte, as ngx_http_special_response.c builds it.
	ct, body := NginxErrorPage(404)
	want := "<html>\r\n<head><title>404 Not Found</title></head>\r\n<body>\r\n<center><h1>404 Not Found</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
	if ct != "text/html" || string(body) != want {
		t.Fatalf("NginxErrorPage(404) = %q, %q; want text/html, %q", ct, body, want)
	}
	for _, code := range []int{301, 302, 303, 307, 308, 400, 403, 404, 405, 413, 429, 497, 500, 502, 503, 504} {
		t.Run(strconv.Itoa(code), func(t *testing.T) {
			_, body := NginxErrorPage(code)
			golden(t, filepath.Join("errorpages", strconv.Itoa(code)+".html"), body)
		})
	}
	for _, code := range []int{200, 204, 304, 499} {
		if ct, body := NginxErrorPage(code); ct != "" || body != nil {
			t.Errorf("NginxErrorPage(%d) = %q, %q; want no page", code, ct, body)
		}
	}
}

func TestUpstreamInfo(t *testing.T) {
	at := time.Date(2026, 3, 4, 5, 6, 7, 0, time.FixedZone("", 3600))
	for _, tc := range []struct {
		name string
		e    Entry
	}{
		{name: "proxied", e: Entry{
			Time: at, RemoteAddr: "10.1.2.3", Method: "GET", URI: "/a?b=1", Proto: "HTTP/1.1",
			Status: 200, BodyBytesSent: 612, Referer: "https://r.test/", UserAgent: "curl/8.5.0",
			RequestLength: 87, RequestTime: 3 * time.Millisecond,
			UpstreamName: "default-app-80",
			Upstreams:    []UpstreamAttempt{{Addr: "10.244.0.5:8080", Status: 200, ResponseLength: 612, ResponseTime: 2 * time.Millisecond}},
			RequestID:    "0123456789abcdef0123456789abcdef",
		}},
		{name: "retried-and-canary", e: Entry{
			Time: at, RemoteAddr: "10.1.2.3", RemoteUser: "ann", Method: "POST", URI: "/", Proto: "HTTP/2.0",
			Status: 200, RequestLength: 300, RequestTime: 1234 * time.Millisecond,
			UpstreamName: "default-app-80", AlternativeUpstreamName: "default-app-canary-80",
			Upstreams: []UpstreamAttempt{
				{Addr: "10.244.0.5:8080", Status: 502, ResponseTime: time.Millisecond},
				{Addr: "10.244.0.6:8080", Status: 200, ResponseLength: 2, ResponseTime: 1200 * time.Millisecond},
			},
		}},
		{name: "error-page", e: Entry{
			Time: at, RemoteAddr: "10.1.2.3", Method: "GET", URI: "/missing", Proto: "HTTP/1.1",
			Status: 404, BodyBytesSent: 9, UpstreamName: "custom-default-backend-errors",
			Upstreams: []UpstreamAttempt{
				{Addr: "10.244.0.5:8080", Status: 404, ResponseLength: 19},
				{Group: 1, Addr: "10.244.0.9:8080", Status: 404, ResponseLength: 9},
			},
		}},
		{name: "no-upstream", e: Entry{
			Time: at, RemoteAddr: "10.1.2.3", Method: "GET", URI: "/", Proto: "HTTP/1.1", Status: 404, BodyBytesSent: 146,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			golden(t, filepath.Join("upstreaminfo", tc.name+".log"), []byte(tc.e.UpstreamInfo()+"\n"))
		})
	}
}
