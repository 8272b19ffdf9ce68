package container

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"sync"

	"github.com/minaks/minaks/pkg/nodes/resident"
)

// The binaries containers run, by name: minaks-run (cmd/minaks-run), every container's init and
// the small built-in images' programs, and minaks-kube (cmd/minaks-kube), the programs built on
// Kubernetes libraries (kube-proxy, CoreDNS). `make build` embeds them (tag minaks_embed) and
// Install writes them out; without them the running executable plays every part, at a higher
// memory cost per container.
var (
	binaryMu    sync.Mutex
	binaryPaths = map[string]string{}
)

// RunBinary is the name of the binary every container's init is.
const RunBinary = "minaks-run"

// Install writes the embedded binaries into dir (an identical file is kept) and makes them the
// ones containers run. Without embedded binaries it does nothing.
func Install(dir string) error {
	for name, data := range embedded {
		path := filepath.Join(dir, name)
		if old, err := os.ReadFile(path); err != nil || !bytes.Equal(old, data) {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return err
			}
			tmp := path + ".tmp"
			if err := os.WriteFile(tmp, data, 0o755); err != nil {
				return err
			}
			if err := os.Rename(tmp, path); err != nil {
				return err
			}
			// A set-user-ID copy of the old one is made again when needed.
			if err := os.RemoveAll(filepath.Join(dir, setUIDDir)); err != nil {
				return err
			}
		}
		binaryMu.Lock()
		binaryPaths[name] = path
		binaryMu.Unlock()
		// The comparison read the whole binary in: a hundred MiB of the executable's mapped
		// file that nothing reads again.
		resident.Drop(data)
	}
	return nil
}

// Embedded reports whether the container binaries are embedded (make build); without them
// containers run the minaks executable itself.
func Embedded() bool { return len(embedded) > 0 }

// Binary is the executable named name ("" for RunBinary): a container's init, or the binary a
// built-in image's program is mounted from.
func Binary(name string) (string, error) {
	if name == "" {
		name = RunBinary
	}
	binaryMu.Lock()
	path, ok := binaryPaths[name]
	binaryMu.Unlock()
	if ok {
		return path, nil
	}
	return os.Executable()
}

// setUIDDir is where SetUIDBinary keeps its copy, below the installed binaries' directory.
const setUIDDir = "setuid"

// SetUIDBinary is a copy of minaks-run that is set-user-ID and set-group-ID root, for the
// program of an image whose real file is one (images.Image.SetUID); minaks-run run from it runs
// that program and nothing else (package runner). It is kept in a directory only root may
// enter, so that no user of the host can run it: containers see it, bind-mounted. It needs the
// installed binaries; minaks itself or a test binary is never made set-user-ID.
func SetUIDBinary() (string, error) {
	binaryMu.Lock()
	defer binaryMu.Unlock()
	run, ok := binaryPaths[RunBinary]
	if !ok {
		return "", errors.New("a set-user-ID program needs the container binaries that make build embeds in minaks")
	}
	dir := filepath.Join(filepath.Dir(run), setUIDDir)
	path := filepath.Join(dir, RunBinary)
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return "", err
	}
	tmp := path + ".tmp"
	data, err := os.ReadFile(run)
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(tmp, data, 0o700); err != nil {
		return "", err
	}
	// Ownership first: chown clears the set-user-ID bits.
	if err := os.Chown(tmp, 0, 0); err != nil {
		return "", err
	}
	if err := os.Chmod(tmp, 0o755|os.ModeSetuid|os.ModeSetgid); err != nil {
		return "", err
	}
	return path, os.Rename(tmp, path)
}
