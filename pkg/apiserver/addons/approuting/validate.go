package approuting

import (
	"fmt"
	"unicode"

	networkingv1 "k8s.io/api/networking/v1"
)

// maxControllerNameLength is the longest NginxIngressController name the operator accepts.
const maxControllerNameLength = 100

// subdomainReason ends the operator's message for a name that is not a lowercase RFC 1123
// subdomain.
const subdomainReason = "must be a lowercase RFC 1123 subdomain consisting of lowercase alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character"

// Valid checks n as the operator's admission webhook does and returns the webhook's message
// for the first problem, or "" when n is valid. (The CRD's schema rejects most of these too.)
func (n *NginxIngressController) Valid() string {
	prefix, class := n.Spec.ControllerNamePrefix, n.Spec.IngressClassName
	switch {
	case prefix == "":
		return "spec.controllerNamePrefix must be specified"
	case !isLowercaseSubdomain(prefix):
		return "spec.controllerNamePrefix " + subdomainReason
	case len(prefix) > maxPrefixLength:
		return fmt.Sprintf("spec.controllerNamePrefix length must be less than or equal to %d characters", maxPrefixLength)
	case class == "":
		return "spec.ingressClassName must be specified"
	case !isLowercaseSubdomain(class):
		return "spec.ingressClassName " + subdomainReason
	case len(n.Name) > maxControllerNameLength:
		return fmt.Sprintf("Name length must be less than or equal to %d characters", maxControllerNameLength)
	}
	return ""
}

func isLowercaseSubdomain(s string) bool {
	if s == "" {
		return false
	}
	alnum := func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }
	rs := []rune(s)
	if !alnum(rs[0]) || !alnum(rs[len(rs)-1]) {
		return false
	}
	for _, r := range rs {
		if !alnum(r) && r != '-' && r != '.' || unicode.IsUpper(r) {
			return false
		}
	}
	return true
}

// Collides reports whether n cannot become available because another NginxIngressController
// already serves its IngressClass, or because an IngressClass of that name exists, with the
// reason the operator's webhook gives. Another controller's claim is reported first: it is the
// one a user fixes by editing NginxIngressControllers. others may include n itself.
func (n *NginxIngressController) Collides(others []*NginxIngressController, classes []*networkingv1.IngressClass) (bool, string) {
	class := n.Spec.IngressClassName
	for _, o := range others {
		if o.Spec.IngressClassName == class && o.Name != n.Name {
			return true, fmt.Sprintf("spec.ingressClassName %q is invalid because NginxIngressController %q already uses IngressClass %[1]q", class, o.Name)
		}
	}
	for _, ic := range classes {
		if ic.Name == class {
			return true, fmt.Sprintf("spec.ingressClassName %q is invalid because IngressClass %[1]q already exists", class)
		}
	}
	return false, ""
}
