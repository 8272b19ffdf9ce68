// Package tools holds the commands of the tools root that BusyBox lacks and the real images
// have (agnhost's and curl's curl, dnsutils's dig), written in Go after the options the
// upstream tests and people's scripts use: `curl -sS -o /dev/null -w '%{http_code}' URL`,
// `dig +short +tcp @server name TYPE`; and those whose BusyBox applet falls short: nc
// (Debian's lacks -u, -z, -W), wget (Debian's static one crashes with -T). The multi-call
// binaries run them by name.
package tools
