package resident

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Settle is how long a program runs before it calls Code: by then its start-up, its first
// lists and syncs (and for the daemon the add-ons' first reconciles and the first pods) are
// behind it, and what it runs from then on is what it keeps running.
const Settle = time.Minute

// Drop unmaps the whole pages of b, which must be read-only data of the executable (such as
// go:embed bytes, never written): the kernel maps them from the file again if read. Only the
// process's resident set shrinks; the page cache keeps them while it wants.
func Drop(b []byte) {
	page := uintptr(os.Getpagesize())
	start := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	first, end := (start+page-1)&^(page-1), (start+uintptr(len(b)))&^(page-1)
	if end <= first {
		return
	}
	_ = unix.Madvise(b[first-start:end-start], unix.MADV_DONTNEED)
}

// Code trims the process's read-only mappings of its executable: read-ahead off and no huge
// pages for them (MADV_RANDOM, MADV_NOHUGEPAGE), so that a page the process runs later comes back
// alone; then the pages only this process maps go back to the kernel (MADV_PAGEOUT) and the rest
// (shared with other processes of the same binary) are unmapped (MADV_DONTNEED; the page cache
// keeps them for the others). A mapping that holds copied pages (the dynamic linker's relocated
// RELRO data of a cgo binary) is left alone: its pages are not the file's. Code returns how many
// bytes of mappings it trimmed; what they hold reads from the file again as it is used.
func Code() (int64, error) {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return 0, err
	}
	return trim(exe)
}

// trim trims the process's read-only mappings of the file path, as Code describes.
func trim(path string) (int64, error) {
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	type mapping struct{ start, end uintptr }
	var (
		ours []mapping
		cur  *mapping
	)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			continue
		}
		if !strings.HasSuffix(fields[0], ":") {
			// 00400000-0452b000 r-xp 00000000 fe:01 1234 /path/to/exe
			cur = nil
			var m mapping
			if len(fields) >= 6 && fields[5] == path && !strings.Contains(fields[1], "w") {
				if _, err := fmt.Sscanf(fields[0], "%x-%x", &m.start, &m.end); err != nil {
					return 0, fmt.Errorf("/proc/self/smaps: %q: %w", sc.Text(), err)
				}
				ours = append(ours, m)
				cur = &ours[len(ours)-1]
			}
			continue
		}
		if cur != nil && fields[0] == "Anonymous:" && fields[1] != "0" {
			ours = ours[:len(ours)-1]
			cur = nil
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	var total int64
	for _, m := range ours {
		// The mapping is not a Go object: madvise(2) by address.
		for _, advice := range []uintptr{unix.MADV_RANDOM, unix.MADV_NOHUGEPAGE, unix.MADV_PAGEOUT, unix.MADV_DONTNEED} {
			if _, _, errno := unix.Syscall(unix.SYS_MADVISE, m.start, m.end-m.start, advice); errno != 0 {
				return total, fmt.Errorf("madvise %s %x-%x (%d): %w", path, m.start, m.end, advice, errno)
			}
		}
		total += int64(m.end - m.start)
	}
	return total, nil
}
