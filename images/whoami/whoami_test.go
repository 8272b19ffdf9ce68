package whoami

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
)

func TestWhoami(t *testing.T) {
	s := &Server{Name: "blue", AllowedOrigins: "*"}
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	req, _ := http.NewRequest("GET", srv.URL+"/path?x=1", nil)
	req.Header.Set("X-Forwarded-For", "203.0.113.7")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	body := string(b)
	host, _ := os.Hostname()
	for _, want := range []string{
		"Name: blue\nHostname: " + host + "\n",
		"IP: 127.0.0.1\n",
		"RemoteAddr: 127.0.0.1:",
		"GET /path?x=1 HTTP/1.1\r\n",
		"Host: " + strings.TrimPrefix(srv.URL, "http://") + "\r\n",
		"X-Forwarded-For: 203.0.113.7\r\n",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("whoami output lacks %q:\n%s", want, body)
		}
	}
	if !strings.HasPrefix(body, "Name: blue\n") {
		t.Errorf("whoami output does not start with the name:\n%s", body)
	}

	resp, err = http.Get(srv.URL + "/api")
	if err != nil {
		t.Fatal(err)
	}
	var d map[string]any
	json.NewDecoder(resp.Body).Decode(&d)
	resp.Body.Close()
	if d["hostname"] != host || d["method"] != "GET" || d["name"] != "blue" || !strings.HasPrefix(d["remoteAddr"].(string), "127.0.0.1:") {
		t.Errorf("/api = %v", d)
	}

	resp, _ = http.Get(srv.URL + "/health")
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("/health = %d", resp.StatusCode)
	}
	resp, _ = http.Post(srv.URL+"/health", "application/json", strings.NewReader("503"))
	resp.Body.Close()
	resp, _ = http.Get(srv.URL + "/health")
	resp.Body.Close()
	if resp.StatusCode != 503 {
		t.Errorf("/health after POST 503 = %d", resp.StatusCode)
	}

	resp, _ = http.Get(srv.URL + "/data?size=2&unit=kb")
	n, _ := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if n != 2048 {
		t.Errorf("/data?size=2&unit=kb = %d bytes", n)
	}
}
