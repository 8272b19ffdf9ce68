package azlb

import (
	"context"
	"fmt"
	"net/netip"

	"k8s.io/apimachinery/pkg/types"
	cloudprovider "k8s.io/cloud-provider"

	"github.com/minaks/minaks/pkg/netstack"
)

// routeTable is the kubenet route table AKS attaches to the node subnet
// (aks-agentpool-<n>-routetable): one route per node pod range, next hop the node. Its entries
// live in the fabric's routing table, which is the truth that ListRoutes reads back.
type routeTable struct {
	cloud  *Cloud
	fabric *netstack.Fabric
}

var _ cloudprovider.Routes = &routeTable{}

// ListRoutes returns the fabric's routes for pod ranges, each with the node it points to.
func (r *routeTable) ListRoutes(context.Context, string) ([]*cloudprovider.Route, error) {
	fabricRoutes, err := r.fabric.PodRangeRoutes()
	if err != nil {
		return nil, err
	}
	byIP := map[netip.Addr]string{}
	if ins, err := r.cloud.vmss.Instances(); err == nil {
		for _, in := range ins {
			byIP[in.IP] = in.Name
		}
	}
	var out []*cloudprovider.Route
	for dst, via := range fabricRoutes {
		node, ok := byIP[via]
		out = append(out, &cloudprovider.Route{
			Name:            dst.String(),
			TargetNode:      types.NodeName(node),
			DestinationCIDR: dst.String(),
			Blackhole:       !ok,
		})
	}
	return out, nil
}

// CreateRoute points a node's pod range at the node.
func (r *routeTable) CreateRoute(_ context.Context, _ string, _ string, route *cloudprovider.Route) error {
	id, ok := r.cloud.vmss.InstanceID(string(route.TargetNode))
	if !ok {
		return fmt.Errorf("route %s: %s is not a node of %s", route.DestinationCIDR, route.TargetNode, r.cloud.vmss.Name)
	}
	in, err := r.cloud.vmss.Instance(id)
	if err != nil {
		return err
	}
	dst, err := netip.ParsePrefix(route.DestinationCIDR)
	if err != nil {
		return err
	}
	return r.fabric.RoutePodRange(dst, in.IP)
}

// DeleteRoute removes a pod range's route.
func (r *routeTable) DeleteRoute(_ context.Context, _ string, route *cloudprovider.Route) error {
	dst, err := netip.ParsePrefix(route.DestinationCIDR)
	if err != nil {
		return err
	}
	return r.fabric.UnroutePodRange(dst)
}
