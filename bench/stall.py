#!/usr/bin/env python3
"""How long an innocent client waits while a hostile folder is attacked: probe latency per attack.

Usage: bench/stall.py [--seconds N] [--binary PATH ...] [--engines wasm,native]

For each binary and engine, starts hhttpp on an ephemeral loopback port serving a prepared
folder, then runs each attack for N seconds (default 5) while a probe client asks for a small
file on a fresh connection every 100 ms, and prints the probe's median and worst wait (a probe
that gets no answer within 10 s counts as 10 s). The attacks, from issue 11:

- link chains: 2 clients list a folder of 3,000 links into a 40-hop chain of links padded with d/..
- huge folder: 4 clients list a folder of 100,000 files
- fifo swap: the folder's owner renames a FIFO over a file in a loop while 4 clients ask for it

Every process it starts is stopped by PID. Do not run it while anything else is building.
"""

import argparse
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def make_site(base):
    site = os.path.join(base, "site")
    os.makedirs(os.path.join(site, "chain", "d"))
    with open(os.path.join(site, "ok.txt"), "w") as f:
        f.write("ok")
    padding = "d/../" * 10
    os.symlink(padding + "../ok.txt", os.path.join(site, "chain", "c0"))
    for hop in range(1, 40):
        os.symlink(f"{padding}c{hop - 1}", os.path.join(site, "chain", f"c{hop}"))
    os.makedirs(os.path.join(site, "trap"))
    for i in range(3000):
        os.symlink("../chain/c38", os.path.join(site, "trap", f"l{i:04}"))
    os.makedirs(os.path.join(site, "huge"))
    for i in range(100_000):
        open(os.path.join(site, "huge", f"{i:06}"), "w").close()
    with open(os.path.join(site, "target.txt"), "w") as f:
        f.write("regular")
    return site


def get(port, path, timeout=10):
    """One request on a fresh connection; the whole response, or None if none came in time."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.sendall(f"GET {path} HTTP/1.1\r\nHost: s\r\nConnection: close\r\n\r\n".encode())
            data = b""
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    return data
                data += chunk
    except OSError:
        return None


def attack_clients(port, path, clients, until):
    def loop():
        while time.time() < until:
            get(port, path)
    return [threading.Thread(target=loop, daemon=True) for _ in range(clients)]


def fifo_swapper(site, until):
    def loop():
        fifo, file = os.path.join(site, "fifo.tmp"), os.path.join(site, "file.tmp")
        target = os.path.join(site, "target.txt")
        while time.time() < until:
            try:
                os.mkfifo(fifo)
                os.rename(fifo, target)
                with open(file, "w") as f:
                    f.write("regular")
                os.rename(file, target)
            except OSError:
                pass
    return [threading.Thread(target=loop, daemon=True)]


def probe_during(port, threads, until):
    for t in threads:
        t.start()
    time.sleep(0.3)
    waits = []
    while time.time() < until:
        started = time.time()
        response = get(port, "/ok.txt")
        ok = response is not None and response.startswith(b"HTTP/1.1 200") and response.endswith(b"ok")
        waits.append(time.time() - started if ok else 10.0)
        time.sleep(0.1)
    for t in threads:
        t.join(timeout=15)
    return waits


def start(binary, site, engine):
    proc = subprocess.Popen([binary, "0", "-b", "127.0.0.1", "-d", site, "-q", "--engine", engine],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    match = re.search(r" port (\d+) ", proc.stdout.readline())
    if not match:
        proc.kill()
        raise RuntimeError(f"{binary} printed no banner")
    return proc, int(match.group(1))


def stop(proc):
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--binary", action="append", help="hhttpp binaries to compare (default: this build)")
    parser.add_argument("--engines", default="wasm,native")
    args = parser.parse_args()
    binaries = args.binary or [os.path.join(ROOT, "target", "release", "hhttpp")]
    base = tempfile.mkdtemp(prefix="hhttpp-stall-")
    try:
        site = make_site(base)
        attacks = [
            ("link chains", lambda port, until: attack_clients(port, "/trap/", 2, until)),
            ("huge folder", lambda port, until: attack_clients(port, "/huge/", 4, until)),
            ("fifo swap", lambda port, until: fifo_swapper(site, until) + attack_clients(port, "/target.txt", 4, until)),
        ]
        print("| binary | engine | attack | probes | median ms | worst ms |")
        print("|---|---|---|---:|---:|---:|")
        for binary in binaries:
            for engine in args.engines.split(","):
                for name, attack in attacks:
                    # A fresh server for each attack: one that froze must not spoil the next.
                    proc, port = start(binary, site, engine)
                    try:
                        until = time.time() + args.seconds
                        waits = probe_during(port, attack(port, until), until)
                    finally:
                        stop(proc)
                    print(f"| {binary} | {engine} | {name} | {len(waits)} | {statistics.median(waits) * 1000:.0f} "
                          f"| {max(waits) * 1000:.0f} |", flush=True)
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
