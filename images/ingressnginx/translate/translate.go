package translate

import (
	"crypto/tls"
	"fmt"
	"hash/fnv"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"

	"github.com/minaks/minaks/images/ingressnginx/translate/annotations"
	"github.com/minaks/minaks/images/internal/l7"
)

// Options are the controller's flags that change the translation.
type Options struct {
	IngressClass             string // --ingress-class
	ControllerClass          string // --controller-class
	WatchIngressWithoutClass bool   // --watch-ingress-without-class
	IngressClassByName       bool   // --ingress-class-by-name
	// DefaultBackendService is --default-backend-service, "namespace/name".
	DefaultBackendService string
	// DefaultSSLCertificate is --default-ssl-certificate, "namespace/name".
	DefaultSSLCertificate      string
	EnableSSLPassthrough       bool   // --enable-ssl-passthrough
	EnableAnnotationValidation bool   // --enable-annotation-validation
	AnnotationsPrefix          string // --annotations-prefix; empty is nginx.ingress.kubernetes.io
	DisableCatchAll            bool   // --disable-catch-all
	DisableServiceExternalName bool   // --disable-svc-external-name
	HTTPPort, HTTPSPort        int    // --http-port, --https-port; 0 is 80 and 443
	// FakeCertificate is the controller's self-signed default certificate.
	FakeCertificate *tls.Certificate
}

// State is what the controller watches.
type State struct {
	Ingresses      []*networkingv1.Ingress
	IngressClasses []*networkingv1.IngressClass
	Services       []*corev1.Service
	EndpointSlices []*discoveryv1.EndpointSlice
	Secrets        []*corev1.Secret
	// ConfigMap is the data of --configmap.
	ConfigMap map[string]string
}

// Event is an Event the controller posts on an Ingress.
type Event struct {
	Object  *networkingv1.Ingress
	Type    string // corev1.EventTypeNormal or corev1.EventTypeWarning
	Reason  string
	Message string
}

// The reasons of the Events the translation makes. ingress-nginx itself only logs these
// conditions; the messages carry its log texts where it has them.
const (
	// ReasonRejected: the Ingress is not served (an annotation refused by validation, by
	// annotations-risk-level or by annotation-value-word-blocklist, an invalid path).
	ReasonRejected = "Rejected"
	// ReasonAnnotation: an annotation value was replaced by its default or ignored.
	ReasonAnnotation = "InvalidAnnotation"
	// ReasonNotEmulated: something ingress-nginx would do that minaks does not.
	ReasonNotEmulated = "NotEmulated"
	// ReasonConflict: a host and path already served from an older Ingress.
	ReasonConflict = "PathConflict"
	// ReasonTLS: a TLS secret that cannot be used; the default certificate is served.
	ReasonTLS = "TLSCertificate"
	// ReasonBackend: a backend Service that is missing or has no ready endpoint (503).
	ReasonBackend = "Backend"
	// ReasonCanary: a canary Ingress that has no effect.
	ReasonCanary = "Canary"
	// ReasonIgnored: an Ingress the controller's flags make it ignore.
	ReasonIgnored = "Ignored"
)

// Result is a translation.
type Result struct {
	Config *l7.Config
	// Served are the Ingresses this controller serves, for their status.
	Served []*networkingv1.Ingress
	// Events are the Events to post; the same input gives the same messages.
	Events []Event
	// ConfigWarnings describe ConfigMap values that were refused or are not emulated.
	ConfigWarnings []string
	// Hash identifies the configuration apart from endpoints (ingress-nginx's config hash).
	Hash uint64
}

// keyVaultAnnotation is the app routing add-on's annotation for a Key Vault certificate.
const keyVaultAnnotation = "kubernetes.azure.com/tls-cert-keyvault-uri"

// Translate turns the cluster state into the proxy's configuration as ingress-nginx v1.13
// would serve it. It is pure and deterministic: it changes nothing it is given.
func Translate(opts Options, st *State) *Result {
	if opts.AnnotationsPrefix == "" {
		opts.AnnotationsPrefix = annotations.DefaultPrefix
	}
	if opts.HTTPPort == 0 {
		opts.HTTPPort = 80
	}
	if opts.HTTPSPort == 0 {
		opts.HTTPSPort = 443
	}
	cfg, cfgWarnings := ParseConfigMap(st.ConfigMap)
	b := newBuilder(opts, cfg, st)

	var candidates []*ingressInfo
	for _, ing := range st.Ingresses {
		if !IsOurs(opts, ing, st.IngressClasses) {
			continue
		}
		if info := b.prepare(ing); info != nil {
			candidates = append(candidates, info)
		}
	}
	sortIngresses(candidates)

	// An Ingress whose paths cannot be compiled as the regexes its host needs is dropped and
	// the configuration built again without it, since it may be what made the host use
	// regexes in the first place.
	var m *model
	for {
		b.resetModel()
		m = b.build(candidates)
		if len(m.rejected) == 0 {
			break
		}
		var kept []*ingressInfo
		for _, info := range candidates {
			if msg, bad := m.rejected[info]; bad {
				b.event(info.ing, corev1.EventTypeWarning, ReasonRejected, msg)
				continue
			}
			kept = append(kept, info)
		}
		candidates = kept
	}
	b.events = append(b.events, m.events...)

	res := &Result{
		Config:         m.config,
		Events:         dedupEvents(b.events),
		ConfigWarnings: dedupStrings(append(cfgWarnings, m.warnings...)),
		Hash:           hashConfig(m.config),
	}
	for _, info := range candidates {
		res.Served = append(res.Served, info.ing)
	}
	sort.Slice(res.Served, func(i, j int) bool {
		return res.Served[i].Namespace+"/"+res.Served[i].Name < res.Served[j].Namespace+"/"+res.Served[j].Name
	})
	return res
}

// ingressInfo is an Ingress this controller serves, with its paths normalized and its
// annotations read.
type ingressInfo struct {
	ing *networkingv1.Ingress
	// spec is a copy of the spec with ingress-nginx's defaults: an empty path is "/", a
	// missing pathType and ImplementationSpecific are Prefix.
	spec networkingv1.IngressSpec
	key  string
	anns *annotations.Ingress
}

// prepare checks and reads one Ingress as ingress-nginx's store does when it syncs it; nil
// means it is not served.
func (b *builder) prepare(ing *networkingv1.Ingress) *ingressInfo {
	if b.opts.DisableCatchAll && ing.Spec.DefaultBackend != nil {
		b.event(ing, corev1.EventTypeWarning, ReasonIgnored, "Ignoring catch-all ingress because of --disable-catch-all: remove spec.defaultBackend")
		return nil
	}
	for _, rule := range ing.Spec.Rules {
		if rule.HTTP == nil {
			continue
		}
		for _, p := range rule.HTTP.Paths {
			if err := inspectPath(p.Path); err != nil {
				b.event(ing, corev1.EventTypeWarning, ReasonRejected, "received invalid ingress: "+err.Error())
				return nil
			}
		}
	}
	if err := annotations.CheckBlocklist(ing.Annotations, b.opts.AnnotationsPrefix, b.cfg.AnnotationValueWordBlocklist); err != nil {
		b.event(ing, corev1.EventTypeWarning, ReasonRejected, "skipping ingress: "+err.Error())
		return nil
	}
	anns, warnings, err := annotations.Extract(ing, b.annotationSettings())
	if err != nil {
		b.event(ing, corev1.EventTypeWarning, ReasonRejected, "skipping ingress: "+err.Error())
		return nil
	}
	for _, w := range warnings {
		reason := ReasonAnnotation
		if strings.Contains(w, "not emulated") {
			reason = ReasonNotEmulated
		}
		b.event(ing, corev1.EventTypeWarning, reason, w)
	}
	if uri, ok := ing.Annotations[keyVaultAnnotation]; ok {
		b.event(ing, corev1.EventTypeWarning, ReasonNotEmulated, fmt.Sprintf("annotation %s is not emulated by minaks: the certificate %s is not fetched from Key Vault; its hosts are served with the default certificate unless the TLS secret exists", keyVaultAnnotation, uri))
	}
	if anns.Canary.Enabled {
		b.canaryIgnored(ing)
	}

	info := &ingressInfo{ing: ing, key: ing.Namespace + "/" + ing.Name, anns: anns}
	ing.Spec.DeepCopyInto(&info.spec)
	prefix := networkingv1.PathTypePrefix
	for ri := range info.spec.Rules {
		if info.spec.Rules[ri].HTTP == nil {
			continue
		}
		for pi := range info.spec.Rules[ri].HTTP.Paths {
			p := &info.spec.Rules[ri].HTTP.Paths[pi]
			if p.Path == "" {
				p.Path = "/"
			}
			if p.PathType == nil || *p.PathType == networkingv1.PathTypeImplementationSpecific {
				p.PathType = &prefix
			}
		}
	}
	return info
}

// canaryIgnored warns about annotations a canary Ingress carries in vain: ingress-nginx applies
// the main Ingress's, except for the canary, affinity and load-balancing ones.
func (b *builder) canaryIgnored(ing *networkingv1.Ingress) {
	var ignored []string
	for k := range ing.Annotations {
		name, ok := strings.CutPrefix(k, b.opts.AnnotationsPrefix+"/")
		if !ok || strings.HasPrefix(name, "canary") || strings.HasPrefix(name, "session-cookie") ||
			strings.HasPrefix(name, "affinity") || name == "load-balance" || strings.HasPrefix(name, "upstream-hash-by") {
			continue
		}
		ignored = append(ignored, k)
	}
	if len(ignored) == 0 {
		return
	}
	sort.Strings(ignored)
	b.event(ing, corev1.EventTypeWarning, ReasonCanary, fmt.Sprintf("canary Ingress: annotations %s have no effect, the main Ingress's apply", strings.Join(ignored, ", ")))
}

func (b *builder) annotationSettings() *annotations.Settings {
	return &annotations.Settings{
		Prefix:        b.opts.AnnotationsPrefix,
		Validate:      b.opts.EnableAnnotationValidation,
		MaxRisk:       annotations.ParseRisk(b.cfg.AnnotationsRiskLevel),
		AllowSnippets: b.cfg.AllowSnippetAnnotations,
		Defaults:      b.cfg.Backend,
		Service:       b.service,
	}
}

// sortIngresses orders Ingresses as ingress-nginx's store lists them: oldest first; for the
// same creation time, the greater namespace/name first.
func sortIngresses(infos []*ingressInfo) {
	sort.SliceStable(infos, func(i, j int) bool {
		a, c := infos[i].ing.CreationTimestamp, infos[j].ing.CreationTimestamp
		if a.Equal(&c) {
			return infos[i].key > infos[j].key
		}
		return a.Before(&c)
	})
}

// hashConfig hashes the configuration without its endpoints.
func hashConfig(cfg *l7.Config) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(dump(cfg, false)))
	return h.Sum64()
}

// dedupEvents drops repeated events (a location's warning repeats for each of its routes),
// keeping the first of each in order.
func dedupEvents(events []Event) []Event {
	type key struct {
		obj                  *networkingv1.Ingress
		typ, reason, message string
	}
	seen := map[key]bool{}
	out := events[:0:0]
	for _, e := range events {
		k := key{e.Object, e.Type, e.Reason, e.Message}
		if e.Object == nil || seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, e)
	}
	return out
}

func dedupStrings(in []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
