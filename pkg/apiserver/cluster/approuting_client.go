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

// appRoutingTimeout bounds how long `minaks approuting` waits for the daemon: the add-on's
// controllers must start (their readiness probes wait 10 s) and get their load balancer.
const appRoutingTimeout = 5 * time.Minute

// SetAppRouting asks the daemon of the named cluster to change its app routing add-on, and
// waits until it has.
func SetAppRouting(name, stateDir string, req AppRoutingRequest) error {
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
	client := controlClient(filepath.Join(daemons[0].StateDir, name), appRoutingTimeout)
	resp, err := client.Post("http://daemon/approuting", "application/json", bytes.NewReader(body))
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
