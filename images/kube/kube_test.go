package kube_test

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/minaks/minaks/images"
	_ "github.com/minaks/minaks/images/all"
	_ "github.com/minaks/minaks/images/kube"
)

// TestCarriedPrograms: every program an image carries (agnhost's /coredns) is a built-in
// image's program, in the binary the image names for it.
func TestCarriedPrograms(t *testing.T) {
	all := images.All()
	carried := 0
	for _, img := range all {
		for _, c := range img.Carries {
			carried++
			name := filepath.Base(c.Path)
			if !slices.ContainsFunc(all, func(o *images.Image) bool {
				return o.Binary == c.Binary && (o.Program == name || slices.Contains(o.Aliases, name))
			}) {
				t.Errorf("%s carries %s: no image's program %q is in binary %q", img.Name, c.Path, name, c.Binary)
			}
		}
	}
	if carried == 0 {
		t.Error("no image carries another's program; agnhost carries /coredns")
	}
}
