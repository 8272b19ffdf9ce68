package l7

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestUpdate(t *testing.T) {
	a, b := named(t, "a"), named(t, "b")
	config := func(up string) *Config {
		cfg := oneRoute(prefixRoute("/", up), upstream("a", endpoint(t, a)), upstream("b", endpoint(t, b)))
		cfg.Listeners[0].Addr = "127.0.0.1:0"
		return cfg
	}
	t.Run("a slow request finishes across 100 updates", func(t *testing.T) {
		release := make(chan struct{})
		slow := echoBackendFunc(t, func(w http.ResponseWriter, r *http.Request) {
			<-release
			io.WriteString(w, "slow done")
		})
		cfg := config("slow")
		cfg.Upstreams["slow"] = upstream("slow", endpoint(t, slow))
		tp := startProxy(t, cfg)
		type result struct {
			code int
			body string
		}
		done := make(chan result)
		go func() {
			resp, body := do(t, tp.client(t, "http", nil), "GET", tp.url(t, "http")+"/", nil, "Host", "app.example.com")
			done <- result{resp.StatusCode, body}
		}()
		waitFor(t, func() bool { return inFlight(slow) == 1 })
		for i := 0; i < 100; i++ {
			// Alternate between configurations without the slow upstream at all.
			if err := tp.Update(config([]string{"a", "b"}[i%2])); err != nil {
				t.Fatal(err)
			}
		}
		close(release)
		if r := <-done; r.code != 200 || r.body != "slow done" {
			t.Fatalf("slow request: %d %q", r.code, r.body)
		}
		if _, body := do(t, tp.client(t, "http", nil), "GET", tp.url(t, "http")+"/", nil, "Host", "app.example.com"); body != "b" {
			t.Errorf("new request served by %q, want b (the last configuration)", body)
		}
	})
	t.Run("a keep-alive connection keeps working across updates", func(t *testing.T) {
		tp := startProxy(t, config("a"))
		c := tp.client(t, "http", nil)
		var reused atomic.Int32
		get := func() string {
			req, _ := http.NewRequest("GET", tp.url(t, "http")+"/", nil)
			req.Host = "app.example.com"
			req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
				GotConn: func(info httptrace.GotConnInfo) {
					if info.Reused {
						reused.Add(1)
					}
				},
			}))
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return string(b)
		}
		if got := get(); got != "a" {
			t.Fatalf("before: %q", got)
		}
		addr := tp.Addr("http").String()
		for i, want := range []string{"b", "a", "b"} {
			if err := tp.Update(config(want)); err != nil {
				t.Fatal(err)
			}
			if got := get(); got != want {
				t.Fatalf("after update %d: %q, want %q", i, got, want)
			}
		}
		if reused.Load() != 3 {
			t.Errorf("connection reused %d times, want 3", reused.Load())
		}
		if tp.Addr("http").String() != addr {
			t.Errorf("listener moved from %s to %s", addr, tp.Addr("http"))
		}
	})
	t.Run("listeners added, removed, and failing", func(t *testing.T) {
		tp := startProxy(t, config("a"))
		first := tp.Addr("http").String()
		cfg := config("a")
		second := &Listener{Name: "second", Addr: "127.0.0.1:0", Protocol: HTTP, Servers: cfg.Listeners[0].Servers}
		clash := &Listener{Name: "clash", Addr: first, Protocol: HTTP, Servers: cfg.Listeners[0].Servers}
		cfg.Listeners = append(cfg.Listeners, second, clash)
		err := tp.Update(cfg)
		if err == nil || !strings.Contains(err.Error(), `"clash"`) {
			t.Fatalf("Update error = %v, want one naming the listener that could not open", err)
		}
		if tp.Addr("clash") != nil || tp.Addr("second") == nil {
			t.Fatalf("clash %v, second %v", tp.Addr("clash"), tp.Addr("second"))
		}
		if _, body := do(t, tp.client(t, "second", nil), "GET", "http://x/", nil, "Host", "app.example.com"); body != "a" {
			t.Errorf("second listener served %q", body)
		}
		if tp.Addr("http").String() != first {
			t.Errorf("first listener moved")
		}
		secondAddr := tp.Addr("second").String()
		if err := tp.Update(config("a")); err != nil {
			t.Fatal(err)
		}
		if tp.Addr("second") != nil {
			t.Error("removed listener still open")
		}
		waitFor(t, func() bool {
			c, err := net.DialTimeout("tcp", secondAddr, time.Second)
			if err != nil {
				return true
			}
			c.Close()
			return false
		})
	})
}

func TestShutdown(t *testing.T) {
	release := make(chan struct{})
	slow := echoBackendFunc(t, func(w http.ResponseWriter, r *http.Request) {
		<-release
		io.WriteString(w, "done")
	})
	for _, tc := range []struct {
		name    string
		timeout time.Duration
		release bool
		wantErr bool
	}{
		{name: "requests in flight finish", timeout: 5 * time.Second, release: true},
		{name: "cut short when the context ends", timeout: 100 * time.Millisecond, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := New(Options{})
			cfg := oneRoute(prefixRoute("/", "slow"), upstream("slow", endpoint(t, slow)))
			cfg.Listeners[0].Addr = "127.0.0.1:0"
			if err := p.Update(cfg); err != nil {
				t.Fatal(err)
			}
			tp := &testProxy{Proxy: p}
			addr := p.Addr("http").String()
			errc := make(chan error, 1)
			go func() {
				req, _ := http.NewRequest("GET", "http://"+addr+"/", nil)
				req.Host = "app.example.com"
				resp, err := tp.client(t, "http", nil).Do(req)
				if err == nil {
					b, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if string(b) != "done" {
						err = errors.New("body " + string(b))
					}
				}
				errc <- err
			}()
			waitFor(t, func() bool { return inFlight(slow) == 1 })
			ctx, cancel := context.WithTimeout(context.Background(), tc.timeout)
			defer cancel()
			shut := make(chan error, 1)
			go func() { shut <- p.Shutdown(ctx) }()
			waitFor(t, func() bool {
				c, err := net.DialTimeout("tcp", addr, time.Second)
				if err != nil {
					return true
				}
				c.Close()
				return false
			})
			if tc.release {
				release <- struct{}{}
			}
			if err := <-shut; (err != nil) != tc.wantErr {
				t.Errorf("Shutdown = %v, want error %v", err, tc.wantErr)
			}
			if err := <-errc; (err != nil) != tc.wantErr {
				t.Errorf("request: %v, want error %v", err, tc.wantErr)
			}
			if err := p.Update(cfg); err == nil {
				t.Error("Update after Shutdown succeeded")
			}
		})
	}
	close(release)
}
