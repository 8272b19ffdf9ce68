// Package imagestoretest serves images for tests: go-containerregistry's registry on loopback,
// counting the requests it answers and, with a password, asking for basic auth.
package imagestoretest
