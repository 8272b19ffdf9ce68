// Package serve holds what the built-in images' servers share: a context that ends on a
// signal, and serving HTTP until then with a graceful shutdown.
package serve
