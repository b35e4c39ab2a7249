"""A private network namespace for the Python benches: this process moves into a new one with
lo up and its own ip_local_port_range, so their loopback traffic stays inside it."""
import ctypes, os, sys

CLONE_NEWNET = 0x40000000


def unshare_net(port_range):
    """Enters a new network namespace (root needed), brings lo up, sets the range "LO HI"."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWNET) != 0:
        sys.exit(f"unshare(CLONE_NEWNET): {os.strerror(ctypes.get_errno())} (run as root)")
    os.system("ip link set lo up")
    with open("/proc/sys/net/ipv4/ip_local_port_range", "w") as f:
        f.write(port_range)
