//go:build !minaks_embed

package container

// embedded is empty without the minaks_embed tag: containers run the minaks executable itself.
var embedded map[string][]byte
