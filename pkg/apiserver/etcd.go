package apiserver

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
)

// etcdConfig is a single-member etcd with no TCP listener at all: clients and the (unused) peer
// port are unix sockets inside the 0700 state directory, so only root can reach them. Election
// timing is tuned for one member, which then elects itself in tens of milliseconds.
func etcdConfig(stateDir, clientSocket string, verbose bool) *embed.Config {
	cfg := embed.NewConfig()
	cfg.Name = "minaks"
	cfg.Dir = filepath.Join(stateDir, "etcd")
	// The peer listener's path is taken relative to the working directory, which the daemon sets
	// to the state directory; the client socket path is absolute.
	peer := url.URL{Scheme: "unix", Host: "etcd-peer.sock"}
	client := url.URL{Scheme: "unix", Path: clientSocket}
	cfg.ListenPeerUrls = []url.URL{peer}
	cfg.AdvertisePeerUrls = []url.URL{peer}
	cfg.ListenClientUrls = []url.URL{client}
	cfg.AdvertiseClientUrls = []url.URL{client}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	cfg.TickMs = 10
	cfg.ElectionMs = 100
	cfg.LogOutputs = []string{"stderr"}
	cfg.LogLevel = "warn"
	if verbose {
		cfg.LogLevel = "info"
	}
	// Keep the database small on a laptop: compact history hourly, as kube-apiserver also does.
	cfg.AutoCompactionMode = "periodic"
	cfg.AutoCompactionRetention = "1h"
	return cfg
}

// startEtcd starts etcd and waits until it serves clients.
func startEtcd(ctx context.Context, stateDir, socket string, verbose bool) (*embed.Etcd, error) {
	// A socket left by a daemon that was killed would make the listener fail.
	for _, s := range []string{socket, filepath.Join(stateDir, "etcd-peer.sock")} {
		if err := os.Remove(s); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
	}
	e, err := embed.StartEtcd(etcdConfig(stateDir, socket, verbose))
	if err != nil {
		return nil, fmt.Errorf("start etcd: %w", err)
	}
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		e.Close()
		return nil, fmt.Errorf("etcd: %w", err)
	case <-time.After(60 * time.Second):
		e.Close()
		return nil, errors.New("etcd did not become ready within 60s")
	case <-ctx.Done():
		e.Close()
		return nil, ctx.Err()
	}
	if err := os.Chmod(socket, 0o600); err != nil {
		e.Close()
		return nil, err
	}
	return e, nil
}
