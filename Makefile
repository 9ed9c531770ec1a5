# kalam — a thin front over the go tool. `make help` lists the targets.

GO        ?= go
PKGS      := ./...
FUZZTIME  ?= 60s
SEEDS     ?= 1000
CHAOS_COUNT ?= 1
ENGINE_WASM ?= build/kalam-engine.wasm
# staticcheck, pinned; `make lint` installs it from the Go module proxy into
# build/ (a host binary, so it can also check the js/wasm packages).
STATICCHECK_VERSION ?= v0.8.2
STATICCHECK ?= build/staticcheck
# The packages that build for js/wasm (the browser build and what it uses).
JS_PKGS   := . ./fsm/... ./auth/... ./transport/... ./wasm/browser ./internal/jsnet

.PHONY: help demo test test-norace bench diagrams check lint fuzz sim soak wasm chaos

help:
	@echo "make demo      run the lifecycle demo on the embedded test server"
	@echo "make test      vet and run every test with the race detector, then test-norace"
	@echo "make test-norace  the end-to-end and chaos tests once more without -race"
	@echo "make bench     run the benchmarks and print the figures table"
	@echo "make diagrams  regenerate docs/lifecycle.{mmd,dot,svg} from the lifecycle table"
	@echo "make check     cross-build, regenerate, gofmt, and fail on any drift"
	@echo "make lint      staticcheck (pinned) on the native and the js/wasm builds"
	@echo "make fuzz      run each fuzz target for FUZZTIME (default 60s)"
	@echo "make chaos     run the reliability scenarios of docs/RELIABILITY.md (CHAOS_COUNT times, default 1)"
	@echo "make sim       run SEEDS (default 1000) seeds of the deterministic simulation"
	@echo "make soak      run 200000 more simulation seeds"
	@echo "make wasm      build the wasm artifacts (engine reactor for wazero, browser build)"

demo:
	$(GO) run ./cmd/kalam demo

test:
	$(GO) vet $(PKGS)
	$(GO) test -race -count=1 $(PKGS)
	cd tests && $(GO) vet ./... && $(GO) test -race -count=1 ./...
	cd tests && $(GO) test -count=1 -run 'TestSim' ./sim -seeds=$(SEEDS)
	$(MAKE) --no-print-directory test-norace

# The race detector slows the client several times over, which can hide a
# timing bug (a consumer that keeps up only because the race detector slows
# everything else): run the end-to-end tests (the root package, against
# the real kalamtest server) and the chaos suite once more at full speed.
test-norace:
	$(GO) test -count=1 .
	cd tests && $(GO) test -count=1 -timeout 30m -run TestChaos ./chaos

bench:
	GO=$(GO) ./scripts/bench.sh

chaos:
	cd tests && $(GO) test -race -count=$(CHAOS_COUNT) -timeout 90m -run TestChaos ./chaos -v

sim:
	cd tests && $(GO) test -count=1 -run 'TestSim' ./sim -seeds=$(SEEDS) -v

soak:
	cd tests && $(GO) test -count=1 -timeout 0 -run 'TestSim$$' ./sim -seeds=200000 -first=100001 -v

wasm:
	GOOS=wasip1 GOARCH=wasm $(GO) build -buildmode=c-shared -trimpath -ldflags='-s -w' -o $(ENGINE_WASM) ./wasm/engine
	GO=$(GO) ./scripts/build-browser-wasm.sh bindings/js/kalam.wasm
	cp "$$($(GO) env GOROOT)/lib/wasm/wasm_exec.js" bindings/js/wasm_exec.js

diagrams:
	$(GO) test ./fsm -count=1 -run 'TestDiagramsUpToDate|TestDOTRendersWithGraphviz' -update

check: diagrams
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet $(PKGS)
	$(GO) build $(PKGS)
	GOOS=js GOARCH=wasm $(GO) build ./fsm/... ./auth/... ./transport/wire/...
	GOOS=js GOARCH=wasm $(GO) vet . ./wasm/browser ./internal/jsnet ./transport/wire
	GOOS=wasip1 GOARCH=wasm $(GO) build ./fsm/... ./auth/... ./transport/wire/...
	GOOS=wasip1 GOARCH=wasm $(GO) vet ./wasm/engine ./internal/abi ./bindings/wazero/testdata/badguest
	GOOS=wasip1 GOARCH=wasm $(GO) build -buildmode=c-shared -o /dev/null ./wasm/engine
	@git diff --exit-code -- docs || { echo "generated files drifted: commit the regenerated docs/"; exit 1; }

lint:
	GOBIN="$(CURDIR)/build" GOOS= GOARCH= $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	$(STATICCHECK) ./...
	cd tests && ../$(STATICCHECK) ./...
	GOOS=js GOARCH=wasm $(STATICCHECK) $(JS_PKGS)

fuzz:
	@for pkg in $$($(GO) list $(PKGS)); do \
	  for target in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
	    echo "== $$pkg $$target ($(FUZZTIME))"; \
	    $(GO) test -run '^$$' -fuzz "^$$target$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done
