// Package version tells which minaks this is and which Kubernetes it embeds.
package version
