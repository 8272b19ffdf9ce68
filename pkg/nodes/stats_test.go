package nodes

import (
	"testing"
	"time"
)

// TestCPURates: a rate needs two samples; it is CPU time over wall time in nanocores; a
// counter that went back (a restarted container) starts over.
func TestCPURates(t *testing.T) {
	r := &cpuRates{last: map[string]cpuSample{}}
	t0 := time.Unix(1000, 0)
	seen := map[string]bool{}
	if got := r.rate(seen, "c", time.Second, t0); got != nil {
		t.Errorf("first sample: rate %d", *got)
	}
	// 500 ms of CPU over 2 s: a quarter of a core.
	if got := r.rate(seen, "c", 1500*time.Millisecond, t0.Add(2*time.Second)); got == nil || *got != 250_000_000 {
		t.Errorf("rate %v, want 250000000", got)
	}
	if got := r.rate(seen, "c", 100*time.Millisecond, t0.Add(3*time.Second)); got != nil {
		t.Errorf("after a restart: rate %d", *got)
	}
	if !seen["c"] {
		t.Error("the key is not marked seen")
	}
}
