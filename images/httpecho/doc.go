// Package httpecho is the built-in hashicorp/http-echo: an HTTP server that answers every
// request with the same text, the echo server of the AKS ingress samples.
package httpecho
