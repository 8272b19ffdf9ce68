package cluster

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"time"
)

// AppRoutingRequest changes the application routing add-on of a running cluster, as
// `az aks approuting enable|disable|update` do.
type AppRoutingRequest struct {
	// Action is "enable", "update" (needs the add-on on) or "disable".
	Action string `json:"action"`
	// Nginx is the default NginxIngressController's mode (config.NginxModes); empty keeps it
	// (AnnotationControlled when the add-on was off).
	Nginx string `json:"nginx,omitempty"`
}

// addonTimeout bounds how long `minaks approuting` and `minaks update` wait for the daemon: an
// add-on's controllers must start (app routing's readiness probes wait 10 s) and get their
// load balancer.
const addonTimeout = 5 * time.Minute

// SetAppRouting asks the daemon of the named cluster to change its app routing add-on, and
// waits until it has.
func SetAppRouting(name, stateDir string, req AppRoutingRequest) error {
	return postDaemon(name, stateDir, "/approuting", req)
}

// postDaemon sends req to path on the control socket of the named cluster's daemon and waits
// for its answer.
func postDaemon(name, stateDir, path string, req any) error {
	daemons, err := FindDaemons(name)
	if err != nil {
		return err
	}
	if len(daemons) == 0 {
		return fmt.Errorf("cluster %q is not running; start it with 'minaks up --name %s'", name, name)
	}
	body, err := json.Marshal(req)
	if err != nil {
		return err
	}
	client := controlClient(filepath.Join(daemons[0].StateDir, name), addonTimeout)
	resp, err := client.Post("http://daemon"+path, "application/json", bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("asking the daemon of %q: %w", name, err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s", bytes.TrimSpace(msg))
	}
	return nil
}

// GatewayAPIRequest changes the managed Gateway API and app routing's Gateway API
// implementation of a running cluster, as `az aks update --enable-gateway-api` and
// `az aks approuting gateway istio enable|disable` do; a nil field keeps what is.
type GatewayAPIRequest struct {
	GatewayAPI      *bool `json:"gatewayAPI,omitempty"`
	AppRoutingIstio *bool `json:"appRoutingIstio,omitempty"`
}

// SetGatewayAPI asks the daemon of the named cluster to change its Gateway API add-ons, and
// waits until it has.
func SetGatewayAPI(name, stateDir string, req GatewayAPIRequest) error {
	return postDaemon(name, stateDir, "/gatewayapi", req)
}
