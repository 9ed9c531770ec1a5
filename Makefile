# kalam — a thin front over the go tool. `make help` lists the targets.

GO        ?= go
PKGS      := ./...
BENCHPKGS := ./fsm ./transport/wire ./kalamtest/...
FUZZTIME  ?= 60s

.PHONY: help demo test bench diagrams check fuzz

help:
	@echo "make demo      run the lifecycle demo on the embedded test server"
	@echo "make test      vet and run every test with the race detector"
	@echo "make bench     run the benchmarks and print the figures table"
	@echo "make diagrams  regenerate docs/lifecycle.{mmd,dot,svg} from the lifecycle table"
	@echo "make check     cross-build, regenerate, gofmt, and fail on any drift"
	@echo "make fuzz      run each fuzz target for FUZZTIME (default 60s)"

demo:
	$(GO) run ./cmd/kalam demo

test:
	$(GO) vet $(PKGS)
	$(GO) test -race -count=1 $(PKGS)
	cd tests && $(GO) vet ./... && $(GO) test -race -count=1 ./...

bench:
	$(GO) test -run '^$$' -bench . -benchmem -count 1 $(BENCHPKGS) | $(GO) run ./internal/cmd/benchtable

diagrams:
	$(GO) test ./fsm -count=1 -run 'TestDiagramsUpToDate|TestDOTRendersWithGraphviz' -update

check: diagrams
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet $(PKGS)
	$(GO) build $(PKGS)
	GOOS=js GOARCH=wasm $(GO) build ./fsm/... ./auth/... ./transport/wire/...
	GOOS=wasip1 GOARCH=wasm $(GO) build ./fsm/... ./auth/... ./transport/wire/...
	@git diff --exit-code -- docs || { echo "generated files drifted: commit the regenerated docs/"; exit 1; }

fuzz:
	@for pkg in $$($(GO) list $(PKGS)); do \
	  for target in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
	    echo "== $$pkg $$target ($(FUZZTIME))"; \
	    $(GO) test -run '^$$' -fuzz "^$$target$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done
