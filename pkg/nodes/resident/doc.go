// Package resident trims what a long-running minaks process keeps resident of its own
// executable.
//
// minaks's binaries are large (the daemon embeds the Kubernetes control plane; minaks-kube holds
// kube-proxy, CoreDNS and the other programs built on Kubernetes libraries), and the kernel reads
// executable files in large folios that it maps whole, 2 MiB at a time. Start-up touches code
// the process never runs again, so an idle daemon kept its whole 175 MiB executable resident.
// Code trims that once the process has started: it turns read-ahead off for the executable's
// mappings and gives their pages back, so that from then on only the pages the process runs
// come back, one page at a time. Drop does the same for read-only data, such as go:embed bytes
// read once.
package resident
