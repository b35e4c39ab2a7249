//! Socket loads over loopback in the current (private) namespace: mostly TIME_WAIT from many
//! 127/8 source addresses, plus ESTABLISHED pairs (half over ::1) and bound UDP sockets.
//!
//! TIME_WAIT is made in batches so it always lands on the client: the batch connects (the
//! handshakes complete into the listener's accept queue), the clients close first, then the
//! server side is accepted and closed. Source ports come from the kernel (bind with
//! IP_BIND_ADDRESS_NO_PORT, then connect), at most [`PER_ADDR`] per source address.

use std::io;
use std::io::{BufRead, BufReader, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::AsRawFd;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use socket2::{Domain, Socket, Type};

/// Connections queued on a listener before they are accepted.
const BATCH: usize = 1024;
/// Connections per source address (the port range holds about 32k per parity).
const PER_ADDR: usize = 16_000;
/// Listener ports, below the ephemeral range so no connect ever lands on them.
const EST_PORT: u16 = 100;
const TW_PORT: u16 = 400;

/// How a load of `total` sockets is made up.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    pub time_wait: usize,
    pub est_pairs: usize,
    pub udp: usize,
    pub listeners: usize,
}

impl Plan {
    /// 5% ESTABLISHED (as pairs), 1% UDP, two listeners, TIME_WAIT for the rest.
    pub fn for_total(total: usize) -> Plan {
        let est_pairs = total * 5 / 200;
        let udp = total / 100;
        let listeners = 2;
        Plan {
            time_wait: total.saturating_sub(2 * est_pairs + udp + listeners),
            est_pairs,
            udp,
            listeners,
        }
    }
}

/// A load held in the current namespace. TIME_WAIT sockets are the kernel's; ESTABLISHED pairs,
/// UDP sockets and their listeners are held by holder processes (this binary re-executed with
/// `--hold`), as many as the open-file limit calls for, until the load is dropped.
pub struct Load {
    pub plan: Plan,
    /// When the first TIME_WAIT socket was made: they start to expire 60 s later.
    pub time_wait_since: Instant,
    /// How long building the load took.
    pub build_time: Duration,
    threads: usize,
    generation: u8,
    holders: Vec<(Child, Option<ChildStdin>)>,
}

impl Load {
    /// Builds `total` sockets (listeners included) with `threads` TIME_WAIT builders; `me` is
    /// this binary, `fds` how many descriptors one process may hold.
    pub fn build(total: usize, threads: usize, me: &str, fds: usize) -> io::Result<Load> {
        let start = Instant::now();
        let mut plan = Plan::for_total(total);
        // Each holder keeps 2 listeners, its pairs (2 fds each) and its UDP sockets, plus a batch.
        let budget = fds.saturating_sub(2 * BATCH + 64).max(1000);
        let holders = (2 * plan.est_pairs + plan.udp).div_ceil(budget).max(1);
        plan.listeners = 2 * holders;
        plan.time_wait = total.saturating_sub(2 * plan.est_pairs + plan.udp + plan.listeners);
        let mut load = Load {
            plan,
            time_wait_since: start,
            build_time: Duration::ZERO,
            threads,
            generation: 0,
            holders: Vec::new(),
        };
        for h in 0..holders {
            let share = |n: usize| n / holders + usize::from(h < n % holders);
            let args = [h, share(plan.est_pairs), share(plan.udp)].map(|n| n.to_string());
            let mut child = Command::new(me)
                .arg("--hold")
                .args(&args)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()?;
            let stdin = child.stdin.take();
            let mut ready = String::new();
            BufReader::new(child.stdout.take().expect("piped")).read_line(&mut ready)?;
            load.holders.push((child, stdin));
            if ready.trim() != "ready" {
                return Err(io::Error::other(format!("holder {h} failed: {ready:?}")));
            }
        }
        load.time_wait_since = Instant::now();
        load.add_time_wait(plan.time_wait)?;
        load.build_time = start.elapsed();
        Ok(load)
    }

    /// Adds `count` TIME_WAIT sockets from source addresses not used before by this load.
    pub fn add_time_wait(&mut self, count: usize) -> io::Result<()> {
        let generation = self.generation;
        self.generation = self.generation.wrapping_add(1);
        let threads = self.threads;
        let results: Vec<io::Result<()>> = thread::scope(|scope| {
            let workers: Vec<_> = (0..threads)
                .map(|t| {
                    let share = count / threads + usize::from(t < count % threads);
                    scope.spawn(move || time_wait(t, generation, share))
                })
                .collect();
            workers
                .into_iter()
                .map(|w| w.join().expect("TIME_WAIT builder panicked"))
                .collect()
        });
        results.into_iter().collect()
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        for (child, stdin) in &mut self.holders {
            drop(stdin.take()); // end of input: the holder exits and its sockets close
            let _ = child.wait();
        }
    }
}

/// Holder mode (`--hold INDEX PAIRS UDP`): makes `pairs` ESTABLISHED pairs and `udp` UDP sockets,
/// says "ready" on stdout, and holds them until stdin ends.
pub fn hold(index: usize, pairs: usize, udp: usize) -> io::Result<()> {
    let mut held = Vec::with_capacity(2 * pairs + udp + 2);
    let index = u8::try_from(index).map_err(io::Error::other)?;
    established(index, pairs, &mut held)?;
    for i in 0..udp {
        let ip = if i % 2 == 0 {
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        } else {
            IpAddr::V6(Ipv6Addr::LOCALHOST)
        };
        let s = Socket::new(
            Domain::for_address(SocketAddr::new(ip, 0)),
            Type::DGRAM,
            None,
        )?;
        s.bind(&SocketAddr::new(ip, 0).into())?;
        held.push(s);
    }
    let mut out = io::stdout().lock();
    writeln!(out, "ready")?;
    out.flush()?;
    io::copy(&mut io::stdin().lock(), &mut io::sink())?;
    Ok(())
}

fn listener(addr: SocketAddr) -> io::Result<Socket> {
    let s = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    s.set_reuse_address(true)?;
    s.bind(&addr.into())?;
    s.listen(BATCH as i32 * 2)?;
    Ok(s)
}

/// A client socket bound to `src` with the port left to connect(), connected to `dst`.
fn connect_from(src: IpAddr, dst: SocketAddr) -> io::Result<Socket> {
    let s = Socket::new(Domain::for_address(dst), Type::STREAM, None)?;
    if src.is_ipv4() {
        let one: libc::c_int = 1;
        // SAFETY: setsockopt reads one c_int from a valid pointer.
        let rc = unsafe {
            libc::setsockopt(
                s.as_raw_fd(),
                libc::IPPROTO_IP,
                libc::IP_BIND_ADDRESS_NO_PORT,
                (&one as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    s.bind(&SocketAddr::new(src, 0).into())?;
    s.connect(&dst.into())
        .map_err(|e| io::Error::new(e.kind(), format!("connect {src} -> {dst}: {e}")))?;
    Ok(s)
}

/// 127.`second`.`third`.`1 + index / PER_ADDR`.
fn source(second: u8, third: u8, index: usize) -> io::Result<IpAddr> {
    let fourth = u8::try_from(1 + index / PER_ADDR)
        .ok()
        .filter(|&b| b < 255)
        .ok_or_else(|| io::Error::other("load too large for the source address plan"))?;
    Ok(IpAddr::V4(Ipv4Addr::new(127, second, third, fourth)))
}

/// `pairs` ESTABLISHED pairs from holder `index`, alternately over 127/8 and ::1; both ends go into `held`.
fn established(index: u8, pairs: usize, held: &mut Vec<Socket>) -> io::Result<()> {
    let port = EST_PORT + u16::from(index);
    let v4 = listener(SocketAddr::new(Ipv4Addr::LOCALHOST.into(), port))?;
    let v6 = listener(SocketAddr::new(Ipv6Addr::LOCALHOST.into(), port))?;
    let mut made = 0;
    while made < pairs {
        let batch = BATCH.min(pairs - made);
        for i in made..made + batch {
            let (src, l) = if i % 2 == 0 {
                (source(9, index, i / 2)?, &v4)
            } else {
                (IpAddr::V6(Ipv6Addr::LOCALHOST), &v6)
            };
            let dst = l.local_addr()?.as_socket().expect("inet listener");
            held.push(connect_from(src, dst)?);
        }
        for i in made..made + batch {
            let l = if i % 2 == 0 { &v4 } else { &v6 };
            held.push(l.accept()?.0);
        }
        made += batch;
    }
    held.push(v4);
    held.push(v6);
    Ok(())
}

/// Builder thread `t`: `count` client-side TIME_WAIT sockets to its own listener.
fn time_wait(t: usize, generation: u8, count: usize) -> io::Result<()> {
    let port = TW_PORT + t as u16;
    let l = listener(SocketAddr::new(Ipv4Addr::LOCALHOST.into(), port))?;
    let dst = l.local_addr()?.as_socket().expect("inet listener");
    let second = 10 + u8::try_from(t).map_err(io::Error::other)?;
    let mut clients = Vec::with_capacity(BATCH);
    let mut made = 0;
    while made < count {
        let batch = BATCH.min(count - made);
        for i in made..made + batch {
            clients.push(connect_from(source(second, generation, i)?, dst)?);
        }
        // The clients close first (FIN_WAIT), then the server side closes: TIME_WAIT on clients.
        clients.clear();
        for _ in 0..batch {
            drop(l.accept()?);
        }
        made += batch;
    }
    Ok(())
}
