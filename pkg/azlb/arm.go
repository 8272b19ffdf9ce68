package azlb

// The emulated Azure Resource Manager objects of a cluster's load balancing, shaped as
// `az network lb show`, `az network public-ip show` and `az network nsg show` print them
// (properties flattened, camelCase, IDs in full). Model builds them; `minaks lb show` prints
// them; the data plane in the fabric is rendered from them.

// SubResource is a reference to another ARM object by ID.
type SubResource struct {
	ID string `json:"id"`
}

// SKU is a resource's SKU: Standard, Regional.
type SKU struct {
	Name string `json:"name"`
	Tier string `json:"tier,omitempty"`
}

// Model is everything Azure would hold for a cluster's Services of type LoadBalancer and its
// outbound connectivity, in the node resource group.
type Model struct {
	// LoadBalancers are "kubernetes" (public; it exists while it has a frontend, the outbound
	// one included) and "kubernetes-internal" (while an internal Service exists), in that order.
	LoadBalancers []LoadBalancer `json:"loadBalancers"`
	// PublicIPAddresses are the Services' public IPs (kubernetes-<base> or named ones) and the
	// managed outbound IPs, sorted by name.
	PublicIPAddresses []PublicIPAddress `json:"publicIPAddresses"`
	// SecurityGroup is the node pool's NSG, aks-agentpool-<8 digits>-nsg, with the rules the
	// cloud provider adds for Services.
	SecurityGroup SecurityGroup `json:"networkSecurityGroup"`
}

// LoadBalancer is a Microsoft.Network/loadBalancers object.
type LoadBalancer struct {
	Name                     string                    `json:"name"`
	ID                       string                    `json:"id"`
	Type                     string                    `json:"type"` // Microsoft.Network/loadBalancers
	Location                 string                    `json:"location"`
	ResourceGroup            string                    `json:"resourceGroup"`
	SKU                      SKU                       `json:"sku"`
	ProvisioningState        string                    `json:"provisioningState"` // Succeeded
	FrontendIPConfigurations []FrontendIPConfiguration `json:"frontendIPConfigurations"`
	BackendAddressPools      []BackendAddressPool      `json:"backendAddressPools"`
	LoadBalancingRules       []LoadBalancingRule       `json:"loadBalancingRules"`
	Probes                   []Probe                   `json:"probes"`
	OutboundRules            []OutboundRule            `json:"outboundRules"`
}

// FrontendIPConfiguration is a frontend: a public IP (public LB) or a private address in a
// subnet (internal LB). Named a<uid> after the Service that created it, or after the managed
// outbound IP.
type FrontendIPConfiguration struct {
	Name string `json:"name"`
	ID   string `json:"id"`
	// PrivateIPAddress and PrivateIPAllocationMethod (Static, Dynamic) and Subnet are set on
	// internal frontends.
	PrivateIPAddress          string       `json:"privateIPAddress,omitempty"`
	PrivateIPAllocationMethod string       `json:"privateIPAllocationMethod,omitempty"`
	PrivateIPAddressVersion   string       `json:"privateIPAddressVersion,omitempty"` // IPv4
	Subnet                    *SubResource `json:"subnet,omitempty"`
	// PublicIPAddress is set on public frontends.
	PublicIPAddress    *SubResource  `json:"publicIPAddress,omitempty"`
	LoadBalancingRules []SubResource `json:"loadBalancingRules,omitempty"`
	OutboundRules      []SubResource `json:"outboundRules,omitempty"`
	ProvisioningState  string        `json:"provisioningState"`
}

// BackendAddressPool is a backend pool: the NIC IP configurations of the scale set's instances.
type BackendAddressPool struct {
	Name                    string        `json:"name"`
	ID                      string        `json:"id"`
	BackendIPConfigurations []SubResource `json:"backendIPConfigurations"`
	LoadBalancingRules      []SubResource `json:"loadBalancingRules,omitempty"`
	OutboundRules           []SubResource `json:"outboundRules,omitempty"`
	ProvisioningState       string        `json:"provisioningState"`
}

// LoadBalancingRule sends a frontend's port to a backend pool.
type LoadBalancingRule struct {
	Name                    string       `json:"name"`
	ID                      string       `json:"id"`
	FrontendIPConfiguration SubResource  `json:"frontendIPConfiguration"`
	BackendAddressPool      SubResource  `json:"backendAddressPool"`
	Probe                   *SubResource `json:"probe,omitempty"`
	// Protocol is Tcp, Udp or All (HA ports, with ports 0).
	Protocol     string `json:"protocol"`
	FrontendPort int32  `json:"frontendPort"`
	BackendPort  int32  `json:"backendPort"`
	// EnableFloatingIP: the packet reaches the backend with the frontend IP as its destination.
	EnableFloatingIP bool `json:"enableFloatingIP"`
	// LoadDistribution is Default (5-tuple hash) or SourceIP (2-tuple).
	LoadDistribution     string `json:"loadDistribution"`
	IdleTimeoutInMinutes int32  `json:"idleTimeoutInMinutes"`
	EnableTCPReset       bool   `json:"enableTcpReset"`
	DisableOutboundSnat  bool   `json:"disableOutboundSnat"`
	ProvisioningState    string `json:"provisioningState"`
}

// Probe is a health probe.
type Probe struct {
	Name string `json:"name"`
	ID   string `json:"id"`
	// Protocol is Tcp, Http or Https.
	Protocol string `json:"protocol"`
	Port     int32  `json:"port"`
	// RequestPath is set for Http and Https.
	RequestPath       string `json:"requestPath,omitempty"`
	IntervalInSeconds int32  `json:"intervalInSeconds"`
	// NumberOfProbes is the consecutive failures that take a backend out; ProbeThreshold the
	// consecutive successes that bring it back.
	NumberOfProbes     int32         `json:"numberOfProbes"`
	ProbeThreshold     int32         `json:"probeThreshold"`
	LoadBalancingRules []SubResource `json:"loadBalancingRules,omitempty"`
	ProvisioningState  string        `json:"provisioningState"`
}

// OutboundRule is aksOutboundRule: SNAT of the pool's outbound traffic to the frontends.
type OutboundRule struct {
	Name                     string        `json:"name"`
	ID                       string        `json:"id"`
	FrontendIPConfigurations []SubResource `json:"frontendIPConfigurations"`
	BackendAddressPool       SubResource   `json:"backendAddressPool"`
	Protocol                 string        `json:"protocol"` // All
	// AllocatedOutboundPorts is the SNAT ports per backend instance; 0 means automatic.
	AllocatedOutboundPorts int32  `json:"allocatedOutboundPorts"`
	IdleTimeoutInMinutes   int32  `json:"idleTimeoutInMinutes"`
	EnableTCPReset         bool   `json:"enableTcpReset"`
	ProvisioningState      string `json:"provisioningState"`
}

// PublicIPAddress is a Microsoft.Network/publicIPAddresses object.
type PublicIPAddress struct {
	Name                     string            `json:"name"`
	ID                       string            `json:"id"`
	Type                     string            `json:"type"` // Microsoft.Network/publicIPAddresses
	Location                 string            `json:"location"`
	ResourceGroup            string            `json:"resourceGroup"`
	SKU                      SKU               `json:"sku"`
	Tags                     map[string]string `json:"tags,omitempty"`
	IPAddress                string            `json:"ipAddress"`
	PublicIPAllocationMethod string            `json:"publicIPAllocationMethod"` // Static
	PublicIPAddressVersion   string            `json:"publicIPAddressVersion"`   // IPv4
	IdleTimeoutInMinutes     int32             `json:"idleTimeoutInMinutes"`
	DNSSettings              *DNSSettings      `json:"dnsSettings,omitempty"`
	// IPConfiguration is the frontend IP configuration that uses it.
	IPConfiguration   *SubResource `json:"ipConfiguration,omitempty"`
	ProvisioningState string       `json:"provisioningState"`
}

// DNSSettings is a public IP's DNS name: <label>.<region>.cloudapp.azure.com.
type DNSSettings struct {
	DomainNameLabel string `json:"domainNameLabel"`
	FQDN            string `json:"fqdn"`
}

// SecurityGroup is a Microsoft.Network/networkSecurityGroups object.
type SecurityGroup struct {
	Name          string         `json:"name"`
	ID            string         `json:"id"`
	Location      string         `json:"location"`
	ResourceGroup string         `json:"resourceGroup"`
	SecurityRules []SecurityRule `json:"securityRules"`
}

// SecurityRule is an inbound NSG rule the cloud provider made for Services.
type SecurityRule struct {
	Name                       string   `json:"name"`
	ID                         string   `json:"id"`
	Protocol                   string   `json:"protocol"`  // Tcp, Udp, *
	Access                     string   `json:"access"`    // Allow, Deny
	Direction                  string   `json:"direction"` // Inbound
	Priority                   int32    `json:"priority"`
	SourceAddressPrefix        string   `json:"sourceAddressPrefix,omitempty"`
	SourceAddressPrefixes      []string `json:"sourceAddressPrefixes,omitempty"`
	SourcePortRange            string   `json:"sourcePortRange"` // *
	DestinationAddressPrefix   string   `json:"destinationAddressPrefix,omitempty"`
	DestinationAddressPrefixes []string `json:"destinationAddressPrefixes,omitempty"`
	DestinationPortRange       string   `json:"destinationPortRange,omitempty"`
	DestinationPortRanges      []string `json:"destinationPortRanges,omitempty"`
	ProvisioningState          string   `json:"provisioningState"`
}

// Status is what `minaks lb show` and `minaks lb list` read: the model and the live state of
// every probe, written by the daemon to StatusFile whenever either changes.
type Status struct {
	Model    Model           `json:"model"`
	Services []ServiceStatus `json:"services"`
	Health   []BackendHealth `json:"health"`
}

// StatusFile is where the daemon keeps Status, under the cluster's state directory.
const StatusFile = "loadbalancers.json"

// ServiceStatus ties a Service to its objects in the model.
type ServiceStatus struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	UID       string `json:"uid"`
	// Base is a<uid without dashes>, cut to 32 characters: the prefix of its frontend, rules
	// and probes.
	Base         string `json:"base"`
	LoadBalancer string `json:"loadBalancer"`
	Frontend     string `json:"frontendIPConfiguration"`
	FrontendIP   string `json:"frontendIP"`
	PublicIP     string `json:"publicIPAddress,omitempty"`
	// Error is the last reason its load balancer could not be ensured, if any.
	Error string `json:"error,omitempty"`
}

// BackendHealth is one probe's view of one backend.
type BackendHealth struct {
	LoadBalancer string `json:"loadBalancer"`
	Probe        string `json:"probe"`
	Backend      string `json:"backend"` // node name
	IPAddress    string `json:"ipAddress"`
	// State is Up, Down or Unknown (not probed yet).
	State string `json:"state"`
	// Since is when State last changed (RFC 3339).
	Since string `json:"since,omitempty"`
	// Detail is the last probe's result: "HTTP 200", "HTTP 404", "connection refused", ….
	Detail string `json:"detail,omitempty"`
}
