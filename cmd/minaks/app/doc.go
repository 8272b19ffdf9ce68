// Package app is the minaks command line: one small cobra command per verb, each parsing its
// flags and calling the library (pkg/cluster and friends). Errors are printed once,
// by Main.
package app
