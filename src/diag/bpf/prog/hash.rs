//! The TCP hash walk: one program that walks a range of buckets of the kernel's established
//! (`ehash`) or listening (`lhash2`) hash table of the calling thread's network namespace itself,
//! reading each socket with `bpf_probe_read_kernel` inside an RCU read-side section (a test run
//! of a socket filter), and counts it by state and local port into its job's slot of one map value.
//! Unlike `iter/tcp` it takes no reference on any socket and can start at any bucket, so K
//! threads walk K parts of one table at once.
//!
//! The walk is lockless, like the kernel's own lookups: a socket freed and reused while it is
//! read can lead into another chain, which the chain's end marker (a "nulls" value naming its
//! bucket) shows; the job then counts a stray and user space walks its range again.

use super::{
    ADD_K, ADD_X, AND_K, Asm, CALL, EXIT, HELPER_GET_CURRENT_TASK, HELPER_LOOP, JA, JEQ_K, JGE_K,
    JGE_X, JNE_K, JNE_X, LDX_B, LDX_DW, LDX_H, LDX_W, LSH_K, Label, MOV_K, MOV_X, MUL_K, MUL_X,
    NEW_SYN_RECV, OR_K, STX_DW, STX_W, SYN_RECV, TIME_WAIT,
};

/// Which table a job walks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    Established = 0,
    Listening = 1,
}

/// One job's slot in the map value: what user space asks, what the program answers, the counts.
pub struct Job;

impl Job {
    /// In: the table (u32), the first bucket and the bucket past the last (u32 each).
    pub const TABLE: usize = 0;
    pub const FIRST: usize = 4;
    pub const END: usize = 8;
    /// A run walks at most [`Hash::STEPS`] buckets and sockets (so that no run holds its CPU
    /// long), and leaves FIRST where it stopped: the next run goes on from there. Out: the
    /// table's size in buckets and the chains that ended in another bucket's marker.
    pub const SIZE: usize = 16;
    pub const STRAYS: usize = 20;
    /// TCP sockets per state (u32 each, as [`super::Layout::STATES`]) and the port bitmap.
    pub const STATES: usize = 64;
    pub const PORTS: usize = 128;
    /// The sockets by family, peer and state ([`super::Layout::by_family`]).
    pub const FAMILIES: usize = Job::PORTS + super::Layout::BITMAP;
    pub const LEN: usize = Job::FAMILIES + super::Layout::FAMILIES;
}

/// Where the hash walk reads, in bytes, from the kernel's BTF.
#[derive(Debug, Clone, Copy)]
pub struct HashOffsets {
    /// `task_struct.nsproxy`, `nsproxy.net_ns`, `net.ipv4.tcp_death_row.hashinfo`.
    pub task_nsproxy: i32,
    pub nsproxy_net: i32,
    pub net_hashinfo: i32,
    /// `inet_hashinfo.ehash`, `.ehash_mask`, `.lhash2`, `.lhash2_mask`.
    pub ehash: i32,
    pub ehash_mask: i32,
    pub lhash2: i32,
    pub lhash2_mask: i32,
    /// `sizeof(struct inet_ehash_bucket)`, `sizeof(struct inet_listen_hashbucket)` and where in
    /// the latter its chain's head is.
    pub ehash_bucket: i32,
    pub lhash2_bucket: i32,
    pub lhash2_head: i32,
    /// In `sock_common`: the chain link `skc_nulls_node`, `skc_net`, `skc_state` (1 byte),
    /// `skc_num` (2 bytes); `tw_substate` (1 byte) of a TIME_WAIT socket.
    pub node: i16,
    pub net: i16,
    pub state: i16,
    pub num: i16,
    pub tw_substate: i16,
    /// Its family and remote address.
    pub peer: super::PeerFields,
}

/// The program's constants.
pub struct Hash;

impl Hash {
    /// Steps (buckets plus sockets) one run takes before it stops at the next chain's end.
    pub const STEPS: i32 = 1 << 16;
    /// The listening table's end markers count from here (`LISTENING_NULLS_BASE`).
    const LISTENING_NULLS_BASE: i32 = 1 << 29;
}

// The loop's state, on the main program's stack at `fp + CTX` (the callback gets its address).
const CTX: i16 = -96;
const NODE: i16 = 0;
const BUCKET: i16 = 8;
const END: i16 = 16;
const TABLE: i16 = 24;
const STRIDE: i16 = 32;
const HEAD: i16 = 40;
const NULLS_BASE: i16 = 48;
const NET: i16 = 56;
const SLOT: i16 = 64;
const EXPECT: i16 = 72;
// Scratch below it: a read pointer (main) and the socket's first bytes, as far as a TIME_WAIT
// socket's substate (callback).
const SCRATCH: i16 = -8;
const SOCKET: i16 = -192;

/// The program for `jobs` slots of map `map_fd` (element 0, [`Job::LEN`] bytes a slot), and where
/// its callback starts; each run reads its job number from the packet's mark.
pub fn hash(o: &HashOffsets, map_fd: i32, jobs: u32) -> (Vec<u64>, u32) {
    let read = ([
        i32::from(o.tw_substate) + 1,
        i32::from(o.peer.family) + 2,
        i32::from(o.peer.daddr) + 4,
        i32::from(o.peer.v6_daddr) + 16,
        i32::from(o.node) + 8,
        i32::from(o.net) + 8,
        i32::from(o.state) + 1,
        i32::from(o.num) + 2,
    ]
    .into_iter()
    .max()
    .unwrap_or(8)
        + 7)
        / 8
        * 8;
    assert!(
        read <= -i32::from(SOCKET),
        "the socket's head outgrows its stack room"
    );
    let mut a = Asm::default();
    let ctx = |field: i16| CTX + field;
    // r7 = the job's slot.
    a.op(LDX_W, 6, 1, 8, 0)
        .jump(JGE_K, 6, jobs as i32, Label::Exit)
        .map_value(7, map_fd, 0)
        .op(MUL_K, 6, 0, 0, Job::LEN as i32)
        .op(ADD_X, 7, 6, 0, 0)
        .op(STX_DW, 10, 7, ctx(SLOT), 0)
        // r8 = this thread's network namespace, r9 its hash tables.
        .op(CALL, 0, 0, 0, HELPER_GET_CURRENT_TASK)
        .op(MOV_X, 6, 0, 0, 0)
        .deref(6, o.task_nsproxy, SCRATCH, Label::Exit)
        .op(MOV_X, 6, 3, 0, 0)
        .deref(6, o.nsproxy_net, SCRATCH, Label::Exit)
        .op(MOV_X, 8, 3, 0, 0)
        .op(STX_DW, 10, 8, ctx(NET), 0)
        .deref(8, o.net_hashinfo, SCRATCH, Label::Exit)
        .op(MOV_X, 9, 3, 0, 0)
        .op(LDX_W, 1, 7, Job::TABLE as i16, 0)
        .jump(JEQ_K, 1, Table::Listening as i32, Label::Listening)
        // The established table: buckets of one chain head each, markers from 0.
        .deref(9, o.ehash, SCRATCH, Label::Exit)
        .op(STX_DW, 10, 3, ctx(TABLE), 0)
        .deref(9, o.ehash_mask, SCRATCH, Label::Exit)
        .op(MOV_K, 1, 0, 0, o.ehash_bucket)
        .op(STX_DW, 10, 1, ctx(STRIDE), 0)
        .op(MOV_K, 1, 0, 0, 0)
        .op(STX_DW, 10, 1, ctx(HEAD), 0)
        .op(STX_DW, 10, 1, ctx(NULLS_BASE), 0)
        .jump(JA, 0, 0, Label::Walk)
        .place(Label::Listening)
        .deref(9, o.lhash2, SCRATCH, Label::Exit)
        .op(STX_DW, 10, 3, ctx(TABLE), 0)
        .deref(9, o.lhash2_mask, SCRATCH, Label::Exit)
        .op(MOV_K, 1, 0, 0, o.lhash2_bucket)
        .op(STX_DW, 10, 1, ctx(STRIDE), 0)
        .op(MOV_K, 1, 0, 0, o.lhash2_head)
        .op(STX_DW, 10, 1, ctx(HEAD), 0)
        .op(MOV_K, 1, 0, 0, Hash::LISTENING_NULLS_BASE)
        .op(STX_DW, 10, 1, ctx(NULLS_BASE), 0)
        .place(Label::Walk)
        // r3 holds the mask (its low 32 bits): size = mask + 1; the end is min(END, size).
        .op(MOV_X, 1, 3, 0, 0)
        .op(LSH_K, 1, 0, 0, 32)
        .op(super::RSH_K, 1, 0, 0, 32)
        .op(ADD_K, 1, 0, 0, 1)
        .op(STX_W, 7, 1, Job::SIZE as i16, 0)
        .op(LDX_W, 2, 7, Job::END as i16, 0)
        .jump_x(JGE_X, 1, 2, Label::Socket)
        .op(MOV_X, 2, 1, 0, 0)
        .place(Label::Socket)
        .op(STX_DW, 10, 2, ctx(END), 0)
        .op(LDX_W, 1, 7, Job::FIRST as i16, 0)
        .op(STX_DW, 10, 1, ctx(BUCKET), 0)
        .op(MOV_K, 1, 0, 0, 1)
        .op(STX_DW, 10, 1, ctx(NODE), 0)
        .op(STX_DW, 10, 1, ctx(EXPECT), 0)
        .op(MOV_K, 1, 0, 0, Hash::STEPS * 16)
        .func(2, Label::Callback)
        .op(MOV_X, 3, 10, 0, 0)
        .op(ADD_K, 3, 0, 0, i32::from(CTX))
        .op(MOV_K, 4, 0, 0, 0)
        .op(CALL, 0, 0, 0, HELPER_LOOP)
        // The next run starts where this one stopped. Returns 0 when the range is not done
        // yet, 1 when it is, 2 when a chain could not be walked to its end, 3 when the
        // namespace's tables could not be found.
        .op(LDX_DW, 1, 10, ctx(BUCKET), 0)
        .op(STX_W, 7, 1, Job::FIRST as i16, 0)
        .op(MOV_K, 0, 0, 0, 2)
        .op(LDX_DW, 2, 10, ctx(NODE), 0)
        .op(AND_K, 2, 0, 0, 1)
        .jump(JEQ_K, 2, 0, Label::Return)
        .op(MOV_K, 0, 0, 0, 1)
        .op(LDX_DW, 2, 10, ctx(END), 0)
        .jump_x(JGE_X, 1, 2, Label::Return)
        .op(MOV_K, 0, 0, 0, 0)
        .jump(JA, 0, 0, Label::Return)
        .place(Label::Exit)
        .op(MOV_K, 0, 0, 0, 3)
        .place(Label::Return)
        .op(EXIT, 0, 0, 0, 0);

    // The callback, once per step: r1 = the step's number, r2 = the loop's state.
    let callback = a.insns.len() as u32;
    a.place(Label::Callback)
        .op(MOV_X, 9, 2, 0, 0)
        .op(MOV_X, 7, 1, 0, 0)
        .op(LDX_DW, 6, 9, NODE, 0)
        .op(MOV_X, 1, 6, 0, 0)
        .op(AND_K, 1, 0, 0, 1)
        .jump(JNE_K, 1, 0, Label::EndOfChain)
        .jump(JEQ_K, 6, 0, Label::EndOfChain)
        // A socket: its head, then the link to the next one.
        .op(ADD_K, 6, 0, 0, -i32::from(o.node))
        .op(MOV_X, 3, 6, 0, 0)
        .read_kernel(SOCKET, read)
        .jump(JNE_K, 0, 0, Label::Stop)
        .op(LDX_DW, 1, 10, SOCKET + o.node, 0)
        .op(STX_DW, 9, 1, NODE, 0)
        .op(LDX_DW, 1, 10, SOCKET + o.net, 0)
        .op(LDX_DW, 2, 9, NET, 0)
        .jump_x(JNE_X, 1, 2, Label::Next)
        .op(LDX_B, 7, 10, SOCKET + o.state, 0)
        .op(LDX_H, 8, 10, SOCKET + o.num, 0)
        .jump(JNE_K, 7, i32::from(TIME_WAIT), Label::NotTimeWait)
        .op(LDX_B, 7, 10, SOCKET + o.tw_substate, 0)
        .jump(JA, 0, 0, Label::Count)
        .place(Label::NotTimeWait)
        .jump(JNE_K, 7, i32::from(NEW_SYN_RECV), Label::Count)
        .op(MOV_K, 7, 0, 0, i32::from(SYN_RECV))
        .place(Label::Count)
        .op(LDX_DW, 0, 9, SLOT, 0)
        .count(Job::STATES, super::Layout::STATES)
        .set_port(Job::PORTS)
        .count_by_family(Job::FAMILIES, 10, o.peer.shifted(SOCKET))
        .jump(JA, 0, 0, Label::Next)
        // The chain's end: its marker should name the bucket it started in.
        .place(Label::EndOfChain)
        .op(LDX_DW, 1, 9, EXPECT, 0)
        .jump_x(super::JEQ_X, 6, 1, Label::NextBucket)
        .op(LDX_DW, 0, 9, SLOT, 0)
        .op(LDX_W, 1, 0, Job::STRAYS as i16, 0)
        .op(ADD_K, 1, 0, 0, 1)
        .op(STX_W, 0, 1, Job::STRAYS as i16, 0)
        .place(Label::NextBucket)
        .op(LDX_DW, 1, 9, BUCKET, 0)
        .op(LDX_DW, 2, 9, END, 0)
        .jump_x(JGE_X, 1, 2, Label::Stop)
        .jump(JGE_K, 7, Hash::STEPS, Label::Stop)
        .op(MOV_X, 3, 1, 0, 0)
        .op(LDX_DW, 2, 9, STRIDE, 0)
        .op(MUL_X, 3, 2, 0, 0)
        .op(LDX_DW, 2, 9, TABLE, 0)
        .op(ADD_X, 3, 2, 0, 0)
        .op(LDX_DW, 2, 9, HEAD, 0)
        .op(ADD_X, 3, 2, 0, 0)
        .read_kernel(SOCKET, 8)
        .jump(JEQ_K, 0, 0, Label::Head)
        .op(MOV_K, 1, 0, 0, 0)
        .op(STX_DW, 9, 1, NODE, 0)
        .jump(JA, 0, 0, Label::Stop)
        .place(Label::Head)
        .op(LDX_DW, 1, 10, SOCKET, 0)
        .op(STX_DW, 9, 1, NODE, 0)
        .op(LDX_DW, 1, 9, BUCKET, 0)
        .op(LDX_DW, 2, 9, NULLS_BASE, 0)
        .op(ADD_X, 2, 1, 0, 0)
        .op(LSH_K, 2, 0, 0, 1)
        .op(OR_K, 2, 0, 0, 1)
        .op(STX_DW, 9, 2, EXPECT, 0)
        .op(ADD_K, 1, 0, 0, 1)
        .op(STX_DW, 9, 1, BUCKET, 0)
        .place(Label::Next)
        .op(MOV_K, 0, 0, 0, 0)
        .op(EXIT, 0, 0, 0, 0)
        .place(Label::Stop)
        .op(MOV_K, 0, 0, 0, 1)
        .op(EXIT, 0, 0, 0, 0);
    assert!(a.pending.is_empty(), "a jump to a label never placed");
    (std::mem::take(&mut a.insns), callback)
}
