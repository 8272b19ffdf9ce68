// Package whoami is the built-in traefik/whoami: an HTTP server that answers with what it
// knows of itself and of the request (hostname, addresses, remote address, request line and
// headers), the usual tool for seeing which pod answered and what client address it saw.
package whoami
