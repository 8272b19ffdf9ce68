// Package images is the registry of built-in images: Go programs compiled into the minaks binary
// that stand for the container images minaks emulates (and stand-ins for general-purpose ones,
// used when those are not pulled: see General). A pod whose image is built in runs the image's
// program (the minaks binary re-executed under the program's name), and a shell image runs the
// pod's command, on minaks's tools root (pkg/nodes/toolroot: BusyBox, and curl and dig of
// package tools) rather than the host's root — but for the node agents (HostRoot), which drive
// the host's iptables as their images carry their own. Any other image is pulled
// (pkg/nodes/imagestore).
//
// Each image lives in its own sub-package that registers itself from init; importing
// images/all registers every one. Lookup resolves an image reference the way Docker does, and
// Main, called first thing in minaks's main, dispatches a re-executed binary by argv[0].
package images
