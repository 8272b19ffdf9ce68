package azurenpm

import (
	"strings"

	"github.com/minaks/minaks/images/internal/netpol"
)

// NewApplier is the writer of NPM's sets and chains, with FORWARD's jump into AZURE-NPM for
// new connections right after the last of kube-proxy's jumps, where NPM puts it: Services are
// translated and kube-proxy's KUBE-FORWARD has accepted what it accepts before policy sees a
// packet.
func NewApplier(run netpol.Exec) *netpol.Applier {
	return &netpol.Applier{
		Run:         run,
		SetPrefix:   setPrefix,
		ChainPrefix: chainNPM,
		TempSet:     tempSet,
		Jumps: []netpol.Jump{{
			Chain: "FORWARD",
			Args:  forwardJump,
			Saved: savedForwardJump[len("-A FORWARD "):],
			Place: func(others []string) int {
				at := 0
				for i, r := range others {
					if strings.Contains(r, " -j KUBE-") || strings.HasPrefix(r, "-j KUBE-") {
						at = i + 1
					}
				}
				return at
			},
		}},
	}
}
