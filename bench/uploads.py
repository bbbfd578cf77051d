#!/usr/bin/env python3
"""Uploads side by side: hhttpp (sandboxed and native, `--upload-dir`) against nginx's WebDAV
`PUT` (`dav_methods PUT`; static-web-server takes no uploads).

Usage: bench/uploads.py [--rounds 2] [--large-mib 1024] [--small 2000]

For each server, one round:

1. one `PUT` of `--large-mib` MiB of incompressible bytes (curl -T; the data path: socket to
   disk), best of three;
2. `--small` `PUT`s of 4 KiB over one kept-alive connection (curl -T with many URLs; the
   per-request cost: admission, a temporary file, its publication);
3. for hhttpp, the same large file as a browser's form (curl -F; the multipart reader).

It reports seconds, MB/s or uploads a second, the speed relative to nginx's (above 1 is
faster), and the server's peak resident memory growth over the round. Files land on the disk
under a temporary folder, removed after each measurement. Stops every process it starts (by
PID). This machine has 2 cores: run it twice, and never beside a build.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bench"))
from run import HHTTPP, free_port, memory_mib, sh, wait_port  # noqa: E402

SERVERS = ["hhttpp", "hhttpp-native", "nginx"]

NGINX_CONF = """
worker_processes 2;
pid {base}/nginx.pid;
error_log {base}/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {base}/body;
    client_max_body_size 0;
    server {{
        listen 127.0.0.1:{port};
        root {inbox};
        location / {{ dav_methods PUT; create_full_put_path off; }}
    }}
}}
"""


def ensure_tools():
    """nginx and curl (apt), and a release build of hhttpp with its component."""
    missing = [p for p in ("nginx", "curl") if shutil.which(p) is None]
    if missing:
        sh("apt-get", "update", "-qq")
        sh("apt-get", "install", "-y", "-qq", *missing, stdout=subprocess.DEVNULL)
    sh(os.path.join(ROOT, "scripts", "build-wasm"), stdout=subprocess.DEVNULL)
    sh("cargo", "build", "--release", "--locked", "-p", "hhttpp-host", cwd=ROOT)


def start(name, site, inbox, base):
    port = free_port()
    log = open(os.path.join(base, f"{name}.log"), "w")
    if name.startswith("hhttpp"):
        cmd = [HHTTPP, str(port), "-b", "127.0.0.1", "-d", site, "-q", "--upload-dir", inbox,
               "--upload-max-size", "4G"]
        if name.endswith("-native"):
            cmd += ["--engine", "native"]
    else:
        conf = os.path.join(base, "nginx-uploads.conf")
        with open(conf, "w") as f:
            f.write(NGINX_CONF.format(base=base, port=port, inbox=inbox))
        cmd = ["nginx", "-c", conf, "-g", "daemon off;"]
    proc = subprocess.Popen(cmd, stdout=log, stderr=log, start_new_session=True)
    wait_port(port)
    return proc, port


def empty(folder):
    for name in os.listdir(folder):
        os.remove(os.path.join(folder, name))


def timed(cmd):
    started = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.perf_counter() - started


def measure(name, site, inbox, base, large, small_file, small_count):
    proc, port = start(name, site, inbox, base)
    url = f"http://127.0.0.1:{port}"
    print(f"{name}...", file=sys.stderr)
    try:
        timed(["curl", "-sS", "--fail", "-T", small_file, f"{url}/warm.bin"])  # a first instance
        empty(inbox)
        before = memory_mib(proc, "VmHWM:")
        results = {}
        best = []
        for i in range(3):
            best.append(timed(["curl", "-sS", "--fail", "-T", large, f"{url}/large-{i}.bin"]))
            empty(inbox)
        results["large"] = min(best)
        args = ["curl", "-sS", "--fail"]
        for i in range(small_count):
            args += ["-T", small_file, f"{url}/small-{i}.bin"]
        results["small"] = timed(args)
        assert len(os.listdir(inbox)) == small_count, os.listdir(inbox)[:5]
        empty(inbox)
        if name.startswith("hhttpp"):
            best = []
            for _ in range(3):
                best.append(timed(["curl", "-sS", "--fail", "-F", f"file=@{large}", f"{url}/"]))
                empty(inbox)
            results["form"] = min(best)
        growth = memory_mib(proc, "VmHWM:") - before
        return results, growth
    finally:
        proc.kill()
        proc.wait()
        empty(inbox)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--large-mib", type=int, default=1024)
    parser.add_argument("--small", type=int, default=2000)
    args = parser.parse_args()
    ensure_tools()
    with tempfile.TemporaryDirectory() as base:
        site = os.path.join(base, "site")
        inbox = os.path.join(base, "inbox")
        os.makedirs(site)
        os.makedirs(inbox)
        os.makedirs(os.path.join(base, "body"))
        # nginx's workers run as another user: let them in, and write the inbox.
        for folder in (base, site, inbox, os.path.join(base, "body")):
            os.chmod(folder, 0o777)
        large = os.path.join(base, "large.bin")
        block = os.urandom(1 << 20)
        with open(large, "wb") as f:
            for _ in range(args.large_mib):
                f.write(block)
        small_file = os.path.join(base, "small.bin")
        with open(small_file, "wb") as f:
            f.write(os.urandom(4096))
        mb = args.large_mib * (1 << 20) / 1e6
        for round_ in range(1, args.rounds + 1):
            print(f"\n## Round {round_}\n")
            measured = {name: measure(name, site, inbox, base, large, small_file, args.small)
                        for name in SERVERS}
            nginx = measured["nginx"][0]
            print(f"| server | PUT {args.large_mib} MiB: s (MB/s) | vs nginx | {args.small} PUTs of 4 KiB, one connection: s (/s) | vs nginx | form of {args.large_mib} MiB: s (MB/s) | peak RSS growth MiB |")
            print("|---|---|---|---|---|---|---|")
            for name, (r, growth) in measured.items():
                form = f"{r['form']:.2f} ({mb / r['form']:.0f})" if "form" in r else "—"
                print(f"| {name} | {r['large']:.2f} ({mb / r['large']:.0f}) | {nginx['large'] / r['large']:.2f}× | "
                      f"{r['small']:.2f} ({args.small / r['small']:.0f}) | {nginx['small'] / r['small']:.2f}× | "
                      f"{form} | {growth:.1f} |")


if __name__ == "__main__":
    main()
