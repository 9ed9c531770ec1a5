#!/bin/sh
# build-browser-wasm.sh OUT — builds the browser client (wasm/browser) into
# OUT. `make wasm` and the browser tests (tests/browser) both call it, so
# what is measured and tested is what ships.
#
# -gcflags=all=-l turns inlining off: it makes the .wasm about 120 KB
# smaller brotli-compressed (the build's budget is 1 MB) for a cost the
# browser does not feel, since a browser client waits on the network and on
# JavaScript calls, not on Go's call overhead. RATIONALE.md has the figures.
# GO (default go) and KALAM_WASM_GCFLAGS (default all=-l) may be set.
set -eu
[ $# -eq 1 ] || { echo "usage: $0 OUT" >&2; exit 2; }
cd "$(dirname "$0")/.."
GOOS=js GOARCH=wasm CGO_ENABLED=0 exec "${GO:-go}" build -trimpath \
	-gcflags="${KALAM_WASM_GCFLAGS-all=-l}" -ldflags='-s -w' -o "$1" ./wasm/browser
