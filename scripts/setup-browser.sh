#!/usr/bin/env bash
# setup-browser.sh — what the browser tests (tests/browser) need:
#   * Chromium (Debian's "chromium" package), installed with apt-get when it
#     is missing and we are root; otherwise we say how to install it;
#   * the npm lockfile of bindings/js installed with `npm ci`.
# Missing Chromium is an error: CI must not pass without the browser tests.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

find_chromium() {
	for name in chromium chromium-browser google-chrome; do
		if command -v "$name" >/dev/null 2>&1; then
			command -v "$name"
			return 0
		fi
	done
	return 1
}

if ! chromium="$(find_chromium)"; then
	if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
		echo "setup-browser: installing chromium with apt-get"
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -q
		apt-get install -y -q --no-install-recommends chromium
		chromium="$(find_chromium)" || { echo "setup-browser: chromium still missing after apt-get" >&2; exit 1; }
	else
		echo "setup-browser: chromium is missing; install it (as root: apt-get install chromium) or set CHROMIUM=/path/to/chrome" >&2
		exit 1
	fi
fi
echo "setup-browser: $("$chromium" --version 2>/dev/null || echo "$chromium")"

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
	echo "setup-browser: node and npm (20 or later) are needed: apt-get install nodejs npm" >&2
	exit 1
fi
node_major="$(node -p 'process.versions.node.split(".")[0]')"
if [ "$node_major" -lt 20 ]; then
	echo "setup-browser: node $(node --version) is too old; 20 or later is needed" >&2
	exit 1
fi
echo "setup-browser: node $(node --version)"

(cd "$root/bindings/js" && npm ci --no-audit --no-fund)
echo "setup-browser: ready"
