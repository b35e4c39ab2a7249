#!/usr/bin/env sh
# Seeds the fuzz corpora from the recorded dumps in tests/fixtures (nothing big is committed).
set -eu
cd "$(dirname "$0")"
mkdir -p corpus/walk corpus/record corpus/replay corpus/procnet corpus/http corpus/ctentry corpus/packet
for dir in ../tests/fixtures/*/; do
    [ -e "${dir}tcp4.bin" ] || continue
    name=$(basename "$dir")
    for bin in "$dir"*.bin; do
        base=$(basename "$bin" .bin)
        cp "$bin" "corpus/walk/$name-$base"
        # The first records' payloads (after each 16-byte netlink header), 72 bytes each.
        for n in 0 1 2; do
            tail -c +$((17 + n * 88)) "$bin" | head -c 72 > "corpus/record/$name-$base-$n"
        done
    done
    # The four recordings as one input, split by the replay target at 0xA5 bytes.
    {
        cat "${dir}tcp4.bin"; printf '\245'; cat "${dir}tcp6.bin"; printf '\245'
        cat "${dir}udp4.bin"; printf '\245'; cat "${dir}udp6.bin"
    } > "corpus/replay/$name"
done
# Lines of real /proc/net tables (several kernels), first byte 0 (IPv4) or 1 (IPv6).
n=0
for table in ../tests/fixtures/network-connections/*/net/*; do
    v6=0
    case "$table" in *6) v6=1 ;; esac
    sed -n '2,6p' "$table" | while IFS= read -r line; do
        n=$((n + 1))
        kernel=$(basename "$(dirname "$(dirname "$table")")")
        { printf "\\$(printf '%03o' "$v6")"; printf '%s' "$line"; } \
            > "corpus/procnet/$kernel-$(basename "$table")-$n"
    done
done
# ctnetlink entries (TCP/UDP/ICMP/GRE, IPv4 and IPv6) as the kernel nests their attributes.
cp seeds/ctentry/* corpus/ctentry/
# serve's request heads: the first byte is the size of the pieces they arrive in, then the head.
seed_http() { printf "\\$(printf '%03o' "$2")%b" "$3" > "corpus/http/$1"; }
seed_http prometheus 255 'GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:9959\r\nUser-Agent: Prometheus/2.53.0\r\nAccept: application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1\r\nAccept-Encoding: gzip\r\nX-Prometheus-Scrape-Timeout-Seconds: 10\r\n\r\n'
seed_http curl 7 'GET / HTTP/1.1\r\nHost: x\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n'
seed_http lf-only 1 'GET /metrics?x=1 HTTP/1.0\n\n'
seed_http lf-crlf 3 'GET /metrics HTTP/1.1\nHost: x\n\r\n'
seed_http pipelined 2 'GET /metrics HTTP/1.1\n\nGET / HTTP/1.1\r\n\r\n'
seed_http q0 255 'HEAD /metrics HTTP/1.1\r\nAccept: application/openmetrics-text;q=0, text/plain\r\n\r\n'
seed_http version 255 'GET / HTTP/2.0\r\n\r\nPRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'
seed_http bad-version 5 'GET / HTTP/1.7abc\r\n\r\n'
seed_http post 255 'POST /metrics HTTP/1.1\r\nContent-Length: 4\r\n\r\nbody'
seed_http bare-cr 255 'GET / HTTP/1.1\r\nX: a\rb\r\n\r\n'
seed_http unfinished 1 'GET /metrics HTTP/1.1\r\nHost: x\r\n'
# rtt's frames from the golden captures (classic pcap, little-endian, snap length 128): byte 0
# picks the link type (0: Ethernet, 2: Linux cooked v2), then each frame as [len][dt = 1 ms][frame];
# one input per packet and one per capture with all its packets (a whole conversation).
# One frame: [caplen][1][the caplen bytes of the record at $off of $capture].
seed_frame() {
    printf "\\$(printf '%03o' "$caplen")\\001"
    tail -c +$((off + 17)) "$capture" | head -c "$caplen"
}
seed_packet() {
    capture=$1 link=$2
    name=$(basename "$capture" .pcap)
    size=$(wc -c < "$capture")
    off=24 k=0
    printf "\\$(printf '%03o' "$link")" > "corpus/packet/$name-all"
    while [ $((off + 16)) -le "$size" ]; do
        caplen=$(od -An -tu4 -j $((off + 8)) -N4 "$capture" | tr -d ' ')
        [ "$caplen" -le 255 ] || break
        { printf "\\$(printf '%03o' "$link")"; seed_frame; } > "corpus/packet/$name-$k"
        seed_frame >> "corpus/packet/$name-all"
        off=$((off + 16 + caplen)) k=$((k + 1))
    done
}
seed_packet ../tests/fixtures/rtt/v4.pcap 0
seed_packet ../tests/fixtures/rtt/v6-nano.pcap 0
seed_packet ../tests/fixtures/rtt/any-sll2.pcap 2
