package container

import (
	"bytes"
	"os"
	"path/filepath"
	"sync"
)

// The binary containers run: minaks-run (cmd/minaks-run) when it is embedded (`make build`,
// tag minaks_embed), installed by Install; otherwise the running executable itself, which
// plays the same part at a higher memory cost per container.
var (
	binaryMu   sync.Mutex
	binaryPath string
)

// Install writes the embedded container binary into dir (once; an identical file is kept) and
// makes it the binary containers run. Without an embedded binary it does nothing.
func Install(dir string) error {
	if len(embedded) == 0 {
		return nil
	}
	path := filepath.Join(dir, "minaks-run")
	if old, err := os.ReadFile(path); err != nil || !bytes.Equal(old, embedded) {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		tmp := path + ".tmp"
		if err := os.WriteFile(tmp, embedded, 0o755); err != nil {
			return err
		}
		if err := os.Rename(tmp, path); err != nil {
			return err
		}
	}
	binaryMu.Lock()
	binaryPath = path
	binaryMu.Unlock()
	return nil
}

// Binary is the executable containers run (and built-in images' programs are mounted from).
func Binary() (string, error) {
	binaryMu.Lock()
	defer binaryMu.Unlock()
	if binaryPath != "" {
		return binaryPath, nil
	}
	return os.Executable()
}
