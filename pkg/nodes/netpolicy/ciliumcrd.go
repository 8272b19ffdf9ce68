package netpolicy

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/minaks/minaks/images/cilium"
	"github.com/minaks/minaks/pkg/apiserver/config"
)

// icmpNames are Cilium's names of ICMP and ICMPv6 types, sorted.
func icmpNames() []string {
	var names []string
	for _, types := range cilium.ICMPTypes {
		names = slices.AppendSeq(names, maps.Keys(types))
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// ciliumCRDs are CiliumNetworkPolicy and CiliumClusterwideNetworkPolicy (cilium.io/v2) with
// the schema of their L3/L4 rules, which the agent enforces. What minaks does not emulate is
// refused when a policy is written, by the rules' validations, naming the field: FQDN rules
// (toFQDNs, DNS rules) and L7 rules (HTTP, Kafka, …, TLS) unless Advanced Container
// Networking Services allows them (--acns-advanced-networkpolicies), and then as not
// emulated; toServices, toGroups, fromNodes/toNodes, fromRequires/toRequires and mutual
// authentication.
func ciliumCRDs(c *config.Cluster) []*apiextensionsv1.CustomResourceDefinition {
	rule := ruleSchema(c.Network.AdvancedNetworkPolicies())
	policy := func(kind, plural, scope string, short []string) *apiextensionsv1.CustomResourceDefinition {
		root := object(map[string]apiextensionsv1.JSONSchemaProps{
			"apiVersion": str(), "kind": str(), "metadata": {Type: "object"},
			"spec":   rule,
			"specs":  bounded(array(rule), maxRules),
			"status": {Type: "object", XPreserveUnknownFields: ptr.To(true)},
		})
		root.Required = []string{"metadata"}
		root.XValidations = apiextensionsv1.ValidationRules{{
			Rule:    "has(self.spec) || has(self.specs)",
			Message: "Invalid " + kind + " spec(s): empty policy",
		}}
		return &apiextensionsv1.CustomResourceDefinition{
			ObjectMeta: metav1.ObjectMeta{Name: plural + "." + cilium.Group, Labels: map[string]string{"io.cilium.k8s.crd.schema.version": "1.30.0"}},
			Spec: apiextensionsv1.CustomResourceDefinitionSpec{
				Group: cilium.Group,
				Names: apiextensionsv1.CustomResourceDefinitionNames{
					Kind: kind, ListKind: kind + "List", Plural: plural, Singular: strings.ToLower(kind),
					ShortNames: short, Categories: []string{"cilium", "ciliumpolicy"},
				},
				Scope: apiextensionsv1.ResourceScope(scope),
				Versions: []apiextensionsv1.CustomResourceDefinitionVersion{{
					Name: cilium.Version, Served: true, Storage: true,
					Schema:       &apiextensionsv1.CustomResourceValidation{OpenAPIV3Schema: &root},
					Subresources: &apiextensionsv1.CustomResourceSubresources{Status: &apiextensionsv1.CustomResourceSubresourceStatus{}},
					AdditionalPrinterColumns: []apiextensionsv1.CustomResourceColumnDefinition{
						{Name: "Age", Type: "date", JSONPath: ".metadata.creationTimestamp"},
					},
				}},
			},
		}
	}
	return []*apiextensionsv1.CustomResourceDefinition{
		policy("CiliumNetworkPolicy", cilium.ResourceCNP, string(apiextensionsv1.NamespaceScoped), []string{"cnp", "ciliumnp"}),
		policy("CiliumClusterwideNetworkPolicy", cilium.ResourceCCNP, string(apiextensionsv1.ClusterScoped), []string{"ccnp"}),
	}
}

// ruleSchema is api.Rule's schema, with advanced (None, FQDN, L7: what ACNS allows) deciding
// the messages that refuse FQDN and L7 rules.
func ruleSchema(advanced string) apiextensionsv1.JSONSchemaProps {
	refuse := func(feature, needs string) string {
		if advanced == config.ACNSNone || (feature == "L7" && advanced == config.ACNSFQDN) {
			return fmt.Sprintf("%s policies need Advanced Container Networking Services: minaks up --enable-acns --acns-advanced-networkpolicies %s", feature, needs)
		}
		return fmt.Sprintf("%s policies are not emulated by minaks (Cilium's DNS and Envoy proxies are not run)", feature)
	}
	notEmulated := func(field string) apiextensionsv1.ValidationRule {
		return apiextensionsv1.ValidationRule{Rule: "!has(self." + field + ")", Message: field + " is not emulated by minaks"}
	}
	selector := object(map[string]apiextensionsv1.JSONSchemaProps{
		"matchLabels": {Type: "object", AdditionalProperties: &apiextensionsv1.JSONSchemaPropsOrBool{Allows: true, Schema: ptr.To(str())}},
		"matchExpressions": array(func() apiextensionsv1.JSONSchemaProps {
			e := object(map[string]apiextensionsv1.JSONSchemaProps{
				"key":      str(),
				"operator": enum("In", "NotIn", "Exists", "DoesNotExist"),
				"values":   array(str()),
			})
			e.Required = []string{"key", "operator"}
			return e
		}()),
	})
	cidrSet := object(map[string]apiextensionsv1.JSONSchemaProps{
		"cidr":              cidr(),
		"except":            array(cidr()),
		"cidrGroupRef":      str(),
		"cidrGroupSelector": selector,
	})
	cidrSet.XValidations = apiextensionsv1.ValidationRules{
		{Rule: "has(self.cidr)", Message: "cidr is required (cidrGroupRef and cidrGroupSelector are not emulated by minaks)"},
	}
	// ICMP, ICMPv6, VRRP and IGMP in toPorts are not emulated (icmps are).
	protocols := enum("TCP", "UDP", "SCTP", "ANY")
	protocols.Default = &apiextensionsv1.JSON{Raw: []byte(`"ANY"`)}
	port := object(map[string]apiextensionsv1.JSONSchemaProps{
		"port":     {Type: "string", Pattern: `^(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[0-9]{1,4})|([a-zA-Z0-9]-?)*[a-zA-Z](-?[a-zA-Z0-9])*$`},
		"endPort":  {Type: "integer", Format: "int32", Minimum: ptr.To(0.0), Maximum: ptr.To(65535.0)},
		"protocol": protocols,
	})
	any := apiextensionsv1.JSONSchemaProps{Type: "object", XPreserveUnknownFields: ptr.To(true)}
	portRule := object(map[string]apiextensionsv1.JSONSchemaProps{
		"ports": array(port),
		"rules": object(map[string]apiextensionsv1.JSONSchemaProps{
			"dns": array(any), "http": array(any), "kafka": array(any), "l7proto": str(), "l7": array(any),
		}),
		"listener":       any,
		"originatingTLS": any,
		"terminatingTLS": any,
		"serverNames":    array(str()),
	})
	portRule.XValidations = apiextensionsv1.ValidationRules{
		{Rule: "!has(self.rules) || !(has(self.rules.http) || has(self.rules.kafka) || has(self.rules.l7proto) || has(self.rules.l7))", Message: refuse("L7", "L7")},
		{Rule: "!has(self.rules) || !has(self.rules.dns)", Message: refuse("FQDN", "FQDN")},
		{Rule: "!has(self.listener) && !has(self.originatingTLS) && !has(self.terminatingTLS) && !has(self.serverNames)", Message: refuse("L7", "L7")},
	}
	icmp := object(map[string]apiextensionsv1.JSONSchemaProps{
		"fields": array(func() apiextensionsv1.JSONSchemaProps {
			f := object(map[string]apiextensionsv1.JSONSchemaProps{
				// As Cilium's schema: a number or a name of a type of either family.
				"type": {XIntOrString: true, AnyOf: []apiextensionsv1.JSONSchemaProps{{Type: "integer"}, {Type: "string"}},
					Pattern: "^(?:[0-9]{1,3}|" + strings.Join(icmpNames(), "|") + ")$"},
				"family": enum("IPv4", "IPv6"),
			})
			f.Required = []string{"type"}
			return f
		}()),
	})
	entities := array(enum(cilium.Entities...))
	peerRule := func(from string) apiextensionsv1.JSONSchemaProps {
		props := map[string]apiextensionsv1.JSONSchemaProps{
			from + "Endpoints": array(selector),
			from + "CIDR":      array(cidr()),
			from + "CIDRSet":   array(cidrSet),
			from + "Entities":  entities,
			from + "Requires":  array(selector),
			from + "Nodes":     array(selector),
			from + "Groups":    array(any),
			"toPorts":          bounded(array(portRule), maxRules),
			"icmps":            array(icmp),
			"authentication":   any,
		}
		if from == "to" {
			props["toServices"] = array(any)
			props["toFQDNs"] = array(any)
		}
		r := object(props)
		l3 := []string{from + "Endpoints", from + "CIDR", from + "CIDRSet", from + "Entities"}
		var count []string
		for _, f := range l3 {
			count = append(count, "(has(self."+f+") ? 1 : 0)")
		}
		r.XValidations = apiextensionsv1.ValidationRules{
			{Rule: strings.Join(count, " + ") + " <= 1", Message: "Combining " + strings.Join(l3, ", ") + " in one rule is not supported: write a rule for each"},
			notEmulated(from + "Requires"), notEmulated(from + "Nodes"), notEmulated(from + "Groups"), notEmulated("authentication"),
		}
		if from == "to" {
			r.XValidations = append(r.XValidations, notEmulated("toServices"),
				apiextensionsv1.ValidationRule{Rule: "!has(self.toFQDNs)", Message: refuse("FQDN", "FQDN")})
		}
		return r
	}
	defaultDeny := object(map[string]apiextensionsv1.JSONSchemaProps{"ingress": {Type: "boolean"}, "egress": {Type: "boolean"}})
	labels := array(func() apiextensionsv1.JSONSchemaProps {
		l := object(map[string]apiextensionsv1.JSONSchemaProps{"key": str(), "value": str(), "source": str()})
		l.Required = []string{"key"}
		return l
	}())
	r := object(map[string]apiextensionsv1.JSONSchemaProps{
		"endpointSelector":  selector,
		"nodeSelector":      selector,
		"ingress":           bounded(array(peerRule("from")), maxRules),
		"ingressDeny":       bounded(array(peerRule("from")), maxRules),
		"egress":            bounded(array(peerRule("to")), maxRules),
		"egressDeny":        bounded(array(peerRule("to")), maxRules),
		"enableDefaultDeny": defaultDeny,
		"labels":            labels,
		"description":       str(),
	})
	r.XValidations = apiextensionsv1.ValidationRules{
		{Rule: "has(self.endpointSelector) != has(self.nodeSelector)", Message: "a rule needs exactly one of endpointSelector and nodeSelector"},
	}
	return r
}

// maxRules bounds the lists of rules (specs, ingress and egress rules, toPorts), which keeps
// the cost of the rules' validations within the API server's budget.
const maxRules = 64

func bounded(p apiextensionsv1.JSONSchemaProps, max int64) apiextensionsv1.JSONSchemaProps {
	p.MaxItems = &max
	return p
}

func object(props map[string]apiextensionsv1.JSONSchemaProps) apiextensionsv1.JSONSchemaProps {
	return apiextensionsv1.JSONSchemaProps{Type: "object", Properties: props}
}

func array(items apiextensionsv1.JSONSchemaProps) apiextensionsv1.JSONSchemaProps {
	return apiextensionsv1.JSONSchemaProps{Type: "array", Items: &apiextensionsv1.JSONSchemaPropsOrArray{Schema: &items}}
}

func str() apiextensionsv1.JSONSchemaProps { return apiextensionsv1.JSONSchemaProps{Type: "string"} }

// cidr is an IPv4 or IPv6 CIDR.
func cidr() apiextensionsv1.JSONSchemaProps {
	return apiextensionsv1.JSONSchemaProps{Type: "string", Format: "cidr"}
}

func enum(values ...string) apiextensionsv1.JSONSchemaProps {
	p := apiextensionsv1.JSONSchemaProps{Type: "string"}
	for _, v := range values {
		p.Enum = append(p.Enum, apiextensionsv1.JSON{Raw: []byte(`"` + v + `"`)})
	}
	return p
}
