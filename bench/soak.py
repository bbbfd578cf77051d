#!/usr/bin/env python3
"""Soak and fault drill: mixed load against the sandboxed hhttpp while the served folder changes.

Usage: bench/soak.py [--minutes N] [--engine wasm|native] [--binary PATH]

Starts target/release/hhttpp (building it if missing) on an ephemeral loopback port, serving a
generated folder, then runs for N minutes (default 30):

- clients: small files over keep-alive and over a new connection each, large files checked byte
  for byte, single and multipart ranges, HTML and JSON listings, slow readers, clients that reset
  mid-response;
- the folder's owner: files rewritten (renamed over), a file growing while it is served, and one
  name swapped between a file, a FIFO, a link inside and a link to a secret outside the folder;
- a probe client that asks for a small file every second on a fresh connection.

Each minute it prints the requests, errors (a client that got no complete answer where one was
due), wrong bytes (any body that is not exactly what the folder held: the outside secret, a
corrupt range, a mixed version), the probe's slowest wait and the server's RSS. It exits 1 if any
byte was wrong, if the probe ever waited 1 s or more, or if RSS grew by more than 10 % after the
first two minutes (warm-up). Every process it starts is stopped by PID.
"""

import argparse
import hashlib
import os
import random
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SECRET = b"OUTSIDE-THE-SERVED-FOLDER"
LARGE = 8 * 1024 * 1024
WARM_UP_MINUTES = 2


def content(name, size, version=0):
    """The deterministic bytes of a generated file: the same name and version, the same bytes."""
    seed = hashlib.sha256(f"{name}:{version}".encode()).digest()
    block = (seed * (65536 // len(seed) + 1))[:65536]
    data = (block * (size // len(block) + 1))[:size]
    return data


def versioned(version, size=4096):
    """A churned file's bytes: a header naming its version, then that version's bytes."""
    head = f"version {version:08d}\n".encode()
    return head + content("churn", size - len(head), version)


def check_versioned(body):
    match = re.match(rb"version (\d{8})\n", body)
    return bool(match) and body == versioned(int(match.group(1)), len(body))


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.counts = {}
        self.errors = {}
        self.wrong = {}
        self.probe_max = 0.0
        self.probe_total_max = 0.0
        self.probes = 0
        self.totals = {}

    def add(self, table, kind, n=1):
        with self.lock:
            table[kind] = table.get(kind, 0) + n

    def ok(self, kind):
        self.add(self.counts, kind)
        self.add(self.totals, kind)

    def error(self, kind):
        self.add(self.errors, kind)

    def bad(self, kind):
        self.add(self.wrong, kind)

    def probe(self, seconds):
        with self.lock:
            self.probes += 1
            self.probe_max = max(self.probe_max, seconds)
            self.probe_total_max = max(self.probe_total_max, seconds)

    def take_minute(self):
        with self.lock:
            snapshot = (dict(self.counts), dict(self.errors), dict(self.wrong), self.probe_max, self.probes)
            self.counts, self.errors, self.probe_max, self.probes = {}, {}, 0.0, 0
            return snapshot


class Response:
    def __init__(self, status, headers, body, complete):
        self.status, self.headers, self.body, self.complete = status, headers, body, complete


def read_response(sock, head_request=False, slow=False):
    """One response: status, headers (lowercase names), body of Content-Length bytes."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed before a response head")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = 0 if head_request or status in (204, 304) else int(headers.get("content-length", "0"))
    body = bytearray(rest)
    while len(body) < length:
        chunk = sock.recv(min(65536, length - len(body)) if not slow else 16384)
        if not chunk:
            return Response(status, headers, bytes(body), False)
        body += chunk
        if slow:
            time.sleep(0.05)
    return Response(status, headers, bytes(body[:length]), True)


def connect(port, timeout=30):
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def request(sock, path, extra=b"", close=False):
    conn = b"Connection: close\r\n" if close else b""
    sock.sendall(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: soak\r\n" + conn + extra + b"\r\n")


def make_site(base):
    site = os.path.join(base, "site")
    outside = os.path.join(base, "outside")
    os.makedirs(os.path.join(site, "small"))
    os.makedirs(os.path.join(site, "many"))
    os.makedirs(os.path.join(site, "churn"))
    os.makedirs(outside)
    with open(os.path.join(outside, "secret.txt"), "wb") as f:
        f.write(SECRET)
    for i in range(50):
        with open(os.path.join(site, "small", f"s{i}.txt"), "wb") as f:
            f.write(content(f"s{i}", 1024 + i))
    for i in range(2):
        with open(os.path.join(site, f"large{i}.bin"), "wb") as f:
            f.write(content(f"large{i}", LARGE))
    for i in range(2000):
        open(os.path.join(site, "many", f"entry-{i:04}.txt"), "w").close()
    with open(os.path.join(site, "probe.txt"), "wb") as f:
        f.write(b"probe")
    with open(os.path.join(site, "churn", "inside.txt"), "wb") as f:
        f.write(versioned(0))
    return site, outside


class Soak:
    def __init__(self, port, site, outside, stats, until):
        self.port, self.site, self.outside, self.stats, self.until = port, site, outside, stats, until

    def running(self):
        return time.time() < self.until

    def guard(self, kind, work):
        """Runs one client step; a network failure is an error of `kind`."""
        try:
            work()
        except (OSError, ConnectionError, ValueError, IndexError):
            self.stats.error(kind)

    # Clients.

    def small_keep_alive(self):
        while self.running():
            def work():
                with connect(self.port) as sock:
                    for _ in range(100):
                        i = random.randrange(50)
                        request(sock, f"/small/s{i}.txt")
                        r = read_response(sock)
                        self.judge("small keep-alive", r, content(f"s{i}", 1024 + i))
            self.guard("small keep-alive", work)

    def small_close(self):
        while self.running():
            def work():
                i = random.randrange(50)
                with connect(self.port) as sock:
                    request(sock, f"/small/s{i}.txt", close=True)
                    self.judge("small close", read_response(sock), content(f"s{i}", 1024 + i))
            self.guard("small close", work)

    def large(self):
        while self.running():
            def work():
                i = random.randrange(2)
                with connect(self.port) as sock:
                    request(sock, f"/large{i}.bin", close=True)
                    self.judge("large", read_response(sock), content(f"large{i}", LARGE))
            self.guard("large", work)

    def ranges(self):
        expected = [content(f"large{i}", LARGE) for i in range(2)]
        while self.running():
            def work():
                i = random.randrange(2)
                first = random.randrange(LARGE)
                last = min(LARGE - 1, first + random.randrange(1, 300_000))
                with connect(self.port) as sock:
                    if random.random() < 0.7:
                        request(sock, f"/large{i}.bin", f"Range: bytes={first}-{last}\r\n".encode(), close=True)
                        self.judge("range", read_response(sock), expected[i][first:last + 1], status=206)
                    else:
                        other = random.randrange(LARGE - 100)
                        spec = f"bytes={first}-{last},{other}-{other + 99}"
                        request(sock, f"/large{i}.bin", f"Range: {spec}\r\n".encode(), close=True)
                        r = read_response(sock)
                        self.judge_multipart(r, expected[i])
            self.guard("range", work)

    def listings(self):
        while self.running():
            def work():
                with connect(self.port) as sock:
                    as_json = random.random() < 0.5
                    extra = b"Accept: application/json\r\n" if as_json else b""
                    request(sock, "/many/", extra, close=True)
                    r = read_response(sock)
                    if not r.complete or r.status != 200:
                        self.stats.error("listing")
                    elif b"entry-1999.txt" not in r.body or b"entry-0000.txt" not in r.body:
                        self.stats.bad("listing")
                    else:
                        self.stats.ok("listing")
            self.guard("listing", work)

    def slow_readers(self):
        while self.running():
            def work():
                i = random.randrange(2)
                with connect(self.port) as sock:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
                    request(sock, f"/large{i}.bin", close=True)
                    deadline = time.time() + random.uniform(1, 4)
                    got = b""
                    while time.time() < deadline and len(got) < 2_000_000:
                        chunk = sock.recv(16384)
                        if not chunk:
                            break
                        got += chunk
                        time.sleep(0.05)
                    head, _, body = got.partition(b"\r\n\r\n")
                    if not head.startswith(b"HTTP/1.1 200"):
                        self.stats.error("slow reader")
                    elif body != content(f"large{i}", LARGE)[: len(body)]:
                        self.stats.bad("slow reader")
                    else:
                        self.stats.ok("slow reader")
            self.guard("slow reader", work)

    def resets(self):
        while self.running():
            def work():
                with connect(self.port) as sock:
                    request(sock, f"/large{random.randrange(2)}.bin")
                    sock.recv(random.randrange(1, 200_000))
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.stats.ok("reset")
            self.guard("reset", work)

    def churned(self):
        """The name the owner swaps: a version of the file, a FIFO, links in and out: never the secret."""
        while self.running():
            def work():
                with connect(self.port) as sock:
                    request(sock, "/churn/target", close=True)
                    r = read_response(sock)
                    if SECRET in r.body:
                        self.stats.bad("churned (outside secret)")
                    elif r.status in (403, 404):
                        self.stats.ok("churned")
                    elif r.status == 200 and r.complete and check_versioned(r.body):
                        self.stats.ok("churned")
                    elif r.status == 200 and not r.complete:
                        self.stats.ok("churned")  # cut short: the file changed, never padded
                    else:
                        self.stats.bad("churned")
            self.guard("churned", work)

    def growing(self):
        """A file appended to while served: a prefix of what it becomes, never other bytes."""
        while self.running():
            def work():
                with connect(self.port) as sock:
                    request(sock, "/churn/growing.log", close=True)
                    r = read_response(sock)
                    if r.status == 404:
                        return self.stats.ok("growing")
                    expected = content("growing", len(r.body))
                    if r.status == 200 and r.body == expected:
                        self.stats.ok("growing")
                    else:
                        self.stats.bad("growing")
            self.guard("growing", work)

    def probe(self):
        while self.running():
            started = time.time()
            try:
                with connect(self.port, timeout=10) as sock:
                    request(sock, "/probe.txt", close=True)
                    r = read_response(sock)
                    if r.status != 200 or r.body != b"probe":
                        self.stats.bad("probe")
            except (OSError, ConnectionError, ValueError):
                self.stats.error("probe")
            self.stats.probe(time.time() - started)
            time.sleep(max(0, 1 - (time.time() - started)))

    # The folder's owner.

    def owner(self):
        churn = os.path.join(self.site, "churn")
        target = os.path.join(churn, "target")
        version = 0
        grow_file = os.path.join(churn, "growing.log")
        grown = 0
        while self.running():
            version += 1
            tmp = os.path.join(churn, ".tmp")
            step = version % 5
            try:
                if os.path.lexists(tmp):
                    os.unlink(tmp)
                if step == 0:
                    with open(tmp, "wb") as f:
                        f.write(versioned(version))
                elif step == 1:
                    os.mkfifo(tmp)
                elif step == 2:
                    os.symlink("inside.txt", tmp)
                elif step == 3:
                    os.symlink(os.path.join(self.outside, "secret.txt"), tmp)
                else:
                    os.symlink("../../outside/secret.txt", tmp)
                os.rename(tmp, target)
                # Rewrite the inside file by renaming a new version over it.
                with open(tmp, "wb") as f:
                    f.write(versioned(version))
                os.rename(tmp, os.path.join(churn, "inside.txt"))
                # Grow the log; start it over now and then.
                if grown > 4 * 1024 * 1024:
                    os.unlink(grow_file)
                    grown = 0
                with open(grow_file, "ab") as f:
                    f.write(content("growing", grown + 65536)[grown:])
                    grown += 65536
            except OSError as error:
                print(f"owner: {error}", file=sys.stderr)
            time.sleep(0.002)

    def judge(self, kind, r, expected, status=200):
        if not r.complete or r.status != status:
            self.stats.error(kind)
        elif r.body != expected:
            self.stats.bad(kind)
        else:
            self.stats.ok(kind)

    def judge_multipart(self, r, data):
        if not r.complete or r.status != 206:
            return self.stats.error("multipart range")
        if not r.headers.get("content-type", "").startswith("multipart/byteranges"):
            # Overlapping ranges are coalesced into one.
            match = re.match(r"bytes (\d+)-(\d+)/", r.headers.get("content-range", ""))
            good = match and r.body == data[int(match.group(1)): int(match.group(2)) + 1]
            return self.stats.ok("range") if good else self.stats.bad("range")
        boundary = r.headers.get("content-type", "").partition("boundary=")[2]
        parts = r.body.split(b"--" + boundary.encode())[1:-1]
        for part in parts:
            head, _, body = part.partition(b"\r\n\r\n")
            match = re.search(rb"Content-Range: bytes (\d+)-(\d+)/", head)
            body = body[:-2] if body.endswith(b"\r\n") else body
            if not match or body != data[int(match.group(1)): int(match.group(2)) + 1]:
                return self.stats.bad("multipart range")
        self.stats.ok("multipart range" if parts else "range")


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def start_server(binary, site, engine):
    cmd = [binary, "0", "-b", "127.0.0.1", "-d", site, "-q", "--engine", engine]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    match = re.search(r" port (\d+) ", line)
    if not match:
        proc.kill()
        raise RuntimeError(f"no banner from hhttpp: {line!r} {proc.stderr.read()}")
    threading.Thread(target=lambda: [None for _ in proc.stderr], daemon=True).start()
    return proc, int(match.group(1))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--engine", default="wasm", choices=["wasm", "native"])
    parser.add_argument("--binary", default=os.path.join(ROOT, "target", "release", "hhttpp"))
    args = parser.parse_args()
    if not os.path.exists(args.binary):
        subprocess.run(["cargo", "build", "--release", "--locked", "-p", "hhttpp-host"], cwd=ROOT, check=True)

    base = tempfile.mkdtemp(prefix="hhttpp-soak-")
    proc = None
    try:
        site, outside = make_site(base)
        proc, port = start_server(args.binary, site, args.engine)
        stats = Stats()
        until = time.time() + args.minutes * 60
        soak = Soak(port, site, outside, stats, until)
        workers = [soak.small_keep_alive, soak.small_keep_alive, soak.small_close, soak.large, soak.ranges,
                   soak.listings, soak.slow_readers, soak.slow_readers, soak.resets, soak.churned,
                   soak.growing, soak.probe, soak.owner]
        threads = [threading.Thread(target=w, daemon=True) for w in workers]
        for t in threads:
            t.start()
        print(f"soak: {args.minutes:g} min against {args.binary} --engine {args.engine} on port {port} (pid {proc.pid})")
        print("| minute | requests | errors | wrong bytes | probe max ms | RSS MiB |")
        print("|---:|---:|---:|---:|---:|---:|")
        minute, rss_after_warm_up, rss_max, wrong_total = 0, None, 0.0, 0
        while time.time() < until:
            time.sleep(min(60, max(0, until - time.time())))
            minute += 1
            counts, errors, wrong, probe_max, _ = stats.take_minute()
            if proc.poll() is not None:
                print(f"the server exited with status {proc.returncode}")
                return 1
            rss = rss_mib(proc.pid)
            if minute == WARM_UP_MINUTES:
                rss_after_warm_up = rss
            elif minute > WARM_UP_MINUTES:
                rss_max = max(rss_max, rss)
            wrong_total += sum(wrong.values())
            detail = ", ".join(f"{k} {v}" for k, v in sorted({**errors}.items()))
            print(f"| {minute} | {sum(counts.values())} | {sum(errors.values())} | {sum(wrong.values())} "
                  f"| {probe_max * 1000:.0f} | {rss:.0f} |" + (f" errors: {detail}" if detail else "")
                  + (f" WRONG: {wrong}" if wrong else ""), flush=True)
        for t in threads:
            t.join(timeout=30)
        failures = []
        if wrong_total:
            failures.append(f"{wrong_total} responses with wrong bytes")
        if stats.probe_total_max >= 1:
            failures.append(f"the probe waited {stats.probe_total_max:.2f} s")
        if rss_after_warm_up and rss_max > rss_after_warm_up * 1.10:
            failures.append(f"RSS grew from {rss_after_warm_up:.0f} to {rss_max:.0f} MiB after warm-up")
        print("requests answered as expected, by kind: "
              + ", ".join(f"{k} {v}" for k, v in sorted(stats.totals.items())))
        print("result: " + ("; ".join(failures) if failures else
                            f"clean (probe max {stats.probe_total_max * 1000:.0f} ms, 0 wrong bytes"
                            + (f", RSS {rss_after_warm_up:.0f} → max {rss_max:.0f} MiB after warm-up)" if rss_after_warm_up else ")")))
        return 1 if failures else 0
    finally:
        if proc and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
