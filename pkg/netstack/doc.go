// Package netstack builds a cluster's network out of Linux namespaces: the fabric (the emulated
// Azure VNet: subnet bridge, gateway, routes, the edge to the host) and the plumbing that plugs
// nodes into it. See README.md for the packet path. Namespace switching itself lives in the
// netns sub-package and nowhere else.
package netstack
