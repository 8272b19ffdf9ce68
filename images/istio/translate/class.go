package translate

import (
	"fmt"
	"sort"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/gateway-api/pkg/consts"
	"sigs.k8s.io/gateway-api/pkg/features"
)

// BundleVersion is the Gateway API release whose CRDs this translation implements.
const BundleVersion = consts.BundleVersion

// SupportedFeatures are the Gateway API features this implementation supports, for the
// GatewayClass status and the conformance suite's --supported-features, in the
// alphabetical order the GatewayClass status requires.
func SupportedFeatures() []gatewayv1.FeatureName {
	names := []features.FeatureName{
		features.SupportGateway,
		features.SupportGatewayHTTPListenerIsolation,
		features.SupportGatewayPort8080,
		features.SupportGRPCRoute,
		features.SupportGRPCRouteNamedRouteRule,
		features.SupportHTTPRoute,
		features.SupportHTTPRoute303RedirectStatusCode,
		features.SupportHTTPRoute307RedirectStatusCode,
		features.SupportHTTPRoute308RedirectStatusCode,
		features.SupportHTTPRouteBackendProtocolH2C,
		features.SupportHTTPRouteBackendProtocolWebSocket,
		features.SupportHTTPRouteBackendRequestHeaderModification,
		features.SupportHTTPRouteBackendTimeout,
		features.SupportHTTPRouteDestinationPortMatching,
		features.SupportHTTPRouteHostRewrite,
		features.SupportHTTPRouteMethodMatching,
		features.SupportHTTPRouteNamedRouteRule,
		features.SupportHTTPRouteParentRefPort,
		features.SupportHTTPRoutePathRedirect,
		features.SupportHTTPRoutePathRewrite,
		features.SupportHTTPRoutePortRedirect,
		features.SupportHTTPRouteQueryParamMatching,
		features.SupportHTTPRouteRequestMirror,
		features.SupportHTTPRouteRequestMultipleMirrors,
		features.SupportHTTPRouteRequestPercentageMirror,
		features.SupportHTTPRouteRequestTimeout,
		features.SupportHTTPRouteResponseHeaderModification,
		features.SupportHTTPRouteSchemeRedirect,
		features.SupportReferenceGrant,
	}
	out := make([]gatewayv1.FeatureName, len(names))
	for i, n := range names {
		out[i] = gatewayv1.FeatureName(n)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// classes finds the GatewayClasses of the implemented controller and their status: Accepted
// unless their parametersRef names something other than a ConfigMap (the only kind of
// parameters Istio reads; its content is not emulated), and SupportedVersion.
func (b *builder) classes() {
	supported := SupportedFeatures()
	for _, gc := range b.st.GatewayClasses {
		if gc == nil || gc.Spec.ControllerName != b.opts.ControllerName {
			continue
		}
		accepted := metav1.Condition{
			Type:    string(gatewayv1.GatewayClassConditionStatusAccepted),
			Status:  metav1.ConditionTrue,
			Reason:  string(gatewayv1.GatewayClassReasonAccepted),
			Message: "Handled by " + string(b.opts.ControllerName),
		}
		if p := gc.Spec.ParametersRef; p != nil && (p.Group != "" || p.Kind != "ConfigMap") {
			accepted.Status = metav1.ConditionFalse
			accepted.Reason = string(gatewayv1.GatewayClassReasonInvalidParameters)
			accepted.Message = fmt.Sprintf("parametersRef %s/%s %s: only a ConfigMap is supported", groupOrCore(string(p.Group)), p.Kind, p.Name)
		}
		version := metav1.Condition{
			Type:    string(gatewayv1.GatewayClassConditionStatusSupportedVersion),
			Status:  metav1.ConditionTrue,
			Reason:  string(gatewayv1.GatewayClassReasonSupportedVersion),
			Message: "Gateway API CRDs " + BundleVersion + " are supported",
		}
		if v := b.opts.CRDBundleVersion; v != "" && !sameMinor(v, BundleVersion) {
			version.Status = metav1.ConditionFalse
			version.Reason = string(gatewayv1.GatewayClassReasonUnsupportedVersion)
			version.Message = fmt.Sprintf("the installed Gateway API CRDs are %s; this implementation supports %s and serves them on a best-effort basis", v, BundleVersion)
		}
		accepted.ObservedGeneration = gc.Generation
		version.ObservedGeneration = gc.Generation
		b.ours[gc.Name] = accepted.Status == metav1.ConditionTrue
		st := gatewayv1.GatewayClassStatus{Conditions: []metav1.Condition{accepted, version}}
		for _, f := range supported {
			st.SupportedFeatures = append(st.SupportedFeatures, gatewayv1.SupportedFeature{Name: f})
		}
		b.classStatus[gc.Name] = st
	}
}

// sameMinor reports whether two versions "v1.5.1" and "v1.5.0" share their major and minor
// numbers.
func sameMinor(a, b string) bool {
	minor := func(v string) string {
		parts := strings.SplitN(strings.TrimPrefix(v, "v"), ".", 3)
		if len(parts) < 2 {
			return v
		}
		return parts[0] + "." + parts[1]
	}
	return minor(a) == minor(b)
}

// groupOrCore names the core API group for messages.
func groupOrCore(g string) string {
	if g == "" {
		return "core"
	}
	return g
}
