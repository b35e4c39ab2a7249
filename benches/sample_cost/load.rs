//! Socket loads over loopback in the current (private) namespace: mostly TIME_WAIT from many
//! 127/8 source addresses toward a handful of destinations, plus ESTABLISHED connections and bound
//! UDP sockets owned by holder processes (see `holders.rs`).
//!
//! TIME_WAIT is made in batches so it always lands on the client: the batch connects (the
//! handshakes complete into the listener's accept queue), the clients close first, then the
//! server side is accepted and closed. Source ports come from the kernel (bind with
//! IP_BIND_ADDRESS_NO_PORT, then connect), so they fall in the namespace's ip_local_port_range.

use std::io::{self, BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::holders::{self, BATCH, MAX_SERVERS, TW_PORTS};

/// How a load of `total` sockets is made up.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    pub time_wait: usize,
    /// ESTABLISHED connections: each is two sockets, a client in a holder and a server end.
    pub est_pairs: usize,
    pub udp: usize,
    /// Holder processes (clients and UDP) and server processes (listeners and accepted ends).
    pub holders: usize,
    pub servers: usize,
}

impl Plan {
    /// 5% ESTABLISHED (as pairs), 1% UDP, TIME_WAIT for the rest; at least `procs` holders, and
    /// as many holders and servers as `fds` descriptors per process call for.
    pub fn new(total: usize, procs: usize, fds: usize) -> Plan {
        let est_pairs = total * 5 / 200;
        let udp = total / 100;
        // Each process keeps its share plus a few descriptors of its own.
        let budget = fds.saturating_sub(64).max(1000);
        let holders = (est_pairs + udp).div_ceil(budget).max(procs).max(1);
        let servers = est_pairs.div_ceil(budget).max(1);
        let listeners = 4 * servers;
        Plan {
            time_wait: total.saturating_sub(2 * est_pairs + udp + listeners),
            est_pairs,
            udp,
            holders,
            servers,
        }
    }

    /// ESTABLISHED connections only: `total / 2` pairs, both ends held (plus each server's four
    /// listeners), over as few holders and servers as `fds` descriptors per process allow.
    pub fn established(total: usize, fds: usize) -> Plan {
        let est_pairs = total / 2;
        let budget = fds.saturating_sub(64).max(1000);
        let procs = est_pairs.div_ceil(budget).max(1);
        Plan {
            time_wait: 0,
            est_pairs,
            udp: 0,
            holders: procs,
            servers: procs,
        }
    }
}

/// A child that says "ready" on stdout and holds its sockets until its stdin is closed.
struct Holder {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
}

impl Holder {
    fn spawn(me: &str, args: &[String]) -> io::Result<Holder> {
        let mut child = Command::new(me)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?;
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().expect("piped"));
        Ok(Holder {
            child,
            stdin,
            stdout,
        })
    }

    /// Waits for the next line, which must be `want`.
    fn expect(&mut self, want: &str) -> io::Result<()> {
        let mut line = String::new();
        self.stdout.read_line(&mut line)?;
        if line.trim() != want {
            return Err(io::Error::other(format!(
                "pid {} said {line:?}, not {want:?}",
                self.child.id()
            )));
        }
        Ok(())
    }
}

/// A load held in the current namespace. TIME_WAIT sockets are the kernel's; the rest are held by
/// child processes (this binary re-executed with `--serve` and `--hold`) until the load is dropped.
pub struct Load {
    pub plan: Plan,
    /// When the first TIME_WAIT socket was made: they start to expire 60 s later.
    pub time_wait_since: Instant,
    /// How long building the load took.
    pub build_time: Duration,
    threads: usize,
    generation: u8,
    children: Vec<Holder>,
}

impl Load {
    /// Builds `total` sockets (listeners included) owned by at least `procs` holder processes,
    /// with `threads` TIME_WAIT builders; `me` is this binary, `fds` how many descriptors one
    /// process may hold.
    pub fn build(
        total: usize,
        procs: usize,
        threads: usize,
        me: &str,
        fds: usize,
    ) -> io::Result<Load> {
        Load::with_plan(Plan::new(total, procs, fds), threads, me)
    }

    /// Builds the load `plan` describes, with `threads` TIME_WAIT builders.
    pub fn with_plan(plan: Plan, threads: usize, me: &str) -> io::Result<Load> {
        let start = Instant::now();
        if plan.servers > MAX_SERVERS || threads > 4 {
            return Err(io::Error::other("load too large for the address plan"));
        }
        let mut load = Load {
            plan,
            time_wait_since: start,
            build_time: Duration::ZERO,
            threads,
            generation: 0,
            children: Vec::new(),
        };
        // Holder h connects to server h * servers / holders; each server accepts its holders'.
        let share = |n: usize, of: usize, i: usize| n / of + usize::from(i < n % of);
        let server_of = |h: usize| h * plan.servers / plan.holders;
        let pairs = |h: usize| share(plan.est_pairs, plan.holders, h);
        for s in 0..plan.servers {
            let expected: usize = (0..plan.holders)
                .filter(|&h| server_of(h) == s)
                .map(pairs)
                .sum();
            let args = ["--serve".into(), s.to_string(), expected.to_string()];
            load.children.push(Holder::spawn(me, &args)?);
            load.children
                .last_mut()
                .expect("pushed")
                .expect("listening")?;
        }
        for h in 0..plan.holders {
            let args = [h, pairs(h), share(plan.udp, plan.holders, h), server_of(h)]
                .map(|n| n.to_string());
            let args: Vec<String> = std::iter::once("--hold".into()).chain(args).collect();
            load.children.push(Holder::spawn(me, &args)?);
        }
        // Holders first (their connects fill the servers' queues), then the servers.
        for child in load.children.iter_mut().rev() {
            child.expect("ready")?;
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

    /// Every destination the load's connections go to: TIME_WAIT's, then ESTABLISHED's.
    pub fn destinations(&self) -> Vec<SocketAddr> {
        let tw = (0..self.threads).flat_map(holders::tw_dsts);
        tw.chain((0..self.plan.servers).flat_map(holders::est_dsts))
            .collect()
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        // End of input: every child exits and its sockets close.
        for child in &mut self.children {
            drop(child.stdin.take());
        }
        for child in &mut self.children {
            let _ = child.child.wait();
        }
    }
}

/// Builder thread `t`: `count` client-side TIME_WAIT sockets, batch by batch to each of its
/// destinations in turn.
fn time_wait(t: usize, generation: u8, count: usize) -> io::Result<()> {
    let listeners = holders::tw_dsts(t)
        .into_iter()
        .map(holders::listener)
        .collect::<io::Result<Vec<_>>>()?;
    let mut clients = Vec::with_capacity(BATCH);
    let (mut made, mut batch_no) = (0, 0);
    while made < count {
        let l = &listeners[batch_no % TW_PORTS.len()];
        let dst = l.local_addr()?.as_socket().expect("inet listener");
        let batch = BATCH.min(count - made);
        for i in made..made + batch {
            let src = holders::source(10 + t, usize::from(generation), i)?;
            clients.push(holders::connect_from(src, dst)?);
        }
        // The clients close first (FIN_WAIT), then the server side closes: TIME_WAIT on clients.
        clients.clear();
        for _ in 0..batch {
            drop(l.accept()?);
        }
        made += batch;
        batch_no += 1;
    }
    Ok(())
}
