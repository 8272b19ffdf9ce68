// Package azlb is minaks's Azure: the model of what Azure Resource Manager would hold for a
// cluster (the node pool's virtual machine scale set and its instances, their NICs and zones;
// the load balancers kubernetes and kubernetes-internal with their frontends, rules, probes,
// backend and outbound pools, the public IPs and the NSG's rules) and the
// cloudprovider.Interface through which the upstream cloud controllers (k8s.io/cloud-provider:
// cloud node, route, service) read and change it, as AKS's cloud-controller-manager does with
// cloud-provider-azure.
//
// Everything here is derived by pure functions, so it can be recomputed at any time: the
// instance list of a scale set, each instance's name, private IP, zone and providerID
// (vmss.go); a Service's load balancer configuration from its spec and annotations, validated
// as cloud-provider-azure validates them (service.go); the whole load balancing model from the
// Services, the nodes and the outbound IPs (model.go, names.go). LoadBalancers keeps the little
// ARM would remember (which frontend IP and public IP each Service has), rebuilds the model at
// every change and hands its packet path to package dataplane, which programs the fabric and
// runs the health probes. Azure DNS (dns.go) and the instance metadata service (imds.go) are the
// platform endpoints the fabric serves.
package azlb
