package helloworld

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHandler(t *testing.T) {
	srv := httptest.NewServer(Handler("AKS <Ingress> Demo", io.Discard))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	body := string(b)
	for _, want := range []string{
		`<link rel="stylesheet" type="text/css" href="/static/default.css">`,
		"<title>AKS &lt;Ingress&gt; Demo</title>",
		`<div id="logo">AKS &lt;Ingress&gt; Demo</div>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q:\n%s", want, body)
		}
	}
	for path, ctype := range map[string]string{"/static/default.css": "text/css", "/static/acs.png": "image/png"} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), ctype) {
			t.Errorf("GET %s = %d %s", path, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
	}
	resp, _ = http.Get(srv.URL + "/nope")
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Errorf("GET /nope = %d, want 404", resp.StatusCode)
	}
}

func TestDefaultTitle(t *testing.T) {
	srv := httptest.NewServer(Handler(defaultTitle, io.Discard))
	defer srv.Close()
	resp, _ := http.Get(srv.URL + "/")
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), "<title>Welcome to Azure Kubernetes Service (AKS)</title>") {
		t.Errorf("page = %s", b)
	}
}
