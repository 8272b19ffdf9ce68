// Package azlb is minaks's Azure: the model of what Azure Resource Manager would hold for a
// cluster (the node pool's virtual machine scale set and its instances, their NICs and zones;
// later the load balancers, public IPs, route table and NSG) and the cloudprovider.Interface
// through which the upstream cloud controllers (k8s.io/cloud-provider: cloud node, route,
// service) read and change it, as AKS's cloud-controller-manager does with
// cloud-provider-azure.
//
// Everything here is derived from the cluster definition by pure functions, so it can be
// recomputed at any time: the instance list of a scale set, each instance's name, private IP,
// zone and providerID.
package azlb
