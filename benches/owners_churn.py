#!/usr/bin/env python3
"""How much of a churning client's TIME_WAIT `conntrend top -i 1` attributes (issue 19). Run as
root (it unshares a private network namespace); nothing outside it is touched, and all traffic is
loopback inside it.

    python3 benches/owners_churn.py [--conntrend target/release/conntrend] [--secs 30]
                                    [--lifetimes 0.05,0.3,1.5,5] [--rate 200]

Per lifetime L, in a fresh namespace (ip_local_port_range 40000-59999): a server on
127.0.0.1:600N (one port per lifetime) that accepts and reads until the peer closes, then closes; a client process that
keeps 20 long-lived connections there and opens `--rate` new connections a second, each closed by
the client (so its side ends in TIME_WAIT, with no owner) after a lifetime drawn uniformly from
[0, 2L]. `conntrend top -i 1 --json` runs beside it for `--secs` seconds; from each report after
the first 5 s, the destination's ownerless sockets are split into last known (attributed to the
client by memory of its 4-tuple), and unattributed, and whether `likely` names the client.

A connection is seen owned only if a report falls within its life: with lifetimes well under the
interval most stay unattributed, and `likely` is what names the client then.
"""
from netns import unshare_net
import argparse, json, os, random, socket, subprocess, sys, threading, time





CLIENT = r"""
import random, socket, sys, threading, time
lifetime, rate, secs, port = float(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
keep = [socket.create_connection(("127.0.0.1", port)) for _ in range(20)]
end = time.monotonic() + secs
def close_later(s, after):
    time.sleep(after)
    s.close()
n = 0
while time.monotonic() < end and n < rate * secs:
    s = socket.create_connection(("127.0.0.1", port))
    threading.Thread(target=close_later, args=(s, random.uniform(0, 2 * lifetime)), daemon=True).start()
    n += 1
    time.sleep(1 / rate)
time.sleep(2 * lifetime + 0.5)
"""


def serve(listener, stop):
    def drain(c):
        try:
            while c.recv(4096):
                pass
        except OSError:
            pass
        c.close()

    listener.settimeout(0.2)
    while not stop.is_set():
        try:
            c, _ = listener.accept()
        except socket.timeout:
            continue
        threading.Thread(target=drain, args=(c,), daemon=True).start()


def one(conntrend, lifetime, rate, secs, port):
    listener = socket.create_server(("127.0.0.1", port), backlog=4096)
    stop = threading.Event()
    threading.Thread(target=serve, args=(listener, stop), daemon=True).start()
    client = subprocess.Popen([sys.executable, "-c", CLIENT, str(lifetime), str(rate), str(secs),
                               str(port)])
    top = subprocess.Popen([conntrend, "top", "-i", "1", "--json", "-n", "5"],
                           stdout=subprocess.PIPE, text=True)
    start = time.monotonic()
    known = unattributed = reports = named = 0
    for line in top.stdout:
        if time.monotonic() - start > secs:
            break
        if time.monotonic() - start < 5:
            continue
        r = json.loads(line)
        d = next((d for d in r["destinations"] if d["dst"] == f"127.0.0.1:{port}"), None)
        if d is None:
            continue
        reports += 1
        known += sum(n["sockets"] for n in d["last_known"] if n["pid"] == client.pid)
        unattributed += d["unattributed"]
        named += any(n["pid"] == client.pid for n in d["likely"]) or d["unattributed"] == 0
    top.kill()
    top.wait()
    client.kill()
    client.wait()
    stop.set()
    listener.close()
    total = known + unattributed
    share = known / total if total else 0.0
    print(f"| {lifetime:g} s | {rate:g}/s | {reports} | {total / max(reports, 1):.0f} | "
          f"{share:.1%} | {named}/{reports} |", flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--conntrend", default="target/release/conntrend")
    p.add_argument("--secs", type=float, default=30)
    p.add_argument("--lifetimes", default="0.05,0.3,1.5,5")
    p.add_argument("--rate", type=float, default=200)
    a = p.parse_args()
    unshare_net("40000 59999")
    print("| mean lifetime | new connections | reports | ownerless sockets per report "
          "| last known (attributed) | reports naming the client (likely or nothing to name) |")
    print("|---|---:|---:|---:|---:|---:|")
    # A server port per lifetime: the TIME_WAIT of one run must not be counted in the next.
    for i, lifetime in enumerate(float(x) for x in a.lifetimes.split(",")):
        one(os.path.abspath(a.conntrend), lifetime, a.rate, a.secs, 6000 + i)


if __name__ == "__main__":
    main()
