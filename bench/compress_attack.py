#!/usr/bin/env python3
"""A bystander's wait while 50 clients ask for 400 different 200 KB scripts with
`Accept-Encoding: br` (each a compression the server has not kept, or one that churns the kept
copies): usage `bench/compress_attack.py BINARY ENGINE CACHE_MIB`, e.g.
`bench/compress_attack.py target/release/hhttpp wasm 1`. Prints the probe's median and worst wait
and the server's peak RSS. Loopback only; stops the server it starts, by PID."""
import os, shutil, socket, sys, threading, time, subprocess, tempfile, statistics, random
binary, engine, cache = sys.argv[1], sys.argv[2], sys.argv[3]
site = tempfile.mkdtemp()
line = b"function f%d(x) { return x * %d + Math.random(); }\n"
for i in range(400):
    with open(os.path.join(site, f"f{i}.js"), "wb") as f:
        f.write(b"".join(line % (i, j) for j in range(4000))[:200_000])
open(os.path.join(site, "ok.txt"), "w").write("ok")
time.sleep(2.2)  # settled, so misses are kept (and the cache churns)
s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close()
proc = subprocess.Popen([binary, str(port), "-b", "127.0.0.1", "-d", site, "-q", "--engine", engine,
                         "--compress-cache", cache, "--max-per-address", "1000"],
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
for _ in range(100):
    try: socket.create_connection(("127.0.0.1", port), 0.2).close(); break
    except OSError: time.sleep(0.05)
running = True
def attacker():
    os.nice(19)
    while running:
        i = random.randrange(400)
        try:
            c = socket.create_connection(("127.0.0.1", port), 2)
            c.sendall(f"GET /f{i}.js HTTP/1.1\r\nHost: a\r\nAccept-Encoding: br\r\nConnection: close\r\n\r\n".encode())
            while c.recv(65536): pass
            c.close()
        except OSError: pass
threads = [threading.Thread(target=attacker, daemon=True) for _ in range(50)]
for t in threads: t.start()
time.sleep(0.5)
waits = []
end = time.time() + 5
while time.time() < end:
    t0 = time.time()
    try:
        c = socket.create_connection(("127.0.0.1", port), 5)
        c.sendall(b"GET /ok.txt HTTP/1.1\r\nHost: p\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            d = c.recv(4096)
            if not d: break
            data += d
        ok = data.startswith(b"HTTP/1.1 200") and data.endswith(b"ok")
    except OSError: ok = False
    waits.append((time.time() - t0) * 1000 if ok else 5000)
    time.sleep(0.1)
running = False
rss = int(open(f"/proc/{proc.pid}/status").read().split("VmHWM:")[1].split()[0]) // 1024
proc.terminate(); proc.wait()
shutil.rmtree(site)
waits.sort()
print(f"{engine} cache={cache}MiB: {len(waits)} probes, median {statistics.median(waits):.1f} ms, worst {waits[-1]:.1f} ms, peak RSS {rss} MiB")
