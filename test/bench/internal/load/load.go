// Package load generates the benchmarks' traffic from inside a namespace: new connections
// per second, single-stream throughput, and HTTP requests (rate and latency).
package load

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/minaks/minaks/pkg/netstack/netns"
)

// ConnRate opens and closes connections to addr from ns with 4 clients for d and returns the
// rate and the connections lost: dials that got no answer within a second (a SYN lost and not
// yet retransmitted), counted rather than fatal so that one loss is reported as one.
func ConnRate(ns, addr string, d time.Duration) (rate float64, lost int64, err error) {
	var total, missed atomic.Int64
	var wg sync.WaitGroup
	errc := make(chan error, 4)
	deadline := time.Now().Add(d)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errc <- netns.Do(ns, func() error {
				for time.Now().Before(deadline) {
					conn, err := net.DialTimeout("tcp", addr, time.Second)
					if ne, ok := err.(net.Error); ok && ne.Timeout() {
						missed.Add(1)
						continue
					}
					if err != nil {
						return err
					}
					// Close with a reset, as load generators do, so that TIME_WAIT does not
					// run out of ports.
					_ = conn.(*net.TCPConn).SetLinger(0)
					conn.Close()
					total.Add(1)
				}
				return nil
			})
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		if err != nil {
			return 0, 0, err
		}
	}
	return float64(total.Load()) / d.Seconds(), missed.Load(), nil
}

// Throughput writes to addr from ns over one connection for d and returns bits per second.
func Throughput(ns, addr string, d time.Duration) (float64, error) {
	var sent int64
	err := netns.Do(ns, func() error {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			return err
		}
		defer conn.Close()
		buf := make([]byte, 256<<10)
		start := time.Now()
		for time.Since(start) < d {
			n, err := conn.Write(buf)
			sent += int64(n)
			if err != nil {
				return err
			}
		}
		return nil
	})
	return float64(sent) * 8 / d.Seconds(), err
}

// Sink listens on addr inside ns and reads every connection to its end: the far end of
// ConnRate and Throughput. Close the listener to stop it.
func Sink(ns, addr string) (net.Listener, error) {
	var l net.Listener
	if err := netns.Do(ns, func() (err error) {
		l, err = net.Listen("tcp", addr)
		return err
	}); err != nil {
		return nil, err
	}
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				_, _ = io.Copy(io.Discard, conn)
				conn.Close()
			}()
		}
	}()
	return l, nil
}

// dialIn opens a TCP connection to addr from inside ns; the socket stays in ns wherever it is
// used afterwards.
func dialIn(ns, addr string) (net.Conn, error) {
	var conn net.Conn
	err := netns.Do(ns, func() (err error) {
		conn, err = net.DialTimeout("tcp", addr, 2*time.Second)
		return err
	})
	return conn, err
}

// httpClient is one keep-alive HTTP/1.1 connection that sends the same GET again and again,
// with as little work of its own as a load generator can do.
type httpClient struct {
	conn net.Conn
	r    *bufio.Reader
	req  []byte
}

func newHTTPClient(ns, addr, host, path string) (*httpClient, error) {
	conn, err := dialIn(ns, addr)
	if err != nil {
		return nil, err
	}
	req := []byte("GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\nUser-Agent: minaks-bench\r\n\r\n")
	return &httpClient{conn: conn, r: bufio.NewReaderSize(conn, 32<<10), req: req}, nil
}

// get sends the request and reads the whole answer; an answer other than 200 is an error.
func (c *httpClient) get() error {
	if _, err := c.conn.Write(c.req); err != nil {
		return err
	}
	resp, err := http.ReadResponse(c.r, nil)
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return err
}

// HTTPRate sends GET path with Host host from ns over clients keep-alive connections (client
// i to addrs[i % len(addrs)]) as fast as they answer for d, and returns requests per second.
func HTTPRate(ns string, addrs []string, host, path string, clients int, d time.Duration) (float64, error) {
	conns := make([]*httpClient, clients)
	for i := range conns {
		c, err := newHTTPClient(ns, addrs[i%len(addrs)], host, path)
		if err != nil {
			return 0, err
		}
		defer c.conn.Close()
		conns[i] = c
	}
	var total atomic.Int64
	var wg sync.WaitGroup
	errc := make(chan error, clients)
	deadline := time.Now().Add(d)
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				if err := c.get(); err != nil {
					errc <- err
					return
				}
				total.Add(1)
			}
		}()
	}
	wg.Wait()
	close(errc)
	if err := <-errc; err != nil {
		return 0, err
	}
	return float64(total.Load()) / d.Seconds(), nil
}

// HTTPLatency sends rate requests per second in all, paced, over 4 keep-alive connections
// (connection i to addrs[i % len(addrs)]) for d, and returns every request's latency, sorted.
func HTTPLatency(ns string, addrs []string, host, path string, rate int, d time.Duration) ([]time.Duration, error) {
	const clients = 4
	var mu sync.Mutex
	var all []time.Duration
	var wg sync.WaitGroup
	errc := make(chan error, clients)
	interval := time.Duration(clients) * time.Second / time.Duration(rate)
	for i := range clients {
		c, err := newHTTPClient(ns, addrs[i%len(addrs)], host, path)
		if err != nil {
			return nil, err
		}
		defer c.conn.Close()
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Spread the connections' sends over the interval.
			next := time.Now().Add(interval * time.Duration(i) / clients)
			end := time.Now().Add(d)
			var mine []time.Duration
			for next.Before(end) {
				time.Sleep(time.Until(next))
				start := time.Now()
				if err := c.get(); err != nil {
					errc <- err
					return
				}
				mine = append(mine, time.Since(start))
				next = next.Add(interval)
			}
			mu.Lock()
			all = append(all, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	close(errc)
	if err := <-errc; err != nil {
		return nil, err
	}
	slices.Sort(all)
	return all, nil
}

// Percentile is the p-th (0–1) of sorted durations.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(float64(len(sorted))*p))]
}

// HTTPGet sends one GET path with Host host to addr from ns on a new connection; an answer
// other than 200 is an error.
func HTTPGet(ns, addr, host, path string) error {
	c, err := newHTTPClient(ns, addr, host, path)
	if err != nil {
		return err
	}
	defer c.conn.Close()
	_ = c.conn.SetDeadline(time.Now().Add(time.Second))
	return c.get()
}
