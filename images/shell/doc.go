// Package shell registers the shell-tool images (busybox, alpine, ubuntu, debian, curl,
// netshoot, Azure Linux): images people run for their shell and tools, with a command of their
// own. minaks runs that command on its tools root (package toolroot: BusyBox's applets, curl
// and dig); the image's CMD is the real image's, so `kubectl run -it --image=busybox` gets a
// shell. distroless-iptables, kube-proxy's base image, runs on the host's root instead: its
// iptables, ipset and conntrack are the host's, which minaks installs.
package shell
