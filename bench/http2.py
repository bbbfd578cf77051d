#!/usr/bin/env python3
"""HTTP/2 side by side: hhttpp (sandboxed and native) against nginx's `http2`, on one TLS certificate.

Usage: bench/http2.py [--rounds 2] [--servers hhttpp,hhttpp-native,nginx]

Makes a self-signed certificate (openssl) and a site, starts each server on its own loopback port
with that certificate, and measures with h2load (Debian's nghttp2-client):

1. `h2load -n 200000 -c 10 -m 20` of a 1 KB file over h2;
2. a page of 60 small assets (the example site and 57 more stylesheets, scripts and images)
   loaded 50 times by one client: over h2 (`-c 1 -m 60`), and for hhttpp over HTTP/1.1 too, as a
   browser would without h2 (`--h1 -c 6`);
3. memory per idle connection: 500 TLS connections each make one request and stay open; the
   server's resident memory grows by this much per connection, over h2 and over HTTP/1.1 (each
   on a fresh server; sandboxed, this includes the pool slots the burst touched, kept until the
   pool is renewed).

Prints a markdown table with each ratio to nginx. Stops every process it starts (by PID).
This machine has 2 cores: run it twice, and never beside a build.
"""

import argparse
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HHTTPP = os.path.join(ROOT, "target", "release", "hhttpp")
sys.path.insert(0, os.path.join(ROOT, "bench"))
from run import free_port, memory_mib, wait_port  # noqa: E402

NGINX_CONF = """
worker_processes 2;
pid {dir}/nginx.pid;
error_log {dir}/nginx-error.log warn;
events {{ worker_connections 16384; }}
http {{
    access_log off;
    sendfile on;
    keepalive_requests 1000000;
    http2_max_requests 1000000;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    types {{ text/html html; text/css css; application/javascript js; image/png png; application/octet-stream bin; }}
    server {{
        listen 127.0.0.1:{port} ssl http2;
        ssl_certificate {dir}/cert.pem;
        ssl_certificate_key {dir}/key.pem;
        root {site};
    }}
}}
"""

ASSETS = 60


def ensure_tools():
    missing = [p for p in ("h2load", "nginx", "openssl") if shutil.which(p) is None]
    if missing:
        packages = {"h2load": "nghttp2-client", "nginx": "nginx", "openssl": "openssl"}
        subprocess.run(["apt-get", "update", "-qq"], check=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", *[packages[m] for m in missing]],
                       check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["cargo", "build", "--release", "--locked", "-p", "hhttpp-host"], cwd=ROOT, check=True)


def make_site(base):
    site = os.path.join(base, "site")
    shutil.copytree(os.path.join(ROOT, "example_site"), site)
    with open(os.path.join(site, "1k.bin"), "wb") as f:
        f.write(bytes(range(256)) * 4)
    assets = ["/style.css", "/logo.png"]
    kinds = [("css", "body{{margin:{i}px}}\n" * 60), ("js", "console.log({i});\n" * 80), ("png", None)]
    for i in range(ASSETS - len(assets) - 1):
        ext, text = kinds[i % 3]
        name = f"asset-{i:02}.{ext}"
        with open(os.path.join(site, name), "wb") as f:
            f.write(os.urandom(1500 + 37 * i) if text is None else text.format(i=i).encode())
        assets.append("/" + name)
    with open(os.path.join(base, "page.txt"), "w") as f:
        f.write("\n".join(["/"] + assets) + "\n")
    return site


def page_uris(base, url):
    """The page's paths as full URIs of `url` (h2load wants the scheme, host and port)."""
    with open(os.path.join(base, "page.txt")) as f:
        paths = f.read().split()
    path = os.path.join(base, "page-uris.txt")
    with open(path, "w") as f:
        f.write("\n".join(url + p for p in paths) + "\n")
    return path


def certificate(base):
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-nodes", "-keyout", os.path.join(base, "key.pem"), "-out", os.path.join(base, "cert.pem"),
                    "-days", "2", "-subj", "/CN=localhost"], check=True, capture_output=True)


def start(name, site, base):
    port = free_port()
    log = open(os.path.join(base, f"{name}.log"), "w")
    if name.startswith("hhttpp"):
        cmd = [HHTTPP, str(port), "-b", "127.0.0.1", "-d", site, "-q", "--max-per-address", "1000",
               "--tls-cert", os.path.join(base, "cert.pem"), "--tls-key", os.path.join(base, "key.pem")]
        if name.endswith("-native"):
            cmd += ["--engine", "native"]
    else:
        conf = os.path.join(base, "nginx-h2.conf")
        with open(conf, "w") as f:
            f.write(NGINX_CONF.format(dir=base, port=port, site=site))
        cmd = ["nginx", "-c", conf, "-g", "daemon off;"]
    proc = subprocess.Popen(cmd, stdout=log, stderr=log, start_new_session=True)
    wait_port(port)
    return {"name": name, "proc": proc, "port": port}


def stop(server):
    server["proc"].terminate()
    try:
        server["proc"].wait(10)
    except subprocess.TimeoutExpired:
        server["proc"].kill()
        server["proc"].wait()


def rss_mib(proc):
    return memory_mib(proc, "VmRSS:")


def h2load(args):
    out = subprocess.run(["h2load", *args], capture_output=True, text=True, check=True).stdout
    rate = re.search(r"finished in [\d.]+m?s, ([\d.]+) req/s", out)
    done = re.search(r"requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed, (\d+) errored", out)
    protocol = re.search(r"Application protocol: (\S+)", out)
    return {"rps": float(rate.group(1)), "ok": int(done.group(1)), "failed": int(done.group(2)) + int(done.group(3)),
            "protocol": protocol.group(1) if protocol else "?"}


def idle_per_connection(server, h2, count=500):
    """MiB of resident memory each idle TLS connection (after one request) holds."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.set_alpn_protocols(["h2"] if h2 else ["http/1.1"])
    time.sleep(1)
    before = rss_mib(server["proc"])
    sockets = []
    for _ in range(count):
        raw = socket.create_connection(("127.0.0.1", server["port"]))
        conn = context.wrap_socket(raw, server_hostname="localhost")
        if h2:
            assert conn.selected_alpn_protocol() == "h2", conn.selected_alpn_protocol()
            # Preface, empty SETTINGS, HEADERS for GET / (static-table :method GET, :scheme https,
            # :path /, then :authority t), ending the stream.
            block = bytes([0x82, 0x87, 0x84, 0x01, 0x01]) + b"t"
            frame = len(block).to_bytes(3, "big") + bytes([1, 5]) + (1).to_bytes(4, "big") + block
            conn.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes(9)[:3] + bytes([4, 0]) + bytes(4) + frame)
        else:
            conn.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        conn.recv(65536)
        sockets.append(conn)
    time.sleep(2)  # instances go back to the pool once a connection is idle
    after = rss_mib(server["proc"])
    for conn in sockets:
        conn.close()
    return (after - before) / count * 1024  # KiB


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--servers", default="hhttpp,hhttpp-native,nginx")
    args = parser.parse_args()
    ensure_tools()
    base = tempfile.mkdtemp(prefix="hhttpp-h2-bench-")
    os.chmod(base, 0o755)  # nginx's workers run unprivileged
    site = make_site(base)
    certificate(base)
    rows = []
    for round_ in range(1, args.rounds + 1):
        for name in args.servers.split(","):
            server = start(name, site, base)
            try:
                url = f"https://127.0.0.1:{server['port']}"
                page = page_uris(base, url)
                h2load(["-n", "2000", "-c", "10", "-m", "20", f"{url}/1k.bin"])  # warm up
                rows.append((round_, "1 KB, -n 200000 -c 10 -m 20, h2", name,
                             h2load(["-n", "200000", "-c", "10", "-m", "20", f"{url}/1k.bin"])))
                rows.append((round_, f"page of {ASSETS} assets ×50, one client, h2", name,
                             h2load(["-n", str(ASSETS * 50), "-c", "1", "-m", str(ASSETS), "-i", page, url])))
                if name.startswith("hhttpp"):
                    rows.append((round_, f"page of {ASSETS} assets ×50, HTTP/1.1 ×6 connections", name,
                                 h2load(["--h1", "-n", str(ASSETS * 50), "-c", "6", "-i", page, url])))
            finally:
                stop(server)
            # Each on a fresh server: what the first connections leave behind (a sandbox pool's
            # slots, touched once) is then the same for both.
            for h2, scenario in ((True, "idle connection, h2 (KiB each)"),
                                 (False, "idle connection, HTTP/1.1 (KiB each)")):
                server = start(name, site, base)
                try:
                    rows.append((round_, scenario, name, {"kib": idle_per_connection(server, h2)}))
                finally:
                    stop(server)
    print(f"HTTP/2 bench, {time.strftime('%Y-%m-%d')}, `bench/http2.py --rounds {args.rounds}`\n")
    print("| round | scenario | server | req/s (or KiB) | ok / failed | protocol | ÷ nginx |")
    print("|---|---|---|---|---|---|---|")
    for round_, scenario, name, r in rows:
        ref = next((x for rr, s, n, x in rows if rr == round_ and n == "nginx"
                    and s == scenario.replace("HTTP/1.1 ×6 connections", "h2")), None)
        if "kib" in r:
            ratio = f"{r['kib'] / ref['kib']:.2f}" if ref and ref.get("kib") else "-"
            print(f"| {round_} | {scenario} | {name} | {r['kib']:.1f} KiB | | | {ratio} |")
        else:
            ratio = f"{r['rps'] / ref['rps']:.2f}" if ref else "-"
            print(f"| {round_} | {scenario} | {name} | {r['rps']:.0f} | {r['ok']} / {r['failed']} | {r['protocol']} | {ratio} |")
    shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
