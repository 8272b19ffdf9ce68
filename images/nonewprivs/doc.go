// Package nonewprivs is the built-in registry.k8s.io/e2e-test-images/nonewprivs: a set-user-ID
// root program, /usr/local/bin/nnp, that prints the effective user ID it runs with. The upstream
// security-context tests run it as a user other than root to see whether the container may gain
// privileges (allowPrivilegeEscalation): root's ID when it may, the user's own when it may not.
package nonewprivs
