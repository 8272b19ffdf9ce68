//go:build !unix

package l7

// alive cannot peek at a socket here: an idle connection is taken as it is, and a request
// that fails on it because the endpoint had closed it is retried on a new one.
func (c *h1Conn) alive() bool { return true }
