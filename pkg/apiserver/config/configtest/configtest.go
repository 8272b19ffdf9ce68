package configtest

import (
	"testing"

	"github.com/minaks/minaks/pkg/apiserver/config"
)

// Cluster completes the default options, changed by set, or fails the test.
func Cluster(t *testing.T, set func(*config.Options)) *config.Cluster {
	t.Helper()
	o := config.NewOptions()
	if set != nil {
		set(o)
	}
	c, err := o.Complete()
	if err != nil {
		t.Fatal(err)
	}
	return c
}
