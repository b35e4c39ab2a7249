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
