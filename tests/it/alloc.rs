//! The per-sample path allocates nothing per socket: a counting global allocator (per thread, so
//! tests running in parallel do not disturb each other) counts what one `Sampler::take` allocates
//! on a namespace holding a few sockets and on one holding thousands. Counts, not timings.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::net::{TcpListener, TcpStream, UdpSocket};

use conntrend::api::Sampler;
use conntrend::api::diag::Protocols;

use crate::netns::with_netns;

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: defers to the system allocator; only counts calls on the current thread.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Raises this process's soft RLIMIT_NOFILE to its hard limit (a default soft limit of 1024 is
/// common) and returns how many of `want` pairs fit: each pair costs three descriptors.
fn pairs_the_fd_limit_allows(want: usize) -> usize {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit with a valid struct.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim), 0);
        if lim.rlim_cur < lim.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: lim.rlim_max,
                ..lim
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                lim = raised;
            }
        }
    }
    // Room for what the rest of the suite holds open at the same time.
    let spare = (lim.rlim_cur as usize).saturating_sub(256);
    want.min(spare / 3)
}

fn allocations_during(f: impl FnOnce()) -> u64 {
    let before = ALLOCATIONS.with(Cell::get);
    f();
    ALLOCATIONS.with(Cell::get) - before
}

/// Allocations of one sample in a fresh namespace holding `pairs` established TCP connections
/// (2 sockets each) and `pairs` UDP sockets, on IPv4 and IPv6; also returns the sockets folded.
fn sample_allocations(pairs: usize) -> (u64, u64) {
    with_netns(move |_ns| {
        let (mut pairs_held, mut others) = (Vec::new(), Vec::new());
        for addr in ["127.0.0.1:0", "[::1]:0"] {
            let listener = TcpListener::bind(addr).unwrap();
            let target = listener.local_addr().unwrap();
            for _ in 0..pairs / 2 {
                let c = TcpStream::connect(target).unwrap();
                let (s, _) = listener.accept().unwrap();
                pairs_held.push((c, s));
            }
            others.extend((0..pairs / 2).map(|_| UdpSocket::bind(addr).unwrap()));
            drop(listener); // its accepted connections stay established
        }
        let mut sampler = Sampler::open(Protocols::ALL).unwrap();
        sampler.take(0, &mut ()).unwrap(); // warm: first-use allocations are not per sample
        let mut sockets = 0;
        let n = allocations_during(|| {
            sampler.take(0, &mut ()).unwrap();
            sockets = sampler.tally().sockets;
        });
        eprintln!("{sockets} sockets: {n} allocations in one sample");
        drop((pairs_held, others));
        (n, sockets)
    })
}

#[test]
fn a_sample_allocates_a_small_constant_whatever_the_socket_count() {
    let many_pairs = pairs_the_fd_limit_allows(3000);
    let (few, few_sockets) = sample_allocations(10);
    let (many, many_sockets) = sample_allocations(many_pairs);
    assert!(
        few_sockets >= 30,
        "the small mix was folded ({few_sockets} sockets)"
    );
    assert!(
        many_pairs >= 250 && many_sockets >= 3 * many_pairs as u64,
        "the large mix was folded ({many_sockets} sockets of {many_pairs} pairs)"
    );
    assert_eq!(
        few, many,
        "allocations per sample grew with the socket count ({few_sockets} sockets: {few}, {many_sockets} sockets: {many})"
    );
    assert!(
        many <= 16,
        "a sample allocated {many} times; expected a small constant"
    );
}
