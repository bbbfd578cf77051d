#!/usr/bin/env bash
# Issue 23: hhttpp.wasm's hand-written wasi:io/poll loop against the same core behind wstd's
# async executor (bench/wstd-loop, a probe with no deadlines or caps), both under `wasmtime run`,
# on 1 KB and 100 KB keep-alive (wrk -t1 -c50, 5 s, two interleaved rounds). Prints req/s and
# latency. Needs wrk and the wasmtime CLI. Stops what it starts, by PID. Do not run beside a
# build.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/build-wasm" >/dev/null 2>&1
CARGO_TARGET_DIR="$root/target/wstd-loop" cargo build --quiet --release \
  --manifest-path "$root/bench/wstd-loop/Cargo.toml" --target wasm32-wasip2
probe="$root/target/wstd-loop/wasm32-wasip2/release/hhttpp-wstd-loop.wasm"
site=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$site"
}
trap cleanup EXIT
head -c 1024 /dev/urandom >"$site/1k.bin"
head -c 102400 /dev/urandom >"$site/100k.bin"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 200); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return; sleep 0.05; done; echo "nothing on $1" >&2; exit 1; }
loop_port=$(free_port)
wasmtime run -S inherit-network --dir "$site::/" "$root/target/wasm/hhttpp.wasm" "$loop_port" \
  --bind 127.0.0.1 -q >/dev/null 2>&1 &
pids+=($!)
wstd_port=$(free_port)
wasmtime run -S inherit-network --dir "$site::/" "$probe" "$wstd_port" >/dev/null 2>&1 &
pids+=($!)
wait_port "$loop_port"
wait_port "$wstd_port"
for round in 1 2; do
  for path in /1k.bin /100k.bin; do
    for server in "hand-written loop:$loop_port" "wstd:$wstd_port"; do
      name=${server%:*}
      port=${server##*:}
      out=$(wrk -t1 -c50 -d5s --latency "http://127.0.0.1:$port$path")
      rps=$(grep 'Requests/sec' <<<"$out" | awk '{print $2}')
      p50=$(grep -E '^ +50%' <<<"$out" | awk '{print $2}')
      p99=$(grep -E '^ +99%' <<<"$out" | awk '{print $2}')
      printf 'round %s  %-9s %-18s %10s req/s  p50 %8s  p99 %8s\n' "$round" "$path" "$name" "$rps" "$p50" "$p99"
    done
  done
done
