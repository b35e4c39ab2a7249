//! The per-sample path allocates nothing per socket: a counting global allocator (per thread, so
//! tests running in parallel do not disturb each other) counts what one `Sampler::take` allocates
//! on a namespace holding a few sockets and on one holding thousands. Counts, not timings.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::net::{TcpListener, TcpStream, UdpSocket};

use conntrend::diag::Protocols;
use conntrend::sampler::Sampler;

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
    let (few, few_sockets) = sample_allocations(10);
    let (many, many_sockets) = sample_allocations(3000);
    assert!(
        few_sockets >= 30,
        "the small mix was folded ({few_sockets} sockets)"
    );
    assert!(
        many_sockets >= 9000,
        "the large mix was folded ({many_sockets} sockets)"
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
