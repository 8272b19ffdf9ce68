package netpol

import (
	"bytes"
	"fmt"
	"maps"
	"os/exec"
	"slices"
	"strings"
	"time"
)

// Ruleset is what an iptables policy engine writes into a node: its ipsets and its chains of
// the filter table.
type Ruleset struct {
	Sets   []Set
	Chains []Chain
}

// Set is one ipset. Label is what the engine calls it before its name is hashed (its rules'
// comments say so).
type Set struct {
	Name, Label string
	// Type is the ipset type (hash:net, hash:ip,port, list:set), Options what follows it at
	// creation.
	Type, Options string
	Members       []string
}

// SetTypeList is the type of a set of sets: such sets go after the sets they hold.
const SetTypeList = "list:set"

// SetsOf are sets in the order to write them: by label, with their members sorted; list sets
// after the sets they hold.
func SetsOf(sets map[string]*Set) []Set {
	var out, lists []Set
	for _, l := range slices.Sorted(maps.Keys(sets)) {
		s := *sets[l]
		s.Members = slices.Clone(s.Members)
		if s.Type == SetTypeList {
			lists = append(lists, s)
			continue
		}
		slices.Sort(s.Members)
		out = append(out, s)
	}
	return append(out, lists...)
}

// Chain is one of the engine's chains with its rules (iptables-restore syntax after
// "-A <chain> ").
type Chain struct {
	Name  string
	Rules []string
}

// Exec runs a command with stdin and returns its combined output; tests replace it.
type Exec func(stdin, name string, args ...string) ([]byte, error)

// RunCommand is the Exec that runs the command.
func RunCommand(stdin, name string, args ...string) ([]byte, error) {
	cmd := exec.Command(name, args...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return out, nil
}

// Jump is a rule of a built-in chain of the filter table that sends packets into the
// engine's chains.
type Jump struct {
	// Chain is the built-in chain (FORWARD, INPUT, OUTPUT).
	Chain string
	// Args are the rule as iptables takes it, Saved as iptables-save prints it (after
	// "-A <chain> "; quotes do not count, as the backends quote comments differently).
	Args  []string
	Saved string
	// Place is where the jump belongs among the chain's other rules (as iptables-save prints
	// them): an index from 0 to len(others).
	Place func(others []string) int
}

// Applier writes an engine's Rulesets into the node it runs in, with one address family's
// commands (iptables or ip6tables): ipsets first (new members before the rules that need
// them), then the chains in one iptables-restore, then the jumps into them, then the sets
// nothing uses any more. As kube-proxy does, it writes only what changed since its last
// write, and the whole ruleset (checking the jumps, removing what is left of an earlier
// agent) on its first write, after a failed one, and every FullInterval.
type Applier struct {
	Run Exec
	// IPv6 chooses ip6tables.
	IPv6 bool
	// SetPrefix and ChainPrefix name what belongs to the engine: its sets and chains not in a
	// Ruleset are removed. TempSet (with SetPrefix) is where a set's new members are gathered.
	// SetSuffix, if set, ends the names of the sets too (an address family's, when sets of
	// both share a prefix).
	SetPrefix, SetSuffix, ChainPrefix, TempSet string
	Jumps                                      []Jump

	// last is what the last successful write left; lastFull when the last whole write was.
	last     *written
	lastFull time.Time
	now      func() time.Time
}

// FullInterval is how often the whole ruleset is written, repairing what was changed behind
// the agent's back.
const FullInterval = time.Minute

// written is a Ruleset as the node has it.
type written struct {
	sets   map[string]Set
	chains map[string][]string
}

func (a *Applier) iptables(suffix string) string {
	if a.IPv6 {
		return "ip6tables" + suffix
	}
	return "iptables" + suffix
}

// Apply makes the node's sets and chains of the engine those of rs.
func (a *Applier) Apply(rs *Ruleset) error {
	now := time.Now
	if a.now != nil {
		now = a.now
	}
	full := a.last == nil || now().Sub(a.lastFull) >= FullInterval
	last := a.last
	a.last = nil // until this write succeeds
	if full {
		last = &written{}
	}
	want := &written{sets: map[string]Set{}, chains: map[string][]string{}}

	// Sets: each is filled in a temporary set and swapped in, so a rule never sees a set
	// half-filled; hash sets before the list sets that hold them.
	var b strings.Builder
	for _, s := range rs.Sets {
		want.sets[s.Name] = s
		if old, ok := last.sets[s.Name]; ok && old.Type == s.Type && old.Options == s.Options && slices.Equal(old.Members, s.Members) {
			continue
		}
		create := strings.TrimSpace(s.Type + " " + s.Options)
		fmt.Fprintf(&b, "create %s %s -exist\n", s.Name, create)
		fmt.Fprintf(&b, "create %s %s\n", a.TempSet, create)
		for _, m := range s.Members {
			fmt.Fprintf(&b, "add %s %s\n", a.TempSet, m)
		}
		fmt.Fprintf(&b, "swap %s %s\ndestroy %s\n", a.TempSet, s.Name, a.TempSet)
	}
	if full {
		if _, err := a.Run("destroy "+a.TempSet+"\n", "ipset", "restore", "-exist"); err != nil && !strings.Contains(err.Error(), "does not exist") {
			return err
		}
	}
	if b.Len() > 0 {
		if _, err := a.Run(b.String(), "ipset", "restore"); err != nil {
			return err
		}
	}

	// Chains: declared chains are flushed and written; chains no longer wanted are deleted.
	// A whole write finds the engine's chains in iptables-save, and puts the jumps in place.
	var saved string
	existing := slices.Sorted(maps.Keys(last.chains))
	if full {
		out, err := a.Run("", a.iptables("-save"), "-t", "filter")
		if err != nil {
			return err
		}
		saved = string(out)
		existing = a.chains(saved)
	}
	var changed []Chain
	for _, c := range rs.Chains {
		want.chains[c.Name] = c.Rules
		if old, ok := last.chains[c.Name]; !ok || !slices.Equal(old, c.Rules) {
			changed = append(changed, c)
		}
	}
	var stale []string
	for _, name := range existing {
		if _, ok := want.chains[name]; !ok {
			stale = append(stale, name)
		}
	}
	if len(changed)+len(stale) > 0 {
		if _, err := a.Run(restore(changed, stale), a.iptables("-restore"), "-w", "--noflush"); err != nil {
			return err
		}
	}
	if full {
		if err := a.ensureJumps(saved); err != nil {
			return err
		}
	}

	// Sets no rule or list set refers to any more: after a whole write, any of the engine's
	// the node has; else those the last write left that are gone.
	var gone []string
	if full {
		current, err := a.Run("", "ipset", "list", "-name")
		if err != nil {
			return err
		}
		for _, name := range strings.Fields(string(current)) {
			if _, ok := want.sets[name]; !ok && strings.HasPrefix(name, a.SetPrefix) && strings.HasSuffix(name, a.SetSuffix) {
				gone = append(gone, name)
			}
		}
	} else {
		for name := range last.sets {
			if _, ok := want.sets[name]; !ok {
				gone = append(gone, name)
			}
		}
	}
	if len(gone) > 0 {
		// All flushed first: a hash set cannot go while a list set holds it.
		b.Reset()
		for _, name := range gone {
			fmt.Fprintf(&b, "flush %s\n", name)
		}
		for _, name := range gone {
			fmt.Fprintf(&b, "destroy %s\n", name)
		}
		if _, err := a.Run(b.String(), "ipset", "restore", "-exist"); err != nil {
			return err
		}
	}
	a.last = want
	if full {
		a.lastFull = now()
	}
	return nil
}

// restore is the iptables-restore input that writes the chains changed (each declared, and
// so flushed, then filled) and deletes those stale.
func restore(changed []Chain, stale []string) string {
	var b strings.Builder
	b.WriteString("*filter\n")
	for _, c := range changed {
		fmt.Fprintf(&b, ":%s - [0:0]\n", c.Name)
	}
	for _, name := range stale {
		fmt.Fprintf(&b, ":%s - [0:0]\n", name)
	}
	for _, c := range changed {
		for _, r := range c.Rules {
			fmt.Fprintf(&b, "-A %s %s\n", c.Name, r)
		}
	}
	for _, name := range stale {
		fmt.Fprintf(&b, "-X %s\n", name)
	}
	b.WriteString("COMMIT\n")
	return b.String()
}

// chains returns the engine's chains an iptables-save of the filter table declares.
func (a *Applier) chains(save string) []string {
	var out []string
	for _, l := range strings.Split(save, "\n") {
		if strings.HasPrefix(l, ":"+a.ChainPrefix) {
			out = append(out, strings.Fields(l[1:])[0])
		}
	}
	return out
}

func unquote(rule string) string { return strings.ReplaceAll(rule, `"`, "") }

// ensureJumps puts each jump once in its place, given the filter table as iptables-save
// printed it: a jump elsewhere, or a second one, is removed first.
func (a *Applier) ensureJumps(save string) error {
	rules := map[string][]string{} // built-in chain → its rules, as iptables-save prints them
	for _, l := range strings.Split(save, "\n") {
		if rest, ok := strings.CutPrefix(l, "-A "); ok {
			chain, rule, _ := strings.Cut(rest, " ")
			rules[chain] = append(rules[chain], rule)
		}
	}
	for _, j := range a.Jumps {
		var others []string
		var at []int
		for i, r := range rules[j.Chain] {
			if unquote(r) == unquote(j.Saved) {
				at = append(at, i)
			} else {
				others = append(others, r)
			}
		}
		want := j.Place(others)
		if len(at) == 1 && at[0] == want {
			continue
		}
		for range at {
			if _, err := a.Run("", a.iptables(""), append([]string{"-w", "-t", "filter", "-D", j.Chain}, j.Args...)...); err != nil {
				return err
			}
		}
		if _, err := a.Run("", a.iptables(""), append([]string{"-w", "-t", "filter", "-I", j.Chain, fmt.Sprint(want + 1)}, j.Args...)...); err != nil {
			return err
		}
		rules[j.Chain] = slices.Insert(others, want, j.Saved)
	}
	return nil
}
