package tools

import (
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/minaks/minaks/images"
)

func init() { images.RegisterTool("dig", digMain) }

// digOptions are the options dig was given.
type digOptions struct {
	server, port  string
	name, reverse string
	qtype         uint16
	short, tcp    bool
	search        bool
	answerOnly    bool
	timeout       time.Duration
	tries         int
}

func digMain(args []string) int {
	o, err := parseDig(args)
	if err != nil {
		fmt.Fprintf(os.Stderr, "dig: %v\n", err)
		return 1
	}
	return o.run()
}

func parseDig(args []string) (*digOptions, error) {
	o := &digOptions{qtype: dns.TypeA, timeout: 5 * time.Second, tries: 3}
	typed := false
	for i := 0; i < len(args); i++ {
		a := args[i]
		next := func() (string, error) {
			if i+1 >= len(args) {
				return "", fmt.Errorf("option %s needs a value", a)
			}
			i++
			return args[i], nil
		}
		switch {
		case strings.HasPrefix(a, "@"):
			o.server = a[1:]
		case strings.HasPrefix(a, "+"):
			opt, val, _ := strings.Cut(strings.TrimPrefix(a, "+"), "=")
			switch opt {
			case "short":
				o.short = true
			case "tcp", "vc":
				o.tcp = true
			case "notcp", "novc":
				o.tcp = false
			case "search":
				o.search = true
			case "nosearch":
				o.search = false
			case "noall":
				o.answerOnly = true
			case "answer", "noquestion", "nocomments", "nostats", "nocmd":
			case "time":
				var s int
				if _, err := fmt.Sscan(val, &s); err != nil {
					return nil, fmt.Errorf("+time=%s: not a number", val)
				}
				o.timeout = time.Duration(s) * time.Second
			case "tries", "retry":
				if _, err := fmt.Sscan(val, &o.tries); err != nil {
					return nil, fmt.Errorf("+%s=%s: not a number", opt, val)
				}
			default:
				// dig ignores options it does not know with a warning; so does this one.
				fmt.Fprintf(os.Stderr, ";; Warning, ignoring option +%s\n", opt)
			}
		case a == "-t":
			v, err := next()
			if err != nil {
				return nil, err
			}
			t, ok := dns.StringToType[strings.ToUpper(v)]
			if !ok {
				return nil, fmt.Errorf("invalid type: %s", v)
			}
			o.qtype, typed = t, true
		case a == "-x":
			v, err := next()
			if err != nil {
				return nil, err
			}
			rev, err := dns.ReverseAddr(v)
			if err != nil {
				return nil, fmt.Errorf("'%s' is not a legal IP address", v)
			}
			o.name, o.qtype, typed = rev, dns.TypePTR, true
		case a == "-p":
			v, err := next()
			if err != nil {
				return nil, err
			}
			o.port = v
		case a == "-4" || a == "-6":
		case strings.HasPrefix(a, "-"):
			return nil, fmt.Errorf("invalid option: %s (minaks's dig takes @server, -p, -t, -x and +short, +tcp, +search, +noall +answer, +time, +tries)", a)
		default:
			if t, ok := dns.StringToType[strings.ToUpper(a)]; ok && o.name != "" && !typed {
				o.qtype, typed = t, true
				continue
			}
			o.name = a
		}
	}
	if o.name == "" {
		o.name, o.qtype = ".", dns.TypeNS
	}
	return o, nil
}

func (o *digOptions) run() int {
	conf, err := dns.ClientConfigFromFile("/etc/resolv.conf")
	if err != nil {
		conf = &dns.ClientConfig{Servers: []string{"127.0.0.1"}, Port: "53", Ndots: 1}
	}
	host, port := conf.Servers[0], conf.Port
	if o.server != "" {
		host = o.server
	}
	if o.port != "" {
		port = o.port
	}
	server := net.JoinHostPort(host, port)
	names := []string{dns.Fqdn(o.name)}
	if o.search {
		names = conf.NameList(o.name)
	}
	client := &dns.Client{Net: "udp", Timeout: o.timeout}
	if o.tcp {
		client.Net = "tcp"
	}
	var resp *dns.Msg
	for _, name := range names {
		m := new(dns.Msg)
		m.SetQuestion(name, o.qtype)
		m.RecursionDesired = true
		for try := 0; try < max(o.tries, 1); try++ {
			if resp, _, err = client.Exchange(m, server); err == nil {
				break
			}
		}
		if err != nil {
			fmt.Printf(";; communications error to %s: timed out\n;; no servers could be reached\n", server)
			return 9
		}
		if resp.Rcode == dns.RcodeSuccess && len(resp.Answer) > 0 {
			break
		}
	}
	switch {
	case o.short:
		for _, rr := range resp.Answer {
			fields := strings.SplitN(rr.String(), "\t", 5)
			fmt.Println(fields[len(fields)-1])
		}
	case o.answerOnly:
		for _, rr := range resp.Answer {
			fmt.Println(rr.String())
		}
	default:
		fmt.Printf("; <<>> DiG (minaks) <<>> %s\n%s\n;; SERVER: %s\n", o.name, resp.String(), server)
	}
	return 0
}
