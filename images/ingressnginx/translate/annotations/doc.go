// Package annotations reads the nginx.ingress.kubernetes.io/ annotations of an Ingress as
// ingress-nginx v1.13 does: the same names and aliases, the same validation regexes (with
// --enable-annotation-validation), the same risk levels (annotations-risk-level), the same
// defaults from the controller's ConfigMap, and the same consequences of a bad value.
//
// Those consequences differ by annotation group, as they do in ingress-nginx's parsers
// (internal/ingress/annotations/*): most groups log the invalid value and fall back to the
// default (the Ingress is still served; this package reports a warning instead of the log
// line), a few return the error and make the controller skip the whole Ingress
// (Extract's error), and the source-range groups deny the location (it answers 503).
//
// Every annotation ingress-nginx knows is listed in one table (fields.go) with its group,
// risk, validator and whether minaks emulates it, so that an annotation that is not emulated
// is reported rather than silently ignored.
package annotations
