#!/usr/bin/env python3
"""How long an innocent client waits while a hostile folder is attacked: probe latency per attack.

Usage: bench/stall.py [--seconds N] [--binary PATH ...] [--component PATH ...]
                      [--engines wasm,native,wasmtime-run] [--attacks NAME,...]

For each binary and engine, starts hhttpp on an ephemeral loopback port serving a prepared
folder (engine `wasmtime-run`: the matching `--component` under `wasmtime run`), then runs each
attack for N seconds (default 5) while a probe client asks for a small file on a fresh connection
every 100 ms, and prints the probe's median and worst wait (a probe that gets no answer within 10 s
counts as 10 s) and the server's CPU time during the attack. The attacks, from issue 11:

- link chains: 2 clients list a folder of 3,000 links into a 40-hop chain of links padded with d/..
- huge folder: 4 clients list a folder of 100,000 files
- fifo swap: the folder's owner renames a FIFO over a file in a loop while 4 clients ask for it

and from issue 20:

- compressed text: 50 clients download a 64 MiB text with `Accept-Encoding: br`, again and again
- sparse text: 1 client downloads an 8 GiB sparse text file with `Accept-Encoding: br`
- downloads: 50 clients download the 64 MiB text as it is, again and again
- never readers: 50 clients ask for a 64 MiB file and read nothing (run with a short write
  timeout: the server is started with `--write-timeout 1`)
- slot hog: 1,500 connections from 127.0.0.1 that each send a byte of a request head every 5 s
  (a closed one is opened again at once); the probe comes from 127.0.0.2

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
    words = ["static ", "server ", "folder ", "hhttpp ", "sandbox ", "wire\n"]
    block = "".join(words[(i * 7 + i // 3) % len(words)] for i in range(200_000)).encode()
    with open(os.path.join(site, "big.txt"), "wb") as f:
        written = 0
        while written < 64 << 20:
            chunk = block[: (64 << 20) - written]
            f.write(chunk)
            written += len(chunk)
    with open(os.path.join(site, "sparse.txt"), "wb") as f:
        f.truncate(8 << 30)
    return site


def get(port, path, timeout=10, source=None):
    """One request on a fresh connection (from the loopback address `source`, if given); the whole
    response, or None if none came in time."""
    try:
        address = (source, 0) if source else None
        with socket.create_connection(("127.0.0.1", port), timeout=timeout, source_address=address) as sock:
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


def download(port, path, headers, until):
    """Downloads `path` on a fresh connection, reading and dropping the body, until it ends or
    `until`."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(f"GET {path} HTTP/1.1\r\nHost: s\r\n{headers}Connection: close\r\n\r\n".encode())
            buffer = bytearray(1 << 16)
            while time.time() < until and sock.recv_into(buffer):
                pass
    except OSError:
        pass


def downloaders(port, path, headers, clients, until):
    def loop():
        while time.time() < until:
            download(port, path, headers, until)
    return [threading.Thread(target=loop, daemon=True) for _ in range(clients)]


def slot_hog(port, connections, until):
    """`connections` connections from 127.0.0.1 that each send a byte of a head every 5 s, each
    opened again as soon as the server closes it, until `until`."""
    head = b"GET /ok.txt HTTP/1.1\r\nHost: s\r\nX-Slow: " + b"a" * 200

    def hold():
        held = [None] * connections
        sent = [0] * connections
        next_byte = 0.0
        while time.time() < until:
            trickle = time.time() >= next_byte
            if trickle:
                next_byte = time.time() + 5
            for i in range(connections):
                sock = held[i]
                if sock is None:
                    try:
                        sock = socket.create_connection(("127.0.0.1", port), timeout=1)
                        sock.setblocking(False)
                        held[i], sent[i] = sock, 0
                    except OSError:
                        continue
                try:
                    if sock.recv(512) == b"":
                        raise OSError("closed")
                    raise OSError("answered")
                except BlockingIOError:
                    pass
                except OSError:
                    sock.close()
                    held[i] = None
                    continue
                if trickle:
                    try:
                        sock.send(head[sent[i] % len(head):][:1])
                        sent[i] += 1
                    except OSError:
                        sock.close()
                        held[i] = None
            time.sleep(0.05)
        for sock in held:
            if sock is not None:
                sock.close()
    return [threading.Thread(target=hold, daemon=True)]


def never_readers(port, path, clients, until):
    """`clients` connections that each ask for `path` and read nothing, held until `until`."""
    def hold():
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
                sock.sendall(f"GET {path} HTTP/1.1\r\nHost: s\r\n\r\n".encode())
                time.sleep(max(0, until - time.time()))
        except OSError:
            pass
    return [threading.Thread(target=hold, daemon=True) for _ in range(clients)]


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


def probe_during(port, attack, until, source=None):
    """Runs `attack` (which makes the attackers' threads) in a child process, so that the probe's
    timing never waits for the attackers' hold on Python's interpreter lock, and probes."""
    attacker = os.fork()
    if attacker == 0:
        threads = attack()
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=15)
        os._exit(0)
    time.sleep(0.3)
    waits = []
    while time.time() < until:
        started = time.time()
        response = get(port, "/ok.txt", source=source)
        ok = response is not None and response.startswith(b"HTTP/1.1 200") and response.endswith(b"ok")
        waits.append(time.time() - started if ok else 10.0)
        time.sleep(0.1)
    os.waitpid(attacker, 0)
    return waits


def start(binary, component, site, engine, extra):
    if engine == "wasmtime-run":
        command = ["wasmtime", "run", "-S", "inherit-network", "--dir", site, component, "0", "-b", "127.0.0.1", "-q"]
    else:
        command = [binary, "0", "-b", "127.0.0.1", "-d", site, "-q", "--engine", engine]
    proc = subprocess.Popen(command + extra, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    match = re.search(r" port (\d+) ", proc.stdout.readline())
    if not match:
        proc.kill()
        raise RuntimeError(f"{binary} printed no banner")
    return proc, int(match.group(1))


def stop(proc):
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def cpu_seconds(pid):
    """User and system CPU time of process `pid` so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--binary", action="append", help="hhttpp binaries to compare (default: this build)")
    parser.add_argument("--component", action="append",
                        help="hhttpp.wasm for each --binary, for the wasmtime-run engine (default: this build's)")
    parser.add_argument("--engines", default="wasm,native")
    parser.add_argument("--attacks", help="names of the attacks to run, comma-separated (default: all)")
    args = parser.parse_args()
    binaries = args.binary or [os.path.join(ROOT, "target", "release", "hhttpp")]
    components = (args.component or []) + [default_component()] * len(binaries)
    base = tempfile.mkdtemp(prefix="hhttpp-stall-")
    br = "Accept-Encoding: br\r\n"
    try:
        site = make_site(base)
        attacks = [
            ("link chains", [], lambda port, until: attack_clients(port, "/trap/", 2, until)),
            ("huge folder", [], lambda port, until: attack_clients(port, "/huge/", 4, until)),
            ("fifo swap", [], lambda port, until: fifo_swapper(site, until) + attack_clients(port, "/target.txt", 4, until)),
            ("compressed text", [], lambda port, until: downloaders(port, "/big.txt", br, 50, until)),
            ("sparse text", [], lambda port, until: downloaders(port, "/sparse.txt", br, 1, until)),
            ("downloads", [], lambda port, until: downloaders(port, "/big.txt", "", 50, until)),
            ("never readers", ["--write-timeout", "1"], lambda port, until: never_readers(port, "/big.txt", 50, until)),
            ("slot hog", [], lambda port, until: slot_hog(port, 1500, until)),
        ]
        # The slot hog's probe comes from another loopback address than its connections.
        probe_source = {"slot hog": "127.0.0.2"}
        if args.attacks:
            chosen = args.attacks.split(",")
            attacks = [a for a in attacks if a[0] in chosen]
        print("| binary | engine | attack | probes | median ms | worst ms | server CPU s |")
        print("|---|---|---|---:|---:|---:|---:|")
        for binary, component in zip(binaries, components):
            for engine in args.engines.split(","):
                for name, extra, attack in attacks:
                    # A fresh server for each attack: one that froze must not spoil the next.
                    proc, port = start(binary, component, site, engine, extra)
                    try:
                        cpu = cpu_seconds(proc.pid)
                        until = time.time() + args.seconds
                        waits = probe_during(port, lambda: attack(port, until), until, probe_source.get(name))
                        cpu = cpu_seconds(proc.pid) - cpu
                    finally:
                        stop(proc)
                    print(f"| {binary} | {engine} | {name} | {len(waits)} | {statistics.median(waits) * 1000:.0f} "
                          f"| {max(waits) * 1000:.0f} | {cpu:.1f} |", flush=True)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def default_component():
    """This build's hhttpp.wasm (the one embedded in target/release/hhttpp)."""
    import glob
    found = glob.glob(os.path.join(ROOT, "target", "release", "build", "hhttpp-host-*", "out",
                                   "component-target", "wasm32-wasip2", "release", "hhttpp_component.wasm"))
    return max(found, key=os.path.getmtime) if found else "hhttpp.wasm"


if __name__ == "__main__":
    sys.exit(main())
