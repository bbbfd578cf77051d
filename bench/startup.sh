#!/usr/bin/env bash
# Time from launching hhttpp to its first complete response, cold (empty compile cache) and warm.
#   bench/startup.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked -p hhttpp-host >/dev/null 2>&1
runs="${1:-3}"
site="$(mktemp -d)"; cache="$(mktemp -d)"; out="$(mktemp)"
echo hello > "$site/index.html"
trap 'rm -rf "$site" "$cache" "$out"' EXIT
first_response_ms() {
  local start pid port
  start=$(date +%s%N)
  XDG_CACHE_HOME="$cache" target/release/hhttpp 0 -b 127.0.0.1 -d "$site" -q >"$out" 2>/dev/null &
  pid=$!
  until grep -q ' port ' "$out" 2>/dev/null; do sleep 0.001; done
  port=$(grep -o ' port [0-9]*' "$out" | awk '{print $2}')
  curl -s -o /dev/null "http://127.0.0.1:$port/"
  echo $(( ($(date +%s%N) - start) / 1000000 ))
  kill "$pid"; wait "$pid" 2>/dev/null || true
}
echo "cold (compiles the component): $(first_response_ms) ms"
for _ in $(seq "$runs"); do echo "warm (cached artifact): $(first_response_ms) ms"; done
