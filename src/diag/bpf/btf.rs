//! The little of the kernel's BTF (/sys/kernel/btf/vmlinux) the iterator programs need: the type
//! id of an iterator's target function (what a program attaches to) and the byte offset and size
//! of a field inside a kernel struct, so the programs read the running kernel's layout instead
//! of one compiled in. The blob (5 MB or so) is streamed once and never held: what stays is one
//! offset per type and the few names asked for, so loading adds well under a megabyte of memory.

use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};

const MAGIC: u16 = 0xeb9f;
const KIND_INT: u32 = 1;
const KIND_PTR: u32 = 2;
const KIND_STRUCT: u32 = 4;
const KIND_UNION: u32 = 5;
const KIND_TYPEDEF: u32 = 8;
const KIND_VOLATILE: u32 = 9;
const KIND_CONST: u32 = 10;
const KIND_RESTRICT: u32 = 11;
const KIND_FUNC: u32 = 12;
const KIND_FUNC_PROTO: u32 = 13;
const KIND_TYPE_TAG: u32 = 18;

/// One type's 12-byte head: kind, member count, kind_flag, size or referenced type.
#[derive(Clone, Copy)]
struct Head {
    kind: u32,
    vlen: u32,
    kind_flag: bool,
    size_or_type: u32,
    /// Where its members start in the blob.
    members: u64,
}

/// A BTF blob indexed for the names asked for.
pub struct Btf<R> {
    src: R,
    types_at: u64,
    /// Offset of each type (by id; 0 is void) from the start of the type section.
    index: Vec<u32>,
    /// The names asked for, their string offsets (u32::MAX: not in the blob), and the first
    /// struct and function of that name.
    names: Vec<Name>,
}

struct Name {
    text: &'static str,
    off: u32,
    strukt: u32,
    func: u32,
}

/// Where a field is: byte offset from the start of the outer struct, and its size in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    pub offset: u32,
    pub size: u32,
}

fn bad(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("unreadable BTF: {what}"),
    )
}

fn words<const N: usize>(r: &mut impl Read) -> io::Result<[u32; N]> {
    let mut b = [0u8; 48];
    r.read_exact(&mut b[..4 * N])?;
    Ok(std::array::from_fn(|i| {
        u32::from_le_bytes(b[4 * i..4 * i + 4].try_into().expect("4 bytes"))
    }))
}

impl<R: Read + Seek> Btf<R> {
    /// Indexes the blob in `src`, remembering where the names in `wanted` are (every name a
    /// later [`Btf::func`] or [`Btf::field`] uses must be among them).
    pub fn index(src: R, wanted: &[&'static str]) -> io::Result<Btf<R>> {
        let mut r = BufReader::with_capacity(64 * 1024, src);
        let [magic_etc, hdr, type_off, type_len, str_off, str_len] = words::<6>(&mut r)?;
        if magic_etc & 0xffff != u32::from(MAGIC) {
            return Err(bad("no BTF header (little-endian hosts only)"));
        }
        let (hdr, types_at) = (u64::from(hdr), u64::from(hdr) + u64::from(type_off));
        let mut names: Vec<Name> = wanted
            .iter()
            .map(|&text| Name {
                text,
                off: u32::MAX,
                strukt: 0,
                func: 0,
            })
            .collect();
        // The strings: the offset of each wanted name.
        r.seek(SeekFrom::Start(hdr + u64::from(str_off)))?;
        let (mut at, mut s) = (0u32, Vec::new());
        let mut strings = r.by_ref().take(u64::from(str_len));
        while at < str_len {
            s.clear();
            let n = strings.read_until(0, &mut s)?;
            if n == 0 {
                break;
            }
            let text = s.strip_suffix(&[0]).unwrap_or(&s);
            for name in names.iter_mut().filter(|n| n.text.as_bytes() == text) {
                name.off = name.off.min(at);
            }
            at += n as u32;
        }
        // The types: where each starts, and the ids of the named structs and functions.
        r.seek(SeekFrom::Start(types_at))?;
        let mut index = vec![0u32];
        let mut at = 0u32;
        while at < type_len {
            let [name, info, _] = words::<3>(&mut r)?;
            let (kind, vlen) = ((info >> 24) & 0x1f, info & 0xffff);
            let extra = match kind {
                KIND_INT | 14 | 17 => 4,                         // INT, VAR, DECL_TAG
                3 => 12,                                         // ARRAY
                KIND_STRUCT | KIND_UNION | 15 | 19 => 12 * vlen, // + DATASEC, ENUM64
                6 | 13 => 8 * vlen,                              // ENUM, FUNC_PROTO
                KIND_PTR | 7 | KIND_TYPEDEF | KIND_VOLATILE | KIND_CONST | KIND_RESTRICT
                | KIND_FUNC | 16 | KIND_TYPE_TAG => 0,
                k => return Err(bad(&format!("unknown kind {k}"))),
            };
            let id = index.len() as u32;
            index.push(at);
            if matches!(kind, KIND_STRUCT | KIND_FUNC) {
                for n in names.iter_mut().filter(|n| n.off == name) {
                    let slot = if kind == KIND_STRUCT {
                        &mut n.strukt
                    } else {
                        &mut n.func
                    };
                    if *slot == 0 {
                        *slot = id;
                    }
                }
            }
            r.seek_relative(i64::from(extra))?;
            at += 12 + extra;
        }
        Ok(Btf {
            src: r.into_inner(),
            types_at,
            index,
            names,
        })
    }

    fn name(&self, text: &str) -> Option<&Name> {
        self.names.iter().find(|n| n.text == text)
    }

    /// The id of the kernel function `name` (an iterator target is `bpf_iter_<target>`).
    pub fn func(&self, name: &str) -> Result<u32, String> {
        match self.name(name) {
            Some(n) if n.func != 0 => Ok(n.func),
            _ => Err(format!("the kernel's BTF has no function {name}")),
        }
    }

    fn head(&mut self, id: u32) -> io::Result<Head> {
        let at = *self.index.get(id as usize).ok_or_else(|| bad("type id"))?;
        let start = self.types_at + u64::from(at);
        self.src.seek(SeekFrom::Start(start))?;
        let [_, info, size_or_type] = words::<3>(&mut self.src)?;
        Ok(Head {
            kind: (info >> 24) & 0x1f,
            vlen: info & 0xffff,
            kind_flag: info >> 31 == 1,
            size_or_type,
            members: start + 12,
        })
    }

    /// Follows typedefs and qualifiers to the type they name.
    fn resolve(&mut self, mut id: u32) -> io::Result<Head> {
        for _ in 0..32 {
            let t = self.head(id)?;
            match t.kind {
                KIND_TYPEDEF | KIND_VOLATILE | KIND_CONST | KIND_RESTRICT | KIND_TYPE_TAG => {
                    id = t.size_or_type
                }
                _ => return Ok(t),
            }
        }
        Err(bad("a loop of typedefs"))
    }

    /// Finds the member named at string offset `name` in the struct or union `t`, inside
    /// anonymous members too: its bit offset from the start of `t` and its type id.
    fn member(&mut self, t: Head, name: u32) -> io::Result<Option<(u32, u32)>> {
        if !matches!(t.kind, KIND_STRUCT | KIND_UNION) {
            return Ok(None);
        }
        for i in 0..u64::from(t.vlen) {
            self.src.seek(SeekFrom::Start(t.members + 12 * i))?;
            let [m_name, ty, off] = words::<3>(&mut self.src)?;
            let bits = if t.kind_flag { off & 0x00ff_ffff } else { off };
            let bitfield = t.kind_flag && off >> 24 != 0;
            if m_name == 0 {
                let inner = self.resolve(ty)?;
                if let Some((inner, id)) = self.member(inner, name)? {
                    return Ok(Some((bits + inner, id)));
                }
            } else if m_name == name && !bitfield {
                return Ok(Some((bits, ty)));
            }
        }
        Ok(None)
    }

    /// The size in bytes of struct `name`.
    pub fn size(&mut self, name: &str) -> Result<u32, String> {
        match self.name(name) {
            Some(n) if n.strukt != 0 => {
                let id = n.strukt;
                Ok(self.resolve(id).map_err(|e| e.to_string())?.size_or_type)
            }
            _ => Err(format!("the kernel's BTF has no struct {name}")),
        }
    }

    /// The field at `path` (member names, each inside the previous one) of struct `outer`.
    pub fn field(&mut self, outer: &str, path: &[&str]) -> Result<Field, String> {
        let whole = || format!("{outer}.{}", path.join("."));
        let io = |e: io::Error| e.to_string();
        let id = match self.name(outer) {
            Some(n) if n.strukt != 0 => n.strukt,
            _ => return Err(format!("the kernel's BTF has no struct {outer}")),
        };
        let (mut t, mut bits) = (self.resolve(id).map_err(io)?, 0);
        for name in path {
            let off = self.name(name).map_or(u32::MAX, |n| n.off);
            let (at, id) = self
                .member(t, off)
                .map_err(io)?
                .ok_or_else(|| format!("the kernel's BTF has no field {}", whole()))?;
            bits += at;
            t = self.resolve(id).map_err(io)?;
        }
        if bits % 8 != 0 {
            return Err(format!("{} is not byte-aligned", whole()));
        }
        let size = match t.kind {
            KIND_INT | KIND_STRUCT | KIND_UNION => t.size_or_type,
            KIND_PTR => 8,
            _ => return Err(format!("{} has a type the programs cannot read", whole())),
        };
        Ok(Field {
            offset: bits / 8,
            size,
        })
    }
}

/// A BTF blob that describes a program's functions, which the kernel wants for a program of more
/// than one (its callbacks): `int main(void *ctx)` and `int callback(u64 index, void *ctx)`, both
/// static, as type ids [`MAIN`] and [`CALLBACK`].
pub fn program_funcs() -> Vec<u8> {
    let strings = b"\0int\0u64\0ctx\0index\0main\0callback\0";
    let name = |s: &str| {
        let at = strings
            .windows(s.len() + 2)
            .position(|w| w[0] == 0 && &w[1..=s.len()] == s.as_bytes() && w[s.len() + 1] == 0)
            .expect("a name in the table");
        at as u32 + 1
    };
    let mut t: Vec<u32> = Vec::new();
    // 1: int; 2: u64; 3: void *.
    t.extend([name("int"), KIND_INT << 24, 4, 1 << 24 | 32]);
    t.extend([name("u64"), KIND_INT << 24, 8, 64]);
    t.extend([0, KIND_PTR << 24, 0]);
    // 4: int (void *ctx); 5: main.
    t.extend([0, KIND_FUNC_PROTO << 24 | 1, 1, name("ctx"), 3]);
    t.extend([name("main"), KIND_FUNC << 24, 4]);
    // 6: int (u64 index, void *ctx); 7: callback.
    t.extend([
        0,
        KIND_FUNC_PROTO << 24 | 2,
        1,
        name("index"),
        2,
        name("ctx"),
        3,
    ]);
    t.extend([name("callback"), KIND_FUNC << 24, 6]);
    let types: Vec<u8> = t.iter().flat_map(|w| w.to_le_bytes()).collect();
    blob(&types, strings)
}

/// A BTF blob of `types` and `strings`, behind the 24-byte header that says where they are.
fn blob(types: &[u8], strings: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&MAGIC.to_le_bytes());
    b.extend_from_slice(&[1, 0]);
    let (t, s) = (types.len() as u32, strings.len() as u32);
    for v in [24, 0, t, t, s] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    b.extend_from_slice(types);
    b.extend_from_slice(strings);
    b
}

/// The type ids of [`program_funcs`]'s two functions.
pub const MAIN: u32 = 5;
pub const CALLBACK: u32 = 7;

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    /// A hand-made blob: struct outer { int a; union { struct { short b; short c; }; }; }.
    fn blob() -> Vec<u8> {
        let strings = b"\0int\0short\0outer\0a\0c\0b\0f\0".to_vec();
        let mut t = Vec::new();
        let mut ty = |name: u32, info: u32, size: u32, extra: &[u32]| {
            for v in [name, info, size].iter().chain(extra) {
                t.extend_from_slice(&v.to_le_bytes());
            }
        };
        ty(1, KIND_INT << 24, 4, &[32]); // 1: int
        ty(5, KIND_INT << 24, 2, &[16]); // 2: short
        ty(0, KIND_STRUCT << 24 | 2, 4, &[21, 2, 0, 19, 2, 16]); // 3: { b; c; }
        ty(0, KIND_UNION << 24 | 1, 4, &[0, 3, 0]); // 4: union { 3 }
        ty(11, KIND_STRUCT << 24 | 2, 8, &[17, 1, 0, 0, 4, 32]); // 5: outer
        ty(23, KIND_FUNC << 24, 0, &[]); // 6: f
        super::blob(&t, &strings)
    }

    #[test]
    fn the_programs_function_blob_reads_back_with_both_functions() {
        let btf = Btf::index(Cursor::new(program_funcs()), &["main", "callback"]).unwrap();
        assert_eq!(btf.func("main"), Ok(MAIN));
        assert_eq!(btf.func("callback"), Ok(CALLBACK));
    }

    #[test]
    fn fields_inside_anonymous_members_and_functions_are_found() {
        let names = ["outer", "a", "b", "c", "d", "f", "g"];
        let mut btf = Btf::index(Cursor::new(blob()), &names).unwrap();
        assert_eq!(btf.field("outer", &["a"]), Ok(Field { offset: 0, size: 4 }));
        assert_eq!(btf.field("outer", &["c"]), Ok(Field { offset: 6, size: 2 }));
        assert_eq!(btf.field("outer", &["b"]), Ok(Field { offset: 4, size: 2 }));
        assert!(btf.field("outer", &["d"]).unwrap_err().contains("outer.d"));
        assert_eq!(btf.func("f"), Ok(6));
        assert!(btf.func("g").is_err());
        let short = blob()[..10].to_vec();
        assert!(Btf::index(Cursor::new(short), &names).is_err());
    }
}
