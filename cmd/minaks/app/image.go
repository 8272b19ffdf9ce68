package app

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/minaks/minaks/pkg/apiserver/config"
	"github.com/minaks/minaks/pkg/nodes/imagestore"
)

// openStore opens the host's image store under the state directory of o.
func openStore(o *config.Options) (*imagestore.Store, error) {
	return imagestore.Open(filepath.Join(o.StateDir, config.ImageStoreName))
}

func newLoadCommand() *cobra.Command {
	o := config.NewOptions()
	cmd := &cobra.Command{
		Use:   "load FILE... | -",
		Short: "Load images from docker-archive or OCI-layout tarballs into the host's image store",
		Long: `Load images into the image store that every node of every cluster on the host shares, as
'kind load image-archive' does: docker-archive tarballs ('docker save', 'podman save') and OCI
image layouts ('podman save --format oci-archive', 'crane pull --format oci'), named by their
tags. '-' reads a tarball from standard input. Pods run them with imagePullPolicy Never or
IfNotPresent, with no registry.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			store, err := openStore(o)
			if err != nil {
				return err
			}
			for _, arg := range args {
				var r io.Reader = cmd.InOrStdin()
				if arg != "-" {
					f, err := os.Open(arg)
					if err != nil {
						return err
					}
					defer f.Close()
					r = f
				}
				imgs, err := store.Load(cmd.Context(), r)
				if err != nil {
					return fmt.Errorf("%s: %w", arg, err)
				}
				for _, img := range imgs {
					name := "<none>"
					if len(img.RepoTags) > 0 {
						name = strings.Join(img.RepoTags, ", ")
					}
					fmt.Fprintf(cmd.OutOrStdout(), "Loaded image: %s (%s)\n", name, shortID(img.ID))
				}
			}
			return nil
		},
	}
	addStateDirFlag(cmd, o)
	return cmd
}

func newImageCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "image",
		Short: "List, remove and prune the images of the host's image store",
		Long: `The host's image store (<state-dir>/images) holds the images pods pulled and those 'minaks
load' added, each layer once, shared by every node of every cluster. The kubelet's image garbage
collection removes unused images, least recently used first, when the store's filesystem is more
than 85% full, down to 80%. 'minaks images' lists the built-in images.`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(newImageListCommand(), newImageRemoveCommand(), newImagePruneCommand())
	return cmd
}

func newImageListCommand() *cobra.Command {
	o := config.NewOptions()
	cmd := &cobra.Command{
		Use:     "ls",
		Aliases: []string{"list"},
		Short:   "List the store's images: a row per name",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			store, err := openStore(o)
			if err != nil {
				return err
			}
			imgs, err := store.List()
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
			fmt.Fprintln(w, "IMAGE\tIMAGE ID\tSIZE\tPLATFORM\tLAST USED")
			for _, img := range imgs {
				names := img.RepoTags
				if len(names) == 0 {
					names = []string{"<none>"}
				}
				used := "never"
				if !img.LastUsed.IsZero() {
					used = time.Since(img.LastUsed).Round(time.Second).String() + " ago"
				}
				for _, n := range names {
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", n, shortID(img.ID), resource.NewQuantity(img.Size, resource.BinarySI), img.Platform, used)
				}
			}
			return w.Flush()
		},
	}
	addStateDirFlag(cmd, o)
	return cmd
}

func newImageRemoveCommand() *cobra.Command {
	o := config.NewOptions()
	cmd := &cobra.Command{
		Use:     "rm IMAGE...",
		Aliases: []string{"remove"},
		Short:   "Remove images (by name or ID, with all their names) and their layers; not those a running container uses",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			store, err := openStore(o)
			if err != nil {
				return err
			}
			for _, ref := range args {
				img, err := store.Remove(ref)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "Deleted: %s (%s)\n", ref, shortID(img.ID))
			}
			_, freed, err := store.Prune(func(*imagestore.Image) bool { return true })
			if err == nil && freed > 0 {
				fmt.Fprintf(cmd.OutOrStdout(), "Freed %s of layers\n", resource.NewQuantity(freed, resource.BinarySI))
			}
			return err
		},
	}
	addStateDirFlag(cmd, o)
	return cmd
}

func newImagePruneCommand() *cobra.Command {
	o := config.NewOptions()
	cmd := &cobra.Command{
		Use:   "prune",
		Short: "Remove every image no running container uses, and their layers",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			store, err := openStore(o)
			if err != nil {
				return err
			}
			removed, freed, err := store.Prune(nil)
			for _, img := range removed {
				fmt.Fprintf(cmd.OutOrStdout(), "Deleted: %s %s\n", shortID(img.ID), strings.Join(img.RepoTags, ", "))
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Freed %s\n", resource.NewQuantity(freed, resource.BinarySI))
			return nil
		},
	}
	addStateDirFlag(cmd, o)
	return cmd
}

func addStateDirFlag(cmd *cobra.Command, o *config.Options) {
	cmd.Flags().StringVar(&o.StateDir, "state-dir", o.StateDir, "directory holding the state of every cluster (and the image store)")
}

// shortID is an image ID's first 12 hex digits, as crictl and docker show it.
func shortID(id string) string {
	id = strings.TrimPrefix(id, "sha256:")
	return id[:min(len(id), 12)]
}
