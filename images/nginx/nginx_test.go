package nginx

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func fetch(t *testing.T, url string) (*http.Response, string) {
	t.Helper()
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

func TestDefaultPage(t *testing.T) {
	var log bytes.Buffer
	srv := httptest.NewServer(Handler("", &log))
	defer srv.Close()
	resp, body := fetch(t, srv.URL+"/")
	if resp.StatusCode != 200 || !strings.Contains(body, "<title>Welcome to nginx!</title>") {
		t.Errorf("GET / = %d %q", resp.StatusCode, body)
	}
	if resp.Header.Get("Server") != "nginx" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Errorf("GET / headers = %v", resp.Header)
	}
	resp, body = fetch(t, srv.URL+"/nope")
	if resp.StatusCode != 404 || !strings.Contains(body, "<center><h1>404 Not Found</h1></center>") {
		t.Errorf("GET /nope = %d %q", resp.StatusCode, body)
	}
	line := strings.Split(log.String(), "\n")[0]
	if !strings.HasPrefix(line, "127.0.0.1 - - [") || !strings.HasSuffix(line, `] "GET / HTTP/1.1" 200 615 "-" "Go-http-client/1.1" "-"`) {
		t.Errorf("access log line = %q", line)
	}
}

func TestServesRoot(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "index.html"), []byte("<h1>mine</h1>"), 0o644)
	os.Mkdir(filepath.Join(dir, "sub"), 0o755)
	os.Mkdir(filepath.Join(dir, "empty"), 0o755)
	os.WriteFile(filepath.Join(dir, "sub", "a.txt"), []byte("a"), 0o644)
	srv := httptest.NewServer(Handler(dir, io.Discard))
	defer srv.Close()
	for _, tc := range []struct {
		path, body, location string
		code                 int
	}{
		{"/", "<h1>mine</h1>", "", 200},
		{"/index.html", "<h1>mine</h1>", "", 200},
		{"/sub/a.txt", "a", "", 200},
		{"/sub", "", "/sub/", 301},
		{"/empty/", "403 Forbidden", "", 403},
		{"/missing", "404 Not Found", "", 404},
		{"/../../etc/passwd", "404 Not Found", "", 404},
	} {
		resp, body := fetch(t, srv.URL+tc.path)
		if resp.StatusCode != tc.code || !strings.Contains(body, tc.body) || resp.Header.Get("Location") != tc.location {
			t.Errorf("GET %s = %d %q (Location %q), want %d %q", tc.path, resp.StatusCode, body, resp.Header.Get("Location"), tc.code, tc.body)
		}
	}
}

func TestFallsBackToImagePages(t *testing.T) {
	dir := t.TempDir() // a web root without index.html, like a host's /usr/share/nginx/html
	os.WriteFile(filepath.Join(dir, "index.nginx-debian.html"), []byte("debian"), 0o644)
	srv := httptest.NewServer(Handler(dir, io.Discard))
	defer srv.Close()
	if resp, body := fetch(t, srv.URL+"/"); resp.StatusCode != 200 || !strings.Contains(body, "Welcome to nginx!") {
		t.Errorf("GET / = %d %q", resp.StatusCode, body)
	}
}

func TestMainOptions(t *testing.T) {
	stderr := os.Stderr
	os.Stderr, _ = os.Open(os.DevNull)
	defer func() { os.Stderr = stderr }()
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"-v"}, 0},
		{[]string{"-t"}, 0},
		{[]string{"-g", "daemon off;", "-t"}, 0},
		{[]string{"-s", "reload"}, 0},
		{[]string{"--bogus"}, 1},
	} {
		if code := Main(tc.args); code != tc.code {
			t.Errorf("Main(%q) = %d, want %d", tc.args, code, tc.code)
		}
	}
}
