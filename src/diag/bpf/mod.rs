//! Kernel-side counting with BPF programs (`--source bpf`, and auto when they load): the sockets of
//! the calling thread's network namespace are counted by state (and by family and peer, for
//! `states`) and their local ports marked in map values, so a sample reads a few counters and
//! bitmaps instead of a netlink message per socket. Loading needs CAP_BPF and CAP_PERFMON (or
//! root). TCP's established, request, TIME_WAIT and listening sockets: a program of our own walks
//! the kernel's hash tables in bucket ranges on every CPU ([`hash`]). UDP: the kernel's `iter/udp`
//! walk. TCP sockets that are only bound (BOUND_INACTIVE, Linux 6.5+) are in no socket table, so
//! a third program finds them through the open files that hold them (`iter/task_file`: as many
//! steps as open files, not sockets). Should more than 8192 of them exist (half its dedup map),
//! [`super::Source`] asks netlink for that one state instead (one more walk of the kernel's
//! table).

mod btf;
mod hash;
mod prog;
mod sys;

use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd};

use hash::HashWalk;
use prog::{HashOffsets, Layout, Offsets, PeerFields};

use super::{Protocol, Record, tcp_state};

/// Where the kernel describes its own types.
const VMLINUX_BTF: &str = "/sys/kernel/btf/vmlinux";

/// Every name looked up in the BTF.
const NAMES: [&str; 42] = [
    "skc_family",
    "skc_daddr",
    "skc_v6_daddr",
    "task_struct",
    "nsproxy",
    "net_ns",
    "ipv4",
    "tcp_death_row",
    "hashinfo",
    "inet_hashinfo",
    "ehash",
    "ehash_mask",
    "lhash2",
    "lhash2_mask",
    "inet_ehash_bucket",
    "inet_listen_hashbucket",
    "nulls_head",
    "skc_nulls_node",
    "inet_connection_sock",
    "icsk_listen_portaddr_node",
    "inet_timewait_sock",
    "tw_substate",
    "bpf_iter_task_file",
    "bpf_iter__task_file",
    "file",
    "socket",
    "sock",
    "sk_protocol",
    "skc_net",
    "net",
    "ns",
    "inum",
    "bpf_iter_udp",
    "bpf_iter__udp",
    "udp_sk",
    "sock_common",
    "skc_state",
    "skc_num",
    "udp_sock",
    "inet",
    "sk",
    "__sk_common",
];

/// Bound-only sockets the dedup map remembers; past half of it a sample asks netlink.
const SEEN: u32 = 16384;

/// Why the iterators cannot be loaded here, worded for a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unavailable(pub String);

impl std::fmt::Display for Unavailable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// What one walk counted, as the map holds it.
pub struct Counts {
    value: Box<[u8; Layout::LEN]>,
    settled: bool,
}

impl Counts {
    /// The states counted apart ([`Counts::by_family`]); later ones are not counted.
    pub const STATES: usize = Layout::STATES;

    fn u32_at(&self, at: usize) -> u32 {
        u32::from_ne_bytes(self.value[at..at + 4].try_into().expect("4 bytes"))
    }

    /// TCP sockets in state `state` (0 for a state past the counters).
    pub fn tcp_state(&self, state: usize) -> u32 {
        if state < Layout::STATES {
            self.u32_at(4 * state)
        } else {
            0
        }
    }

    pub fn udp_sockets(&self) -> u32 {
        self.u32_at(Layout::UDP_SOCKETS)
    }

    /// `protocol`'s sockets of family IPv6 (`v6`) or IPv4, with a remote address (`peer`) or
    /// without, in `state` (the kernel's number, request sockets as SYN_RECV, TIME_WAIT ones by
    /// their substate, bound-only ones as CLOSE; 0 past the counters).
    pub fn by_family(&self, protocol: Protocol, v6: bool, peer: bool, state: usize) -> u32 {
        let block = match protocol {
            Protocol::Tcp => Layout::TCP_FAMILIES,
            Protocol::Udp => Layout::UDP_FAMILIES,
        };
        if state < Layout::STATES {
            self.u32_at(block + Layout::by_family(v6, peer, state))
        } else {
            0
        }
    }

    fn add_at(&mut self, at: usize, n: u32) {
        let sum = self.u32_at(at) + n;
        self.value[at..at + 4].copy_from_slice(&sum.to_ne_bytes());
    }

    /// The local ports held by `protocol`'s sockets: bit `p % 8` of byte `p / 8`.
    pub fn ports(&self, protocol: Protocol) -> &[u8; Layout::BITMAP] {
        let at = match protocol {
            Protocol::Tcp => Layout::TCP_PORTS,
            Protocol::Udp => Layout::UDP_PORTS,
        };
        self.value[at..at + Layout::BITMAP]
            .try_into()
            .expect("bitmap size")
    }

    /// False when every walk of the TCP table strayed (see [`hash`]): counts that may be off, as
    /// a netlink dump that kept being interrupted.
    pub fn settled(&self) -> bool {
        self.settled
    }

    /// True when the bound-only walk met more sockets than its dedup map may hold exactly.
    pub fn bound_overflowed(&self) -> bool {
        self.u32_at(Layout::BOUND_NEW) > SEEN / 2
    }

    /// Folds one TCP record from another source (the bound-only sockets) into the counts.
    pub fn add_tcp(&mut self, record: &Record<'_>) {
        let state = usize::from(record.state());
        if state < Layout::STATES.min(tcp_state::COUNT) {
            self.add_at(4 * state, 1);
            let v6 = record.family() == libc::AF_INET6 as u8;
            let peer = record.dst_addr().iter().any(|&b| b != 0);
            self.add_at(Layout::TCP_FAMILIES + Layout::by_family(v6, peer, state), 1);
        }
        let port = usize::from(record.src_port());
        self.value[Layout::TCP_PORTS + port / 8] |= 1 << (port % 8);
    }
}

/// The loaded programs, their links and the map, for the whole run.
pub struct Iterators {
    map: OwnedFd,
    /// Kept open for the bound-only program, which uses it.
    _seen: OwnedFd,
    tcp: HashWalk,
    udp: OwnedFd,
    bound: OwnedFd,
    /// Whether netlink lists bound-only sockets on this kernel (BOUND_INACTIVE, Linux 6.5+), so
    /// that the counts include them exactly when netlink's do.
    pub lists_bound: bool,
    generation: u32,
    counts: Counts,
    drain: Vec<u8>,
}

/// What [`Iterators::walk`] walks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Walk {
    Tcp,
    Udp,
    /// The bound-only TCP sockets, through the open files.
    Bound,
}

impl Iterators {
    /// Loads the programs. The LRU map is created first: it needs CAP_BPF whatever
    /// `kernel.unprivileged_bpf_disabled` says (an array map may not), so without the privilege
    /// that is the one system call an unprivileged run pays before it goes on with netlink.
    pub fn open() -> Result<Iterators, Unavailable> {
        let refused = |e: std::io::Error| {
            let hint = match e.raw_os_error() {
                Some(libc::EPERM) => " (needs root, or CAP_BPF and CAP_PERFMON)",
                Some(libc::ENOSYS) => " (this kernel has no bpf system call)",
                _ => "",
            };
            Unavailable(format!("cannot create a BPF map: {e}{hint}"))
        };
        let seen = sys::lru_map(SEEN).map_err(refused)?;
        let map = sys::array_map(Layout::LEN as u32).map_err(refused)?;
        let cannot = |e: std::io::Error| Unavailable(format!("cannot read {VMLINUX_BTF}: {e}"));
        let file = std::fs::File::open(VMLINUX_BTF).map_err(cannot)?;
        let mut btf = btf::Btf::index(file, &NAMES).map_err(cannot)?;
        let offsets = offsets(&mut btf).map_err(Unavailable)?;
        let peer = offsets.peer;
        let hash_offsets = hash_offsets(&mut btf, peer).map_err(Unavailable)?;
        let fd = map.as_raw_fd();
        let load = |name: &str, target: &str, insns: Vec<u64>| {
            let id = btf.func(target).map_err(Unavailable)?;
            let prog = sys::load_iter(name, &insns, id).map_err(|e| {
                Unavailable(format!(
                    "the kernel refused the {name} iterator program: {e}"
                ))
            })?;
            sys::iter_link(&prog)
                .map_err(|e| Unavailable(format!("cannot attach the {name} iterator: {e}")))
        };
        let threads = threads()?;
        let tcp = HashWalk::open(&hash_offsets, threads).map_err(Unavailable)?;
        let udp = load("conntrend_udp", "bpf_iter_udp", prog::udp(&offsets, fd))?;
        let insns = prog::bound(&offsets, fd, seen.as_raw_fd());
        let bound = load("conntrend_bound", "bpf_iter_task_file", insns)?;
        Ok(Iterators {
            map,
            _seen: seen,
            tcp,
            udp,
            bound,
            lists_bound: lists_bound(),
            generation: 0,
            counts: Counts {
                value: Box::new([0; Layout::LEN]),
                settled: true,
            },
            drain: vec![0; 4096],
        })
    }

    /// Runs `walks` over the calling thread's network namespace (the kernel takes it when an
    /// iterator is created); their counts add up in the one value until the next
    /// [`Iterators::zero`].
    pub fn walk(&mut self, walks: &[Walk]) -> std::io::Result<()> {
        let Iterators {
            tcp,
            udp,
            bound,
            drain,
            ..
        } = self;
        let link = |w: Walk| match w {
            Walk::Udp => &*udp,
            _ => &*bound,
        };
        let there: Vec<Walk> = walks.iter().copied().filter(|&w| w != Walk::Tcp).collect();
        if !walks.contains(&Walk::Tcp) {
            return there.iter().try_for_each(|&w| run(link(w), drain));
        }
        // The TCP walk is most of the time: the others run beside it, on a thread that is in
        // this thread's network namespace (a new thread starts in its creator's).
        std::thread::scope(|s| {
            let others = s.spawn(|| there.iter().try_for_each(|&w| run(link(w), drain)));
            let mine = tcp.walk();
            let theirs = others
                .join()
                .unwrap_or_else(|p| std::panic::resume_unwind(p));
            mine.and(theirs)
        })
    }

    /// Clears the map before a sample's walks, naming the calling thread's network namespace
    /// and a new generation for the bound-only walk.
    pub fn zero(&mut self) -> std::io::Result<()> {
        use std::os::unix::fs::MetadataExt;
        let netns = std::fs::metadata("/proc/thread-self/ns/net")?.ino() as u32;
        self.generation = self.generation.wrapping_add(1).max(1);
        self.tcp.states = [0; Layout::STATES];
        self.tcp.families = [0; Layout::FAMILIES / 4];
        self.tcp.ports.fill(0);
        self.tcp.settled = true;
        let v = &mut self.counts.value;
        v.fill(0);
        v[Layout::NETNS..Layout::NETNS + 4].copy_from_slice(&netns.to_ne_bytes());
        v[Layout::GENERATION..Layout::GENERATION + 4]
            .copy_from_slice(&self.generation.to_ne_bytes());
        sys::map_write(&self.map, &v[..])
    }

    /// The counts of the walks since [`Iterators::zero`], the bound-only sockets folded into
    /// TCP's CLOSE count and port bitmap.
    pub fn read(&mut self) -> std::io::Result<&mut Counts> {
        self.counts.settled = self.tcp.settled;
        let v = &mut self.counts.value;
        sys::map_read(&self.map, &mut v[..])?;
        let close = 4 * usize::from(tcp_state::CLOSE);
        let n = self.counts.u32_at(close) + self.counts.u32_at(Layout::BOUND_NEW);
        let v = &mut self.counts.value;
        v[close..close + 4].copy_from_slice(&n.to_ne_bytes());
        for (s, &n) in self.tcp.states.iter().enumerate() {
            self.counts.add_at(4 * s, n);
        }
        for (i, &n) in self.tcp.families.iter().enumerate() {
            self.counts.add_at(Layout::TCP_FAMILIES + 4 * i, n);
        }
        let v = &mut self.counts.value;
        let (ports, bound) = v.split_at_mut(Layout::BOUND_PORTS);
        for ((t, b), h) in ports[Layout::TCP_PORTS..Layout::TCP_PORTS + Layout::BITMAP]
            .iter_mut()
            .zip(&bound[..Layout::BITMAP])
            .zip(self.tcp.ports.iter())
        {
            *t |= b | h;
        }
        Ok(&mut self.counts)
    }
}

/// How many threads walk the TCP table: one per CPU, or `CONNTREND_BPF_THREADS` (1 to 64).
fn threads() -> Result<usize, Unavailable> {
    match std::env::var(THREADS) {
        Ok(v) => match v.parse::<usize>() {
            Ok(n @ 1..=64) => Ok(n),
            _ => Err(Unavailable(format!(
                "{THREADS}={v}: not a number of threads from 1 to 64"
            ))),
        },
        Err(_) => Ok(std::thread::available_parallelism().map_or(1, |n| n.get())),
    }
}

const THREADS: &str = "CONNTREND_BPF_THREADS";

/// Linux 6.5 and later list bound-only TCP sockets through sock_diag (the BOUND_INACTIVE state);
/// earlier ones do not, and neither do the counts then.
fn lists_bound() -> bool {
    let release = nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut parts = release
        .split(['.', '-'])
        .map(|p| p.parse::<u32>().unwrap_or(0));
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    (major, minor) >= (6, 5)
}

/// One walk: reading an iterator to the end runs its program once per object (the programs
/// write nothing).
fn run(link: &OwnedFd, buf: &mut [u8]) -> std::io::Result<()> {
    let mut iter = std::fs::File::from(sys::iter_create(link)?);
    while iter.read(buf)? > 0 {}
    Ok(())
}

/// The byte offset of `outer.path` in the running kernel, checked to be `size` bytes (what the
/// program reads there), as the instruction's offset type `T`.
fn field_at<T: TryFrom<u32>>(
    btf: &mut btf::Btf<std::fs::File>,
    outer: &str,
    path: &[&str],
    size: u32,
) -> Result<T, String> {
    let whole = || format!("{outer}.{}", path.join("."));
    let f = btf.field(outer, path)?;
    if f.size != size {
        return Err(format!("{} is {} bytes, not {size}", whole(), f.size));
    }
    T::try_from(f.offset).map_err(|_| format!("{} is too far in", whole()))
}

/// The field offsets of the running kernel for the iterator programs.
fn offsets(btf: &mut btf::Btf<std::fs::File>) -> Result<Offsets, String> {
    let mut at = |outer: &str, path: &[&str], size| field_at::<i16>(btf, outer, path, size);
    Ok(Offsets {
        peer: PeerFields {
            family: at("sock_common", &["skc_family"], 2)?,
            daddr: at("sock_common", &["skc_daddr"], 4)?,
            v6_daddr: at("sock_common", &["skc_v6_daddr"], 16)?,
        },
        udp_ctx_sk: at("bpf_iter__udp", &["udp_sk"], 8)?,
        state: at("sock_common", &["skc_state"], 1)?,
        num: at("sock_common", &["skc_num"], 2)?,
        udp_num: at("udp_sock", &["inet", "sk", "__sk_common", "skc_num"], 2)?,
        file_ctx_file: at("bpf_iter__task_file", &["file"], 8)?,
        socket_sk: at("socket", &["sk"], 8)?,
        sk_protocol: at("sock", &["sk_protocol"], 2)?,
        skc_net: at("sock_common", &["skc_net", "net"], 8)?,
        net_inum: at("net", &["ns", "inum"], 4)?,
    })
}

/// The field offsets and struct sizes of the running kernel for the TCP hash walk.
fn hash_offsets(
    btf: &mut btf::Btf<std::fs::File>,
    peer: PeerFields,
) -> Result<HashOffsets, String> {
    let mut far = |outer: &str, path: &[&str], size| field_at::<i32>(btf, outer, path, size);
    let (task_nsproxy, nsproxy_net) = (
        far("task_struct", &["nsproxy"], 8)?,
        far("nsproxy", &["net_ns"], 8)?,
    );
    let net_hashinfo = far("net", &["ipv4", "tcp_death_row", "hashinfo"], 8)?;
    let (ehash, ehash_mask) = (
        far("inet_hashinfo", &["ehash"], 8)?,
        far("inet_hashinfo", &["ehash_mask"], 4)?,
    );
    let (lhash2, lhash2_mask) = (
        far("inet_hashinfo", &["lhash2"], 8)?,
        far("inet_hashinfo", &["lhash2_mask"], 4)?,
    );
    let lhash2_head = far("inet_listen_hashbucket", &["nulls_head"], 8)?;
    // Older kernels chain their listeners through this node, not the one the walk follows.
    if btf
        .field("inet_connection_sock", &["icsk_listen_portaddr_node"])
        .is_ok()
    {
        return Err(
            "this kernel chains its listeners through icsk_listen_portaddr_node, which the \
             walk does not follow"
                .into(),
        );
    }
    let mut near = |outer: &str, path: &[&str], size| field_at::<i16>(btf, outer, path, size);
    let (node, net) = (
        near("sock_common", &["skc_nulls_node"], 16)?,
        near("sock_common", &["skc_net", "net"], 8)?,
    );
    let (state, num) = (
        near("sock_common", &["skc_state"], 1)?,
        near("sock_common", &["skc_num"], 2)?,
    );
    let tw_substate = near("inet_timewait_sock", &["tw_substate"], 1)?;
    let mut size = |name: &str| btf.size(name).map(|s| s as i32);
    Ok(HashOffsets {
        task_nsproxy,
        nsproxy_net,
        net_hashinfo,
        ehash,
        ehash_mask,
        lhash2,
        lhash2_mask,
        ehash_bucket: size("inet_ehash_bucket")?,
        lhash2_bucket: size("inet_listen_hashbucket")?,
        lhash2_head,
        node,
        net,
        state,
        num,
        tw_substate,
        peer,
    })
}
