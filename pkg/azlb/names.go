package azlb

import (
	"fmt"
	"unicode"

	"github.com/google/uuid"
	v1 "k8s.io/api/core/v1"

	"github.com/minaks/minaks/pkg/apiserver/config"
)

// Names and IDs of the objects cloud-provider-azure (CPA) keeps for Services, as AKS shows them.

const (
	// cpaClusterName is the cluster name AKS's cloud controller manager runs with: it names the
	// public load balancer, its backend pool and the public IPs (kubernetes-<base>), and is the
	// k8s-azure-cluster-name tag of the public IPs.
	cpaClusterName = "kubernetes"
	// lbNamePublic and lbNameInternal are the two Standard load balancers of a cluster.
	lbNamePublic   = cpaClusterName
	lbNameInternal = cpaClusterName + "-internal"
	// backendPoolName is the pool of every load-balancing rule; outboundPoolName and
	// outboundRuleName are AKS's outbound SNAT objects (outbound type loadBalancer).
	backendPoolName  = cpaClusterName
	outboundPoolName = "aksOutboundBackendPool"
	outboundRuleName = "aksOutboundRule"
	// aksSubnetName is the one subnet of the managed VNet.
	aksSubnetName = "aks-subnet"

	// CPA's limits on names (consts.FrontendIPConfigNameMaxLength, LoadBalancerRuleNameMaxLength,
	// IPFamilySuffixLength): 80 characters, of which 5 are kept for an "-IPv6" suffix.
	cpaNameMaxLength     = 80
	cpaIPFamilySuffixLen = 5

	provisioningSucceeded = "Succeeded"
)

// armIDs builds the full IDs of the node resource group's objects.
type armIDs struct {
	sub, rg string
}

func newARMIDs(c *config.Cluster) armIDs {
	return armIDs{sub: SubscriptionID(c), rg: c.NodeResourceGroup()}
}

// network is /subscriptions/<sub>/resourceGroups/<rg>/providers/Microsoft.Network/<kind>/<name>.
func (a armIDs) network(kind, name string) string {
	return fmt.Sprintf("/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Network/%s/%s", a.sub, a.rg, kind, name)
}

func (a armIDs) loadBalancer(lb string) string { return a.network("loadBalancers", lb) }

// lbChild is a load balancer's frontendIPConfigurations, backendAddressPools,
// loadBalancingRules, probes or outboundRules entry.
func (a armIDs) lbChild(lb, kind, name string) string {
	return a.loadBalancer(lb) + "/" + kind + "/" + name
}

func (a armIDs) publicIP(name string) string { return a.network("publicIPAddresses", name) }

func (a armIDs) securityGroup(name string) string { return a.network("networkSecurityGroups", name) }

// subnet is the managed VNet's aks-subnet.
func (a armIDs) subnet(vnet string) string {
	return a.network("virtualNetworks", vnet) + "/subnets/" + aksSubnetName
}

// vmssIPConfig is the primary IP configuration of a scale set instance's NIC. AKS names the
// NIC after the scale set and its IP configuration ipconfig1.
func (a armIDs) vmssIPConfig(vmss string, instance int) string {
	return fmt.Sprintf("/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Compute/virtualMachineScaleSets/%s/virtualMachines/%d/networkInterfaces/%s/ipConfigurations/ipconfig1",
		a.sub, a.rg, vmss, instance, vmss)
}

// securityGroupName is the node pool's NSG, aks-agentpool-<8 digits>-nsg.
func securityGroupName(c *config.Cluster) string {
	return "aks-agentpool-" + PoolID(c) + "-nsg"
}

// outboundIPName names the i-th managed outbound public IP and its frontend configuration. AKS
// names both with the same GUID; this one is stable for the cluster.
func outboundIPName(c *config.Cluster, i int) string {
	return uuid.NewSHA1(uuid.NameSpaceURL, []byte(fmt.Sprintf("minaks:%s/%s/outbound-ip/%d", c.ResourceGroup, c.Name, i))).String()
}

// cpaFrontendName is CPA's getDefaultFrontendIPConfigName: the base, or <base>-<subnet> for an
// internal Service with azure-load-balancer-internal-subnet, cut to 75 characters with a cut
// ending that is not a letter replaced by "_".
func cpaFrontendName(base, subnet string) string {
	if subnet == "" {
		return base
	}
	name := base + "-" + subnet
	if limit := cpaNameMaxLength - cpaIPFamilySuffixLen; len(name) > limit {
		name = name[:limit]
		if last := rune(name[len(name)-1]); !unicode.IsLetter(last) && last != '_' {
			name = name[:len(name)-1] + "_"
		}
	}
	return name
}

// cpaRuleName is CPA's getLoadBalancerRuleName: <base>-<PROTOCOL>-<port>, with the internal
// subnet after the base (cut so that the name fits 75 characters). Probes are named like the
// rule they serve.
func cpaRuleName(base, subnet string, protocol v1.Protocol, port int32) string {
	name := fmt.Sprintf("%s-%s-%d", base, protocol, port)
	if subnet == "" {
		return name
	}
	segment := subnet
	if limit := cpaNameMaxLength - cpaIPFamilySuffixLen; len(name)+len(segment)+1 > limit {
		segment = segment[:limit-len(name)-1]
	}
	return fmt.Sprintf("%s-%s-%s-%d", base, segment, protocol, port)
}
