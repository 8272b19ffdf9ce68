// Package runner is the multi-call entry point of the binaries containers run (minaks-run,
// and minaks itself without an embedded minaks-run): by argv[0], a container's init or a
// built-in image's program.
package runner
