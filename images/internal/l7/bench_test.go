package l7

import (
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"
)

// BenchmarkProxy measures requests through the proxy next to the same backend asked
// directly, on loopback, with keep-alive connections and four concurrent clients (the shape
// of the ingress benchmark: the goal is at least 60 % of the direct rate). Each
// sub-benchmark reports req/s and the 99th percentile latency.
//
//	go test -run '^$' -bench BenchmarkProxy -benchtime 5s ./images/internal/l7
func BenchmarkProxy(b *testing.B) {
	payload := []byte("hello from the backend\n")
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write(payload)
	}))
	defer backend.Close()

	cfg := oneRoute(prefixRoute("/", "be"), upstream("be", endpoint(b, backend)))
	cfg.ServerHeader = "nginx"
	cfg.Forwarding.GenerateRequestID = true
	cfg.Listeners[0].Addr = "127.0.0.1:0"
	p := New(Options{Observer: ObserverFunc(func(e *Entry) { _ = e.Status })})
	if err := p.Update(cfg); err != nil {
		b.Fatal(err)
	}
	defer p.Shutdown(b.Context())

	for _, tc := range []struct {
		name, addr string
	}{
		{name: "direct", addr: backend.Listener.Addr().String()},
		{name: "proxy", addr: p.Addr("http").String()},
	} {
		b.Run(tc.name, func(b *testing.B) {
			tr := &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true}
			defer tr.CloseIdleConnections()
			client := &http.Client{Transport: tr}
			url := "http://" + tc.addr + "/bench"
			var mu sync.Mutex
			var all []time.Duration
			clients := 4
			procs := runtime.GOMAXPROCS(0)
			b.SetParallelism((clients + procs - 1) / procs)
			b.ResetTimer()
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				lat := make([]time.Duration, 0, 1024)
				req, _ := http.NewRequest("GET", url, nil)
				req.Host = "app.example.com"
				for pb.Next() {
					t0 := time.Now()
					resp, err := client.Do(req)
					if err != nil {
						b.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						b.Errorf("status %d", resp.StatusCode)
						return
					}
					lat = append(lat, time.Since(t0))
				}
				mu.Lock()
				all = append(all, lat...)
				mu.Unlock()
			})
			elapsed := time.Since(start)
			b.StopTimer()
			if len(all) > 0 {
				slices.Sort(all)
				b.ReportMetric(float64(len(all))/elapsed.Seconds(), "req/s")
				b.ReportMetric(float64(all[len(all)*99/100].Microseconds()), "p99-µs")
			}
		})
	}
}

// BenchmarkProxyLatency paces one client at 1,000 requests per second and reports the 99th
// percentile latency directly and through the proxy: the difference is the latency the proxy
// adds (the goal: at most 1 ms).
func BenchmarkProxyLatency(b *testing.B) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "ok\n")
	}))
	defer backend.Close()
	cfg := oneRoute(prefixRoute("/", "be"), upstream("be", endpoint(b, backend)))
	cfg.Listeners[0].Addr = "127.0.0.1:0"
	p := New(Options{})
	if err := p.Update(cfg); err != nil {
		b.Fatal(err)
	}
	defer p.Shutdown(b.Context())
	for _, tc := range []struct{ name, addr string }{
		{"direct", backend.Listener.Addr().String()},
		{"proxy", p.Addr("http").String()},
	} {
		b.Run(tc.name, func(b *testing.B) {
			tr := &http.Transport{DisableCompression: true}
			defer tr.CloseIdleConnections()
			client := &http.Client{Transport: tr}
			req, _ := http.NewRequest("GET", "http://"+tc.addr+"/", nil)
			req.Host = "app.example.com"
			tick := time.NewTicker(time.Millisecond)
			defer tick.Stop()
			lat := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				<-tick.C
				t0 := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				lat = append(lat, time.Since(t0))
			}
			b.StopTimer()
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)*50/100].Microseconds()), "p50-µs")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
		})
	}
}
