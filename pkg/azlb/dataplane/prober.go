package dataplane

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/minaks/minaks/pkg/netstack"
	"github.com/minaks/minaks/pkg/netstack/netns"
)

// Probe states.
const (
	Unknown = "Unknown"
	Up      = "Up"
	Down    = "Down"
)

// Target is one probe of one backend.
type Target struct {
	LoadBalancer string
	Probe        string
	Backend      string
	IP           netip.Addr
	// Protocol is Tcp, Http or Https; Path is the HTTP(S) request path.
	Protocol string
	Port     int32
	Path     string
	Interval time.Duration
	// Failures is the consecutive failures that take the backend out (numberOfProbes),
	// Successes the consecutive successes that bring it back (probeThreshold).
	Failures  int
	Successes int
}

// Key identifies a target: load balancer, probe and backend.
type Key struct{ LoadBalancer, Probe, Backend string }

func (t Target) key() Key { return Key{t.LoadBalancer, t.Probe, t.Backend} }

// Health is a target's state.
type Health struct {
	State  string
	Since  time.Time
	Detail string
}

// Prober runs the health probes from Azure's probe source, 168.63.129.16, inside the fabric,
// and calls OnChange (outside its lock) whenever a backend goes up or down.
type Prober struct {
	Fabric   string // the fabric namespace
	OnChange func()

	mu      sync.Mutex
	running map[Key]*probeLoop
}

type probeLoop struct {
	target Target
	cancel context.CancelFunc
	health Health
}

// fastStart is how often a backend that has never answered is probed during its first
// interval, so that a new rule takes traffic as soon as its backends answer rather than an
// interval later (Azure probes long before its minutes-long provisioning ends).
const fastStart = 250 * time.Millisecond

// Set makes targets the running probes: new ones start, changed ones restart (keeping their
// state), gone ones stop.
func (p *Prober) Set(ctx context.Context, targets []Target) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.running == nil {
		p.running = map[Key]*probeLoop{}
	}
	want := map[Key]bool{}
	for _, t := range targets {
		k := t.key()
		want[k] = true
		old, ok := p.running[k]
		if ok && old.target == t {
			continue
		}
		health := Health{State: Unknown, Since: time.Now()}
		if ok {
			old.cancel()
			health = old.health
		}
		lctx, cancel := context.WithCancel(ctx)
		l := &probeLoop{target: t, cancel: cancel, health: health}
		p.running[k] = l
		go p.run(lctx, l)
	}
	for k, l := range p.running {
		if !want[k] {
			l.cancel()
			delete(p.running, k)
		}
	}
}

// Health is the state of every running target.
func (p *Prober) Health() map[Key]Health {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[Key]Health, len(p.running))
	for k, l := range p.running {
		out[k] = l.health
	}
	return out
}

func (p *Prober) run(ctx context.Context, l *probeLoop) {
	t := l.target
	start := time.Now()
	var fails, oks int
	for {
		err := probe(ctx, p.Fabric, t)
		if ctx.Err() != nil {
			return
		}
		detail := "connected"
		if t.Protocol != "Tcp" {
			detail = "HTTP 200"
		}
		if err != nil {
			detail = err.Error()
			fails, oks = fails+1, 0
		} else {
			fails, oks = 0, oks+1
		}
		p.mu.Lock()
		h := &l.health
		changed := false
		switch {
		case err == nil && h.State != Up && (h.State == Unknown || oks >= t.Successes):
			h.State, h.Since, changed = Up, time.Now(), true
		case err != nil && h.State == Up && fails >= t.Failures:
			h.State, h.Since, changed = Down, time.Now(), true
		case err != nil && h.State == Unknown && time.Since(start) >= t.Interval:
			h.State, h.Since, changed = Down, time.Now(), true
		}
		h.Detail = detail
		state := h.State
		p.mu.Unlock()
		if changed && p.OnChange != nil {
			p.OnChange()
		}

		wait := t.Interval
		if state == Unknown {
			wait = fastStart
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// ProbeSource is where Azure's probes come from.
var ProbeSource = netstack.WireServer

// probe runs one probe: a TCP connection, or an HTTP(S) GET that must answer 200. It gives up
// after the interval, at most 5 s.
func probe(ctx context.Context, fabric string, t Target) error {
	timeout := min(t.Interval, 5*time.Second)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	addr := net.JoinHostPort(t.IP.String(), strconv.Itoa(int(t.Port)))
	dial := func(ctx context.Context, _, addr string) (conn net.Conn, err error) {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IP(ProbeSource.AsSlice())}}
		err = netns.Do(fabric, func() error {
			conn, err = d.DialContext(ctx, "tcp", addr)
			return err
		})
		return conn, err
	}
	if t.Protocol == "Tcp" {
		conn, err := dial(ctx, "tcp", addr)
		if err != nil {
			return shortErr(err)
		}
		return conn.Close()
	}
	scheme := "http"
	if t.Protocol == "Https" {
		scheme = "https"
	}
	client := &http.Client{Transport: &http.Transport{
		DialContext:       dial,
		DisableKeepAlives: true,
		TLSClientConfig:   &tls.Config{InsecureSkipVerify: true}, // Azure's probe does not check the certificate
	}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, scheme+"://"+addr+t.Path, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return shortErr(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return nil
}

// shortErr is the end of a dial error: "connection refused", "i/o timeout".
func shortErr(err error) error {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return op.Err
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return errors.New("timeout")
	}
	return err
}
