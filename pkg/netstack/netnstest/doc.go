// Package netnstest has helpers for tests that send real packets between minaks's namespaces:
// a TCP server inside a namespace, and a client that connects from inside one.
package netnstest
