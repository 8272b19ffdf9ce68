package azlb

import (
	"context"
	"fmt"
	"net/netip"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	cloudprovider "k8s.io/cloud-provider"

	"github.com/minaks/minaks/pkg/apiserver/config"
	"github.com/minaks/minaks/pkg/netstack"
)

// ProviderName is the cloud provider's name, as cloud-provider-azure's.
const ProviderName = "azure"

// Cloud is minaks's cloudprovider.Interface. Parts of Azure minaks does not emulate yet report
// themselves unsupported, which the upstream controllers handle.
type Cloud struct {
	cluster *config.Cluster
	vmss    *ScaleSet
	routes  *routeTable
	lbs     *LoadBalancers
}

var (
	_ cloudprovider.Interface   = &Cloud{}
	_ cloudprovider.InstancesV2 = &Cloud{}
	_ cloudprovider.Zones       = &Cloud{}
)

// NewCloud returns the cloud of a cluster whose VNet is fabric. Routes are AKS's kubenet route
// table: there is one only with kubenet.
func NewCloud(c *config.Cluster, fabric *netstack.Fabric) *Cloud {
	cloud := &Cloud{cluster: c, vmss: NewScaleSet(c)}
	if c.Network.CNI() == config.CNIKubenet && fabric != nil {
		cloud.routes = &routeTable{cloud: cloud, fabric: fabric}
	}
	if fabric != nil {
		cloud.lbs = newLoadBalancers(cloud, fabric)
	}
	return cloud
}

// Resolve answers the DNS names Azure holds for the cluster: its public IPs' labels.
func (c *Cloud) Resolve(name string) (netip.Addr, bool) {
	if c.lbs == nil {
		return netip.Addr{}, false
	}
	return c.lbs.Resolve(name)
}

// ScaleSet is the cluster's node pool.
func (c *Cloud) ScaleSet() *ScaleSet { return c.vmss }

func (c *Cloud) Initialize(cloudprovider.ControllerClientBuilder, <-chan struct{}) {}
func (c *Cloud) ProviderName() string                                              { return ProviderName }
func (c *Cloud) HasClusterID() bool                                                { return true }
func (c *Cloud) LoadBalancer() (cloudprovider.LoadBalancer, bool)                  { return c.lbs, c.lbs != nil }
func (c *Cloud) Instances() (cloudprovider.Instances, bool)                        { return nil, false }
func (c *Cloud) InstancesV2() (cloudprovider.InstancesV2, bool)                    { return c, true }
func (c *Cloud) Zones() (cloudprovider.Zones, bool)                                { return c, true }
func (c *Cloud) Clusters() (cloudprovider.Clusters, bool)                          { return nil, false }
func (c *Cloud) Routes() (cloudprovider.Routes, bool)                              { return c.routes, c.routes != nil }

// instance finds the instance of a node, by providerID first, then by name.
func (c *Cloud) instance(node *v1.Node) (Instance, bool, error) {
	id, ok := c.vmss.InstanceID(node.Name)
	if !ok || id >= c.cluster.NodeCount {
		return Instance{}, false, nil
	}
	in, err := c.vmss.Instance(id)
	if err != nil {
		return Instance{}, false, err
	}
	if node.Spec.ProviderID != "" && node.Spec.ProviderID != in.ProviderID {
		return Instance{}, false, nil
	}
	return in, true, nil
}

// InstanceExists reports whether the node's VMSS instance exists.
func (c *Cloud) InstanceExists(_ context.Context, node *v1.Node) (bool, error) {
	_, ok, err := c.instance(node)
	return ok, err
}

// InstanceShutdown reports whether the instance is deallocated; a running cluster's are not.
func (c *Cloud) InstanceShutdown(context.Context, *v1.Node) (bool, error) { return false, nil }

// InstanceMetadata is what the cloud node controller writes onto a new node: providerID,
// instance type, addresses, zone and region.
func (c *Cloud) InstanceMetadata(_ context.Context, node *v1.Node) (*cloudprovider.InstanceMetadata, error) {
	in, ok, err := c.instance(node)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, cloudprovider.InstanceNotFound
	}
	return &cloudprovider.InstanceMetadata{
		ProviderID:    in.ProviderID,
		InstanceType:  c.cluster.NodeVMSize,
		NodeAddresses: in.Addresses(),
		Zone:          in.Zone,
		Region:        c.cluster.Location,
	}, nil
}

// GetZone is not answerable for "this machine": minaks runs no node process of its own.
func (c *Cloud) GetZone(context.Context) (cloudprovider.Zone, error) {
	return cloudprovider.Zone{}, fmt.Errorf("GetZone: minaks has no local instance; use GetZoneByNodeName")
}

func (c *Cloud) GetZoneByProviderID(_ context.Context, providerID string) (cloudprovider.Zone, error) {
	for id := range c.cluster.NodeCount {
		if in, err := c.vmss.Instance(id); err == nil && in.ProviderID == providerID {
			return cloudprovider.Zone{FailureDomain: in.Zone, Region: c.cluster.Location}, nil
		}
	}
	return cloudprovider.Zone{}, cloudprovider.InstanceNotFound
}

func (c *Cloud) GetZoneByNodeName(_ context.Context, name types.NodeName) (cloudprovider.Zone, error) {
	in, ok, err := c.instance(&v1.Node{ObjectMeta: metav1.ObjectMeta{Name: string(name)}})
	if err != nil {
		return cloudprovider.Zone{}, err
	}
	if !ok {
		return cloudprovider.Zone{}, cloudprovider.InstanceNotFound
	}
	return cloudprovider.Zone{FailureDomain: in.Zone, Region: c.cluster.Location}, nil
}
