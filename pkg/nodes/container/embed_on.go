//go:build minaks_embed

package container

import (
	_ "embed"

	"github.com/minaks/minaks/images"
)

// cmd/minaks-run and cmd/minaks-kube, built by `make build` into this directory.
var (
	//go:embed minaks-run
	minaksRun []byte
	//go:embed minaks-kube
	minaksKube []byte

	embedded = map[string][]byte{RunBinary: minaksRun, images.KubeBinary: minaksKube}
)
