// Package configtest builds cluster definitions for tests.
package configtest
