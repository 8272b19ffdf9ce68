package nonewprivs

import (
	"fmt"
	"os"

	"github.com/minaks/minaks/images"
)

func init() {
	images.Register(&images.Image{
		Name: "nonewprivs",
		References: []string{
			"registry.k8s.io/e2e-test-images/nonewprivs",
			"gcr.io/kubernetes-e2e-test-images/nonewprivs",
		},
		Program: "nnp",
		Cmd:     []string{"nnp"},
		Paths:   []string{"/usr/local/bin/nnp"},
		// The real image's `chmod +s /usr/local/bin/nnp`.
		SetUID:      true,
		Main:        Main,
		Description: "Kubernetes e2e test image: a set-user-ID root program that prints its effective user ID",
	})
}

// Main prints the effective user ID, as upstream's nnp.go.
func Main([]string) int {
	fmt.Printf("Effective uid: %d\n", os.Geteuid())
	return 0
}
