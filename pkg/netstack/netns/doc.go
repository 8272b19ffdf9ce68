// Package netns is the one place in minaks that switches network namespaces. Everything else
// works through what it hands out: netlink handles bound to a namespace, or a callback run by Do
// on a thread of its own.
//
// Named namespaces live where iproute2 keeps them (/run/netns/<name>, a bind mount of the
// namespace), so `ip netns exec` and `ip -n` work on them. Creating one follows the Do pattern:
// a fresh goroutine locks its thread, unshares, bind-mounts the new namespace and switches back.
// (Merely exiting while locked is not enough: the runtime discards such a thread, except the
// main thread, which it keeps, still in the new namespace, and whose view is /proc/self/net.)
//
// Do follows the CNI plugins' ns package and cilium's netns: the callback runs on a fresh locked
// goroutine; the thread is unlocked only if switching back succeeded, otherwise it is left
// locked so the runtime discards it. Callbacks must not start goroutines or do DNS lookups.
package netns
