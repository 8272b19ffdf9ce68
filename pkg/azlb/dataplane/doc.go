// Package dataplane is the emulated Azure Standard Load Balancer's packet path, in a cluster's
// fabric namespace: it turns a Config (frontends, load-balancing rules with their healthy
// backends, NSG rules, the outbound rule) into one nftables table, policy routes toward each
// backend node, and host routes toward each frontend, and it runs the health probes from
// 168.63.129.16. See README.md for the picture.
//
// Config is flat and ARM-free: pkg/azlb derives it from its model, so this package knows
// packets, not Azure objects.
package dataplane
