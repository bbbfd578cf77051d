#!/usr/bin/env python3
"""What hhttpp keeps resident once a burst is over.

Usage: bench/idle_memory.py [--connections 1000] [--seconds 10] [--engine wasm|native] [--binary PATH]

Starts the release binary on a loopback port, serves a burst of `--connections` concurrent
keep-alive clients with wrk (a listing and a small file, half each) for `--seconds`, then leaves it
idle and prints its resident memory before, at the peak, right after the burst and at 1, 5, 15 and
30 s of idleness. In the sandboxed engine every connection busy at once had its own instance; what
those instances dirtied should go back to the kernel once the server is idle, not stay for the
server's life. Stops what it starts. Needs wrk (apt-get install wrk).
"""

import argparse
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time

from idle_connections import mem  # VmRSS and VmHWM of a process, in MiB

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def make_site():
    site = tempfile.mkdtemp(prefix="hhttpp-idle-memory-")
    with open(os.path.join(site, "small.html"), "w") as f:
        f.write("<p>small</p>\n" * 80)
    for i in range(200):
        with open(os.path.join(site, f"file-{i:03}.txt"), "w") as f:
            f.write("x")
    return site


def burst(port, path, connections, seconds):
    subprocess.run(["wrk", "-t", "2", "-c", str(connections), "-d", f"{seconds}s", "--timeout", "10s",
                    f"http://127.0.0.1:{port}{path}"], stdout=subprocess.DEVNULL, check=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--engine", default="wasm")
    parser.add_argument("--binary", default=None, help="default: build and use target/release/hhttpp")
    args = parser.parse_args()
    limit = 2 * args.connections + 1024
    resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))  # inherited by server and wrk
    binary = args.binary
    if binary is None:
        subprocess.run(["cargo", "build", "--release", "--locked", "-p", "hhttpp-host"], cwd=ROOT, check=True)
        binary = os.path.join(ROOT, "target/release/hhttpp")
    site = make_site()
    server = subprocess.Popen(
        [binary, "0", "-b", "127.0.0.1", "-d", site, "-q", "--engine", args.engine,
         "--max-connections", str(args.connections + 100), "--max-per-address", str(args.connections + 100)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, start_new_session=True)
    try:
        port = int(server.stdout.readline().split(" port ")[1].split()[0])
        time.sleep(0.5)
        before = mem(server.pid)["VmRSS"]
        half = max(1, args.seconds // 2)
        burst(port, "/", args.connections, half)
        burst(port, "/small.html", args.connections, half)
        after = mem(server.pid)
        rows = [("before", before), ("peak", after["VmHWM"]), ("after the burst", after["VmRSS"])]
        idle_since = time.time()
        for mark in (1, 5, 15, 30):
            time.sleep(max(0.0, idle_since + mark - time.time()))
            rows.append((f"idle {mark} s", mem(server.pid)["VmRSS"]))
        print(f"engine {args.engine}, {args.connections} connections for {args.seconds} s "
              f"({os.path.basename(binary)}):")
        print("  " + "; ".join(f"{name}: {mib:.0f} MiB" for name, mib in rows))
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=20)
        subprocess.run(["rm", "-rf", site])


if __name__ == "__main__":
    sys.exit(main())
