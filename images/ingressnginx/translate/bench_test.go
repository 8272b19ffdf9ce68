package translate

import (
	"fmt"
	"testing"
	"time"
)

// manyIngresses is a cluster with n Ingresses of one host and two paths each; every tenth has
// TLS, every seventh uses regexes with a rewrite, every fifth has a canary.
func manyIngresses(n int) *State {
	st := base()
	var objs []any
	for i := 0; i < n; i++ {
		host := fmt.Sprintf("app%d.example.com", i)
		mods := []ingMod{created(i), rule(host, path("/", "Prefix", "web", 80), path("/api", "Prefix", "api", 80))}
		if i%10 == 0 {
			secret := fmt.Sprintf("tls-%d", i)
			mods = append(mods, tlsFor(secret, host))
			objs = append(objs, tlsSecret(secret, host))
		}
		if i%7 == 0 {
			mods = append(mods, ann("use-regex", "true"), ann("rewrite-target", "/$2"), rule(host, path("/v1(/|$)(.*)", "ImplementationSpecific", "api", 80)))
		}
		objs = append(objs, ingress(fmt.Sprintf("app-%d", i), mods...))
		if i%5 == 0 {
			objs = append(objs, ingress(fmt.Sprintf("app-%d-canary", i), created(n+i), ann("canary", "true"), ann("canary-weight", "10"),
				rule(host, path("/", "Prefix", "canary", 80))))
		}
	}
	return st.with(objs...)
}

// TestTranslateIsFast keeps a translation of 100 Ingresses within a few milliseconds (the
// controller runs it on every change); the bound is loose for slow test machines.
func TestTranslateIsFast(t *testing.T) {
	st := manyIngresses(100)
	opts := testOptions()
	Translate(opts, st) // warm the certificate and regex caches
	const runs = 20
	start := time.Now()
	for i := 0; i < runs; i++ {
		res := Translate(opts, st)
		if len(res.Served) != 120 {
			t.Fatalf("served %d Ingresses, want 120", len(res.Served))
		}
	}
	per := time.Since(start) / runs
	t.Logf("100 Ingresses translated in %v", per)
	if per > 50*time.Millisecond {
		t.Errorf("translating 100 Ingresses took %v, want a few milliseconds", per)
	}
}

func BenchmarkTranslate100(b *testing.B) {
	st := manyIngresses(100)
	opts := testOptions()
	for b.Loop() {
		Translate(opts, st)
	}
}
