// Package load generates the benchmarks' traffic from inside a namespace: new connections
// per second and single-stream throughput.
package load

import (
	"io"
	"net"
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
