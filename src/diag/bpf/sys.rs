//! The bpf(2) commands the iterators need, as raw syscalls on zeroed `union bpf_attr` buffers
//! (linux/bpf.h): map create/update/lookup, program load, link create, iterator create. Each
//! returns the kernel's errno as an `io::Error`; nothing here knows what the programs do.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

const BPF_MAP_CREATE: i64 = 0;
const BPF_MAP_LOOKUP_ELEM: i64 = 1;
const BPF_MAP_UPDATE_ELEM: i64 = 2;
const BPF_PROG_LOAD: i64 = 5;
const BPF_PROG_TEST_RUN: i64 = 10;
const BPF_BTF_LOAD: i64 = 18;
const BPF_LINK_CREATE: i64 = 28;
const BPF_ITER_CREATE: i64 = 33;

const BPF_MAP_TYPE_ARRAY: u32 = 2;
const BPF_MAP_TYPE_LRU_HASH: u32 = 9;
const BPF_PROG_TYPE_SOCKET_FILTER: u32 = 1;
const BPF_PROG_TYPE_TRACING: u32 = 26;
pub const BPF_TRACE_ITER: u32 = 28;

/// `union bpf_attr`, as far as these commands reach (the kernel wants the rest zero).
#[repr(C, align(8))]
struct Attr([u8; 128]);

impl Attr {
    fn new() -> Attr {
        Attr([0; 128])
    }
    fn u32(&mut self, at: usize, v: u32) -> &mut Attr {
        self.0[at..at + 4].copy_from_slice(&v.to_ne_bytes());
        self
    }
    fn u64(&mut self, at: usize, v: u64) -> &mut Attr {
        self.0[at..at + 8].copy_from_slice(&v.to_ne_bytes());
        self
    }
    fn call(&mut self, cmd: i64) -> io::Result<i64> {
        // SAFETY: the buffer is a valid, zero-padded bpf_attr of the size passed; every pointer
        // written into it points at memory that outlives the call.
        let r = unsafe { libc::syscall(libc::SYS_bpf, cmd, self.0.as_mut_ptr(), self.0.len()) };
        if r < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(r)
        }
    }
    fn call_fd(&mut self, cmd: i64) -> io::Result<OwnedFd> {
        let fd = self.call(cmd)?;
        // SAFETY: the command returns a new file descriptor that nothing else owns.
        Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
    }
}

/// A one-element array map of `value_size` bytes.
pub fn array_map(value_size: u32) -> io::Result<OwnedFd> {
    map(BPF_MAP_TYPE_ARRAY, 4, value_size, 1)
}

/// An LRU hash map of `entries` u64 keys to u32 values.
pub fn lru_map(entries: u32) -> io::Result<OwnedFd> {
    map(BPF_MAP_TYPE_LRU_HASH, 8, 4, entries)
}

fn map(kind: u32, key_size: u32, value_size: u32, entries: u32) -> io::Result<OwnedFd> {
    Attr::new()
        .u32(0, kind)
        .u32(4, key_size)
        .u32(8, value_size)
        .u32(12, entries)
        .call_fd(BPF_MAP_CREATE)
}

/// Writes `value` into element 0 of `map`.
pub fn map_write(map: &OwnedFd, value: &[u8]) -> io::Result<()> {
    let key = 0u32;
    Attr::new()
        .u32(0, map.as_raw_fd() as u32)
        .u64(8, &key as *const u32 as u64)
        .u64(16, value.as_ptr() as u64)
        .call(BPF_MAP_UPDATE_ELEM)
        .map(drop)
}

/// Reads element 0 of `map` into `value` (exactly the map's value size).
pub fn map_read(map: &OwnedFd, value: &mut [u8]) -> io::Result<()> {
    let key = 0u32;
    Attr::new()
        .u32(0, map.as_raw_fd() as u32)
        .u64(8, &key as *const u32 as u64)
        .u64(16, value.as_mut_ptr() as u64)
        .call(BPF_MAP_LOOKUP_ELEM)
        .map(drop)
}

/// Loads a BPF iterator program (`insns`, 8 bytes each) for the kernel function whose BTF id is
/// `attach_btf_id`. On failure the verifier's log comes back with the error.
pub fn load_iter(name: &str, insns: &[u64], attach_btf_id: u32) -> Result<OwnedFd, String> {
    load(
        name,
        insns,
        BPF_PROG_TYPE_TRACING,
        BPF_TRACE_ITER,
        attach_btf_id,
        |_| (),
    )
}

/// Loads a BTF blob (the description of a program's functions).
pub fn load_btf(blob: &[u8]) -> io::Result<OwnedFd> {
    Attr::new()
        .u64(0, blob.as_ptr() as u64)
        .u32(16, blob.len() as u32)
        .call_fd(BPF_BTF_LOAD)
}

/// Loads a program that runs only when [`test_run`] asks (a socket filter: its test runs happen
/// inside an RCU read-side section, and loading one needs no CAP_NET_ADMIN), its functions
/// described by `btf` as `funcs` says: (first instruction, BTF type id) each.
pub fn load_runnable(
    name: &str,
    insns: &[u64],
    btf: &OwnedFd,
    funcs: &[[u32; 2]],
) -> Result<OwnedFd, String> {
    let extra = |attr: &mut Attr| {
        attr.u32(72, btf.as_raw_fd() as u32)
            .u32(76, 8)
            .u64(80, funcs.as_ptr() as u64)
            .u32(88, funcs.len() as u32);
    };
    load(name, insns, BPF_PROG_TYPE_SOCKET_FILTER, 0, 0, extra)
}

fn load(
    name: &str,
    insns: &[u64],
    kind: u32,
    attach_type: u32,
    attach_btf_id: u32,
    extra: impl FnOnce(&mut Attr),
) -> Result<OwnedFd, String> {
    let license = c"Dual MIT/GPL";
    let mut attr = Attr::new();
    attr.u32(0, kind)
        .u32(4, insns.len() as u32)
        .u64(8, insns.as_ptr() as u64)
        .u64(16, license.as_ptr() as u64)
        .u32(68, attach_type)
        .u32(108, attach_btf_id);
    extra(&mut attr);
    let n = name.len().min(15);
    attr.0[48..48 + n].copy_from_slice(&name.as_bytes()[..n]);
    match attr.call_fd(BPF_PROG_LOAD) {
        Ok(fd) => Ok(fd),
        Err(first) => {
            // Again with the verifier's log, which says why.
            let mut log = vec![0u8; 64 * 1024];
            attr.u32(24, 1)
                .u32(28, log.len() as u32)
                .u64(32, log.as_mut_ptr() as u64);
            let again = attr.call_fd(BPF_PROG_LOAD);
            let text =
                String::from_utf8_lossy(&log[..log.iter().position(|&b| b == 0).unwrap_or(0)])
                    .lines()
                    .rev()
                    .take(3)
                    .collect::<Vec<_>>()
                    .join(" / ");
            match again {
                Ok(fd) => Ok(fd),
                Err(_) if text.is_empty() => Err(first.to_string()),
                Err(_) => Err(format!("{first}: {text}")),
            }
        }
    }
}

/// Attaches an iterator program: the link that iterators are created from.
pub fn iter_link(prog: &OwnedFd) -> io::Result<OwnedFd> {
    Attr::new()
        .u32(0, prog.as_raw_fd() as u32)
        .u32(8, BPF_TRACE_ITER)
        .call_fd(BPF_LINK_CREATE)
}

/// A new iterator on `link`: reading it to the end runs the program once per socket of the
/// calling thread's network namespace.
pub fn iter_create(link: &OwnedFd) -> io::Result<OwnedFd> {
    Attr::new()
        .u32(0, link.as_raw_fd() as u32)
        .call_fd(BPF_ITER_CREATE)
}

/// Runs `prog` once on an empty packet whose mark is `mark` (what the program reads to know its
/// job); returns the program's return value.
pub fn test_run(prog: &OwnedFd, mark: u32) -> io::Result<u32> {
    // An Ethernet header's worth of zeroes, and a `struct __sk_buff` up to and with `mark`.
    let packet = [0u8; 14];
    let mut ctx = [0u32; 3];
    ctx[2] = mark;
    let mut attr = Attr::new();
    attr.u32(0, prog.as_raw_fd() as u32)
        .u32(8, packet.len() as u32)
        .u64(16, packet.as_ptr() as u64)
        .u32(32, 1)
        .u32(40, 12)
        .u64(48, ctx.as_ptr() as u64)
        .call(BPF_PROG_TEST_RUN)?;
    Ok(u32::from_ne_bytes(
        attr.0[4..8].try_into().expect("4 bytes"),
    ))
}
