package cluster

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// below says, for each layer of minaks's packages, which layers it may import: every package
// imports only those below it (README.md, "How it runs", has the picture).
var below = map[string][]string{
	"pkg/cluster":   {"pkg/nodes", "pkg/azlb", "pkg/apiserver", "pkg/netstack"},
	"pkg/nodes":     {"pkg/azlb", "pkg/apiserver", "pkg/netstack"},
	"pkg/azlb":      {"pkg/apiserver", "pkg/netstack"},
	"pkg/apiserver": nil,
	"pkg/netstack":  nil,
}

// TestLayers: no package imports a layer above its own or beside it, so the control plane
// package runs the control plane and nothing else.
func TestLayers(t *testing.T) {
	const module = "github.com/minaks/minaks/"
	layerOf := func(path string) string {
		for l := range below {
			if path == l || strings.HasPrefix(path, l+"/") {
				return l
			}
		}
		return ""
	}
	root := filepath.Join("..", "..")
	err := filepath.WalkDir(filepath.Join(root, "pkg"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return err
		}
		rel, _ := filepath.Rel(root, filepath.Dir(p))
		from := layerOf(filepath.ToSlash(rel))
		if from == "" {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), p, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			to := layerOf(strings.TrimPrefix(path, module))
			if !strings.HasPrefix(path, module) || to == "" || to == from {
				continue
			}
			allowed := false
			for _, l := range below[from] {
				allowed = allowed || l == to
			}
			if !allowed {
				t.Errorf("%s imports %s: %s may import only %v", p, path, from, below[from])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
