package l7

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// newTestH1 is an HTTP/1.1 transport with the proxy's dialer, as Proxy.New makes it.
func newTestH1(t testing.TB) *h1Transport {
	t.Helper()
	tr := (&Proxy{}).newH1Transport(nil)
	t.Cleanup(tr.close)
	return tr
}

// connCountingServer is an httptest server that counts the connections it accepted and
// closed.
type connCountingServer struct {
	*httptest.Server
	opened, closed atomic.Int32
}

func newConnCountingServer(t testing.TB, h http.HandlerFunc) *connCountingServer {
	t.Helper()
	s := &connCountingServer{Server: httptest.NewUnstartedServer(h)}
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		switch st {
		case http.StateNew:
			s.opened.Add(1)
		case http.StateClosed, http.StateHijacked:
			s.closed.Add(1)
		}
	}
	s.Start()
	t.Cleanup(s.Close)
	return s
}

// rawBackend serves each accepted connection with serve (n counts connections from 1), for
// backends that misbehave in ways net/http will not.
type rawBackend struct {
	ln    net.Listener
	conns atomic.Int32
}

func newRawBackend(t testing.TB, serve func(n int, c net.Conn, br *bufio.Reader)) *rawBackend {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &rawBackend{ln: ln}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			n := int(b.conns.Add(1))
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(10 * time.Second))
				serve(n, c, bufio.NewReader(c))
			}()
		}
	}()
	return b
}

func (b *rawBackend) addr() string { return b.ln.Addr().String() }

// readRawRequest reads a request and its body from a raw backend's connection.
func readRawRequest(br *bufio.Reader) (*http.Request, error) {
	req, err := http.ReadRequest(br)
	if err != nil {
		return nil, err
	}
	_, err = io.Copy(io.Discard, req.Body)
	return req, err
}

// newH1Request builds a request to addr, with its body in memory.
func newH1Request(t testing.TB, ctx context.Context, method, addr, body string) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, "http://"+addr+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Body, req.ContentLength = newMemBody([]byte(body)), int64(len(body))
	}
	return req
}

// withRoute gives ctx a request on a route with these timeouts, as the transport finds them.
func withRoute(ctx context.Context, to Timeouts) context.Context {
	rq := &request{rt: &compiledRoute{r: &Route{Timeouts: to}, timeouts: to}}
	return context.WithValue(ctx, ctxKey{}, rq)
}

// idleConns counts a transport's idle connections.
func idleConns(tr *h1Transport) int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	n := 0
	for _, p := range tr.pools {
		n += len(p.idle)
	}
	return n
}

func TestH1TransportKeepAlive(t *testing.T) {
	big := strings.Repeat("x", 100<<10)
	for _, tc := range []struct {
		name    string
		handler http.HandlerFunc
		method  string
		body    string
		// read is how much of each response body the caller reads (-1: all of it).
		read int
		// requests are sent one after the other; opened is the connections they took.
		requests, opened int
		wantBody         string
		wantTrailer      string
	}{
		{
			name:     "a keep-alive connection is reused",
			handler:  func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello") },
			method:   "GET",
			read:     -1,
			requests: 3, opened: 1, wantBody: "hello",
		},
		{
			name: "a request body goes with a Content-Length",
			handler: func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				fmt.Fprintf(w, "%s %s %q %v", r.Method, r.Header.Get("Content-Length"), b, r.TransferEncoding)
			},
			method: "POST", body: "payload",
			read:     -1,
			requests: 2, opened: 1, wantBody: `POST 7 "payload" []`,
		},
		{
			name:     "HEAD has no body and keeps the connection",
			handler:  func(w http.ResponseWriter, r *http.Request) { w.Header().Set("Content-Length", "5") },
			method:   "HEAD",
			read:     -1,
			requests: 3, opened: 1,
		},
		{
			name:     "204 has no body and keeps the connection",
			handler:  func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) },
			method:   "GET",
			read:     -1,
			requests: 3, opened: 1,
		},
		{
			name:     "304 has no body and keeps the connection",
			handler:  func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNotModified) },
			method:   "GET",
			read:     -1,
			requests: 3, opened: 1,
		},
		{
			name: "Connection: close is obeyed",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Connection", "close")
				io.WriteString(w, "bye")
			},
			method:   "GET",
			read:     -1,
			requests: 3, opened: 3, wantBody: "bye",
		},
		{
			name:     "a body not read to its end closes the connection",
			handler:  func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, big) },
			method:   "GET",
			read:     10,
			requests: 3, opened: 3, wantBody: big[:10],
		},
		{
			name: "a chunked body with a trailer is read to its end and keeps the connection",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Trailer", "X-Sum")
				io.WriteString(w, "part one, ")
				w.(http.Flusher).Flush()
				io.WriteString(w, "part two")
				w.Header().Set("X-Sum", "42")
			},
			method:   "GET",
			read:     -1,
			requests: 2, opened: 1, wantBody: "part one, part two", wantTrailer: "42",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newConnCountingServer(t, tc.handler)
			tr := newTestH1(t)
			for i := 0; i < tc.requests; i++ {
				req := newH1Request(t, context.Background(), tc.method, srv.Listener.Addr().String(), tc.body)
				resp, err := tr.RoundTrip(req)
				if err != nil {
					t.Fatalf("request %d: %v", i, err)
				}
				var r io.Reader = resp.Body
				if tc.read >= 0 {
					r = io.LimitReader(resp.Body, int64(tc.read))
				}
				got, err := io.ReadAll(r)
				if err != nil {
					t.Fatalf("request %d: read body: %v", i, err)
				}
				resp.Body.Close()
				if string(got) != tc.wantBody {
					t.Errorf("request %d: body %q, want %q", i, trim(got), trim([]byte(tc.wantBody)))
				}
				if tc.wantTrailer != "" && resp.Trailer.Get("X-Sum") != tc.wantTrailer {
					t.Errorf("request %d: trailer %v, want X-Sum %s", i, resp.Trailer, tc.wantTrailer)
				}
			}
			if got := srv.opened.Load(); got != int32(tc.opened) {
				t.Errorf("the backend saw %d connections, want %d", got, tc.opened)
			}
			// Connections that were not kept are closed, not leaked.
			waitFor(t, func() bool { return srv.opened.Load()-srv.closed.Load() == int32(idleConns(tr)) })
		})
	}
}

// trim shortens a body for a message.
func trim(b []byte) string {
	if len(b) > 40 {
		return string(b[:40]) + "…"
	}
	return string(b)
}

func TestH1TransportStaleConnection(t *testing.T) {
	// answer answers one request with "conn <n>", keeping the connection.
	answer := func(n int, c net.Conn, br *bufio.Reader) bool {
		if _, err := readRawRequest(br); err != nil {
			return false
		}
		body := fmt.Sprintf("conn %d", n)
		fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
		return true
	}
	for _, tc := range []struct {
		name string
		// serve is the backend's behaviour on its first connection; later ones answer
		// every request.
		serve  func(c net.Conn, br *bufio.Reader)
		method string
		// check makes the transport check every idle connection before using it.
		check    bool
		wantBody string
		wantErr  bool
	}{
		{
			name: "closed while idle: the check finds it and a new connection is used",
			serve: func(c net.Conn, br *bufio.Reader) {
				answer(1, c, br)
			},
			method: "GET", check: true, wantBody: "conn 2",
		},
		{
			name: "closed while idle: a POST is checked even without the idle time",
			serve: func(c net.Conn, br *bufio.Reader) {
				answer(1, c, br)
			},
			method: "POST", wantBody: "conn 2",
		},
		{
			name: "dropped when the request arrives: a GET is retried on a new connection",
			serve: func(c net.Conn, br *bufio.Reader) {
				answer(1, c, br)
				readRawRequest(br)
			},
			method: "GET", wantBody: "conn 2",
		},
		{
			name: "dropped when the request arrives: a POST may have been processed and is not sent twice",
			serve: func(c net.Conn, br *bufio.Reader) {
				answer(1, c, br)
				readRawRequest(br)
			},
			method: "POST", wantErr: true,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			be := newRawBackend(t, func(n int, c net.Conn, br *bufio.Reader) {
				if n == 1 {
					tc.serve(c, br)
					return
				}
				for answer(n, c, br) {
				}
			})
			tr := newTestH1(t)
			if !tc.check {
				tr.staleAfter = time.Hour
			} else {
				tr.staleAfter = 0
			}
			first, err := tr.RoundTrip(newH1Request(t, context.Background(), "GET", be.addr(), ""))
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, first.Body)
			first.Body.Close()
			// Let the backend close its first connection (or wait for the next request).
			time.Sleep(50 * time.Millisecond)
			resp, err := tr.RoundTrip(newH1Request(t, context.Background(), tc.method, be.addr(), "data"))
			if tc.wantErr {
				var he *h1Error
				if err == nil || !errors.As(err, &he) || !he.noResponse {
					t.Fatalf("got %v, want a failure with no response", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("the stale connection was not replaced: %v", err)
			}
			got, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(got) != tc.wantBody {
				t.Errorf("body %q, want %q", got, tc.wantBody)
			}
		})
	}
}

// TestH1TransportStaleThroughProxy checks that a request that meets a connection the backend
// dropped is answered, with one attempt in the log, as http.Transport would retry it.
func TestH1TransportStaleThroughProxy(t *testing.T) {
	be := newRawBackend(t, func(n int, c net.Conn, br *bufio.Reader) {
		for i := 0; ; i++ {
			if _, err := readRawRequest(br); err != nil {
				return
			}
			if n == 1 && i == 1 {
				return // drop the keep-alive connection instead of answering
			}
			fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		}
	})
	cfg := oneRoute(prefixRoute("/", "be"), upstream("be", endpoint(t, be.ln)))
	tp := startProxy(t, cfg)
	c := tp.client(t, "http", nil)
	for i := 1; i <= 2; i++ {
		resp, body := do(t, c, "GET", tp.url(t, "http")+"/", nil, "Host", "app.example.com")
		if resp.StatusCode != 200 || body != "ok" {
			t.Fatalf("request %d: %d %q", i, resp.StatusCode, body)
		}
		if got := tp.rec.wait(t, i).UpstreamStatus(); got != "200" {
			t.Errorf("request %d: $upstream_status = %q, want one attempt", i, got)
		}
	}
	if n := be.conns.Load(); n != 2 {
		t.Errorf("the backend saw %d connections, want 2", n)
	}
}

func TestH1TransportTimeouts(t *testing.T) {
	stall := make(chan struct{})
	be := newRawBackend(t, func(n int, c net.Conn, br *bufio.Reader) {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		switch req.URL.Path {
		case "/slow-head":
			<-stall
		case "/slow-body":
			io.Copy(io.Discard, req.Body)
			fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n12345")
			<-stall
		case "/no-read":
			// Never reads the body: the proxy's writes stall once the socket buffers fill.
			<-stall
		}
	})
	// Registered after the backend's, so it runs first and lets its handlers return.
	t.Cleanup(func() { close(stall) })
	for _, tc := range []struct {
		name     string
		path     string
		body     int
		timeouts Timeouts
		// cancel ends the request's context after this long.
		cancel  time.Duration
		inBody  bool
		wantErr error
	}{
		{name: "read timeout waiting for the head", path: "/slow-head", timeouts: Timeouts{Read: 100 * time.Millisecond}, wantErr: errTimeout},
		{name: "read timeout between body reads", path: "/slow-body", timeouts: Timeouts{Read: 100 * time.Millisecond}, inBody: true, wantErr: errTimeout},
		{name: "send timeout", path: "/no-read", body: 64 << 20, timeouts: Timeouts{Send: 100 * time.Millisecond}, wantErr: errTimeout},
		{name: "backend request timeout bounds the attempt", path: "/slow-head", timeouts: Timeouts{BackendRequest: 100 * time.Millisecond}, wantErr: errTimeout},
		{name: "the end of the request's context aborts", path: "/slow-head", cancel: 100 * time.Millisecond, wantErr: context.Canceled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			to := tc.timeouts
			if to.Read == 0 {
				to.Read = 10 * time.Second
			}
			if to.Send == 0 {
				to.Send = 10 * time.Second
			}
			ctx, cancel := context.WithCancel(withRoute(context.Background(), to))
			defer cancel()
			if tc.cancel > 0 {
				time.AfterFunc(tc.cancel, cancel)
			}
			tr := newTestH1(t)
			req := newH1Request(t, ctx, "POST", be.addr(), "")
			req.URL.Path = tc.path
			if tc.body > 0 {
				req.Body, req.ContentLength = newMemBody(make([]byte, tc.body)), int64(tc.body)
			}
			start := time.Now()
			resp, err := tr.RoundTrip(req)
			if tc.inBody {
				if err != nil {
					t.Fatalf("head: %v", err)
				}
				var b []byte
				b, err = io.ReadAll(resp.Body)
				resp.Body.Close()
				if string(b) != "12345" {
					t.Errorf("read %q before the timeout, want 12345", b)
				}
			}
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("got %v, want %v", err, tc.wantErr)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("took %v", d)
			}
			if n := idleConns(tr); n != 0 {
				t.Errorf("%d connections pooled after a failure", n)
			}
		})
	}
}

func TestH1TransportUpgrade(t *testing.T) {
	be := newRawBackend(t, func(n int, c net.Conn, br *bufio.Reader) {
		if _, err := http.ReadRequest(br); err != nil {
			return
		}
		// The first bytes of the new protocol come in the same write as the head.
		io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\nhello")
		io.Copy(c, br)
	})
	tr := newTestH1(t)
	req := newH1Request(t, context.Background(), "GET", be.addr(), "")
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "echo")
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("status %d", resp.StatusCode)
	}
	rwc, ok := resp.Body.(io.ReadWriteCloser)
	if !ok {
		t.Fatalf("the body of a 101 is a %T, not the connection", resp.Body)
	}
	defer rwc.Close()
	buf := make([]byte, 5)
	if _, err := io.ReadFull(rwc, buf); err != nil || string(buf) != "hello" {
		t.Fatalf("read %q, %v; want the bytes after the head", buf, err)
	}
	io.WriteString(rwc, "ping")
	if _, err := io.ReadFull(rwc, buf[:4]); err != nil || string(buf[:4]) != "ping" {
		t.Fatalf("echo %q, %v", buf[:4], err)
	}
	if n := idleConns(tr); n != 0 {
		t.Errorf("an upgraded connection went to the pool")
	}
}

func TestH1TransportResponses(t *testing.T) {
	for _, tc := range []struct {
		name string
		// reply is what the backend writes after reading the request.
		reply       string
		wantStatus  int
		wantBody    string
		want1xx     []int
		wantInvalid bool
	}{
		{
			name:       "103 Early Hints are passed on, then the response",
			reply:      "HTTP/1.1 103 Early Hints\r\nLink: </style.css>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
			wantStatus: 200, wantBody: "ok", want1xx: []int{103},
		},
		{
			name:       "an unasked 100 Continue is passed over",
			reply:      "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n",
			wantStatus: 201, want1xx: []int{100},
		},
		{
			name:       "HTTP/1.0 without Content-Length: the body ends with the connection",
			reply:      "HTTP/1.0 200 OK\r\n\r\nuntil close",
			wantStatus: 200, wantBody: "until close",
		},
		{
			name:        "not HTTP is an invalid header",
			reply:       "SSH-2.0-OpenSSH_9.6\r\n\r\n",
			wantInvalid: true,
		},
		{
			name:        "a broken header line is an invalid header",
			reply:       "HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
			wantInvalid: true,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			be := newRawBackend(t, func(n int, c net.Conn, br *bufio.Reader) {
				if _, err := readRawRequest(br); err != nil {
					return
				}
				io.WriteString(c, tc.reply)
			})
			var got1xx []int
			ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
				Got1xxResponse: func(code int, _ textproto.MIMEHeader) error {
					got1xx = append(got1xx, code)
					return nil
				},
			})
			resp, err := newTestH1(t).RoundTrip(newH1Request(t, ctx, "GET", be.addr(), ""))
			if tc.wantInvalid {
				var he *h1Error
				if !errors.As(err, &he) || !he.invalid {
					t.Fatalf("got %v, want an invalid response", err)
				}
				if fail := (&request{}).classify(err, nil); fail.cond != retryInvalidHeader || fail.status != 502 {
					t.Errorf("classified as %v/%d, want invalid_header/502", fail.cond, fail.status)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.wantStatus || string(body) != tc.wantBody {
				t.Errorf("got %d %q, want %d %q", resp.StatusCode, body, tc.wantStatus, tc.wantBody)
			}
			if diff := cmp.Diff(tc.want1xx, got1xx); diff != "" {
				t.Errorf("informational responses (-want +got):\n%s", diff)
			}
		})
	}
}

func TestH1TransportPool(t *testing.T) {
	t.Run("endpoints that left the configuration lose their idle connections", func(t *testing.T) {
		a := newConnCountingServer(t, func(w http.ResponseWriter, r *http.Request) {})
		b := newConnCountingServer(t, func(w http.ResponseWriter, r *http.Request) {})
		tr := newTestH1(t)
		for _, s := range []*connCountingServer{a, b} {
			resp, err := tr.RoundTrip(newH1Request(t, context.Background(), "GET", s.Listener.Addr().String(), ""))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
		}
		tr.retain(map[string]bool{b.Listener.Addr().String(): true})
		waitFor(t, func() bool { return a.closed.Load() == 1 })
		if b.closed.Load() != 0 || idleConns(tr) != 1 {
			t.Errorf("the endpoint still configured lost its connection")
		}
	})
	t.Run("a connection in use when its endpoint left is closed when it is done", func(t *testing.T) {
		release := make(chan struct{})
		s := newConnCountingServer(t, func(w http.ResponseWriter, r *http.Request) { <-release })
		tr := newTestH1(t)
		done := make(chan error)
		go func() {
			resp, err := tr.RoundTrip(newH1Request(t, context.Background(), "GET", s.Listener.Addr().String(), ""))
			if err == nil {
				_, err = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			done <- err
		}()
		waitFor(t, func() bool { return s.opened.Load() == 1 })
		tr.retain(map[string]bool{})
		close(release)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		waitFor(t, func() bool { return s.closed.Load() == 1 })
	})
	t.Run("idle connections are closed after the idle timeout", func(t *testing.T) {
		s := newConnCountingServer(t, func(w http.ResponseWriter, r *http.Request) {})
		tr := newTestH1(t)
		tr.idleTimeout = 50 * time.Millisecond
		resp, err := tr.RoundTrip(newH1Request(t, context.Background(), "GET", s.Listener.Addr().String(), ""))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		waitFor(t, func() bool { return s.closed.Load() == 1 && idleConns(tr) == 0 })
	})
	t.Run("no more idle connections than the limit", func(t *testing.T) {
		var arrived sync.WaitGroup
		arrived.Add(3)
		s := newConnCountingServer(t, func(w http.ResponseWriter, r *http.Request) {
			arrived.Done()
			arrived.Wait()
		})
		tr := newTestH1(t)
		tr.maxIdle = 2
		var wg sync.WaitGroup
		for range 3 {
			wg.Go(func() {
				resp, err := tr.RoundTrip(newH1Request(t, context.Background(), "GET", s.Listener.Addr().String(), ""))
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
			})
		}
		wg.Wait()
		waitFor(t, func() bool { return s.closed.Load() == 1 })
		if n := idleConns(tr); n != 2 {
			t.Errorf("%d idle connections, want 2", n)
		}
	})
	t.Run("a streamed body goes to the fallback transport", func(t *testing.T) {
		s := newConnCountingServer(t, func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			fmt.Fprintf(w, "%d %v", len(b), r.TransferEncoding)
		})
		tr := newTestH1(t)
		req := newH1Request(t, context.Background(), "PUT", s.Listener.Addr().String(), "")
		req.Body, req.ContentLength = io.NopCloser(strings.NewReader("streamed")), -1
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != "8 [chunked]" {
			t.Errorf("backend got %q, want the body chunked", b)
		}
		if idleConns(tr) != 0 {
			t.Error("the fallback's connection is in the HTTP/1.1 pool")
		}
	})
}

func TestWriteRequestHead(t *testing.T) {
	for _, tc := range []struct {
		name    string
		method  string
		url     string
		host    string
		header  http.Header
		close   bool
		body    int
		want    string
		wantErr string
	}{
		{
			name: "GET without body: no Content-Length, Go's User-Agent when none is set",
			url:  "http://10.0.0.1:8080/a/b?c=d", host: "app.example.com",
			want: "GET /a/b?c=d HTTP/1.1\r\nHost: app.example.com\r\nUser-Agent: Go-http-client/1.1\r\n\r\n",
		},
		{
			name: "an empty User-Agent is not sent",
			url:  "http://10.0.0.1/", header: http.Header{"User-Agent": {""}},
			want: "GET / HTTP/1.1\r\nHost: 10.0.0.1\r\n\r\n",
		},
		{
			name:   "POST with a body",
			method: "POST", url: "http://10.0.0.1/", host: "h", header: http.Header{"User-Agent": {"ua/1"}}, body: 12,
			want: "POST / HTTP/1.1\r\nHost: h\r\nUser-Agent: ua/1\r\nContent-Length: 12\r\n\r\n",
		},
		{
			name:   "an empty POST says Content-Length: 0",
			method: "POST", url: "http://10.0.0.1/", host: "h", header: http.Header{"User-Agent": {""}},
			want: "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n",
		},
		{
			name: "headers the transport writes itself are not repeated",
			url:  "http://10.0.0.1/", host: "h",
			header: http.Header{"User-Agent": {""}, "Host": {"other"}, "Content-Length": {"99"}, "Transfer-Encoding": {"chunked"}, "X-A": {" padded "}},
			close:  true,
			want:   "GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\nX-A: padded\r\n\r\n",
		},
		{
			name: "an invalid Host is sent empty, as net/http does",
			url:  "http://10.0.0.1/", host: "a b", header: http.Header{"User-Agent": {""}},
			want: "GET / HTTP/1.1\r\nHost: \r\n\r\n",
		},
		{
			name: "the zone of an IPv6 host is dropped",
			url:  "http://[fe80::1%25eth0]:80/", header: http.Header{"User-Agent": {""}},
			want: "GET / HTTP/1.1\r\nHost: [fe80::1]:80\r\n\r\n",
		},
		{
			name: "a line break in a value is refused",
			url:  "http://10.0.0.1/", header: http.Header{"X-A": {"a\r\nX-Injected: 1"}},
			wantErr: `invalid value of header field "X-A"`,
		},
		{
			name: "an invalid header name is refused",
			url:  "http://10.0.0.1/", header: http.Header{"X A": {"1"}},
			wantErr: `invalid header field name "X A"`,
		},
		{
			name:   "an invalid method is refused",
			method: "GET /x", url: "http://10.0.0.1/",
			wantErr: `invalid method "GET /x"`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u, err := url.Parse(tc.url)
			if err != nil {
				t.Fatal(err)
			}
			req := &http.Request{Method: tc.method, URL: u, Host: tc.host, Header: tc.header, Close: tc.close}
			if req.Header == nil {
				req.Header = http.Header{}
			}
			h, err := checkRequest(req)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got %v, want an error with %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			w := bufio.NewWriter(&b)
			if err := writeRequestHead(w, req, h, tc.body); err != nil {
				t.Fatal(err)
			}
			w.Flush()
			if diff := cmp.Diff(tc.want, b.String()); diff != "" {
				t.Errorf("head (-want +got):\n%s", diff)
			}
		})
	}
}
