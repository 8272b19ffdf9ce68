package l7

import (
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// zoneKey identifies a rate-limit zone. As in ingress-nginx, where an Ingress's limit
// annotations make one nginx zone shared by all its locations, the routes made from one
// object with the same limits share their counters, and the counters survive Updates.
type zoneKey struct {
	kind, namespace, name, path string
	rps, rpm, burst, rpmBurst   int
	conns                       int
}

func zoneKeyOf(rt *Route) zoneKey {
	rl := rt.RateLimit
	k := zoneKey{
		kind: rt.Meta.Kind, namespace: rt.Meta.Namespace, name: rt.Meta.Name,
		rps: rl.RPS, rpm: rl.RPM, burst: rl.Burst, rpmBurst: rl.RPMBurst, conns: rl.Connections,
	}
	if k.name == "" {
		// A route that names no object only shares with routes of the same path.
		k.path = rt.Meta.Path + "\x00" + rt.Match.Path
	}
	return k
}

// limitZone holds the per-client counters of one zone.
type limitZone struct {
	rps, rpm           rate.Limit
	rpsBurst, rpmBurst int
	conns              int
	// idle is how long a client's counters are kept after its last request: long enough
	// for its buckets to be full again, so forgetting it changes nothing.
	idle time.Duration

	clients sync.Map // netip.Addr → *clientLimit
}

type clientLimit struct {
	rps, rpm *rate.Limiter
	active   atomic.Int32
	last     atomic.Int64
}

func newLimitZone(rl *RateLimit) *limitZone {
	z := &limitZone{conns: rl.Connections, idle: time.Minute}
	if rl.RPS > 0 {
		z.rps = rate.Limit(rl.RPS)
		z.rpsBurst = rl.Burst
		if d := time.Duration(float64(rl.Burst+1) / float64(rl.RPS) * float64(time.Second)); d > z.idle {
			z.idle = d
		}
	}
	if rl.RPM > 0 {
		z.rpm = rate.Limit(float64(rl.RPM) / 60)
		switch {
		case rl.RPMBurst > 0:
			z.rpmBurst = rl.RPMBurst
		case rl.RPS > 0:
			z.rpmBurst = rl.RPM * rl.Burst / rl.RPS
		default:
			z.rpmBurst = rl.Burst
		}
		if d := time.Duration(float64(z.rpmBurst+1) / float64(z.rpm) * float64(time.Second)); d > z.idle {
			z.idle = d
		}
	}
	return z
}

// admit counts a request of client: false if a request rate is exceeded (nginx's limit_req
// with nodelay: burst+1 requests at once, then the rate) or too many of its requests are in
// progress (limit_conn). An admitted request must be released with done.
func (z *limitZone) admit(client netip.Addr, now time.Time) (*clientLimit, bool) {
	v, ok := z.clients.Load(client)
	if !ok {
		c := &clientLimit{}
		if z.rps > 0 {
			c.rps = rate.NewLimiter(z.rps, z.rpsBurst+1)
		}
		if z.rpm > 0 {
			c.rpm = rate.NewLimiter(z.rpm, z.rpmBurst+1)
		}
		v, _ = z.clients.LoadOrStore(client, c)
	}
	c := v.(*clientLimit)
	c.last.Store(now.UnixNano())
	if c.rps != nil && !c.rps.AllowN(now, 1) {
		return nil, false
	}
	if c.rpm != nil && !c.rpm.AllowN(now, 1) {
		return nil, false
	}
	if z.conns > 0 {
		if c.active.Add(1) > int32(z.conns) {
			c.active.Add(-1)
			return nil, false
		}
		return c, true
	}
	return nil, true
}

// done releases a request admitted by admit.
func (c *clientLimit) done() {
	if c != nil {
		c.active.Add(-1)
	}
}

// sweep forgets clients idle for longer than the zone's idle time.
func (z *limitZone) sweep(now time.Time) {
	cutoff := now.Add(-z.idle).UnixNano()
	z.clients.Range(func(k, v any) bool {
		c := v.(*clientLimit)
		if c.active.Load() == 0 && c.last.Load() < cutoff {
			z.clients.Delete(k)
		}
		return true
	})
}
