#!/usr/bin/env bash
# How fast each on-the-fly coding compresses, in the sandbox (the guest build under `wasmtime
# run`) and natively, on 1 MiB of real JavaScript, HTML and JSON (or the files given).
# Needs scripts/setup --test (the wasmtime CLI, and TypeScript's sources from npm under target/jco).
set -euo pipefail
cd "$(dirname "$0")/.."
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
if [ $# -eq 0 ]; then
  lib=target/jco/node_modules/typescript-compiler-api/lib
  [ -f "$lib/typescript.js" ] || { echo "run scripts/setup --test first (it installs $lib)" >&2; exit 1; }
  head -c 1048576 "$lib/typescript.js" > "$work/typescript.js"
  head -c 1048576 "$lib/pt-br/diagnosticMessages.generated.json" > "$work/messages.json"
  # 1 MiB of HTML: hhttpp's own listing of a folder of 8,000 files, as the guest makes it.
  python3 - "$work/listing.html" <<'PY'
import html, sys
rows = "".join(f'<li class="file"><a href="report-{i:05}.txt">report-{i:05}.txt</a>'
               f'<span class="size" data-bytes="{i * 37 % 100000}">{i * 37 % 100000} B</span></li>\n'
               for i in range(8000))
open(sys.argv[1], "w").write(("<!doctype html><ul>\n" + rows)[:1048576])
PY
  set -- "$work/typescript.js" "$work/messages.json" "$work/listing.html"
fi
cargo build --release --example compress_speed --target wasm32-wasip2 -q
cargo build --release --example compress_speed -q
echo "== in the sandbox (wasmtime run)"
for file in "$@"; do
  wasmtime run --dir "$(cd "$(dirname "$file")" && pwd)::/w" \
    target/wasm32-wasip2/release/examples/compress_speed.wasm "/w/$(basename "$file")"
done
echo "== native"
target/release/examples/compress_speed "$@"
