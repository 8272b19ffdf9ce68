// Package coredns is the built-in CoreDNS image (mcr.microsoft.com/oss/v2/kubernetes/coredns,
// registry.k8s.io/coredns/coredns, coredns/coredns): CoreDNS run as a library, with the plugins
// that AKS's Corefile and the coredns-custom ConfigMap commonly use, compiled in upstream's
// directive order (Directives).
//
// Its program lives in images.KubeBinary, apart from the small binary every container runs,
// since the kubernetes plugin brings client-go with it. Main behaves like the coredns binary:
// the same flags (-conf, -dns.port, -version, …), the same signals (SIGTERM and SIGINT shut
// down after the shutdown callbacks, so that health's lameduck is honoured; SIGUSR1 reloads
// the Corefile; SIGQUIT stops at once), and it returns the exit code instead of exiting.
//
// # Reloading coredns-custom
//
// AKS mounts the coredns ConfigMap at /etc/coredns and the optional coredns-custom ConfigMap
// at /etc/coredns/custom; its Corefile pulls the latter in with `import custom/*.override`
// and `import custom/*.server`. The reload plugin notices changes there by itself: every
// interval (30 s ± 7.5 s by default) it reads the Corefile again and parses it with Caddy's
// parser, which splices imported files' tokens in place of each import, and it hashes the
// parsed server blocks. A changed, added or removed *.override or *.server file changes that
// hash exactly as an edit of the Corefile does, and CoreDNS restarts its servers in place on
// the same sockets. So no watcher of its own is needed here; the tests check it with a
// ConfigMap-like directory updated through a `..data` symlink swap.
//
// SIGUSR1 restarts the running instance as upstream does, but keeps Caddy's event hooks: caddy
// v1.1.4's own handler purges them and restores them only when the restart fails, and the
// reload plugin registers its hook once per process, so upstream stops watching after a
// successful SIGUSR1.
//
// Only one CoreDNS runs in a process at a time: Caddy's instance list, loaders and the DNS
// server type's directives are process-wide. coremain, which the prometheus and kubernetes
// plugins import for its version, registers coredns's flags on the process's FlagSet in its
// init; this package takes them off again (kube-proxy, in the same binary, adds that FlagSet to
// its command line) and parses its own.
package coredns
