package container

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// TestDropPages maps a file as the executable's data is mapped (private, from the file), reads
// it all in, and checks that dropPages takes its pages out of the resident set and that the
// data reads the same afterwards.
func TestDropPages(t *testing.T) {
	want := bytes.Repeat([]byte("minaks-run "), 1<<20) // 11 MiB
	path := filepath.Join(t.TempDir(), "data")
	if err := os.WriteFile(path, want, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b, err := unix.Mmap(int(f.Fd()), 0, len(want), unix.PROT_READ, unix.MAP_PRIVATE)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(b)
	// Not page-aligned, as go:embed data need not be.
	data := b[100:]
	if !bytes.Equal(data, want[100:]) {
		t.Fatal("the mapping reads wrong")
	}
	before := mappedRSS(t, b)
	dropPages(data)
	after := mappedRSS(t, b)
	if before < 10<<10 || after > 8 {
		t.Errorf("resident: %d kB before, %d kB after; want all of it, then at most two pages", before, after)
	}
	if !bytes.Equal(data, want[100:]) {
		t.Error("the data reads differently after dropPages")
	}
}

// mappedRSS is the resident kB of the mapping that starts at b, from /proc/self/smaps.
func mappedRSS(t *testing.T, b []byte) int {
	t.Helper()
	raw, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		t.Skip(err)
	}
	start := fmt.Sprintf("%x-", uintptr(unsafe.Pointer(unsafe.SliceData(b))))
	in := false
	for _, l := range strings.Split(string(raw), "\n") {
		if f := strings.Fields(l); len(f) > 0 && strings.Contains(f[0], "-") && !strings.HasSuffix(f[0], ":") {
			in = strings.HasPrefix(l, start)
		}
		if v, ok := strings.CutPrefix(l, "Rss:"); ok && in {
			kb, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return kb
		}
	}
	t.Fatalf("no mapping at %s in /proc/self/smaps", start)
	return 0
}
