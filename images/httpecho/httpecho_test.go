package httpecho

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/minaks/minaks/images"
)

func TestHandler(t *testing.T) {
	var log bytes.Buffer
	srv := httptest.NewServer(Handler("hello world", 201, &log))
	defer srv.Close()
	for _, tc := range []struct {
		path, body string
		code       int
	}{
		{"/", "hello world\n", 201},
		{"/any/path", "hello world\n", 201},
		{"/health", `{"status":"ok"}` + "\n", 200},
	} {
		resp, err := http.Get(srv.URL + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.code || string(body) != tc.body {
			t.Errorf("GET %s = %d %q, want %d %q", tc.path, resp.StatusCode, body, tc.code, tc.body)
		}
		if resp.Header.Get("X-App-Name") != "http-echo" {
			t.Errorf("GET %s: X-App-Name = %q", tc.path, resp.Header.Get("X-App-Name"))
		}
	}
	if !strings.Contains(log.String(), `"GET /any/path HTTP/1.1" 201 12 "Go-http-client/1.1"`) {
		t.Errorf("access log = %q", log.String())
	}
	if strings.Contains(log.String(), "/health") {
		t.Errorf("/health is logged: %q", log.String())
	}
}

func TestMainNeedsText(t *testing.T) {
	t.Setenv("ECHO_TEXT", "")
	if code := Main(nil); code != 127 {
		t.Errorf("Main without -text = %d, want 127", code)
	}
	if code := Main([]string{"-text=x", "extra"}); code != 127 {
		t.Errorf("Main with an extra argument = %d, want 127", code)
	}
}

func TestRegistered(t *testing.T) {
	img, err := images.Lookup("hashicorp/http-echo:1.0")
	if err != nil || img.Program != "http-echo" {
		t.Errorf("Lookup = %v, %v", img, err)
	}
}

func TestMainServesUntilSIGTERM(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	done := make(chan int)
	go func() { done <- Main([]string{"-listen=" + addr, "-text=hi"}) }()
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/")
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(body) != "hi\n" {
				t.Errorf("GET / = %q", body)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("http-echo did not start: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	syscall.Kill(syscall.Getpid(), syscall.SIGTERM)
	select {
	case code := <-done:
		if code != 2 {
			t.Errorf("exit code after SIGTERM = %d, want 2 (as upstream)", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("http-echo did not stop on SIGTERM")
	}
}
