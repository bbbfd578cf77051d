#!/usr/bin/env python3
"""Folder archives side by side: hhttpp (sandboxed and native) against static-web-server's
`--directory-listing-download targz` (nginx has no archives).

Usage: bench/archives.py [--rounds 2] [--large-mib 1024]

Makes a site with two folders and downloads each as an archive with curl, one download at a
time, three times per round (the best is kept):

1. `small/`: 10,000 files of 1 KiB (text) in 100 folders: the walk, headers and opens;
2. `large/`: 4 files of `--large-mib`/4 MiB each (incompressible bytes): the data path.

For each server and format it reports the seconds a download took and the archive's size, the
server's peak resident memory growth over the round, and for tar.gz the speed relative to
static-web-server's (its seconds over ours: above 1 is faster). Stops every
process it starts (by PID). This machine has 2 cores: run it twice, and never beside a build.
"""

import argparse
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bench"))
from run import HHTTPP, SWS, ensure_tools, free_port, memory_mib, wait_port  # noqa: E402

FORMATS = {"hhttpp": ["tar", "zip", "tar.gz"], "hhttpp-native": ["tar", "zip", "tar.gz"], "sws": ["tar.gz"]}


def make_site(base, large_mib):
    site = os.path.join(base, "site")
    line = b"All work and no play makes Jack a dull boy.\n"
    for folder in range(100):
        path = os.path.join(site, "small", f"folder-{folder:03}")
        os.makedirs(path)
        for i in range(100):
            with open(os.path.join(path, f"note-{i:03}.txt"), "wb") as f:
                f.write((line * 24)[:1024])
    os.makedirs(os.path.join(site, "large"))
    block = os.urandom(1 << 20)
    for i in range(4):
        with open(os.path.join(site, "large", f"part-{i}.bin"), "wb") as f:
            for _ in range(large_mib // 4):
                f.write(block)
    return site


def start(name, site, base):
    port = free_port()
    log = open(os.path.join(base, f"{name}.log"), "w")
    if name.startswith("hhttpp"):
        cmd = [HHTTPP, str(port), "-b", "127.0.0.1", "-d", site, "-q", "--archives"]
        if name.endswith("-native"):
            cmd += ["--engine", "native"]
    else:
        cmd = [SWS, "--port", str(port), "--host", "127.0.0.1", "--root", site, "--directory-listing", "true",
               "--directory-listing-download=targz", "--log-level", "error", "--threads-multiplier", "1"]
    proc = subprocess.Popen(cmd, stdout=log, stderr=log, start_new_session=True)
    wait_port(port)
    return proc, port


def download(port, folder, fmt):
    """Seconds and bytes of one download (curl, body discarded)."""
    query = "targz" if fmt == "tar.gz" and port in SWS_PORTS else fmt
    out = subprocess.run(
        ["curl", "-sS", "--fail", "-o", "/dev/null", "-w", "%{time_total} %{size_download}",
         f"http://127.0.0.1:{port}/{folder}/?download={query}"],
        check=True, capture_output=True, text=True).stdout.split()
    return float(out[0]), int(out[1])


SWS_PORTS = set()


def measure(name, site, base):
    proc, port = start(name, site, base)
    if name == "sws":
        SWS_PORTS.add(port)
    try:
        download(port, "small", FORMATS[name][0])  # warm up: caches, a first instance
        before = memory_mib(proc, "VmHWM:")
        results = {}
        for fmt in FORMATS[name]:
            for folder in ("small", "large"):
                best = min(download(port, folder, fmt) for _ in range(3))
                results[(folder, fmt)] = best
        growth = memory_mib(proc, "VmHWM:") - before
        return results, growth
    finally:
        proc.kill()
        proc.wait()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--large-mib", type=int, default=1024)
    args = parser.parse_args()
    ensure_tools()
    with tempfile.TemporaryDirectory() as base:
        site = make_site(base, args.large_mib)
        for round_ in range(1, args.rounds + 1):
            print(f"\n## Round {round_}\n")
            measured = {name: measure(name, site, base) for name in FORMATS}
            sws = measured["sws"][0]
            print("| server | format | small/ (10,000 × 1 KiB): s (size) | large/ (4 × {} MiB): s (size) | vs sws tar.gz (small / large) | peak RSS growth MiB |"
                  .format(args.large_mib // 4))
            print("|---|---|---|---|---|---|")
            for name, (results, growth) in measured.items():
                for fmt in FORMATS[name]:
                    small, large = results[("small", fmt)], results[("large", fmt)]
                    ratio = ""
                    if fmt == "tar.gz":
                        ratio = "{:.2f}× / {:.2f}×".format(sws[("small", "tar.gz")][0] / small[0],
                                                          sws[("large", "tar.gz")][0] / large[0])
                    print(f"| {name} | {fmt} | {small[0]:.2f} ({small[1] / 1e6:.1f} MB) | "
                          f"{large[0]:.2f} ({large[1] / 1e6:.0f} MB) | {ratio} | {growth:.1f} |")


if __name__ == "__main__":
    main()
