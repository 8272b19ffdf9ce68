package netpol

import (
	"strings"
	"testing"
	"time"
)

// recorder keeps the commands an Applier runs, with their input.
type recorder struct{ cmds []string }

func (r *recorder) run(stdin, name string, args ...string) ([]byte, error) {
	r.cmds = append(r.cmds, strings.TrimSpace(name+" "+strings.Join(args, " ")+"\n"+stdin))
	switch name {
	case "iptables-save":
		return []byte("*filter\n:ENG-OLD - [0:0]\n:ENG - [0:0]\nCOMMIT\n"), nil
	case "ipset":
		if len(args) > 0 && args[0] == "list" {
			return []byte("eng-a\neng-left\nother\n"), nil
		}
	}
	return nil, nil
}

func (r *recorder) find(prefix string) []string {
	var out []string
	for _, c := range r.cmds {
		if strings.HasPrefix(c, prefix) {
			out = append(out, c)
		}
	}
	return out
}

// The first write is whole: every set and chain written, the engine's leftovers removed. The
// next writes only what changed; after FullInterval the whole ruleset is written again.
func TestApplyPartial(t *testing.T) {
	clock := time.Unix(0, 0)
	r := &recorder{}
	a := &Applier{Run: r.run, SetPrefix: "eng-", ChainPrefix: "ENG", TempSet: "eng-tmp", now: func() time.Time { return clock }}
	rs := &Ruleset{
		Sets:   []Set{{Name: "eng-a", Type: "hash:net", Members: []string{"10.0.0.1"}}, {Name: "eng-b", Type: "hash:net", Members: []string{"10.0.0.2"}}},
		Chains: []Chain{{Name: "ENG", Rules: []string{"-j ENG-1"}}, {Name: "ENG-1", Rules: []string{"-j DROP"}}},
	}
	if err := a.Apply(rs); err != nil {
		t.Fatal(err)
	}
	restores := r.find("iptables-restore")
	if len(restores) != 1 || !strings.Contains(restores[0], ":ENG - [0:0]\n:ENG-1 - [0:0]\n:ENG-OLD - [0:0]\n-A ENG -j ENG-1\n-A ENG-1 -j DROP\n-X ENG-OLD\n") {
		t.Errorf("the whole write: %q", restores)
	}
	if d := r.find("ipset restore -exist\nflush eng-left"); len(d) != 1 {
		t.Errorf("a leftover set of the engine is not removed: %q", r.cmds)
	}

	r.cmds = nil
	rs.Sets[1].Members = []string{"10.0.0.3"}
	rs.Chains[1].Rules = []string{"-j ACCEPT"}
	rs.Sets = append(rs.Sets[:1:1], rs.Sets[1])
	if err := a.Apply(&Ruleset{Sets: rs.Sets[1:], Chains: rs.Chains}); err != nil {
		t.Fatal(err)
	}
	if len(r.find("iptables-save")) != 0 {
		t.Errorf("a partial write reads the whole table: %q", r.cmds)
	}
	if got := r.find("iptables-restore"); len(got) != 1 || got[0] != "iptables-restore -w --noflush\n*filter\n:ENG-1 - [0:0]\n-A ENG-1 -j ACCEPT\nCOMMIT" {
		t.Errorf("the partial write of the chains: %q", got)
	}
	if got := r.find("ipset restore\n"); len(got) != 1 || strings.Contains(got[0], "eng-a") || !strings.Contains(got[0], "add eng-tmp 10.0.0.3") {
		t.Errorf("the partial write of the sets: %q", got)
	}
	if got := r.find("ipset restore -exist\nflush eng-a\ndestroy eng-a"); len(got) != 1 {
		t.Errorf("the set gone is not destroyed: %q", r.cmds)
	}

	r.cmds = nil
	clock = clock.Add(FullInterval)
	if err := a.Apply(&Ruleset{Sets: rs.Sets[1:], Chains: rs.Chains}); err != nil {
		t.Fatal(err)
	}
	if len(r.find("iptables-save")) != 1 || len(r.find("iptables-restore")) != 1 {
		t.Errorf("no whole write after FullInterval: %q", r.cmds)
	}
}
