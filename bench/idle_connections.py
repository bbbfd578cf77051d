#!/usr/bin/env python3
"""Memory of hhttpp holding many idle keep-alive connections.

Usage: bench/idle_connections.py [--connections 10000] [--engine wasm|native]

Starts the release binary on a loopback port, opens N connections, sends one request on each
and reads the response (so each has had a sandbox), leaves them all open and idle, and prints
the server's resident memory then, and its peak. The target is under 256 MiB for 10,000
connections: an idle connection holds its socket, not a wasm instance. Stops what it starts.
"""

import argparse
import os
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def mem(pid):
    values = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(rest.split()[0]) / 1024
    return values


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--connections", type=int, default=10000)
    parser.add_argument("--engine", default="wasm")
    args = parser.parse_args()
    limit = args.connections + 1024
    resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))  # inherited by the server
    subprocess.run(["cargo", "build", "--release", "--locked", "-p", "hhttpp-host"], cwd=ROOT, check=True)
    site = tempfile.mkdtemp(prefix="hhttpp-idle-")
    with open(os.path.join(site, "index.html"), "w") as f:
        f.write("<p>idle</p>")
    server = subprocess.Popen(
        [os.path.join(ROOT, "target/release/hhttpp"), "0", "-b", "127.0.0.1", "-d", site, "-q",
         "--engine", args.engine, "--max-connections", str(args.connections + 100),
         "--max-per-address", str(args.connections + 100), "--idle-timeout", "600"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, start_new_session=True)
    sockets = []
    try:
        port = int(server.stdout.readline().split(" port ")[1].split()[0])
        baseline = mem(server.pid)
        started = time.time()
        for i in range(args.connections):
            s = socket.create_connection(("127.0.0.1", port))
            s.sendall(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
            data = b""
            while not data.endswith(b"<p>idle</p>"):
                chunk = s.recv(4096)
                if not chunk:
                    raise RuntimeError(f"connection {i} closed")
                data += chunk
            sockets.append(s)
        opened = time.time() - started
        time.sleep(2)  # past the keep-warm period: idle connections have released their sandboxes
        held = mem(server.pid)
        # Sandboxed, the pool's slots keep what the burst's instances dirtied until the server has
        # been quiet a few seconds and the pool is renewed (host/src/pool_renewal.rs).
        time.sleep(8)
        settled = mem(server.pid)
        check = socket.create_connection(("127.0.0.1", port))
        check.sendall(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        still_serving = b"<p>idle</p>" in check.recv(4096)
        print(f"engine {args.engine}: {args.connections} idle keep-alive connections (each served once, "
              f"opened in {opened:.1f} s)")
        print(f"  RSS before: {baseline['VmRSS']:.0f} MiB; with them held idle: {held['VmRSS']:.0f} MiB "
              f"({(held['VmRSS'] - baseline['VmRSS']) * 1024 / args.connections:.1f} KiB each); "
              f"peak: {held['VmHWM']:.0f} MiB; still serving: {still_serving}")
        print(f"  after 8 s more of idling: {settled['VmRSS']:.0f} MiB "
              f"({(settled['VmRSS'] - baseline['VmRSS']) * 1024 / args.connections:.1f} KiB each)")
    finally:
        for s in sockets:
            s.close()
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=20)
        subprocess.run(["rm", "-rf", site])


if __name__ == "__main__":
    sys.exit(main())
