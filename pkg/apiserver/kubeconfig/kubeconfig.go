package kubeconfig

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// ContextName is the name of a cluster's cluster, user and context entries.
func ContextName(cluster string) string { return "minaks-" + cluster }

// New returns a kubeconfig with one cluster, user and context, all named name.
func New(name, server string, caPEM, certPEM, keyPEM []byte) *clientcmdapi.Config {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[name] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: caPEM}
	cfg.AuthInfos[name] = &clientcmdapi.AuthInfo{ClientCertificateData: certPEM, ClientKeyData: keyPEM}
	cfg.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: name}
	cfg.CurrentContext = name
	return cfg
}

// Write writes a kubeconfig file with mode 0600.
func Write(path string, cfg *clientcmdapi.Config) error {
	b, err := clientcmd.Write(*cfg)
	if err != nil {
		return err
	}
	tmp := path + ".minaks-tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// Owner is the user a kubeconfig file belongs to, when minaks runs under sudo.
type Owner struct{ UID, GID int }

// Target is a kubeconfig file to merge into, and who should own it.
type Target struct {
	Path  string
	Owner *Owner
}

// DefaultTarget picks the kubeconfig file as kubectl would: flag, then the first entry of
// $KUBECONFIG, then ~/.kube/config. Under sudo, ~ is the invoking user's home and the file is
// kept theirs, so that `sudo minaks up` followed by `kubectl` works.
func DefaultTarget(flag string) Target {
	owner := sudoOwner()
	if flag != "" {
		return Target{Path: flag, Owner: owner}
	}
	if env := os.Getenv("KUBECONFIG"); env != "" {
		for _, p := range filepath.SplitList(env) {
			if p != "" {
				return Target{Path: p, Owner: owner}
			}
		}
	}
	home, _ := os.UserHomeDir()
	if owner != nil {
		if u, err := user.LookupId(strconv.Itoa(owner.UID)); err == nil {
			home = u.HomeDir
		}
	}
	return Target{Path: filepath.Join(home, ".kube", "config"), Owner: owner}
}

func sudoOwner() *Owner {
	uid, err1 := strconv.Atoi(os.Getenv("SUDO_UID"))
	gid, err2 := strconv.Atoi(os.Getenv("SUDO_GID"))
	if err1 != nil || err2 != nil || uid == 0 || os.Geteuid() != 0 {
		return nil
	}
	return &Owner{UID: uid, GID: gid}
}

// Merge adds (or replaces) the entries of cfg in the target file and makes cfg's context the
// current one. Other entries are kept. The file is created with mode 0600 if needed.
func Merge(t Target, cfg *clientcmdapi.Config) error {
	return modify(t, func(existing *clientcmdapi.Config) {
		for k, v := range cfg.Clusters {
			existing.Clusters[k] = v
		}
		for k, v := range cfg.AuthInfos {
			existing.AuthInfos[k] = v
		}
		for k, v := range cfg.Contexts {
			existing.Contexts[k] = v
		}
		existing.CurrentContext = cfg.CurrentContext
	})
}

// Remove deletes the cluster, user and context named name from the target file, and the current
// context if it pointed there. A missing file is not an error.
func Remove(t Target, name string) error {
	if _, err := os.Stat(t.Path); os.IsNotExist(err) {
		return nil
	}
	return modify(t, func(existing *clientcmdapi.Config) {
		delete(existing.Clusters, name)
		delete(existing.AuthInfos, name)
		delete(existing.Contexts, name)
		if existing.CurrentContext == name {
			existing.CurrentContext = ""
		}
	})
}

// Has reports whether the target file has a context named name.
func Has(t Target, name string) bool {
	cfg, err := clientcmd.LoadFromFile(t.Path)
	return err == nil && cfg.Contexts[name] != nil
}

// modify loads the file (or starts empty), applies fn and writes it back, holding a lock on the
// file's directory so that two minaks commands do not lose each other's entries.
func modify(t Target, fn func(*clientcmdapi.Config)) error {
	dir := filepath.Dir(t.Path)
	if _, err := os.Stat(dir); os.IsNotExist(err) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return err
		}
		if t.Owner != nil {
			_ = os.Chown(dir, t.Owner.UID, t.Owner.GID)
		}
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := unix.Flock(int(d.Fd()), unix.LOCK_EX); err != nil {
		return fmt.Errorf("lock %s: %w", dir, err)
	}
	defer unix.Flock(int(d.Fd()), unix.LOCK_UN)

	existing, err := clientcmd.LoadFromFile(t.Path)
	switch {
	case os.IsNotExist(err):
		existing = clientcmdapi.NewConfig()
	case err != nil:
		return fmt.Errorf("read kubeconfig %s: %w", t.Path, err)
	}
	fn(existing)
	if err := Write(t.Path, existing); err != nil {
		return fmt.Errorf("write kubeconfig %s: %w", t.Path, err)
	}
	if t.Owner != nil {
		if err := os.Chown(t.Path, t.Owner.UID, t.Owner.GID); err != nil {
			return err
		}
	}
	return nil
}
