# Telltale — `make` lists the targets. The two a newcomer needs: `make run`, `make test`.

SHELL := /bin/bash
.DEFAULT_GOAL := help

ADDR       ?= :8080
METRICS_ADDR ?= 127.0.0.1:9464
GO         ?= go
WEB        := static
BIN        := bin/telltale
WASM_EXEC  := $(shell $(GO) env GOROOT)/lib/wasm/go_js_wasm_exec
CHROMIUM   ?= $(firstword $(wildcard /usr/bin/chromium /usr/bin/chromium-browser))
UPLOT_DIST := node_modules/uplot/dist
WASM_BUDGET := 1750000
# No inlining in packages the browser links but never runs hot: crypto and
# math/big come in with net/http (imported by go-app and coder/websocket) and
# only their init code runs; regexp serves go-app's routing. 35 KB of brotli.
# fmt, time and encoding/json (labels, clocks, the spec once) and go-app's
# engine (its tree diff is ~1% of a page's CPU) give 44 KB more, measured
# one package at a time (fmt 26.5, go-app 18.5, time 8.5, encoding/json 6.8
# alone). Not net/... or mime/...: without inlining, net/http grows 68 KB.
WASM_GCFLAGS := -gcflags='crypto/...=-l' -gcflags='math/big=-l' -gcflags='regexp/...=-l' \
	-gcflags='fmt=-l' -gcflags='time=-l' -gcflags='encoding/json=-l' -gcflags='github.com/maxence-charriere/go-app/v10/pkg/app=-l'
# The version is go-app's cache key: the commit plus a hash of what the browser
# loads, so a rebuilt client updates installed PWAs and a restart does not.
# GIT_DESCRIBE is given where there is no .git (the Dockerfile's build).
GIT_DESCRIBE ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
VERSION     = $(GIT_DESCRIBE)-$(shell cat $(WEB)/app.wasm $(WEB)/telltale.css $(WEB)/lkg.js 2>/dev/null | sha256sum | cut -c1-10)

.PHONY: help run build web test deps deps-run vet unit wasm-test e2e size fuzz bench clean

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_-]+:.*## / {printf "  \033[36m%-10s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

run: build ## build everything and serve the demo dashboard on ADDR (default :8080), /metrics on METRICS_ADDR (default 127.0.0.1:9464)
	$(BIN) -addr '$(ADDR)' -web $(WEB) -metrics-addr '$(METRICS_ADDR)'

build: web ## build app.wasm (+ .br/.gz), copy uPlot, build bin/telltale
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o $(BIN) ./backend/cmd/telltale

# app.wasm is rebuilt on every call (Go's cache makes that quick) but only
# replaced when it changed, so the slow brotli step runs only for a new client.
web: deps-run $(WEB)/uplot/uPlot.iife.min.js
	@GOOS=js GOARCH=wasm $(GO) build -trimpath -ldflags="-s -w" $(WASM_GCFLAGS) -o $(WEB)/app.wasm.new ./wasm
	@if cmp -s $(WEB)/app.wasm.new $(WEB)/app.wasm; then rm $(WEB)/app.wasm.new; else mv $(WEB)/app.wasm.new $(WEB)/app.wasm; fi
	@$(MAKE) --no-print-directory $(WEB)/app.wasm.br

$(WEB)/app.wasm.br: $(WEB)/app.wasm
	$(GO) run ./backend/cmd/precompress $(WEB)/app.wasm

$(WEB)/uplot/uPlot.iife.min.js: package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	mkdir -p $(WEB)/uplot
	cp $(UPLOT_DIST)/uPlot.iife.min.js $(UPLOT_DIST)/uPlot.min.css $(WEB)/uplot/

# Installs what is missing when run as root; otherwise prints the exact command.
define need
	@missing=""; for p in $(1); do \
	  case $$p in chromium) test -x "$(CHROMIUM)" || missing="$$missing chromium";; \
	              npm) command -v npm >/dev/null || missing="$$missing npm";; \
	              haproxy) test -x /usr/sbin/haproxy || missing="$$missing haproxy";; \
	              nginx) test -x /usr/sbin/nginx || missing="$$missing nginx-light";; \
	              postgresql) { command -v pg_ctl || ls /usr/lib/postgresql/*/bin/pg_ctl; } >/dev/null 2>&1 || missing="$$missing postgresql";; esac; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends$$missing >/dev/null; \
	  else \
	    echo "missing:$$missing. Install with:"; \
	    echo "  sudo apt-get update && sudo apt-get install -y --no-install-recommends$$missing"; \
	    exit 1; \
	  fi; \
	fi
endef

deps-run:
	$(call need,npm)

deps: ## install what the tests need (Chromium, npm, PostgreSQL, HAProxy, nginx) when root, else print the command
	$(call need,npm chromium postgresql haproxy nginx)

test: deps build size vet unit wasm-test e2e ## app.wasm within its budget, vet (linux + js/wasm), unit and PostgreSQL tests with -race, wasm tests under Node, rod end-to-end tests

vet: ## go vet for linux and js/wasm
	$(GO) vet ./...
	$(GO) vet -tags e2e ./e2e/...
	GOOS=js GOARCH=wasm $(GO) vet ./shared/... ./app/... ./wasm/...

# PostgreSQL tests use DATABASE_URL, else 127.0.0.1:5432 as postgres, else a
# throwaway cluster they start from the installed binaries (internal/pgtest).
unit: ## unit and PostgreSQL tests with the race detector
	$(GO) test -race -count=1 ./...

wasm-test: ## shared/, app/ and wasm/ tests compiled to wasm, run under Node
	GOOS=js GOARCH=wasm $(GO) test -count=1 -exec="$(WASM_EXEC)" ./shared/... ./app/... ./wasm/...

# The end-to-end tests mostly wait (for a page, a feed, an outage): their
# processes used 294 s of CPU in a 776 s serial run. Each owns its server,
# Chromium and database, so E2E_PARALLEL of them run at once (t.Parallel);
# the 13 that assert a latency or a rate run first, alone (e2e/doc.go).
# bench/results/2026-12-07-e2e-parallel.md has the runs behind the default.
E2E_PARALLEL ?= 4

e2e: build ## rod end-to-end tests: the real binary in real Chromium, E2E_PARALLEL (default 4) at once
	TELLTALE_BIN=$(abspath $(BIN)) TELLTALE_WEB_DIR=$(abspath $(WEB)) CHROMIUM=$(CHROMIUM) \
		$(GO) test -tags e2e -count=1 -v -parallel $(E2E_PARALLEL) -timeout 15m ./e2e/ 2>&1 | tee e2e/out.log | grep -E '^(=== (RUN|CONT)|--- |PASS|FAIL|ok|\s+\w+_test.go)'; exit $${PIPESTATUS[0]}

size: web ## app.wasm raw, gzip and brotli bytes
	@printf "app.wasm raw:    %9d bytes\n" $$(stat -c%s $(WEB)/app.wasm)
	@printf "app.wasm gzip:   %9d bytes\n" $$(stat -c%s $(WEB)/app.wasm.gz)
	@br=$$(stat -c%s $(WEB)/app.wasm.br); printf "app.wasm brotli: %9d bytes (budget %d)\n" $$br $(WASM_BUDGET); \
	if [ $$br -gt $(WASM_BUDGET) ]; then echo "app.wasm is over its brotli budget: look for server code or net/http's client in the wasm build"; exit 1; fi

fuzz: ## run every Fuzz target of every package for FUZZTIME each (default 30s); crashers land in testdata/fuzz/ and then run in make test
	@set -e; for pkg in $$($(GO) list ./...); do \
		for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
			echo "== $$pkg $$f"; \
			$(GO) test -run='^$$' -fuzz="^$$f\$$" -fuzztime=$${FUZZTIME:-30s} $$pkg; \
		done; \
	done

bench: ## native and wasm (Node) benchmarks into bench/results/
	mkdir -p bench/results
	$(GO) test -run='^$$' -bench=. -benchmem -count=5 ./shared/... ./backend/... | tee bench/results/native-$$(date +%Y%m%d).txt
	GOOS=js GOARCH=wasm $(GO) test -run='^$$' -bench=. -benchmem -count=5 -exec="$(WASM_EXEC)" ./wasm/ | tee bench/results/wasm-$$(date +%Y%m%d).txt

clean: ## remove build outputs
	rm -rf bin $(WEB)/app.wasm $(WEB)/app.wasm.br $(WEB)/app.wasm.gz $(WEB)/uplot node_modules e2e/out e2e/out.log
