#!/usr/bin/env bash
# Records a log like docs/example.csv, the log behind docs/example.svg: in a private network
# namespace with a small port range (10000-10999), a loopback server on 127.0.0.1:8080 and :8081,
# and a client that opens and closes connections in bursts (each leaves a TIME_WAIT on a pool
# port), while conntrend samples every second with --dst. Loopback only; about 70 s. Run as root
# from the repository root:
#
#   docs/example-load.sh [OUT.csv]
#
# The log goes to OUT.csv, which must not exist yet (conntrend appends to a log: an old one would
# become a two-run log), or to a new file in a new temporary directory; the committed example in
# docs/ is never written. CONNTREND names the binary (default target/release/conntrend).
set -euo pipefail
conntrend=${CONNTREND:-target/release/conntrend}
if [ $# -gt 0 ]; then
    out=$1
    if [ -e "$out" ]; then
        echo "example-load.sh: $out exists; give a new file (conntrend would append to it)" >&2
        exit 1
    fi
else
    out=$(mktemp -d "${TMPDIR:-/tmp}/conntrend-example.XXXXXX")/example.csv
fi
unshare --net bash -c '
ip link set lo up
sysctl -qw net.ipv4.ip_local_port_range="10000 10999"
python3 - <<"PY" &
import socket, threading, time
def serve(port):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port)); s.listen(512)
    while True:
        c, _ = s.accept(); c.recv(1); c.close()
for p in (8080, 8081):
    threading.Thread(target=serve, args=(p,), daemon=True).start()
time.sleep(1)
held = []
for second in range(66):
    burst = 25 if second < 20 else (5 if second < 40 else 12)
    for i in range(burst):
        port = 8080 if i % 3 else 8081
        c = socket.create_connection(("127.0.0.1", port)); c.send(b"x")
        if second % 10 == 0 and i < 3:
            held.append(c)          # a few kept open: ESTABLISHED
        else:
            c.close()               # closed first: TIME_WAIT on the client side
    time.sleep(1)
PY
sleep 1
"$1" -i 1 -c 65 --dst -o "$2"
kill %1 2>/dev/null || true
' bash "$conntrend" "$out"
echo "$out"
echo "plot it with: $conntrend plot $out -o ${out%.csv}.svg"
