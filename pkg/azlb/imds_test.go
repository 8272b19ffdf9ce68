package azlb

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/minaks/minaks/pkg/apiserver/config"
	"github.com/minaks/minaks/pkg/apiserver/config/configtest"
)

func imdsGet(t *testing.T, m *IMDS, from, url string, header bool) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, url, nil)
	r.RemoteAddr = from + ":40000"
	if header {
		r.Header.Set("Metadata", "true")
	}
	w := httptest.NewRecorder()
	m.ServeHTTP(w, r)
	return w
}

func TestIMDS(t *testing.T) {
	c := configtest.Cluster(t, func(o *config.Options) { o.Zones = []string{"1", "2"} })
	cloud := NewCloud(c, nil)
	m := NewIMDS(cloud)
	const q = "?api-version=2021-02-01"

	w := imdsGet(t, m, "10.224.0.5", "/metadata/instance"+q, true)
	if w.Code != http.StatusOK {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	var doc struct {
		Compute struct {
			Name, VMScaleSetName, VMSize, Zone, Location, ResourceGroupName string
			OSProfile                                                       struct{ ComputerName string }
		}
		Network struct {
			Interface []struct {
				IPv4 struct {
					IPAddress []struct{ PrivateIPAddress string }
				}
			}
		}
	}
	if err := json.Unmarshal(w.Body.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	vmss := cloud.ScaleSet().Name
	if doc.Compute.Name != vmss+"_1" || doc.Compute.OSProfile.ComputerName != cloud.ScaleSet().InstanceName(1) ||
		doc.Compute.Zone != "2" || doc.Compute.VMSize != "Standard_DS2_v2" || doc.Compute.ResourceGroupName != "MC_minaks-rg_minaks_eastus" {
		t.Errorf("compute %+v", doc.Compute)
	}
	if ip := doc.Network.Interface[0].IPv4.IPAddress[0].PrivateIPAddress; ip != "10.224.0.5" {
		t.Errorf("private IP %s", ip)
	}

	// A pod of node 2 (overlay: its /24) gets node 2's metadata; leaves come as text.
	w = imdsGet(t, m, "10.244.2.17", "/metadata/instance/compute/osProfile/computerName"+q+"&format=text", true)
	if w.Code != http.StatusOK || w.Body.String() != cloud.ScaleSet().InstanceName(2) {
		t.Errorf("pod's computerName: %d %q", w.Code, w.Body)
	}
	for _, tc := range []struct {
		from, url string
		header    bool
		code      int
		msg       string
	}{
		{"10.224.0.4", "/metadata/instance" + q, false, 400, "Required metadata header"},
		{"10.224.0.4", "/metadata/instance", true, 400, "api-version was not specified"},
		{"10.224.9.9", "/metadata/instance" + q, true, 403, "not a virtual machine"},
		{"10.224.0.4", "/metadata/instance/compute/nothing" + q, true, 404, "Not found"},
		{"10.224.0.4", "/metadata/instance/compute" + q + "&format=text", true, 400, "leaf"},
	} {
		w := imdsGet(t, m, tc.from, tc.url, tc.header)
		if w.Code != tc.code || !strings.Contains(w.Body.String(), tc.msg) {
			t.Errorf("%s from %s: %d %s; want %d %q", tc.url, tc.from, w.Code, w.Body, tc.code, tc.msg)
		}
	}
}
