package annotations

import (
	"errors"
	"fmt"
)

// The errors below carry ingress-nginx's own texts (internal/ingress/errors), because they end
// up in the Events users read and compare with what ingress-nginx logs.

// errMissing is ingress-nginx's ErrMissingAnnotations: the annotation is not set.
var errMissing = errors.New("ingress rule without annotations")

// ValidationError is a value that failed its annotation's validator.
type ValidationError struct{ Annotation string }

func (e ValidationError) Error() string {
	return fmt.Sprintf("annotation %s contains invalid value", e.Annotation)
}

// RiskyError is an annotation above annotations-risk-level; Group is ingress-nginx's name of
// the annotation's parser ("ConfigurationSnippet", "Rewrite", …).
type RiskyError struct{ Group string }

func (e RiskyError) Error() string {
	return fmt.Sprintf("annotation group %s contains risky annotation based on ingress configuration", e.Group)
}

// invalidContentError is a value that could not be read (a bool that is not one, an empty
// string) when validation did not catch it first.
type invalidContentError struct{ Annotation, Value string }

func (e invalidContentError) Error() string {
	return fmt.Sprintf("the annotation %v does not contain a valid value (%v)", e.Annotation, e.Value)
}

// BlocklistError is an annotation value containing a word of annotation-value-word-blocklist.
type BlocklistError struct{ Annotation, Word string }

func (e BlocklistError) Error() string {
	return fmt.Sprintf("%s annotation contains invalid word %s", e.Annotation, e.Word)
}

func isValidation(err error) bool {
	var v ValidationError
	return errors.As(err, &v)
}

func isMissing(err error) bool { return errors.Is(err, errMissing) }
