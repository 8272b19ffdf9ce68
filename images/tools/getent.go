package tools

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"

	"github.com/minaks/minaks/images"
)

func init() { images.RegisterTool("getent", getentMain) }

// getent's exit codes (glibc's).
const (
	getentOK          = 0
	getentUsage       = 1
	getentNotFound    = 2
	getentNoEnumerate = 3
)

// getentMain looks entries up as glibc's getent does, through Go's resolver (which reads
// /etc/nsswitch.conf, /etc/hosts and /etc/resolv.conf, search domains and ndots included):
// the databases hosts, ahosts, ahostsv4 and ahostsv6, and passwd, group, services and
// protocols from their files.
func getentMain(args []string) int {
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "Usage: getent [OPTION...] database [key ...]")
		return getentUsage
	}
	db, keys := args[0], args[1:]
	switch db {
	case "hosts", "ahosts", "ahostsv4", "ahostsv6":
		if len(keys) == 0 {
			if db != "hosts" {
				return getentNoEnumerate
			}
			return catFile("/etc/hosts")
		}
		code := getentOK
		for _, k := range keys {
			if !lookupHost(db, k) {
				code = getentNotFound
			}
		}
		return code
	case "passwd", "group", "services", "protocols":
		return fileEntries("/etc/"+db, db, keys)
	}
	fmt.Fprintf(os.Stderr, "Unknown database: %s\nTry `getent --help' or `getent --usage' for more information.\n", db)
	return getentUsage
}

// lookupHost prints key's addresses in db's format: hosts as gethostbyname2 (IPv6 addresses
// when the name has any, else IPv4; an address key is looked up in reverse), the ahosts as
// getaddrinfo (each address once per socket type).
func lookupHost(db, key string) bool {
	ctx := context.Background()
	if addr, err := netip.ParseAddr(key); err == nil {
		if db != "hosts" {
			printAddrInfo([]netip.Addr{addr}, key, db)
			return true
		}
		names, err := net.DefaultResolver.LookupAddr(ctx, key)
		if err != nil || len(names) == 0 {
			return false
		}
		fmt.Printf("%-15s %s\n", key, strings.Join(trimDots(names), " "))
		return true
	}
	ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", key)
	if err != nil || len(ips) == 0 {
		return false
	}
	name := key
	if cname, err := net.DefaultResolver.LookupCNAME(ctx, key); err == nil && cname != "" {
		name = strings.TrimSuffix(cname, ".")
	}
	var v4, v6 []netip.Addr
	for _, ip := range ips {
		if ip = ip.Unmap(); ip.Is4() {
			v4 = append(v4, ip)
		} else {
			v6 = append(v6, ip)
		}
	}
	switch db {
	case "hosts":
		addrs := v6
		if len(addrs) == 0 {
			addrs = v4
		}
		for _, a := range addrs {
			fmt.Printf("%-15s %s\n", a, name)
		}
		return true
	case "ahostsv4":
		v6 = nil
	case "ahostsv6":
		v4 = nil
	}
	if len(v4)+len(v6) == 0 {
		return false
	}
	printAddrInfo(append(v6, v4...), name, db)
	return true
}

// printAddrInfo prints addresses as getent's ahosts: a line per socket type, the canonical
// name on the first.
func printAddrInfo(addrs []netip.Addr, name, db string) {
	for i, a := range addrs {
		for j, kind := range []string{"STREAM", "DGRAM", "RAW"} {
			line := fmt.Sprintf("%-15s %-6s", a, kind)
			if i == 0 && j == 0 {
				line += " " + name
			}
			fmt.Println(strings.TrimRight(line, " "))
		}
	}
}

func trimDots(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = strings.TrimSuffix(n, ".")
	}
	return out
}

// fileEntries prints the lines of a colon-separated (passwd, group) or whitespace-separated
// (services, protocols) file whose name, number or alias is one of keys; every entry without
// keys.
func fileEntries(path, db string, keys []string) int {
	f, err := os.Open(path)
	if err != nil {
		return getentNotFound
	}
	defer f.Close()
	found := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 && (db == "services" || db == "protocols") {
			line = line[:i]
		}
		if strings.TrimSpace(line) == "" {
			continue
		}
		var ids []string
		switch db {
		case "passwd", "group":
			fields := strings.Split(line, ":")
			if len(fields) > 2 {
				ids = []string{fields[0], fields[2]}
			}
		case "services":
			fields := strings.Fields(line)
			if len(fields) > 1 {
				port, _, _ := strings.Cut(fields[1], "/")
				ids = append([]string{fields[0], port, fields[1]}, fields[2:]...)
			}
		default:
			ids = strings.Fields(line)
		}
		for _, k := range keys {
			for _, id := range ids {
				if id == k && !found[k] {
					found[k] = true
					fmt.Println(line)
				}
			}
		}
		if len(keys) == 0 {
			fmt.Println(line)
		}
	}
	for _, k := range keys {
		if !found[k] {
			return getentNotFound
		}
	}
	return getentOK
}

func catFile(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return getentNotFound
	}
	os.Stdout.Write(b)
	return getentOK
}
