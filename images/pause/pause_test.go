package pause

import (
	"syscall"
	"testing"
	"time"

	"github.com/minaks/minaks/images"
)

func TestRegistered(t *testing.T) {
	for _, ref := range []string{"registry.k8s.io/pause:3.10", "mcr.microsoft.com/oss/kubernetes/pause:3.6", "mcr.microsoft.com/oss/v2/kubernetes/pause:3.6"} {
		img, err := images.Lookup(ref)
		if err != nil || img.Name != "pause" {
			t.Errorf("Lookup(%q) = %v, %v; want pause", ref, img, err)
		}
	}
}

func TestMainExitsOnSIGTERM(t *testing.T) {
	done := make(chan int)
	go func() { done <- Main(nil) }()
	time.Sleep(100 * time.Millisecond)
	syscall.Kill(syscall.Getpid(), syscall.SIGTERM)
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("exit code %d, want 0", code)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("pause did not stop on SIGTERM")
	}
}
