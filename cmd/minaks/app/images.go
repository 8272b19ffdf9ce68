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
		Long: `Pods run built-in images: Go programs compiled into minaks that stand for the images
people use (any tag or digest). A container whose image is not built in runs its own command with
the host's tools, or fails to pull like an unknown image.`,
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
