//go:build minaks_embed

package container

import _ "embed"

// embedded is cmd/minaks-run, built by `make build` into this directory.
//
//go:embed minaks-run
var embedded []byte
