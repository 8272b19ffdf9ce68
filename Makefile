# minaks — see README.md. `sudo make up` and `sudo make test` are the two commands that matter.
SHELL := /bin/bash
GO ?= go
BIN := bin/minaks
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
KUBE_VERSION := $(shell $(GO) list -m -f '{{.Version}}' k8s.io/kubernetes 2>/dev/null)
KUBE_MINOR := $(word 2,$(subst ., ,$(KUBE_VERSION)))
# The embedded components report the Kubernetes version they were built from, as k3s sets it.
LDFLAGS := -s -w \
	-X github.com/minaks/minaks/pkg/apiserver/version.Version=$(VERSION) \
	-X k8s.io/component-base/version.gitVersion=$(KUBE_VERSION) \
	-X k8s.io/component-base/version.gitMajor=1 \
	-X k8s.io/component-base/version.gitMinor=$(KUBE_MINOR) \
	-X k8s.io/component-base/version.gitTreeState=clean \
	-X k8s.io/client-go/pkg/version.gitVersion=$(KUBE_VERSION) \
	-X k8s.io/client-go/pkg/version.gitMajor=1 \
	-X k8s.io/client-go/pkg/version.gitMinor=$(KUBE_MINOR)
HOST_PACKAGES := iptables ipset conntrack iproute2 nftables netbase busybox-static bash-static
NAME ?= minaks
# The upstream NetworkPolicy e2e suite (test/upstream, the k8s.io/kubernetes/test/e2e package
# built with `go test -c`), kept between runs under a name that changes with its sources.
E2E_CACHE ?= /var/cache/minaks-e2e
UPSTREAM_E2E := $(E2E_CACHE)/upstream-$(shell cat test/upstream/go.mod test/upstream/go.sum test/upstream/*.go 2>/dev/null | sha256sum | cut -c1-12).test

.PHONY: build up down test unit e2e netpol-e2e conformance bench lint host-deps clean

# minaks embeds cmd/minaks-run, the small binary every container runs, and cmd/minaks-kube,
# the kube-proxy and CoreDNS images' programs (tag minaks_embed), both static: built-in images
# run them on the tools root (pkg/nodes/toolroot), which has no C library.
build:
	CGO_ENABLED=0 $(GO) build -ldflags '-s -w' -o pkg/nodes/container/minaks-run ./cmd/minaks-run
	CGO_ENABLED=0 $(GO) build -ldflags '$(LDFLAGS)' -o pkg/nodes/container/minaks-kube ./cmd/minaks-kube
	$(GO) build -tags minaks_embed -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/minaks

# Installs the host tools minaks drives (when root), or says what to install.
host-deps:
	@missing=""; \
	for p in $(HOST_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			echo "Installing host packages:$$missing"; \
			DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
		else \
			echo "minaks needs these packages:$$missing — install them (e.g. sudo apt-get install$$missing) or run 'sudo make ...'" >&2; exit 1; \
		fi; \
	fi

up: host-deps build
	$(BIN) up --name $(NAME) $(UP_FLAGS)

down: build
	$(BIN) down --name $(NAME)

# Unit tests (no root needed) and, as root, the end-to-end tests against real clusters (with a
# representative part of the upstream NetworkPolicy suite).
test: host-deps build $(UPSTREAM_E2E)
	$(GO) test ./...
	MINAKS_BIN=$(CURDIR)/$(BIN) MINAKS_UPSTREAM_E2E=$(UPSTREAM_E2E) $(GO) test -count=1 -timeout 60m -v ./test/e2e/...

unit:
	$(GO) test ./...

e2e: host-deps build $(UPSTREAM_E2E)
	MINAKS_BIN=$(CURDIR)/$(BIN) MINAKS_UPSTREAM_E2E=$(UPSTREAM_E2E) $(GO) test -count=1 -timeout 60m -v ./test/e2e/...

# The whole upstream NetworkPolicy suite ([Feature:NetworkPolicy] without SCTP connectivity: 46
# tests) against a cluster of each --network-policy flavour; README.md has the last result.
netpol-e2e: host-deps build $(UPSTREAM_E2E)
	MINAKS_BIN=$(CURDIR)/$(BIN) MINAKS_UPSTREAM_E2E=$(UPSTREAM_E2E) MINAKS_NETPOL_E2E_ALL=1 $(GO) test -count=1 -timeout 60m -v -run TestUpstreamNetworkPolicy ./test/e2e/

# The upstream [sig-network] conformance tests (47, without [Serial] and [Disruptive]) against a
# default cluster, alone (make test runs them too); README.md has the last result.
conformance: host-deps build $(UPSTREAM_E2E)
	MINAKS_BIN=$(CURDIR)/$(BIN) MINAKS_UPSTREAM_E2E=$(UPSTREAM_E2E) $(GO) test -count=1 -timeout 60m -v -run 'TestUpstream(Node)?Conformance' ./test/e2e/

$(UPSTREAM_E2E):
	mkdir -p $(E2E_CACHE)
	cd test/upstream && $(GO) test -c -o $@ .

bench: host-deps build
	$(GO) build -ldflags '$(LDFLAGS)' -o bin/bare-apiserver ./test/bench/bare-apiserver
	$(GO) run ./test/bench/upbench -minaks $(CURDIR)/$(BIN) -bare $(CURDIR)/bin/bare-apiserver $(BENCH_FLAGS)
	$(GO) run ./test/bench/sandbench
	$(GO) run ./test/bench/podbench -minaks $(CURDIR)/$(BIN)
	$(GO) run ./test/bench/proxybench -minaks $(CURDIR)/$(BIN)
	$(GO) run ./test/bench/lbbench -minaks $(CURDIR)/$(BIN)
	$(GO) run ./test/bench/ingressbench -minaks $(CURDIR)/$(BIN)
	$(GO) run ./test/bench/gatewaybench -minaks $(CURDIR)/$(BIN)
	$(GO) run ./test/bench/policybench -minaks $(CURDIR)/$(BIN)
	$(GO) run ./test/bench/imagebench -minaks $(CURDIR)/$(BIN)

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

clean:
	rm -rf bin
