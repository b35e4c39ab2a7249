//! Bad input exits 2 with a message that names the problem and nothing on stdout: `-F` with a field
//! twice, an unknown field (listing the valid ones) or a value that is no address, port or state;
//! `-P` without `-o`, an unknown `-o` field, `-c` without `-i`, a bad `-T`.

use super::conns;
use crate::netns::with_netns;

/// A field given twice, an unknown field, values that are not addresses, ports or states: exit 2
/// with a message naming the problem and nothing on stdout.
#[test]
fn bad_filters_exit_2() {
    with_netns(|ns| {
        for (spec, say) in [
            ("lport=5000,lport=5001", &["lport"][..]),
            ("state=listen,rport=1,state=established", &["state"]),
            (
                "bogus=1",
                &["bogus", "laddr", "lport", "raddr", "rport", "state"],
            ),
            ("lport=notaport", &["notaport"]),
            ("lport=70000", &["70000"]),
            ("laddr=300.1.2.3", &["300.1.2.3"]),
            ("laddr=127.0.0.0/33", &["127.0.0.0/33"]),
            ("state=nosuchstate", &["nosuchstate"]),
            ("lport", &["lport"]),
        ] {
            for kernel in [&[][..], &["--no-kernel-filter"]] {
                let r = conns(ns, &[kernel, &["-F", spec]].concat());
                r.expect_code(2);
                assert!(r.stdout().is_empty(), "{}", r.describe());
                for word in say {
                    assert!(
                        r.stderr().contains(word),
                        "should name {word}\n{}",
                        r.describe()
                    );
                }
            }
        }
    });
}

/// Flags that cannot go together or values clap rejects.
#[test]
fn bad_flags_exit_2() {
    with_netns(|ns| {
        for (args, say) in [
            (&["-P"][..], &["-P"][..]),
            (&["-P", "-F", "state=listen"], &["-P"]),
            (&["-o", "lport,bogusfield"], &["bogusfield"]),
            (&["-o", "lport,bogusfield", "-P"], &["bogusfield"]),
            (&["-c", "2"], &["-c"]),
            (&["-T", "x"], &["x"]),
        ] {
            let r = conns(ns, args);
            r.expect_code(2);
            assert!(r.stdout().is_empty(), "{}", r.describe());
            for word in say {
                assert!(
                    r.stderr().contains(word),
                    "should name {word}\n{}",
                    r.describe()
                );
            }
        }
    });
}
