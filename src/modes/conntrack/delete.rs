//! `conntrack delete`: the entries the filter matches, deleted one by one while the dump runs
//! (over a second socket, as conntrack(8) does) and each written as `show` writes it once the
//! kernel confirmed it. An entry gone before its turn is not counted. Nothing matched is exit 1,
//! as `conntrack -D` exits 1 when it deleted nothing.

use anyhow::{Result, bail};

use super::filter::CtFilter;
use super::show::columns;
use super::table::Table;
use super::{ctnetlink, emit, open_ct, write};
use crate::report::reporter::say;

pub fn delete(
    filter: &CtFilter,
    json: bool,
    counters: bool,
    out: &mut impl std::io::Write,
    text: &mut Vec<u8>,
) -> Result<()> {
    let what = "delete conntrack entries";
    let mut dump = open_ct(what)?;
    let mut del = open_ct(what)?;
    let mut table = Table::new(&columns(counters));
    let (mut deleted, mut failed) = (0u64, None);
    let dumped = dump.dump_raw(|e, attrs| {
        if failed.is_some() || !filter.matches(e) {
            return;
        }
        match del.delete(attrs) {
            Ok(true) => deleted += 1,
            Ok(false) => return,
            Err(err) => {
                failed = Some(ctnetlink(what, err));
                return;
            }
        }
        failed = emit(e, json, &mut table, text, out).err();
    });
    if !json {
        table.release(text);
    }
    // What was deleted is told even when a later deletion failed.
    let written = write(out, text);
    if let Some(e) = failed {
        return Err(e);
    }
    written?;
    let end = dumped.map_err(|e| ctnetlink(what, e))?;
    if end.interrupted {
        say("the conntrack table changed during the dump: a matching entry may have been missed");
    }
    if deleted == 0 {
        bail!("no entry matches: nothing deleted");
    }
    say(&format!(
        "deleted {deleted} {}",
        if deleted == 1 { "entry" } else { "entries" }
    ));
    Ok(())
}
