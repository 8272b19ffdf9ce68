package netpolicy

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/minaks/minaks/pkg/apiserver/config"
)

// The CRDs refuse FQDN and L7 rules with what it takes to have them: ACNS, or nothing (not
// emulated) once ACNS allows them.
func TestCiliumCRDMessages(t *testing.T) {
	for _, tc := range []struct {
		acns      string
		fqdn, l7  string
		forbidden string
	}{
		{config.ACNSNone, "--acns-advanced-networkpolicies FQDN", "--acns-advanced-networkpolicies L7", "not emulated by minaks (Cilium"},
		{config.ACNSFQDN, "FQDN policies are not emulated", "--acns-advanced-networkpolicies L7", "FQDN policies need"},
		{config.ACNSL7, "FQDN policies are not emulated", "L7 policies are not emulated", "need Advanced"},
	} {
		c := &config.Cluster{}
		if tc.acns != config.ACNSNone {
			c.Network.AdvancedNetworking = &config.AdvancedNetworking{Enabled: true, Security: true, AdvancedNetworkPolicies: tc.acns}
		}
		crds := ciliumCRDs(c)
		if len(crds) != 2 || crds[0].Name != "ciliumnetworkpolicies.cilium.io" || crds[1].Spec.Scope != "Cluster" {
			t.Fatalf("CRDs: %v", crds)
		}
		js, err := json.Marshal(crds[0].Spec.Versions[0].Schema)
		if err != nil {
			t.Fatal(err)
		}
		s := string(js)
		for _, want := range []string{tc.fqdn, tc.l7, `"rule":"!has(self.toFQDNs)"`, `"maxItems":64`} {
			if !strings.Contains(s, want) {
				t.Errorf("ACNS %s: the schema lacks %q", tc.acns, want)
			}
		}
		if strings.Contains(s, tc.forbidden) {
			t.Errorf("ACNS %s: the schema says %q", tc.acns, tc.forbidden)
		}
	}
}
