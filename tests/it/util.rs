//! Running the real binary and reading what it wrote: typed views of the CSV and JSON streams, and
//! failures that print the command, its stdout and its stderr.

use std::process::{Command, Output};

/// The column set, in order, as the README documents it.
pub const COLUMNS: [&str; 12] = [
    "epoch_ms",
    "total_port",
    "used",
    "free",
    "udp_used",
    "tcp_used",
    "time_wait",
    "estab",
    "syn",
    "close_wait",
    "last_ack",
    "fin_wait",
];

/// A `Command` for the conntrend binary under test.
pub fn conntrend() -> Command {
    Command::new(env!("CARGO_BIN_EXE_conntrend"))
}

/// What the header shows for `--source auto` here: `  source=bpf` where the BPF counts load
/// (`--source bpf` works: root in the initial user namespace) and conntrend sees every process
/// (the initial PID namespace), else nothing (netlink). Decided once, from those two facts.
pub fn auto_source() -> &'static str {
    static AUTO: std::sync::OnceLock<&'static str> = std::sync::OnceLock::new();
    AUTO.get_or_init(|| {
        use std::os::unix::fs::MetadataExt;
        let all_pids = std::fs::metadata("/proc/self/ns/pid").is_ok_and(|m| m.ino() == 0xEFFF_FFFC);
        let loads = conntrend()
            .args(["-c", "1", "--source", "bpf", "-o", "/dev/null"])
            .output()
            .is_ok_and(|o| o.status.success());
        if all_pids && loads {
            "  source=bpf"
        } else {
            ""
        }
    })
}

/// What one finished run left behind.
pub struct Run {
    pub cmdline: String,
    pub output: Output,
}

impl Run {
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    pub fn code(&self) -> Option<i32> {
        self.output.status.code()
    }

    /// Everything a person needs to see when an assertion about this run fails.
    pub fn describe(&self) -> String {
        format!(
            "command: {}\nstatus: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.cmdline,
            self.output.status,
            self.stdout(),
            self.stderr()
        )
    }

    /// Panics with the whole picture unless the run exited with `code`.
    pub fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code(),
            Some(code),
            "unexpected exit code\n{}",
            self.describe()
        );
        self
    }
}

/// Runs `cmd` to completion on the calling thread (so it inherits that thread's network namespace).
pub fn run(mut cmd: Command) -> Run {
    let cmdline = format!("{cmd:?}");
    let output = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmdline}: {e}"));
    Run { cmdline, output }
}

pub use crate::stream::{Row, Stream, parse_csv, parse_json};
