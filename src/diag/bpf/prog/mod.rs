//! The BPF programs, assembled here instruction by instruction (no compiler, no object file): the
//! iterator programs for UDP (`iter/udp`) and the bound-only TCP sockets (`iter/task_file`) count
//! each socket by state and set its local port's bit in one map value laid out as [`Layout`] says;
//! the TCP hash walk ([`hash`]) does the same into its jobs' slots. Field offsets come from the
//! running kernel's BTF ([`Offsets`]). Pure: builds instruction words.

use crate::diag::tcp_state::{NEW_SYN_RECV, SYN_RECV, TIME_WAIT};

mod hash;

pub use hash::{HashOffsets, Job, Table, hash};

/// The map value: TCP sockets per state (u32 each), UDP sockets (u32), then the TCP and the UDP
/// local-port bitmaps (bit `port % 8` of byte `port / 8`).
pub struct Layout;

impl Layout {
    /// State counters; states at or past this are not counted (no kernel has them).
    pub const STATES: usize = 16;
    pub const UDP_SOCKETS: usize = 64;
    /// Written by user space before a walk: the inode number of the sampled network namespace,
    /// and the sample's generation (the bound-socket program's dedup map remembers per sample).
    pub const NETNS: usize = 68;
    pub const GENERATION: usize = 72;
    /// Bound-only sockets the dedup map took this sample (each counted once): past half its
    /// size, the sample asks netlink instead (an evicted entry could count a shared socket
    /// twice). Their ports have a bitmap of their own (after UDP's), so that the bound-only walk
    /// can run beside the TCP walk without both writing the same bytes.
    pub const BOUND_NEW: usize = 76;
    pub const TCP_PORTS: usize = 128;
    pub const UDP_PORTS: usize = Layout::TCP_PORTS + Layout::BITMAP;
    pub const BITMAP: usize = 65536 / 8;
    pub const BOUND_PORTS: usize = Layout::UDP_PORTS + Layout::BITMAP;
    /// TCP and UDP sockets by family, peer and state, for `states` ([`Layout::by_family`]).
    pub const TCP_FAMILIES: usize = Layout::BOUND_PORTS + Layout::BITMAP;
    pub const UDP_FAMILIES: usize = Layout::TCP_FAMILIES + Layout::FAMILIES;
    pub const LEN: usize = Layout::UDP_FAMILIES + Layout::FAMILIES;
    /// A by-family block: u32 counters for IPv4/IPv6 × without/with a peer × 16 states.
    pub const FAMILIES: usize = 2 * 2 * Layout::STATES * 4;

    /// Where in a by-family block the counter of (`v6`, `peer`, `state`) is.
    pub fn by_family(v6: bool, peer: bool, state: usize) -> usize {
        4 * ((usize::from(v6) * 2 + usize::from(peer)) * Layout::STATES + state)
    }
}

/// Where a socket's family and remote address are, from where the program reads it.
#[derive(Debug, Clone, Copy)]
pub struct PeerFields {
    /// `skc_family` (2 bytes), `skc_daddr` (4) and `skc_v6_daddr` (16).
    pub family: i16,
    pub daddr: i16,
    pub v6_daddr: i16,
}

impl PeerFields {
    /// The same fields `by` bytes further (a copy of the socket on the stack).
    fn shifted(self, by: i16) -> PeerFields {
        PeerFields {
            family: self.family + by,
            daddr: self.daddr + by,
            v6_daddr: self.v6_daddr + by,
        }
    }
}

/// Where the programs read, in bytes, from the kernel's BTF.
#[derive(Debug, Clone, Copy)]
pub struct Offsets {
    /// A socket's family and remote address (`sock_common`, so for any socket).
    pub peer: PeerFields,
    /// `bpf_iter__udp.udp_sk` in the program's context.
    pub udp_ctx_sk: i16,
    /// `sock_common.skc_state` (1 byte) and `skc_num` (2 bytes, the local port in host order).
    pub state: i16,
    pub num: i16,
    /// `skc_num` from the start of a `udp_sock`.
    pub udp_num: i16,
    /// `bpf_iter__task_file.file`, `socket.sk`, `sock.sk_protocol` (2 bytes),
    /// `sock_common.skc_net` (the `struct net` pointer) and `net.ns.inum` (4 bytes).
    pub file_ctx_file: i16,
    pub socket_sk: i16,
    pub sk_protocol: i16,
    pub skc_net: i16,
    pub net_inum: i16,
}

// Opcodes (linux/bpf_common.h, linux/bpf.h).
const LDX_B: u8 = 0x71;
const LDX_H: u8 = 0x69;
const LDX_W: u8 = 0x61;
const LDX_DW: u8 = 0x79;
const STX_B: u8 = 0x73;
const STX_W: u8 = 0x63;
const ST_W: u8 = 0x62;
const MOV_K: u8 = 0xb7;
const MOV_X: u8 = 0xbf;
const ADD_K: u8 = 0x07;
const ADD_X: u8 = 0x0f;
const AND_K: u8 = 0x57;
const OR_X: u8 = 0x4f;
const LSH_K: u8 = 0x67;
const LSH_X: u8 = 0x6f;
const RSH_K: u8 = 0x77;
const JA: u8 = 0x05;
const JEQ_K: u8 = 0x15;
const JNE_K: u8 = 0x55;
const JGE_K: u8 = 0x35;
const JEQ_X: u8 = 0x1d;
const JNE_X: u8 = 0x5d;
const STX_DW: u8 = 0x7b;
const CALL: u8 = 0x85;
const EXIT: u8 = 0x95;
const LD_IMM64: u8 = 0x18;
const PSEUDO_MAP_FD: u8 = 1;
const PSEUDO_MAP_VALUE: u8 = 2;
const PSEUDO_FUNC: u8 = 4;
const MUL_K: u8 = 0x27;
const MUL_X: u8 = 0x2f;
const OR_K: u8 = 0x47;
const JGE_X: u8 = 0x3d;
const HELPER_GET_CURRENT_TASK: i32 = 35;
const HELPER_PROBE_READ_KERNEL: i32 = 113;
const HELPER_LOOP: i32 = 181;
const HELPER_MAP_LOOKUP_ELEM: i32 = 1;
const HELPER_MAP_UPDATE_ELEM: i32 = 2;
const HELPER_SOCK_FROM_FILE: i32 = 162;
const IPPROTO_TCP: i32 = 6;
const AF_INET6: i32 = 10;

/// A jump target, placed once.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Label {
    Exit,
    NotTimeWait,
    Count,
    Port,
    New,
    // The hash walk's own.
    Listening,
    Walk,
    Callback,
    Socket,
    EndOfChain,
    NextBucket,
    Stop,
    Return,
    Next,
    Head,
    // The by-family count's.
    V4,
    Peer,
    NoPeer,
    Uncounted,
}

/// Instructions with forward jumps patched when their label is placed.
#[derive(Default)]
struct Asm {
    insns: Vec<u64>,
    pending: Vec<(usize, Label)>,
}

fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> u64 {
    u64::from(code)
        | u64::from(dst | src << 4) << 8
        | u64::from(off as u16) << 16
        | u64::from(imm as u32) << 32
}

impl Asm {
    fn op(&mut self, code: u8, dst: u8, src: u8, off: i16, imm: i32) -> &mut Asm {
        self.insns.push(insn(code, dst, src, off, imm));
        self
    }
    fn jump(&mut self, code: u8, dst: u8, imm: i32, to: Label) -> &mut Asm {
        self.pending.push((self.insns.len(), to));
        self.op(code, dst, 0, 0, imm)
    }
    /// A jump comparing two registers.
    fn jump_x(&mut self, code: u8, dst: u8, src: u8, to: Label) -> &mut Asm {
        self.pending.push((self.insns.len(), to));
        self.op(code, dst, src, 0, 0)
    }
    fn place(&mut self, label: Label) -> &mut Asm {
        let here = self.insns.len();
        for (at, _) in self.pending.iter().filter(|(_, l)| *l == label) {
            let off = (here - at - 1) as u64;
            if self.insns[*at] & 0xff == u64::from(LD_IMM64) {
                // A function's address: the distance goes in the immediate.
                self.insns[*at] |= (off & 0xffff_ffff) << 32;
            } else {
                self.insns[*at] |= (off & 0xffff) << 16;
            }
        }
        self.pending.retain(|(_, l)| *l != label);
        self
    }
    /// `dst` = the address of the function placed at `label` (a callback for a helper).
    fn func(&mut self, dst: u8, label: Label) -> &mut Asm {
        self.pending.push((self.insns.len(), label));
        self.op(LD_IMM64, dst, PSEUDO_FUNC, 0, 0).op(0, 0, 0, 0, 0)
    }
    /// `dst` = a pointer `off` bytes into element 0 of the array map `map_fd`.
    fn map_value(&mut self, dst: u8, map_fd: i32, off: i32) -> &mut Asm {
        self.op(LD_IMM64, dst, PSEUDO_MAP_VALUE, 0, map_fd)
            .op(0, 0, 0, 0, off)
    }
    /// Reads `len` bytes at kernel address r3 into the stack at `fp + at` (r0: 0 or an error).
    fn read_kernel(&mut self, at: i16, len: i32) -> &mut Asm {
        self.op(MOV_X, 1, 10, 0, 0)
            .op(ADD_K, 1, 0, 0, i32::from(at))
            .op(MOV_K, 2, 0, 0, len)
            .op(CALL, 0, 0, 0, HELPER_PROBE_READ_KERNEL)
    }
    /// r3 = the pointer at kernel address `base + off` (`base` a register), through the stack
    /// at `fp + at`; a failed read ends the program.
    fn deref(&mut self, base: u8, off: i32, at: i16, to: Label) -> &mut Asm {
        self.op(MOV_X, 3, base, 0, 0)
            .op(ADD_K, 3, 0, 0, off)
            .read_kernel(at, 8)
            .jump(JNE_K, 0, 0, to)
            .op(LDX_DW, 3, 10, at, 0)
    }
    /// r1 = `map_fd` as the verifier wants a map argument.
    fn map(&mut self, map_fd: i32) -> &mut Asm {
        self.op(LD_IMM64, 1, PSEUDO_MAP_FD, 0, map_fd)
            .op(0, 0, 0, 0, 0)
    }
    /// r0 = the map's element 0, or the program ends.
    fn lookup(&mut self, map_fd: i32) -> &mut Asm {
        self.op(ST_W, 10, 0, -4, 0)
            .op(LD_IMM64, 1, PSEUDO_MAP_FD, 0, map_fd)
            .op(0, 0, 0, 0, 0)
            .op(MOV_X, 2, 10, 0, 0)
            .op(ADD_K, 2, 0, 0, -4)
            .op(CALL, 0, 0, 0, HELPER_MAP_LOOKUP_ELEM)
            .jump(JEQ_K, 0, 0, Label::Exit)
    }
    /// Sets bit `r8 % 8` of byte `at + r8 / 8` of the value at r0.
    fn set_port(&mut self, at: usize) -> &mut Asm {
        let at = at as i16;
        self.op(MOV_X, 1, 8, 0, 0)
            .op(RSH_K, 1, 0, 0, 3)
            .op(ADD_X, 1, 0, 0, 0)
            .op(LDX_B, 2, 1, at, 0)
            .op(MOV_X, 3, 8, 0, 0)
            .op(AND_K, 3, 0, 0, 7)
            .op(MOV_K, 4, 0, 0, 1)
            .op(LSH_X, 4, 3, 0, 0)
            .op(OR_X, 2, 4, 0, 0)
            .op(STX_B, 1, 2, at, 0)
    }
    /// Adds one to the by-family counter (block at `at` of the value at r0, [`Layout::by_family`])
    /// of the socket whose fields `f` are at register `base` plus their offsets, in state r7
    /// (states past the counters are not counted, as [`Asm::count`] does). Clobbers r1 to r4.
    fn count_by_family(&mut self, at: usize, base: u8, f: PeerFields) -> &mut Asm {
        self.op(LDX_H, 1, base, f.family, 0)
            .op(MOV_K, 2, 0, 0, 0)
            .jump(JNE_K, 1, AF_INET6, Label::V4)
            .op(LDX_DW, 3, base, f.v6_daddr, 0)
            .op(LDX_DW, 4, base, f.v6_daddr + 8, 0)
            .op(OR_X, 3, 4, 0, 0)
            .op(MOV_K, 2, 0, 0, 2)
            .jump(JA, 0, 0, Label::Peer)
            .place(Label::V4)
            .op(LDX_W, 3, base, f.daddr, 0)
            .place(Label::Peer)
            .jump(JEQ_K, 3, 0, Label::NoPeer)
            .op(ADD_K, 2, 0, 0, 1)
            .place(Label::NoPeer)
            .op(LSH_K, 2, 0, 0, 4)
            .jump(JGE_K, 7, Layout::STATES as i32, Label::Uncounted)
            .op(ADD_X, 2, 7, 0, 0)
            .bump(2, 3, at)
            .place(Label::Uncounted)
    }
    /// Adds one to the u32 at byte `at + 4 * r7` of the value at r0 (r7 checked below `limit`).
    fn count(&mut self, at: usize, limit: usize) -> &mut Asm {
        self.jump(JGE_K, 7, limit as i32, Label::Port)
            .op(MOV_X, 1, 7, 0, 0)
            .bump(1, 2, at)
            .place(Label::Port)
    }
    /// Adds one to the u32 at byte `at + 4 * index` of the value at r0, the index in register
    /// `index` (clobbered, as is `scratch`).
    fn bump(&mut self, index: u8, scratch: u8, at: usize) -> &mut Asm {
        self.op(LSH_K, index, 0, 0, 2)
            .op(ADD_X, index, 0, 0, 0)
            .op(LDX_W, scratch, index, at as i16, 0)
            .op(ADD_K, scratch, 0, 0, 1)
            .op(STX_W, index, scratch, at as i16, 0)
    }
    fn finish(&mut self) -> Vec<u64> {
        self.place(Label::Exit)
            .op(MOV_K, 0, 0, 0, 0)
            .op(EXIT, 0, 0, 0, 0);
        assert!(self.pending.is_empty(), "a jump to a label never placed");
        std::mem::take(&mut self.insns)
    }
}

/// `iter/udp`: every UDP socket (IPv4 and IPv6 share the table) counted, its port marked.
pub fn udp(o: &Offsets, map_fd: i32) -> Vec<u64> {
    let mut a = Asm::default();
    a.op(LDX_DW, 6, 1, o.udp_ctx_sk, 0)
        .jump(JEQ_K, 6, 0, Label::Exit)
        .op(LDX_H, 8, 6, o.udp_num, 0)
        .lookup(map_fd)
        .op(MOV_K, 7, 0, 0, 0)
        .count(Layout::UDP_SOCKETS, 1)
        .set_port(Layout::UDP_PORTS)
        .op(LDX_B, 7, 6, o.state, 0)
        .count_by_family(Layout::UDP_FAMILIES, 6, o.peer);
    a.finish()
}

/// `iter/task_file`: the TCP sockets that are only bound (CLOSE with a local port: what
/// inet_diag lists as BOUND_INACTIVE from the bind hash, which no socket table lists), found
/// through the open files that hold them, in the namespace whose inode number user space wrote
/// at [`Layout::NETNS`]. A socket several descriptors share counts once: `seen_fd` (an LRU hash
/// of socket address → generation) remembers which ones this sample counted.
pub fn bound(o: &Offsets, map_fd: i32, seen_fd: i32) -> Vec<u64> {
    let mut a = Asm::default();
    a.op(LDX_DW, 6, 1, o.file_ctx_file, 0)
        .jump(JEQ_K, 6, 0, Label::Exit)
        .op(MOV_X, 1, 6, 0, 0)
        .op(CALL, 0, 0, 0, HELPER_SOCK_FROM_FILE)
        .jump(JEQ_K, 0, 0, Label::Exit)
        .op(LDX_DW, 6, 0, o.socket_sk, 0)
        .jump(JEQ_K, 6, 0, Label::Exit)
        // The state and port first: they share the socket's first cache line, and most sockets
        // (connected ones) end the program there; the protocol is lines further on.
        .op(LDX_B, 1, 6, o.state, 0)
        .jump(
            JNE_K,
            1,
            i32::from(crate::diag::tcp_state::CLOSE),
            Label::Exit,
        )
        .op(LDX_H, 8, 6, o.num, 0)
        .jump(JEQ_K, 8, 0, Label::Exit)
        .op(LDX_H, 1, 6, o.sk_protocol, 0)
        .jump(JNE_K, 1, IPPROTO_TCP, Label::Exit)
        .op(LDX_DW, 1, 6, o.skc_net, 0)
        .jump(JEQ_K, 1, 0, Label::Exit)
        .op(LDX_W, 9, 1, o.net_inum, 0)
        .lookup(map_fd)
        .op(MOV_X, 7, 0, 0, 0)
        .op(LDX_W, 1, 7, Layout::NETNS as i16, 0)
        .jump_x(JNE_X, 9, 1, Label::Exit)
        // Seen this sample already?
        .op(STX_DW, 10, 6, -16, 0)
        .map(seen_fd)
        .op(MOV_X, 2, 10, 0, 0)
        .op(ADD_K, 2, 0, 0, -16)
        .op(CALL, 0, 0, 0, HELPER_MAP_LOOKUP_ELEM)
        .jump(JEQ_K, 0, 0, Label::New)
        .op(LDX_W, 1, 0, 0, 0)
        .op(LDX_W, 2, 7, Layout::GENERATION as i16, 0)
        .jump_x(JEQ_X, 1, 2, Label::Exit)
        .place(Label::New)
        .op(LDX_W, 1, 7, Layout::GENERATION as i16, 0)
        .op(STX_W, 10, 1, -24, 0)
        .map(seen_fd)
        .op(MOV_X, 2, 10, 0, 0)
        .op(ADD_K, 2, 0, 0, -16)
        .op(MOV_X, 3, 10, 0, 0)
        .op(ADD_K, 3, 0, 0, -24)
        .op(MOV_K, 4, 0, 0, 0)
        .op(CALL, 0, 0, 0, HELPER_MAP_UPDATE_ELEM)
        .op(MOV_X, 0, 7, 0, 0)
        .op(MOV_K, 7, 0, 0, 0)
        .count(Layout::BOUND_NEW, 1)
        .set_port(Layout::BOUND_PORTS)
        .op(MOV_K, 7, 0, 0, i32::from(crate::diag::tcp_state::CLOSE))
        .count_by_family(Layout::TCP_FAMILIES, 6, o.peer);
    a.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instructions_encode_as_the_kernel_reads_them() {
        // r1 = *(u8 *)(r6 + 18): code 0x71, dst 1, src 6, off 18.
        assert_eq!(insn(LDX_B, 1, 6, 18, 0), 0x0012_6171);
        assert_eq!(insn(ADD_K, 2, 0, 0, -4), 0xffff_fffc_0000_0207);
    }

    #[test]
    fn jumps_land_on_their_labels_and_every_path_ends() {
        let o = Offsets {
            peer: PeerFields {
                family: 16,
                daddr: 0,
                v6_daddr: 56,
            },
            udp_ctx_sk: 8,
            state: 18,
            num: 14,
            udp_num: 14,
            file_ctx_file: 24,
            socket_sk: 24,
            sk_protocol: 532,
            skc_net: 48,
            net_inum: 184,
        };
        let h = HashOffsets {
            task_nsproxy: 3000,
            nsproxy_net: 48,
            net_hashinfo: 1200,
            ehash: 0,
            ehash_mask: 16,
            lhash2: 64,
            lhash2_mask: 60,
            ehash_bucket: 8,
            lhash2_bucket: 16,
            lhash2_head: 8,
            node: 104,
            net: 48,
            state: 18,
            num: 14,
            tw_substate: 140,
            peer: o.peer,
        };
        let (walk, callback) = hash(&h, 3, 5);
        let callback = callback as usize;
        // The one function reference is the callback's start; both functions end in EXIT.
        let refs: Vec<usize> = (0..walk.len())
            .filter(|&i| walk[i] & 0xff == u64::from(LD_IMM64) && (walk[i] >> 12) & 0xf == 4)
            .map(|i| i + 1 + (walk[i] >> 32) as u32 as usize)
            .collect();
        assert_eq!(refs, [callback]);
        assert_eq!(walk[callback - 1] & 0xff, u64::from(EXIT));
        for prog in [udp(&o, 3), bound(&o, 3, 4), walk] {
            assert_eq!(prog[prog.len() - 1] & 0xff, u64::from(EXIT));
            for (i, &w) in prog.iter().enumerate() {
                let code = (w & 0xff) as u8;
                if code & 0x07 == 0x05 && code != CALL && code != EXIT && code != LD_IMM64 {
                    let to = i as i64 + 1 + i64::from((w >> 16) as u16 as i16);
                    assert!(to > i as i64 && (to as usize) < prog.len(), "{i}: {w:#x}");
                }
            }
        }
    }
}
