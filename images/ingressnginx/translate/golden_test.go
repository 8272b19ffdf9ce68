package translate

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// render is what a golden file holds: the routing table, then the Events and ConfigMap
// warnings.
func render(res *Result) string {
	var b strings.Builder
	b.WriteString(Dump(res.Config))
	b.WriteString("\nserved:")
	for _, ing := range res.Served {
		b.WriteString(" " + ing.Namespace + "/" + ing.Name)
	}
	b.WriteString("\n")
	for _, e := range res.Events {
		fmt.Fprintf(&b, "event %s/%s %s %s: %s\n", e.Object.Namespace, e.Object.Name, e.Type, e.Reason, e.Message)
	}
	for _, w := range res.ConfigWarnings {
		fmt.Fprintf(&b, "config-warning %s\n", w)
	}
	return b.String()
}

var slugRE = regexp.MustCompile(`[^a-z0-9]+`)

// golden compares got with testdata/<slug of name>.golden, or writes it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	file := filepath.Join("testdata", strings.Trim(slugRE.ReplaceAllString(strings.ToLower(name), "-"), "-")+".golden")
	if *update {
		if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
			t.Fatalf("write %s: %v", file, err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("read %s (run with -update to create it): %v", file, err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s differs from %s (-want +got):\n%s", name, file, diff)
	}
}
