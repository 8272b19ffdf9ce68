package coredns

import (
	// The plugins compiled in, one per entry of Directives.
	_ "github.com/coredns/coredns/plugin/acl"
	_ "github.com/coredns/coredns/plugin/any"
	_ "github.com/coredns/coredns/plugin/bind"
	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/debug"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/forward"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/hosts"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/loadbalance"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/loop"
	_ "github.com/coredns/coredns/plugin/metrics"
	_ "github.com/coredns/coredns/plugin/ready"
	_ "github.com/coredns/coredns/plugin/reload"
	_ "github.com/coredns/coredns/plugin/rewrite"
	_ "github.com/coredns/coredns/plugin/template"
	_ "github.com/coredns/coredns/plugin/whoami"
)

// Directives are the plugins compiled in, in the order in which they handle a query: upstream's
// plugin.cfg order (core/dnsserver/zdirectives.go), cut down to the plugins of AKS's Corefile
// (errors, ready, health, kubernetes, prometheus, forward, cache, loop, reload, loadbalance,
// template) and those that coredns-custom examples and AKS's troubleshooting guides use (log,
// hosts, rewrite, bind, whoami, debug, any, acl). import is part of the Corefile parser, not a
// plugin. A Corefile naming any other plugin fails to load with "Unknown directive".
var Directives = []string{
	"reload",
	"bind",
	"debug",
	"ready",
	"health",
	"prometheus",
	"errors",
	"log",
	"any",
	"loadbalance",
	"rewrite",
	"acl",
	"cache",
	"template",
	"hosts",
	"kubernetes",
	"loop",
	"forward",
	"whoami",
}
