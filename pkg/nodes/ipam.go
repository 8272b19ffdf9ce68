package nodes

import (
	"fmt"
	"net/netip"
	"sync"
)

// IPAM hands out a node's pod addresses from one contiguous range, like the host-local IPAM
// plugin: the next free address after the last one given (so an address just freed is not
// reused at once), each owner (a pod UID) holding at most one.
type IPAM struct {
	mu          sync.Mutex
	first, last netip.Addr
	next        netip.Addr
	byAddr      map[netip.Addr]string
	byOwner     map[string]netip.Addr
}

// NewIPAM returns an IPAM for the addresses first..last.
func NewIPAM(first, last netip.Addr) *IPAM {
	return &IPAM{first: first, last: last, next: first, byAddr: map[netip.Addr]string{}, byOwner: map[string]netip.Addr{}}
}

// Allocate returns owner's address, taking a free one if it has none.
func (p *IPAM) Allocate(owner string) (netip.Addr, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if a, ok := p.byOwner[owner]; ok {
		return a, nil
	}
	a := p.next
	for {
		if _, used := p.byAddr[a]; !used {
			p.take(a, owner)
			return a, nil
		}
		if a = p.after(a); a == p.next {
			return netip.Addr{}, fmt.Errorf("no free pod address in %s-%s: all %d are in use", p.first, p.last, len(p.byAddr))
		}
	}
}

// Reserve records an address already in use (a pod found running after a restart).
func (p *IPAM) Reserve(a netip.Addr, owner string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if a.Less(p.first) || p.last.Less(a) {
		return fmt.Errorf("%s is outside %s-%s", a, p.first, p.last)
	}
	if o, used := p.byAddr[a]; used && o != owner {
		return fmt.Errorf("%s is already held by %s", a, o)
	}
	p.take(a, owner)
	return nil
}

// Release frees owner's address, if it has one.
func (p *IPAM) Release(owner string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if a, ok := p.byOwner[owner]; ok {
		delete(p.byOwner, owner)
		delete(p.byAddr, a)
	}
}

// AddressOf returns owner's address, if it has one.
func (p *IPAM) AddressOf(owner string) (netip.Addr, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	a, ok := p.byOwner[owner]
	return a, ok
}

// InUse is the number of addresses held.
func (p *IPAM) InUse() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.byAddr)
}

func (p *IPAM) take(a netip.Addr, owner string) {
	p.byAddr[a] = owner
	p.byOwner[owner] = a
	p.next = p.after(a)
}

func (p *IPAM) after(a netip.Addr) netip.Addr {
	if a == p.last {
		return p.first
	}
	return a.Next()
}
