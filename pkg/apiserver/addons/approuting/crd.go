package approuting

import (
	"encoding/json"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// CRDName is the CustomResourceDefinition's name.
const CRDName = Resource + "." + Group

// The patterns and limits of the operator's CRD.
const (
	// subdomainPattern: lowercase alphanumerics, '-' and '.', alphanumeric at both ends.
	subdomainPattern = `^[a-z0-9][-a-z0-9\.]*[a-z0-9]$`
	// prefixPattern: the same without '.', since the prefix starts object names.
	prefixPattern   = `^[a-z0-9][-a-z0-9]*[a-z0-9]$`
	maxPrefixLength = 60
	maxNameLength   = 253
)

// CRD is the NginxIngressController CustomResourceDefinition as the app routing operator installs
// it: cluster-scoped, short name nic, v1alpha1 served and stored with a status subresource; the
// spec defaults to {ingressClassName: nginx.approuting.kubernetes.azure.com, controllerNamePrefix:
// nginx}; ingressClassName and controllerNamePrefix are immutable (CEL self == oldSelf); printer
// columns IngressClass, ControllerNamePrefix and Available.
func CRD() *apiextensionsv1.CustomResourceDefinition {
	return &apiextensionsv1.CustomResourceDefinition{
		TypeMeta:   metav1.TypeMeta{APIVersion: apiextensionsv1.SchemeGroupVersion.String(), Kind: "CustomResourceDefinition"},
		ObjectMeta: metav1.ObjectMeta{Name: CRDName},
		Spec: apiextensionsv1.CustomResourceDefinitionSpec{
			Group: Group,
			Names: apiextensionsv1.CustomResourceDefinitionNames{
				Kind:       Kind,
				ListKind:   ListKind,
				Plural:     Resource,
				Singular:   "nginxingresscontroller",
				ShortNames: []string{ShortName},
			},
			Scope: apiextensionsv1.ClusterScoped,
			Versions: []apiextensionsv1.CustomResourceDefinitionVersion{{
				Name:    Version,
				Served:  true,
				Storage: true,
				AdditionalPrinterColumns: []apiextensionsv1.CustomResourceColumnDefinition{
					{Name: "IngressClass", Type: "string", JSONPath: ".spec.ingressClassName"},
					{Name: "ControllerNamePrefix", Type: "string", JSONPath: ".spec.controllerNamePrefix"},
					{Name: "Available", Type: "string", JSONPath: `.status.conditions[?(@.type=="Available")].status`},
				},
				Subresources: &apiextensionsv1.CustomResourceSubresources{Status: &apiextensionsv1.CustomResourceSubresourceStatus{}},
				Schema:       &apiextensionsv1.CustomResourceValidation{OpenAPIV3Schema: rootSchema()},
			}},
		},
	}
}

func rootSchema() *apiextensionsv1.JSONSchemaProps {
	return &apiextensionsv1.JSONSchemaProps{
		Description: "NginxIngressController is a managed NGINX ingress controller: an IngressClass, a controller Deployment and its LoadBalancer Service.",
		Type:        "object",
		Required:    []string{"spec"},
		Properties: map[string]apiextensionsv1.JSONSchemaProps{
			"apiVersion": {Type: "string", Description: "APIVersion is the versioned schema of this representation of an object."},
			"kind":       {Type: "string", Description: "Kind is the REST resource this object represents."},
			"metadata":   {Type: "object"},
			"spec":       specSchema(),
			"status":     statusSchema(),
		},
	}
}

func specSchema() apiextensionsv1.JSONSchemaProps {
	immutable := apiextensionsv1.ValidationRules{{Rule: "self == oldSelf", Message: "Value is immutable"}}
	return apiextensionsv1.JSONSchemaProps{
		Description: "NginxIngressControllerSpec is the desired state of a NginxIngressController.",
		Type:        "object",
		Default:     jsonDefault(map[string]string{"controllerNamePrefix": defaultControllerNamePrefix, "ingressClassName": DefaultUserIngressClass}),
		Required:    []string{"controllerNamePrefix", "ingressClassName"},
		Properties: map[string]apiextensionsv1.JSONSchemaProps{
			"ingressClassName": {
				Description:  "IngressClassName is the name of the IngressClass the controller serves.",
				Type:         "string",
				Default:      jsonDefault(DefaultUserIngressClass),
				MinLength:    ptr.To[int64](1),
				MaxLength:    ptr.To[int64](maxNameLength),
				Pattern:      subdomainPattern,
				XValidations: immutable,
			},
			"controllerNamePrefix": {
				Description:  "ControllerNamePrefix names the controller's managed objects.",
				Type:         "string",
				Default:      jsonDefault(defaultControllerNamePrefix),
				MinLength:    ptr.To[int64](1),
				MaxLength:    ptr.To[int64](maxPrefixLength),
				Pattern:      prefixPattern,
				XValidations: immutable,
			},
			"loadBalancerAnnotations": {
				Description:          "LoadBalancerAnnotations are set on the controller's LoadBalancer Service (Azure load balancer annotations).",
				Type:                 "object",
				AdditionalProperties: &apiextensionsv1.JSONSchemaPropsOrBool{Allows: true, Schema: &apiextensionsv1.JSONSchemaProps{Type: "string"}},
			},
			"loadBalancerSourceRanges": {
				Description: "LoadBalancerSourceRanges restricts the client addresses of the controller's LoadBalancer Service.",
				Type:        "array",
				Items:       &apiextensionsv1.JSONSchemaPropsOrArray{Schema: &apiextensionsv1.JSONSchemaProps{Type: "string"}},
			},
			"defaultSSLCertificate": {
				Description:   "DefaultSSLCertificate is the certificate of the controller's catch-all HTTPS server: a Secret or a Key Vault URI.",
				Type:          "object",
				MaxProperties: ptr.To[int64](2),
				Properties: map[string]apiextensionsv1.JSONSchemaProps{
					"secret":      namespacedNameSchema("Secret is the TLS Secret holding the certificate."),
					"keyVaultURI": {Description: "KeyVaultURI is the URI of a Key Vault certificate.", Type: "string"},
					"forceSSLRedirect": {
						Description: "ForceSSLRedirect redirects every HTTP request to HTTPS when a default certificate is set.",
						Type:        "boolean",
						Default:     jsonDefault(false),
					},
				},
				XValidations: apiextensionsv1.ValidationRules{
					{Rule: "(isURL(self.keyVaultURI) || !has(self.keyVaultURI))"},
					{Rule: "((self.forceSSLRedirect == true) && (has(self.secret) || has(self.keyVaultURI)) || (self.forceSSLRedirect == false))"},
				},
			},
			"defaultBackendService": namespacedNameSchema("DefaultBackendService receives the requests no Ingress rule matches, on its first port."),
			"customHTTPErrors": {
				Description: "CustomHTTPErrors are the HTTP status codes the controller sends to its default backend.",
				Type:        "array",
				Items:       &apiextensionsv1.JSONSchemaPropsOrArray{Schema: &apiextensionsv1.JSONSchemaProps{Type: "integer", Format: "int32"}},
			},
			"scaling": {
				Description: "Scaling bounds the controller's replicas and says how eagerly it scales.",
				Type:        "object",
				Properties: map[string]apiextensionsv1.JSONSchemaProps{
					"minReplicas": {Description: "MinReplicas is the lowest replica count (default 2).", Type: "integer", Format: "int32", Minimum: ptr.To[float64](1)},
					"maxReplicas": {Description: "MaxReplicas is the highest replica count (default 100).", Type: "integer", Format: "int32", Minimum: ptr.To[float64](1)},
					"threshold": {
						Description: "Threshold is how eagerly the controller scales: rapid, balanced (the default) or steady.",
						Type:        "string",
						Enum:        []apiextensionsv1.JSON{jsonValue(RapidThreshold), jsonValue(BalancedThreshold), jsonValue(SteadyThreshold)},
					},
				},
				XValidations: apiextensionsv1.ValidationRules{
					{Rule: "(!has(self.minReplicas)) || (!has(self.maxReplicas)) || (self.minReplicas <= self.maxReplicas)"},
				},
			},
			"httpDisabled":         {Description: "HTTPDisabled leaves port 80 off the controller.", Type: "boolean"},
			"logFormat":            {Description: "LogFormat is the controller's access log format (log-format-upstream).", Type: "string"},
			"enableSSLPassthrough": {Description: "EnableSSLPassthrough lets the controller pass TLS connections through unterminated.", Type: "boolean"},
		},
	}
}

func namespacedNameSchema(description string) apiextensionsv1.JSONSchemaProps {
	field := apiextensionsv1.JSONSchemaProps{
		Type:      "string",
		MinLength: ptr.To[int64](1),
		MaxLength: ptr.To[int64](maxNameLength),
		Pattern:   subdomainPattern,
	}
	return apiextensionsv1.JSONSchemaProps{
		Description: description,
		Type:        "object",
		Required:    []string{"name", "namespace"},
		Properties:  map[string]apiextensionsv1.JSONSchemaProps{"name": field, "namespace": field},
	}
}

func statusSchema() apiextensionsv1.JSONSchemaProps {
	replicas := func(description string) apiextensionsv1.JSONSchemaProps {
		return apiextensionsv1.JSONSchemaProps{Description: description, Type: "integer", Format: "int32"}
	}
	str := func(description string) apiextensionsv1.JSONSchemaProps {
		return apiextensionsv1.JSONSchemaProps{Description: description, Type: "string"}
	}
	return apiextensionsv1.JSONSchemaProps{
		Description: "NginxIngressControllerStatus is the observed state of a NginxIngressController.",
		Type:        "object",
		Properties: map[string]apiextensionsv1.JSONSchemaProps{
			"conditions": {
				Description:  "Conditions are the controller's observed conditions.",
				Type:         "array",
				Items:        &apiextensionsv1.JSONSchemaPropsOrArray{Schema: conditionSchema()},
				XListType:    ptr.To("map"),
				XListMapKeys: []string{"type"},
			},
			"controllerReplicas":            replicas("ControllerReplicas is the controller Deployment's replica count."),
			"controllerReadyReplicas":       replicas("ControllerReadyReplicas is the number of ready controller replicas."),
			"controllerAvailableReplicas":   replicas("ControllerAvailableReplicas is the number of available controller replicas."),
			"controllerUnavailableReplicas": replicas("ControllerUnavailableReplicas is the number of unavailable controller replicas."),
			"collisionCount": {
				Description: "CollisionCount is the suffix of the managed objects' names, raised when a name is taken.",
				Type:        "integer",
				Format:      "int32",
				Maximum:     ptr.To[float64](MaxCollisions),
			},
			"managedResourceRefs": {
				Description: "ManagedResourceRefs are the objects the operator manages for the controller.",
				Type:        "array",
				Items: &apiextensionsv1.JSONSchemaPropsOrArray{Schema: &apiextensionsv1.JSONSchemaProps{
					Description: "ManagedObjectReference names a managed object.",
					Type:        "object",
					Required:    []string{"kind", "name"},
					Properties: map[string]apiextensionsv1.JSONSchemaProps{
						"name":      str("Name is the object's name."),
						"namespace": str("Namespace is the object's namespace, empty for a cluster-scoped object."),
						"kind":      str("Kind is the object's kind."),
						"apiGroup":  str("APIGroup is the object's API group, empty for the core group."),
					},
				}},
			},
		},
	}
}

// conditionSchema is metav1.Condition's schema, as controller-gen writes it.
func conditionSchema() *apiextensionsv1.JSONSchemaProps {
	return &apiextensionsv1.JSONSchemaProps{
		Description: "Condition is one aspect of the controller's current state.",
		Type:        "object",
		Required:    []string{"lastTransitionTime", "message", "reason", "status", "type"},
		Properties: map[string]apiextensionsv1.JSONSchemaProps{
			"lastTransitionTime": {Description: "LastTransitionTime is when the condition last changed status.", Type: "string", Format: "date-time"},
			"message":            {Description: "Message says what the condition is about.", Type: "string", MaxLength: ptr.To[int64](32768)},
			"observedGeneration": {Description: "ObservedGeneration is the generation the condition was set from.", Type: "integer", Format: "int64", Minimum: ptr.To[float64](0)},
			"reason": {
				Description: "Reason is the condition's last transition, in CamelCase.",
				Type:        "string",
				MinLength:   ptr.To[int64](1),
				MaxLength:   ptr.To[int64](1024),
				Pattern:     `^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$`,
			},
			"status": {
				Description: "Status is True, False or Unknown.",
				Type:        "string",
				Enum:        []apiextensionsv1.JSON{jsonValue("True"), jsonValue("False"), jsonValue("Unknown")},
			},
			"type": {
				Description: "Type is the condition's type, in CamelCase.",
				Type:        "string",
				MaxLength:   ptr.To[int64](316),
				Pattern:     `^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$`,
			},
		},
	}
}

// jsonDefault is v as a schema default.
func jsonDefault(v any) *apiextensionsv1.JSON {
	j := jsonValue(v)
	return &j
}

// jsonValue is v as a JSON value of the schema (a default or an enum member).
func jsonValue(v any) apiextensionsv1.JSON {
	raw, err := json.Marshal(v)
	if err != nil {
		panic(err) // only ever called with strings, booleans and string maps
	}
	return apiextensionsv1.JSON{Raw: raw}
}
