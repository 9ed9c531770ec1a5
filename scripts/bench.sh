#!/bin/sh
# bench.sh runs every benchmark of `make bench` in one process tree — the
# root module's packages, then the tests module's — and hands their output
# to internal/cmd/benchtable, which prints the figures table and writes
# docs/PERFORMANCE.md and docs/performance-scaling.svg.
#
# Each package runs with its own -benchtime and -count: micro-benchmarks
# for a fixed time, the client benchmarks (tests/bench) a fixed number of
# whole measurements. Every value is the median of COUNT runs. A package
# that does not exist yet is skipped here and shows in the table as "not
# measured (package missing)".
#
# Environment: GO (default go), COUNT (default 3), MICRO (benchtime of the
# micro-benchmarks, default 500ms).
set -u
cd "$(dirname "$0")/.." || exit 2
GO=${GO:-go}
COUNT=${COUNT:-3}
MICRO=${MICRO:-500ms}

out=$(mktemp)
trap 'rm -f "$out"' EXIT INT TERM

# bench DIR PKG BENCHTIME COUNT TIMEOUT: run one package's benchmarks in
# module DIR. TIMEOUT caps the package so that the whole run stays within
# its ten minutes; what finished before the cap is still reported.
bench() {
	if ! (cd "$1" && $GO list "$2" >/dev/null 2>&1); then
		echo "bench.sh: $1/$2: package missing, skipped" >&2
		return
	fi
	echo "bench.sh: $1/$2 (-benchtime $3 -count $4 -timeout $5)" >&2
	(cd "$1" && $GO test -run '^$' -bench . -benchmem -benchtime "$3" -count "$4" -timeout "$5" "$2") 2>&1 | tee -a "$out" >&2
}

bench . ./fsm "$MICRO" "$COUNT" 2m
bench . ./transport/wire "$MICRO" "$COUNT" 2m
bench . ./kalamtest "$MICRO" "$COUNT" 2m
bench . ./bindings/wazero "$MICRO" "$COUNT" 3m
bench tests ./bench 1x "$COUNT" 4m
bench tests ./browser 1x 1 4m

$GO run ./internal/cmd/benchtable -in "$out" -doc docs/PERFORMANCE.md -svg docs/performance-scaling.svg
