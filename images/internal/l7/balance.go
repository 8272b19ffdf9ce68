package l7

import (
	"crypto/md5"
	"encoding/hex"
	"hash/crc32"
	"math"
	"math/rand/v2"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// balancerState is what the proxy remembers about an upstream from one configuration to the
// next, by upstream name: the round-robin position and each endpoint's latency average, so
// that an endpoint change does not reset them.
type balancerState struct {
	rr atomic.Uint64

	mu   sync.Mutex // guards ewma, changed only by Update
	ewma map[netip.AddrPort]*ewmaStat
}

// upstreamView is an upstream as one configuration has it: its endpoints, with what is needed
// to pick one quickly.
type upstreamView struct {
	up   *Upstream
	name string
	eps  []netip.AddrPort
	// addrs are the endpoints as "ip:port" ("[ip]:port" for IPv6), for URLs and logs.
	addrs []string
	bal   *balancerState
	// ewma is aligned with eps when the upstream balances by EWMA.
	ewma []*ewmaStat
	// hashBy is the compiled Upstream.HashBy.
	hashBy varExpr
	// transport speaks the upstream's protocol; scheme is "http" or "https" for its URLs.
	transport http.RoundTripper
	scheme    string

	ringOnce sync.Once
	ring     *hashRing

	stickyOnce sync.Once
	// stickyKeys maps ingress-nginx's persistent affinity keys (md5 of upstream name and
	// endpoint) to endpoint indexes.
	stickyKeys map[string]int
	stickyOf   []string
	// backendKey identifies the upstream in affinity cookies ("<key>|<backendKey>").
	backendKey string
}

func newUpstreamView(up *Upstream, bal *balancerState) *upstreamView {
	v := &upstreamView{up: up, name: up.Name, eps: up.Endpoints, bal: bal, hashBy: compileVars(up.HashBy)}
	v.addrs = make([]string, len(up.Endpoints))
	for i, ep := range up.Endpoints {
		v.addrs[i] = ep.String()
	}
	sum := md5.Sum([]byte(up.Name))
	inner := hex.EncodeToString(sum[:])
	sum = md5.Sum([]byte(inner + up.Name))
	v.backendKey = hex.EncodeToString(sum[:])
	if up.Balance == EWMA {
		bal.mu.Lock()
		if bal.ewma == nil {
			bal.ewma = make(map[netip.AddrPort]*ewmaStat)
		}
		v.ewma = make([]*ewmaStat, len(up.Endpoints))
		for i, ep := range up.Endpoints {
			s := bal.ewma[ep]
			if s == nil {
				s = &ewmaStat{}
				bal.ewma[ep] = s
			}
			v.ewma[i] = s
		}
		bal.mu.Unlock()
	}
	return v
}

// forgetEndpoints drops the EWMA state of endpoints no configuration has any more.
func (b *balancerState) forgetEndpoints(keep []netip.AddrPort) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for ep := range b.ewma {
		if !slices.Contains(keep, ep) {
			delete(b.ewma, ep)
		}
	}
}

// pick chooses the endpoint of an attempt. first is the endpoint of attempt 0 (ignored for
// it); tried holds the endpoints tried so far.
func (v *upstreamView) pick(src *varSource, attempt, first int, tried []int) int {
	n := len(v.eps)
	if n == 1 {
		return 0
	}
	switch v.up.Balance {
	case EWMA:
		return v.pickEWMA(tried)
	case ConsistentHash:
		ring := v.hashRing()
		if attempt == 0 {
			return ring.owner(ring.find(v.hashBy.expand(src)))
		}
		return ring.nextUntried(ring.find(v.hashBy.expand(src)), tried)
	}
	if attempt == 0 {
		return int((v.bal.rr.Add(1) - 1) % uint64(n))
	}
	// Each retry goes to the next endpoint after the first, as ingress-nginx's round robin
	// does within one request.
	return (first + attempt) % n
}

// pickEWMA takes two random endpoints not tried yet and returns the one with the lower
// decayed latency average ("power of two choices", as ingress-nginx's ewma balancer).
func (v *upstreamView) pickEWMA(tried []int) int {
	n := len(v.eps)
	cand := make([]int, 0, n)
	for i := 0; i < n; i++ {
		if !slices.Contains(tried, i) {
			cand = append(cand, i)
		}
	}
	if len(cand) == 0 {
		return rand.IntN(n)
	}
	if len(cand) == 1 {
		return cand[0]
	}
	a := rand.IntN(len(cand))
	b := rand.IntN(len(cand) - 1)
	if b >= a {
		b++
	}
	now := time.Now().UnixNano()
	if v.ewma[cand[b]].score(now) < v.ewma[cand[a]].score(now) {
		return cand[b]
	}
	return cand[a]
}

// observe feeds an attempt's latency to the EWMA balancer.
func (v *upstreamView) observe(i int, d time.Duration) {
	if v.ewma != nil && i < len(v.ewma) {
		v.ewma[i].observe(time.Now().UnixNano(), d.Seconds())
	}
}

// ewmaDecay is the decay time of ingress-nginx's EWMA balancer.
const ewmaDecay = 10 * time.Second

// ewmaStat is an exponentially weighted moving average of an endpoint's latency that decays
// towards zero while the endpoint is idle.
type ewmaStat struct {
	mu    sync.Mutex
	value float64
	last  int64
}

func (s *ewmaStat) score(now int64) float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.last == 0 {
		return 0
	}
	return s.value * math.Exp(-float64(now-s.last)/float64(ewmaDecay))
}

func (s *ewmaStat) observe(now int64, rtt float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	w := 0.0
	if s.last != 0 {
		w = math.Exp(-float64(now-s.last) / float64(ewmaDecay))
	}
	s.value = s.value*w + rtt*(1-w)
	s.last = now
}

// hashRing is a consistent-hash ring over the endpoints: each endpoint owns ringPoints points,
// so removing one only moves the keys it owned.
type hashRing struct {
	points []uint32
	owners []int32
}

const ringPoints = 160

func (v *upstreamView) hashRing() *hashRing {
	v.ringOnce.Do(func() {
		type point struct {
			h uint32
			o int32
		}
		pts := make([]point, 0, len(v.eps)*ringPoints)
		var buf []byte
		for i, ep := range v.eps {
			for k := 0; k < ringPoints; k++ {
				buf = ep.AppendTo(buf[:0])
				buf = append(buf, '#')
				buf = strconv.AppendInt(buf, int64(k), 10)
				pts = append(pts, point{crc32.ChecksumIEEE(buf), int32(i)})
			}
		}
		slices.SortFunc(pts, func(a, b point) int {
			if a.h != b.h {
				if a.h < b.h {
					return -1
				}
				return 1
			}
			return int(a.o - b.o)
		})
		r := &hashRing{points: make([]uint32, len(pts)), owners: make([]int32, len(pts))}
		for i, p := range pts {
			r.points[i], r.owners[i] = p.h, p.o
		}
		v.ring = r
	})
	return v.ring
}

// find returns the position of the first point at or after key's hash.
func (r *hashRing) find(key string) int {
	h := crc32.ChecksumIEEE([]byte(key))
	i, _ := slices.BinarySearch(r.points, h)
	if i == len(r.points) {
		i = 0
	}
	return i
}

func (r *hashRing) owner(pos int) int { return int(r.owners[pos]) }

// nextUntried walks the ring from pos to the first endpoint not in tried (pos's own owner if
// all were tried).
func (r *hashRing) nextUntried(pos int, tried []int) int {
	for k := 0; k < len(r.points); k++ {
		o := int(r.owners[(pos+k)%len(r.points)])
		if !slices.Contains(tried, o) {
			return o
		}
	}
	return r.owner(pos)
}

// stickyTable builds the persistent affinity keys: ingress-nginx's nodemap keys endpoints
// by md5(upstream name .. "ip:port").
func (v *upstreamView) stickyTable() (map[string]int, []string) {
	v.stickyOnce.Do(func() {
		v.stickyKeys = make(map[string]int, len(v.eps))
		v.stickyOf = make([]string, len(v.eps))
		for i, ep := range v.eps {
			sum := md5.Sum([]byte(v.name + ep.Addr().String() + ":" + strconv.Itoa(int(ep.Port()))))
			k := hex.EncodeToString(sum[:])
			v.stickyKeys[k] = i
			v.stickyOf[i] = k
		}
	})
	return v.stickyKeys, v.stickyOf
}

// stickyFind returns the endpoint an affinity cookie key points to, or -1.
func (v *upstreamView) stickyFind(key string, persistent bool) int {
	if key == "" || len(v.eps) == 0 {
		return -1
	}
	if persistent {
		keys, _ := v.stickyTable()
		if i, ok := keys[key]; ok {
			return i
		}
		return -1
	}
	ring := v.hashRing()
	return ring.owner(ring.find(key))
}

// stickyNew picks an endpoint for a client without a valid affinity cookie, avoiding tried,
// and returns it with the key to put in the cookie.
func (v *upstreamView) stickyNew(persistent bool, tried []int) (int, string) {
	n := len(v.eps)
	if persistent {
		_, of := v.stickyTable()
		cand := make([]int, 0, n)
		for i := 0; i < n; i++ {
			if !slices.Contains(tried, i) {
				cand = append(cand, i)
			}
		}
		if len(cand) == 0 {
			i := rand.IntN(n)
			return i, of[i]
		}
		i := cand[rand.IntN(len(cand))]
		return i, of[i]
	}
	// Balanced: a random key hashed onto the ring, as ingress-nginx's sticky_balanced (which
	// tries up to 20 keys to avoid failed endpoints).
	ring := v.hashRing()
	var i int
	var key string
	for k := 0; k < 20; k++ {
		key = strconv.FormatFloat(float64(time.Now().UnixNano())/1e9+float64(k+1), 'f', 3, 64) + "." +
			strconv.Itoa(rand.IntN(1<<16)) + "." + strconv.Itoa(rand.IntN(999999)+1)
		i = ring.owner(ring.find(key))
		if !slices.Contains(tried, i) {
			break
		}
	}
	return i, key
}
