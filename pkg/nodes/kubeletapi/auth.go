package kubeletapi

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"k8s.io/apiserver/pkg/apis/apiserver"
	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authentication/authenticatorfactory"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/apiserver/pkg/authorization/authorizerfactory"
	"k8s.io/apiserver/pkg/server/dynamiccertificates"
	genericoptions "k8s.io/apiserver/pkg/server/options"
	"k8s.io/klog/v2"
)

// Webhook caches, as the kubelet's defaults (authentication.webhook.cacheTTL,
// authorization.webhook.cacheAuthorizedTTL and cacheUnauthorizedTTL).
const (
	authnCacheTTL = 2 * time.Minute
	allowCacheTTL = 5 * time.Minute
	denyCacheTTL  = 30 * time.Second
)

// buildAuth builds the kubelet's authenticator (anonymous off, x509 against the client CA,
// bearer tokens by TokenReview) and authorizer (SubjectAccessReview), as BuildAuthn and
// BuildAuthz do in cmd/kubelet/app/auth.go.
func buildAuth(cfg Config) (authenticator.Request, authorizer.Authorizer, error) {
	if cfg.Client == nil {
		return nil, nil, errors.New("no client for TokenReviews and SubjectAccessReviews")
	}
	authnConfig := authenticatorfactory.DelegatingAuthenticatorConfig{
		Anonymous:               &apiserver.AnonymousAuthConfig{Enabled: false},
		CacheTTL:                authnCacheTTL,
		TokenAccessReviewClient: cfg.Client.AuthenticationV1(),
		WebhookRetryBackoff:     genericoptions.DefaultAuthWebhookRetryBackoff(),
	}
	if len(cfg.ClientCA) > 0 {
		ca, err := dynamiccertificates.NewStaticCAContent("client-ca-bundle", cfg.ClientCA)
		if err != nil {
			return nil, nil, fmt.Errorf("client CA: %w", err)
		}
		authnConfig.ClientCertificateCAContentProvider = ca
	}
	authn, _, err := authnConfig.New()
	if err != nil {
		return nil, nil, fmt.Errorf("authenticator: %w", err)
	}
	authz, err := authorizerfactory.DelegatingAuthorizerConfig{
		SubjectAccessReviewClient: cfg.Client.AuthorizationV1(),
		AllowCacheTTL:             allowCacheTTL,
		DenyCacheTTL:              denyCacheTTL,
		WebhookRetryBackoff:       genericoptions.DefaultAuthWebhookRetryBackoff(),
	}.New()
	if err != nil {
		return nil, nil, fmt.Errorf("authorizer: %w", err)
	}
	return authn, authz, nil
}

// withAuth authenticates and authorizes every request as the kubelet's InstallAuthFilter does,
// with the same answers: 401 "Unauthorized", 403 "Forbidden (user=..., ...)".
func (s *Server) withAuth(next http.Handler) http.Handler {
	if s.authn == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		logger := klog.FromContext(req.Context())
		resp, ok, err := s.authn.AuthenticateRequest(req)
		if err != nil {
			logger.Error(err, "Unable to authenticate the request", "node", s.nodeName)
		}
		if err != nil || !ok {
			http.Error(w, "Unauthorized", http.StatusUnauthorized)
			return
		}
		attrs := requestAttributes(s.nodeName, resp.User, req)
		var subresources []string
		for _, attr := range attrs {
			subresources = append(subresources, attr.Subresource)
			decision, _, err := s.authz.Authorize(req.Context(), attr)
			if err != nil {
				logger.Error(err, "Authorization error", "user", attr.User.GetName(), "verb", attr.Verb, "subresource", attr.Subresource)
				http.Error(w, fmt.Sprintf("Authorization error (user=%s, verb=%s, resource=%s, subresource=%s)",
					attr.User.GetName(), attr.Verb, attr.Resource, attr.Subresource), http.StatusInternalServerError)
				return
			}
			if decision == authorizer.DecisionAllow {
				next.ServeHTTP(w, req)
				return
			}
		}
		logger.V(2).Info("Forbidden", "user", resp.User.GetName(), "verb", attrs[0].Verb, "subresources", subresources)
		http.Error(w, fmt.Sprintf("Forbidden (user=%s, verb=%s, resource=%s, subresource(s)=%v)",
			resp.User.GetName(), attrs[0].Verb, attrs[0].Resource, subresources), http.StatusForbidden)
	})
}

// requestAttributes are the authorization checks of a request, any of which lets it in: the
// kubelet's nodeAuthorizerAttributesGetter (pkg/kubelet/server/auth.go) with
// KubeletFineGrainedAuthz, GA and locked on in 1.36. The verb comes from the HTTP method, the
// resource is the node, the subresource comes from the path:
//
//	/pods, /runningpods  pods, then proxy
//	/healthz             healthz, then proxy
//	/configz             configz, then proxy
//	/stats               stats
//	/metrics             metrics
//	/logs                log
//	/checkpoint          checkpoint
//	/statusz             statusz
//	/flagz               configz
//	anything else        proxy (exec, attach, portForward, containerLogs, run)
func requestAttributes(nodeName string, u user.Info, req *http.Request) []authorizer.AttributesRecord {
	verb := ""
	switch req.Method {
	case http.MethodPost:
		verb = "create"
	case http.MethodGet:
		verb = "get"
	case http.MethodPut:
		verb = "update"
	case http.MethodPatch:
		verb = "patch"
	case http.MethodDelete:
		verb = "delete"
	}
	path := req.URL.Path
	var subresources []string
	switch {
	case isSubpath(path, "/pods"), isSubpath(path, "/runningpods"):
		subresources = append(subresources, "pods")
	case isSubpath(path, "/healthz"):
		subresources = append(subresources, "healthz")
	case isSubpath(path, "/configz"):
		subresources = append(subresources, "configz")
	}
	switch {
	case isSubpath(path, "/stats"):
		subresources = append(subresources, "stats")
	case isSubpath(path, "/metrics"):
		subresources = append(subresources, "metrics")
	case isSubpath(path, "/logs"):
		subresources = append(subresources, "log")
	case isSubpath(path, "/checkpoint"):
		subresources = append(subresources, "checkpoint")
	case isSubpath(path, "/statusz"):
		subresources = append(subresources, "statusz")
	case isSubpath(path, "/flagz"):
		subresources = append(subresources, "configz")
	default:
		subresources = append(subresources, "proxy")
	}
	attrs := make([]authorizer.AttributesRecord, 0, len(subresources))
	for _, sub := range subresources {
		attrs = append(attrs, authorizer.AttributesRecord{
			User:            u,
			Verb:            verb,
			APIVersion:      "v1",
			Resource:        "nodes",
			Subresource:     sub,
			Name:            nodeName,
			ResourceRequest: true,
			Path:            path,
		})
	}
	return attrs
}

// isSubpath reports whether subpath is path or below it.
func isSubpath(subpath, path string) bool {
	path = strings.TrimSuffix(path, "/")
	return subpath == path || (strings.HasPrefix(subpath, path) && subpath[len(path)] == '/')
}
