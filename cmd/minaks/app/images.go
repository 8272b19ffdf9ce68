package app

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/minaks/minaks/images"
)

func newImagesCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "images",
		Short: "List the built-in images and the image references they answer to",
		Long: `Built-in images are Go programs compiled into minaks that stand for the images minaks
emulates (any tag or digest): pause, agnhost, kube-proxy, CoreDNS, the ingress controllers, echo
servers. General-purpose ones (nginx, busybox, alpine, curl, …) stand in for the real image when
it cannot be pulled ('up --image-source'). Any other image is pulled into the host's image store
('minaks image ls').`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
			fmt.Fprintln(w, "IMAGE\tREFERENCES\tDESCRIPTION")
			for _, img := range images.All() {
				fmt.Fprintf(w, "%s\t%s\t%s\n", img.Name, strings.Join(img.References, ", "), img.Description)
			}
			return w.Flush()
		},
	}
}
