#!/usr/bin/env python3
"""Cost per node of `conntrend serve` as deploy/ runs it (issue 20): CPU % and RSS of one
exporter scraped every 15 s, at ~1k and ~100k sockets. Run as root (it unshares a private network
namespace per load and raises RLIMIT_NOFILE); nothing outside those namespaces is touched.

    python3 benches/fleet_cost.py [--conntrend target/release/conntrend] [--loads 1k,100k]
                                  [--scrapes 20] [--every 15] [--fast-scrapes 60]

For each load, in a fresh network namespace (ip_local_port_range 1024-65535): N/2 ESTABLISHED
loopback connections with both ends held by holder processes (N sockets, plus 4 listeners), spread
over 4 destinations (127.0.0.1 and 127.0.0.2, ports 600 and 601); ESTABLISHED because it stays
the same for minutes (TIME_WAIT would expire after 60 s). Then the exporter with the arguments of
deploy/systemd/conntrend.service (serve --conntrack --forecast, --listen on loopback) is
scraped `--scrapes` times, one every `--every` seconds, as Prometheus would (a GET /metrics with
Prometheus's Accept header). CPU: utime + stime of the exporter (all threads, /proc/PID/stat) from
just before the first scrape to just after the last, over the wall time between them; RSS: VmRSS
after every scrape, VmHWM at the end. Then `--fast-scrapes` back-to-back scrapes (at least
--min-interval 1 s apart) give the CPU of one scrape with more ticks behind it; that per-scrape
CPU divided by 15 s is the second estimate of the CPU share at a 15 s scrape.
"""
from netns import unshare_net
import argparse, json, os, resource, socket, sys, time

TICK = os.sysconf("SC_CLK_TCK")
ACCEPT = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"




def build(n_sockets):
    """Listeners here; the connections in holder processes of at most 9,000 pairs each (the hard
    RLIMIT_NOFILE here is 20,000 and cannot be raised without CAP_SYS_RESOURCE). Returns the
    listeners and the holders' pids (they hold until killed)."""
    pairs = n_sockets // 2
    dests = [("127.0.0.1", 600), ("127.0.0.1", 601), ("127.0.0.2", 600), ("127.0.0.2", 601)]
    listeners = []
    for addr in dests:
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(addr)
        s.listen(4096)
        listeners.append(s)
    holders, done = [], 0
    while done < pairs:
        n = min(9000, pairs - done)
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            held = []
            for i in range(n):
                k = (done + i) % len(dests)
                c = socket.socket()
                c.connect(dests[k])
                a, _ = listeners[k].accept()
                held += [c, a]
            for l in listeners:
                l.close()
            os.write(w, b"1")
            os.close(w)
            while True:
                time.sleep(3600)
        os.close(w)
        assert os.read(r, 1) == b"1", "a holder failed"
        os.close(r)
        holders.append(pid)
        done += n
    return listeners, holders


def scrape(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    s.sendall(f"GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: {ACCEPT}\r\n\r\n".encode())
    data = b""
    while chunk := s.recv(65536):
        data += chunk
    s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.split()[1] == b"200", head
    return body.decode()


def cpu_ticks(pid):
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return int(f[11]) + int(f[12])  # utime, stime (fields 14, 15)


def status(pid, key):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024 / 1e6  # kB -> MB (10^6 bytes)


def measure(conntrend, load, scrapes, every, fast):
    port = 9959
    args = [conntrend, "serve", "--listen", f"127.0.0.1:{port}", "--conntrack", "--forecast"]
    pid = os.fork()
    if pid == 0:
        os.execv(conntrend, args)
    time.sleep(0.5)
    first = scrape(port)  # warm: the first sample sizes the buffers
    estab = [l for l in first.splitlines() if l.startswith('conntrend_tcp_sockets{state="established"}')]
    rss, durations = [], []
    t0, c0 = time.monotonic(), cpu_ticks(pid)
    for i in range(scrapes):
        due = t0 + i * every
        time.sleep(max(0.0, due - time.monotonic()))
        s = time.monotonic()
        scrape(port)
        durations.append(time.monotonic() - s)
        rss.append(status(pid, "VmRSS"))
    t1, c1 = time.monotonic(), cpu_ticks(pid)
    wall, cpu = t1 - t0, (c1 - c0) / TICK
    f0, fc0 = time.monotonic(), cpu_ticks(pid)
    for _ in range(fast):
        s = time.monotonic()
        scrape(port)
        time.sleep(max(0.0, 1.0 - (time.monotonic() - s)))  # --min-interval 1 s: each a fresh sample
    f1, fc1 = time.monotonic(), cpu_ticks(pid)
    per_scrape = (fc1 - fc0) / TICK / fast
    out = {
        "load": load, "estab": estab[0] if estab else None,
        "scrapes": scrapes, "every_s": every, "wall_s": round(wall, 1), "cpu_s": cpu,
        "cpu_pct_of_one_core": round(100 * cpu / wall, 4),
        "median_scrape_ms": round(1000 * sorted(durations)[len(durations) // 2], 2),
        "rss_mb_first": round(rss[0], 2), "rss_mb_last": round(rss[-1], 2), "rss_mb_max": round(max(rss), 2),
        "vmhwm_mb": round(status(pid, "VmHWM"), 2),
        "fast_scrapes": fast, "fast_cpu_ms_per_scrape": round(1000 * per_scrape, 2),
        "fast_cpu_pct_at_15s": round(100 * per_scrape / 15, 4),
    }
    os.kill(pid, 15)
    os.waitpid(pid, 0)
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--conntrend", default="target/release/conntrend")
    p.add_argument("--loads", default="1k,100k")
    p.add_argument("--scrapes", type=int, default=20)
    p.add_argument("--every", type=float, default=15)
    p.add_argument("--fast-scrapes", type=int, default=60)
    a = p.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    conntrend = os.path.abspath(a.conntrend)
    for load in a.loads.split(","):
        n = int(load.rstrip("k")) * 1000
        pid = os.fork()
        if pid == 0:  # each load in its own child and namespace
            unshare_net("1024 65535")
            t = time.monotonic()
            listeners, holders = build(n)
            print(f"# {load}: {n} sockets in {len(holders)} holders, built in {time.monotonic() - t:.1f} s",
                  file=sys.stderr, flush=True)
            print(json.dumps(measure(conntrend, load, a.scrapes, a.every, a.fast_scrapes)), flush=True)
            for h in holders:
                os.kill(h, 9)
                os.waitpid(h, 0)
            os._exit(0)
        os.waitpid(pid, 0)


if __name__ == "__main__":
    main()
