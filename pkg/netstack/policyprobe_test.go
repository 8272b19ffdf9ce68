package netstack

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// The policy engines' features work on this kernel; a feature that does not shows with what
// the tool said; the probes leave nothing in the host's network namespace.
func TestMissingPolicyFeatures(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (a network namespace per probe)")
	}
	before := ipsetNames(t)
	for _, f := range [][]PolicyFeature{PolicyFeatures("calico", true, false), PolicyFeatures("cilium", false, true)} {
		if missing := MissingPolicyFeatures(f); len(missing) > 0 {
			t.Errorf("missing on this host: %q", missing)
		}
	}
	missing := MissingPolicyFeatures([]PolicyFeature{{Name: "xt_nothing", Script: "printf '*filter\\n-A INPUT -m nothing -j RETURN\\nCOMMIT\\n' | iptables-restore"}})
	if len(missing) != 1 || !strings.HasPrefix(missing[0], "xt_nothing: ") || len(missing[0]) < len("xt_nothing: x") {
		t.Errorf("a missing match: %q", missing)
	}
	if after := ipsetNames(t); after != before {
		t.Errorf("the host's ipsets changed: %q → %q", before, after)
	}
}

func ipsetNames(t *testing.T) string {
	out, err := exec.Command("ipset", "list", "-name").Output()
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}
