package azlb

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// IMDS is Azure's instance metadata service (http://169.254.169.254/metadata/instance) for the
// cluster's VMSS instances. It knows the caller by its source address: a node's IP, or the IP of
// a pod on that node (link-local traffic is not masqueraded on AKS nodes).
type IMDS struct{ cloud *Cloud }

// NewIMDS returns the metadata service of a cloud.
func NewIMDS(c *Cloud) *IMDS { return &IMDS{cloud: c} }

// imdsError is how IMDS reports a bad request.
func imdsError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

func (m *IMDS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Metadata") != "true" {
		imdsError(w, http.StatusBadRequest, "Bad request. Required metadata header not specified")
		return
	}
	path, ok := strings.CutPrefix(r.URL.Path, "/metadata/instance")
	if !ok {
		imdsError(w, http.StatusNotFound, "Not found")
		return
	}
	if r.URL.Query().Get("api-version") == "" {
		imdsError(w, http.StatusBadRequest, "Bad request. api-version was not specified in the request. For more information refer to aka.ms/azureimds")
		return
	}
	host, _, _ := net.SplitHostPort(r.RemoteAddr)
	ip, err := netip.ParseAddr(host)
	in, found := m.cloud.instanceFor(ip)
	if err != nil || !found {
		imdsError(w, http.StatusForbidden, fmt.Sprintf("Forbidden. %s is not a virtual machine of this VNet", host))
		return
	}
	var doc any = m.cloud.instanceDocument(in)
	for _, part := range strings.Split(strings.Trim(path, "/"), "/") {
		if part == "" {
			continue
		}
		next, ok := walk(doc, part)
		if !ok {
			imdsError(w, http.StatusNotFound, "Not found")
			return
		}
		doc = next
	}
	if r.URL.Query().Get("format") == "text" {
		if s, ok := doc.(string); ok {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			fmt.Fprint(w, s)
			return
		}
		imdsError(w, http.StatusBadRequest, "Bad request. format=text is only for leaf values")
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_ = json.NewEncoder(w).Encode(doc)
}

// walk steps into a decoded JSON document by key or array index.
func walk(doc any, part string) (any, bool) {
	switch d := doc.(type) {
	case map[string]any:
		v, ok := d[part]
		return v, ok
	case []any:
		var i int
		if _, err := fmt.Sscan(part, &i); err != nil || i < 0 || i >= len(d) {
			return nil, false
		}
		return d[i], true
	}
	return nil, false
}

// instanceFor finds the instance a source address belongs to: its own IP, or one of its pods'.
func (c *Cloud) instanceFor(ip netip.Addr) (Instance, bool) {
	ins, err := c.vmss.Instances()
	if err != nil {
		return Instance{}, false
	}
	for _, in := range ins {
		if in.Contains(ip) {
			return in, true
		}
	}
	return Instance{}, false
}

// instanceDocument is /metadata/instance for an instance, built from generic JSON values
// (maps, slices, strings) so that any sub-path can be served from it.
func (c *Cloud) instanceDocument(in Instance) map[string]any {
	cl := c.cluster
	subnet := netip.MustParsePrefix(cl.Network.SubnetCIDR)
	zone := ""
	if len(cl.Zones) > 0 {
		zone = strings.TrimPrefix(in.Zone, cl.Location+"-")
	}
	rg := cl.NodeResourceGroup()
	doc := map[string]any{
		"compute": map[string]any{
			"azEnvironment":     "AzurePublicCloud",
			"location":          cl.Location,
			"name":              fmt.Sprintf("%s_%d", c.vmss.Name, in.ID),
			"offer":             "",
			"osType":            "Linux",
			"osProfile":         map[string]any{"adminUsername": "azureuser", "computerName": in.Name},
			"provider":          "Microsoft.Compute",
			"publisher":         "",
			"resourceGroupName": rg,
			"resourceId": fmt.Sprintf("/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Compute/virtualMachineScaleSets/%s/virtualMachines/%d",
				SubscriptionID(cl), rg, c.vmss.Name, in.ID),
			"sku":            "",
			"subscriptionId": SubscriptionID(cl),
			"tags":           "aks-managed-createOperationID:minaks;aks-managed-poolName:" + cl.NodePoolName + ";aks-managed-orchestrator:Kubernetes",
			"vmScaleSetName": c.vmss.Name,
			"vmSize":         cl.NodeVMSize,
			"zone":           zone,
		},
		"network": map[string]any{
			"interface": []any{map[string]any{
				"ipv4": map[string]any{
					"ipAddress": []any{map[string]any{"privateIpAddress": in.IP.String(), "publicIpAddress": ""}},
					"subnet":    []any{map[string]any{"address": subnet.Masked().Addr().String(), "prefix": fmt.Sprint(subnet.Bits())}},
				},
				"ipv6":       map[string]any{"ipAddress": []any{}},
				"macAddress": "",
			}},
		},
	}
	return doc
}
