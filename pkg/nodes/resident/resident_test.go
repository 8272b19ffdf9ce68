package resident

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

// TestDrop maps a file as the executable's data is mapped (private, from the file), reads
// it all in, and checks that Drop takes its pages out of the resident set and that the
// data reads the same afterwards.
func TestDrop(t *testing.T) {
	want := bytes.Repeat([]byte("minaks-run "), 1<<20) // 11 MiB
	_, f := writeFile(t, "data", want)
	b := mapPrivate(t, f, len(want), unix.PROT_READ)
	// Not page-aligned, as go:embed data need not be.
	data := b[100:]
	if !bytes.Equal(data, want[100:]) {
		t.Fatal("the mapping reads wrong")
	}
	before := mappedRSS(t, b)
	Drop(data)
	after := mappedRSS(t, b)
	if before < 10<<10 || after > 8 {
		t.Errorf("resident: %d kB before, %d kB after; want all of it, then at most two pages", before, after)
	}
	if !bytes.Equal(data, want[100:]) {
		t.Error("the data reads differently after Drop")
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

// TestCode trims the test binary's own executable mappings and checks that their resident
// pages go (all but those the test runs on its way back) and that the code runs on.
func TestCode(t *testing.T) {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		t.Skip(err)
	}
	before := exeRSS(t, exe)
	n, err := Code()
	if err != nil {
		t.Fatal(err)
	}
	after := exeRSS(t, exe)
	t.Logf("trimmed %d MiB of mappings: %d kB resident before, %d kB after", n>>20, before, after)
	if n == 0 || before < 1024 || after > before/2 {
		t.Errorf("trimmed %d bytes of mappings; %s resident: %d kB before, %d kB after; want most of it gone", n, exe, before, after)
	}
	// Code that has not run since is read from the file again.
	if got := strconv.Quote(strings.Repeat("é", 3)); got != `"ééé"` {
		t.Errorf("after trimming, strconv.Quote returns %s", got)
	}
}

// TestTrimKeepsCopiedPages maps a file twice, as the dynamic linker maps an executable: once
// only read, once with a page written (relocated) and then made read-only (RELRO). trim gives
// back the first mapping's pages and leaves the second's copied page as it was written.
func TestTrimKeepsCopiedPages(t *testing.T) {
	want := bytes.Repeat([]byte("minaks-kube "), 1<<18) // 3 MiB
	path, f := writeFile(t, "exe", want)
	text := mapPrivate(t, f, len(want), unix.PROT_READ)
	relro := mapPrivate(t, f, os.Getpagesize(), unix.PROT_READ|unix.PROT_WRITE)
	copy(relro, "relocated")
	if err := unix.Mprotect(relro, unix.PROT_READ); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(text, want) {
		t.Fatal("the mapping reads wrong")
	}
	before := mappedRSS(t, text)
	n, err := trim(path)
	if err != nil {
		t.Fatal(err)
	}
	if after := mappedRSS(t, text); n != int64(len(want)) || before < 3<<10 || after > 64 {
		t.Errorf("trimmed %d bytes; resident %d kB before, %d kB after; want the %d-byte read-only mapping, all of it, then nothing", n, before, after, len(want))
	}
	if !bytes.Equal(text, want) {
		t.Error("the trimmed mapping reads differently")
	}
	if got := string(relro[:9]); got != "relocated" {
		t.Errorf("the written page reads %q after trim; want it kept", got)
	}
}

// exeRSS is the resident kB of the mappings of the file exe, from /proc/self/smaps.
func exeRSS(t *testing.T, exe string) int {
	t.Helper()
	raw, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		t.Skip(err)
	}
	total, in := 0, false
	for _, l := range strings.Split(string(raw), "\n") {
		if f := strings.Fields(l); len(f) > 0 && strings.Contains(f[0], "-") && !strings.HasSuffix(f[0], ":") {
			in = len(f) >= 6 && f[5] == exe
		}
		if v, ok := strings.CutPrefix(l, "Rss:"); ok && in {
			kb, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			total += kb
		}
	}
	return total
}

// writeFile writes content to a new file name in a temporary directory and opens it.
func writeFile(t *testing.T, name string, content []byte) (string, *os.File) {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, content, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return path, f
}

// mapPrivate maps the first n bytes of f privately, as the executable's segments are mapped.
func mapPrivate(t *testing.T, f *os.File, n, prot int) []byte {
	t.Helper()
	b, err := unix.Mmap(int(f.Fd()), 0, n, prot, unix.MAP_PRIVATE)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Munmap(b) })
	return b
}
