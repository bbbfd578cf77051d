#!/usr/bin/env python3
"""Benchmark hhttpp against nginx, static-web-server and python's http.server, side by side, on loopback.

Usage: bench/run.py [--seconds N] [--quick] [--only TEXT] [--servers LIST] [--compare OLD_HHTTPP]
                    [--hhttpp-args 'FLAGS']

Installs wrk and nginx with apt and static-web-server with cargo (under target/bench-tools) if
missing, builds hhttpp (release), generates a site (1 KB, 100 KB, 10 MB and 1 GB files; a folder
of 1,000 entries; 100 KB of real JavaScript, served compressed to `Accept-Encoding: gzip, br,
zstd`: nginx with `gzip on`, the others with their defaults), starts every server on its own
ephemeral loopback port, runs each scenario twice (interleaved across servers), and prints one
markdown table: req/s, MB/s, p50/p99 latency, the server's peak RSS, and each ratio to nginx.
`--compare PATH` adds an earlier hhttpp build (servers `before` and `before-native`), run
interleaved with this one, to show what a change did to throughput.
Every process it starts is stopped by PID. Do not run it while anything else is building.
"""

import argparse
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HHTTPP = os.path.join(ROOT, "target", "release", "hhttpp")
COMPONENT = os.path.join(ROOT, "target", "wasm", "hhttpp.wasm")  # `wasmtime-run`: hhttpp.wasm under `wasmtime run`
SWS_VERSION = "2.44.1"
SWS = os.path.join(ROOT, "target", "bench-tools", "bin", "static-web-server")
# 100 KB of real JavaScript for the compressed scenario: TypeScript's, from the npm install that
# scripts/setup --test makes for the jco tests.
JS_SOURCE = os.path.join(ROOT, "target", "jco", "node_modules", "typescript-compiler-api", "lib", "typescript.js")
COMPRESSED = "gzip, br, zstd"
BEFORE = None  # --compare: an earlier build, served as `before` and `before-native`
HHTTPP_ARGS = []  # --hhttpp-args: more flags for every hhttpp (and before) server


def sh(*args, **kw):
    return subprocess.run(args, check=True, **kw)


def ensure_tools():
    missing = [p for p in ("wrk", "nginx", "curl") if shutil.which(p) is None]
    if missing:
        sh("apt-get", "update", "-qq")
        sh("apt-get", "install", "-y", "-qq", *missing, stdout=subprocess.DEVNULL)
    if not os.path.exists(SWS):
        sh("cargo", "install", "--locked", f"static-web-server@{SWS_VERSION}", "--root",
           os.path.dirname(os.path.dirname(SWS)))
    if not os.path.exists(JS_SOURCE):
        sh(os.path.join(ROOT, "scripts", "setup"), "--test")
    sh("cargo", "build", "--release", "--locked", "-p", "hhttpp-host", cwd=ROOT)
    sh(os.path.join(ROOT, "scripts", "build-wasm"), stdout=subprocess.DEVNULL)
    if shutil.which("wasmtime") is None:
        sh(os.path.join(ROOT, "scripts", "setup"), "--test")


def make_site(base, big):
    site = os.path.join(base, "site")
    os.makedirs(os.path.join(site, "many"))
    pattern = bytes(range(256)) * 4096  # 1 MiB of non-zero data
    for name, size in [("1k.bin", 1024), ("100k.bin", 100 * 1024), ("10m.bin", 10 * 1024 * 1024), ("1g.bin", big)]:
        with open(os.path.join(site, name), "wb") as f:
            left = size
            while left:
                chunk = pattern[: min(left, len(pattern))]
                f.write(chunk)
                left -= len(chunk)
    for i in range(1000):
        open(os.path.join(site, "many", f"entry-{i:04}.txt"), "w").close()
    with open(JS_SOURCE, "rb") as source, open(os.path.join(site, "app.js"), "wb") as f:
        f.write(source.read(100 * 1024))
    return site


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listening on {port}")


def start(name, site, base):
    port = free_port()
    log = open(os.path.join(base, f"{name}.log"), "w")
    if name.startswith("hhttpp") or name.startswith("before"):
        binary = BEFORE if name.startswith("before") else HHTTPP
        cmd = [binary, str(port), "-b", "127.0.0.1", "-d", site, "-q"]
        if name.endswith("-native"):
            cmd += ["--engine", "native"]
        cmd += HHTTPP_ARGS
    elif name == "wasmtime-run":
        cmd = ["wasmtime", "run", "-S", "inherit-network", "--dir", f"{site}::/", COMPONENT,
               str(port), "--bind", "127.0.0.1", "-q"] + HHTTPP_ARGS
    elif name == "sws":
        cmd = [SWS, "--port", str(port), "--host", "127.0.0.1", "--root", site, "--directory-listing", "true",
               "--log-level", "error", "--threads-multiplier", "1"]
    elif name == "nginx":
        conf = os.path.join(base, "nginx.conf")
        with open(os.path.join(ROOT, "bench", "nginx.conf.template")) as t:
            text = t.read().format(dir=base, port=port, site=site)
        with open(conf, "w") as f:
            f.write(text)
        cmd = ["nginx", "-c", conf, "-g", "daemon off;"]
    else:
        cmd = [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", site]
    started = time.time()
    proc = subprocess.Popen(cmd, stdout=log, stderr=log, start_new_session=True)
    wait_port(port)
    return {"name": name, "proc": proc, "port": port, "startup_ms": (time.time() - started) * 1000}


def pids(proc):
    """The process and its children (nginx's workers)."""
    found = [proc.pid]
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == proc.pid:
                        found.append(int(entry))
            except (OSError, IndexError, ValueError):
                pass
    return found


def memory_mib(proc, key):
    """A memory figure of /proc/PID/status (`VmHWM:`, `VmRSS:`) summed over the process and its children."""
    total = 0
    for pid in pids(proc):
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith(key):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


def peak_rss_mib(proc):
    return memory_mib(proc, "VmHWM:")


def seconds_of(text):
    match = re.match(r"([\d.]+)(us|ms|s|m)$", text)
    if not match:
        return float("nan")
    value, unit = match.groups()
    return float(value) * {"us": 1e-6, "ms": 1e-3, "s": 1, "m": 60}[unit]


def coding_of(port, path, accept):
    """The Content-Encoding a server answers `path` with, asked with `Accept-Encoding: accept`."""
    out = subprocess.run(["curl", "-s", "-o", "/dev/null", "-D", "-", "-H", f"Accept-Encoding: {accept}",
                          f"http://127.0.0.1:{port}{path}"], capture_output=True, text=True).stdout
    match = re.search(r"^content-encoding:\s*(\S+)", out, re.M | re.I)
    return match.group(1) if match else "identity"


def wrk(port, path, connections, seconds, close, accept=None):
    cmd = ["wrk", "-t", "2", "-c", str(connections), "-d", f"{seconds}s", "--latency", "--timeout", "10s"]
    if close:
        cmd += ["-H", "Connection: close"]
    if accept:
        cmd += ["-H", f"Accept-Encoding: {accept}"]
    out = subprocess.run(cmd + [f"http://127.0.0.1:{port}{path}"], capture_output=True, text=True).stdout
    if "Requests/sec" not in out or "50%" not in out:
        return {"rps": 0.0, "mbps": 0.0, "p50": float("nan"), "p99": float("nan"), "note": " (wrk reported nothing)"}
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    transfer = re.search(r"Transfer/sec:\s+([\d.]+)(\w+)", out)
    mb = float(transfer.group(1)) * {"B": 1 / 2**20, "KB": 1 / 1024, "MB": 1, "GB": 1024}[transfer.group(2)]
    # Anchored: a "+/- Stdev" column such as "62.99%" must not be read as the 99th percentile.
    p50 = seconds_of(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1)) * 1000
    p99 = seconds_of(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1)) * 1000
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)", out)
    note = ""
    if errors:
        note += f" non-2xx {errors.group(1)}"
    if socket_errors:
        note += f" ({socket_errors.group(1).strip()})"
    return {"rps": rps, "mbps": mb, "p50": p50, "p99": p99, "note": note}


def curl_big(port):
    out = subprocess.run(
        ["curl", "-s", "-o", "/dev/null", "-w", "%{speed_download} %{time_total}", f"http://127.0.0.1:{port}/1g.bin"],
        capture_output=True, text=True,
    ).stdout.split()
    return {"rps": 1 / float(out[1]), "mbps": float(out[0]) / 2**20, "p50": float(out[1]) * 1000, "p99": float(out[1]) * 1000, "note": ""}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=5, help="duration of each wrk run")
    parser.add_argument("--quick", action="store_true", help="a 100 MB 'big' file instead of 1 GB")
    parser.add_argument("--only", default="", help="run only scenarios whose title contains this text")
    parser.add_argument("--servers", default="hhttpp,hhttpp-native,wasmtime-run,nginx,sws,python",
                        help="comma-separated, of hhttpp, hhttpp-native, wasmtime-run, nginx, sws, python")
    parser.add_argument("--compare", metavar="OLD_HHTTPP", help="an earlier hhttpp binary to run beside this one")
    parser.add_argument("--hhttpp-args", default="", help="more flags for every hhttpp server (e.g. '--max-per-address 1000')")
    args = parser.parse_args()
    global BEFORE, HHTTPP_ARGS
    HHTTPP_ARGS = args.hhttpp_args.split()
    if args.compare:
        BEFORE = os.path.abspath(args.compare)
        args.servers += ",before,before-native"
    ensure_tools()
    base = tempfile.mkdtemp(prefix="hhttpp-bench-")
    os.chmod(base, 0o755)  # nginx's workers run unprivileged
    servers = []
    try:
        site = make_site(base, (100 if args.quick else 1024) * 2**20)
        names = args.servers.split(",")
        known = ("hhttpp", "hhttpp-native", "wasmtime-run", "before", "before-native", "nginx", "sws", "python")
        servers = [start(n, site, base) for n in names if n in known]
        scenarios = [
            ("1 KB keep-alive, c=50", "/1k.bin", 50, False, None),
            ("100 KB keep-alive, c=50", "/100k.bin", 50, False, None),
            ("10 MB keep-alive, c=8", "/10m.bin", 8, False, None),
            ("listing of 1,000, c=10", "/many/", 10, False, None),
            ("1 KB Connection: close, c=50", "/1k.bin", 50, True, None),
            ("100 KB JS compressed, c=50", "/app.js", 50, False, COMPRESSED),
            ("1 GB, one curl", None, 1, False, None),
        ]
        scenarios = [s for s in scenarios if args.only in s[0]]
        results = {}
        for run in range(2):
            for title, path, conns, close, accept in scenarios:
                for s in servers:
                    r = curl_big(s["port"]) if path is None else wrk(s["port"], path, conns, args.seconds, close, accept)
                    results.setdefault((title, s["name"]), []).append(r)
                    print(f"run {run + 1} {title:32} {s['name']:14} {r['rps']:>10.0f} req/s {r['mbps']:>9.1f} MB/s{r['note']}", file=sys.stderr)
        print(f"\n{time.strftime('%Y-%m-%d')}, {platform.node()}, {os.cpu_count()} cores, "
              f"{platform.processor() or platform.machine()}; best of 2 runs, {args.seconds}s each\n")
        print("| scenario | server | req/s | MB/s | p50 ms | p99 ms | peak RSS MiB | req/s ÷ nginx | MB/s ÷ nginx |")
        print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
        rss = {s["name"]: peak_rss_mib(s["proc"]) for s in servers}
        for title, path, _, _, accept in scenarios:
            best = {n: max(results[(title, n)], key=lambda r: r["rps"]) for n in (s["name"] for s in servers)}
            for s in servers:
                r, ref = best[s["name"]], best.get("nginx", best[s["name"]])
                coding = f" ({coding_of(s['port'], path, accept)})" if accept else ""
                print(f"| {title} | {s['name']}{coding} | {r['rps']:.0f} | {r['mbps']:.1f} | {r['p50']:.2f} | {r['p99']:.2f} | "
                      f"{rss[s['name']]:.0f} | {r['rps'] / ref['rps']:.2f}× | {r['mbps'] / max(ref['mbps'], 1e-9):.2f}× |")
        print("\nStart-up (launch to first accepted connection): " +
              ", ".join(f"{s['name']} {s['startup_ms']:.0f} ms" for s in servers))
    finally:
        for s in servers:
            try:
                os.killpg(s["proc"].pid, signal.SIGTERM)
                s["proc"].wait(timeout=15)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                os.killpg(s["proc"].pid, signal.SIGKILL)
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
