package azurenpm

import (
	"bytes"
	"fmt"
	"os/exec"
	"strings"
)

// exec runs a command with stdin and returns its combined output; tests replace it.
type execFunc func(stdin, name string, args ...string) ([]byte, error)

func runCommand(stdin, name string, args ...string) ([]byte, error) {
	cmd := exec.Command(name, args...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return out, nil
}

// applier writes a Ruleset into the node: ipsets first (new members before the rules that
// need them), then the chains in one iptables-restore, then the sets nothing uses any more.
type applier struct {
	run execFunc
	// sets are the sets the last apply left, by name, with their type.
	sets map[string]string
}

// apply makes the node's sets and chains those of rs.
func (a *applier) apply(rs *Ruleset) error {
	// Sets: each is filled in a temporary set and swapped in, so a rule never sees a set
	// half-filled; hash sets before the list sets that hold them.
	var b strings.Builder
	for _, s := range rs.Sets {
		fmt.Fprintf(&b, "create %s %s -exist\n", s.Name, s.createArgs())
		tmp := tempSet
		fmt.Fprintf(&b, "create %s %s\n", tmp, s.createArgs())
		for _, m := range s.Members {
			fmt.Fprintf(&b, "add %s %s\n", tmp, m)
		}
		fmt.Fprintf(&b, "swap %s %s\ndestroy %s\n", tmp, s.Name, tmp)
	}
	if _, err := a.run("destroy "+tempSet+"\n", "ipset", "restore", "-exist"); err != nil && !strings.Contains(err.Error(), "does not exist") {
		return err
	}
	if _, err := a.run(b.String(), "ipset", "restore"); err != nil {
		return err
	}

	// Chains: declared chains are flushed and written; chains of policies gone are deleted.
	saved, err := a.run("", "iptables-save", "-t", "filter")
	if err != nil {
		return err
	}
	existing := npmChains(string(saved))
	if _, err := a.run(rs.restore(existing), "iptables-restore", "-w", "--noflush"); err != nil {
		return err
	}
	if err := a.ensureJump(); err != nil {
		return err
	}

	// Sets no rule or list set refers to any more.
	want := map[string]string{}
	for _, s := range rs.Sets {
		want[s.Name] = s.Type
	}
	current, err := a.run("", "ipset", "list", "-name")
	if err != nil {
		return err
	}
	b.Reset()
	// List sets first: a hash set cannot go while a list set holds it.
	var lists, hashes []string
	for _, name := range strings.Fields(string(current)) {
		if _, ok := want[name]; ok || !strings.HasPrefix(name, setPrefix) {
			continue
		}
		if a.sets[name] == setTypeList {
			lists = append(lists, name)
		} else {
			hashes = append(hashes, name)
		}
	}
	for _, name := range append(lists, hashes...) {
		fmt.Fprintf(&b, "flush %s\n", name)
	}
	for _, name := range append(lists, hashes...) {
		fmt.Fprintf(&b, "destroy %s\n", name)
	}
	if b.Len() > 0 {
		if _, err := a.run(b.String(), "ipset", "restore", "-exist"); err != nil {
			return err
		}
	}
	a.sets = want
	return nil
}

// npmChains returns the AZURE-NPM chains an iptables-save of the filter table declares.
func npmChains(save string) []string {
	var out []string
	for _, l := range strings.Split(save, "\n") {
		if strings.HasPrefix(l, ":"+chainNPM) {
			out = append(out, strings.Fields(l[1:])[0])
		}
	}
	return out
}

// ensureJump keeps FORWARD's jump to AZURE-NPM for new connections right after the last of
// kube-proxy's jumps, where NPM puts it: Services are translated and kube-proxy's
// KUBE-FORWARD has accepted what it accepts before policy sees a packet. A jump elsewhere, or
// a second one, is removed first.
func (a *applier) ensureJump() error {
	saved, err := a.run("", "iptables-save", "-t", "filter")
	if err != nil {
		return err
	}
	var forward []string
	for _, l := range strings.Split(string(saved), "\n") {
		if strings.HasPrefix(l, "-A FORWARD ") {
			forward = append(forward, l)
		}
	}
	want := 0 // the index the jump belongs at, among the other rules
	var jumps []int
	for i, l := range forward {
		switch {
		case l == savedForwardJump:
			jumps = append(jumps, i)
		case strings.Contains(l, " -j KUBE-"):
			want = i + 1 - len(jumps)
		}
	}
	if len(jumps) == 1 && jumps[0] == want {
		return nil
	}
	for range jumps {
		if _, err := a.run("", "iptables", append([]string{"-w", "-t", "filter", "-D", "FORWARD"}, forwardJump...)...); err != nil {
			return err
		}
	}
	_, err = a.run("", "iptables", append([]string{"-w", "-t", "filter", "-I", "FORWARD", fmt.Sprint(want + 1)}, forwardJump...)...)
	return err
}
