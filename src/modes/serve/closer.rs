//! Turning a connection away: the 503 written without blocking the accept loop, and the one
//! "closer" thread that drains what turned-away clients still send before closing them.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::fd::AsFd;
use std::sync::mpsc::{Receiver, SyncSender};
use std::time::Instant;

use super::http;

/// Turned-away connections the closer thread reads from at once; beyond, they are closed at once.
pub(super) const MAX_CLOSING: usize = 256;

/// Answers 503 without ever blocking the accept loop: the answer (a hundred bytes) goes into the
/// new socket's empty send buffer, or not at all, and the lingering close (reading what the client
/// still sends, so that closing does not reset the connection under the answer) is the closer
/// thread's.
pub(super) fn turn_away(stream: TcpStream, closing: &SyncSender<TcpStream>) {
    if stream.set_nonblocking(true).is_err() {
        return;
    }
    let busy = http::answer(
        "503 Service Unavailable",
        "text/plain",
        "",
        b"too many connections\n",
        false,
    );
    let _ = (&stream).write(&busy);
    let _ = stream.shutdown(Shutdown::Write);
    // When the closer holds too many already, this one closes now.
    let _ = closing.try_send(stream);
}

/// The closer thread: reads (and drops) what turned-away clients still send, each until it
/// closes, sends [`http::LINGER_BYTES`] or [`http::LINGER`] has passed, then closes it.
pub(super) fn closer(turned_away: &Receiver<TcpStream>) {
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    let mut held: Vec<(TcpStream, Instant, usize)> = Vec::new();
    loop {
        if held.is_empty() {
            match turned_away.recv() {
                Ok(s) => held.push((s, Instant::now(), 0)),
                Err(_) => return,
            }
        }
        while held.len() < MAX_CLOSING
            && let Ok(s) = turned_away.try_recv()
        {
            held.push((s, Instant::now(), 0));
        }
        {
            let mut fds: Vec<PollFd> = held
                .iter()
                .map(|(s, ..)| PollFd::new(s.as_fd(), PollFlags::POLLIN))
                .collect();
            let _ = poll(&mut fds, PollTimeout::from(50u16));
        }
        let mut sink = [0u8; 4096];
        held.retain_mut(|(s, since, drained)| {
            if since.elapsed() >= http::LINGER {
                return false;
            }
            loop {
                match s.read(&mut sink) {
                    Ok(0) => return false,
                    Ok(n) => {
                        *drained += n;
                        if *drained >= http::LINGER_BYTES {
                            return false;
                        }
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return true,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(_) => return false,
                }
            }
        });
    }
}
