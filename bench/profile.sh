#!/usr/bin/env bash
# Profiles hhttpp under load: perf records the release binary while wrk requests one URL.
#
# Usage: [CLOSE=1] bench/profile.sh [PATH] [-- HHTTPP FLAGS...]   (default PATH /1k.bin;
# CLOSE=1 sends `Connection: close`, so every request is a new connection)
# Writes target/profile/perf.data and prints the hottest symbols. Needs perf (linux-perf) and
# wrk. Stops what it starts, by PID. Do not run while anything else builds.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
path=${1:-/1k.bin}
shift || true
[ "${1:-}" = "--" ] && shift
out="$root/target/profile"
mkdir -p "$out"
site=$(mktemp -d)
trap 'rm -rf "$site"' EXIT
head -c 1024 /dev/urandom >"$site/1k.bin"
head -c 102400 /dev/urandom >"$site/100k.bin"
mkdir "$site/many" && for i in $(seq -w 1 1000); do : >"$site/many/entry-$i.txt"; done
log="$out/server.log"
# HHTTPP_PERFMAP: the guest's functions are named in /tmp/perf-PID.map (wasmtime's perfmap).
HHTTPP_PERFMAP=1 perf record -e cpu-clock -F 999 -g -o "$out/perf.data" -- \
  "$root/target/release/hhttpp" 0 --bind 127.0.0.1 --directory "$site" -q "$@" >"$log" 2>&1 &
perf_pid=$!
for _ in $(seq 100); do grep -q 'port [0-9]' "$log" 2>/dev/null && break; sleep 0.05; done
port=$(grep -o 'port [0-9]*' "$log" | head -1 | grep -o '[0-9]*')
server=$(pgrep -P "$perf_pid" | head -1)
close=()
[ -n "${CLOSE:-}" ] && close=(-H "Connection: close")
wrk -t1 -c50 -d5s "${close[@]}" "http://127.0.0.1:$port$path" | grep -E 'Requests/sec|Latency'
kill -INT "$server"
wait "$perf_pid" || true
perf report -i "$out/perf.data" --no-children --sort dso,sym --stdio -g none 2>/dev/null |
  grep -E '^ +[0-9]' | head -45
