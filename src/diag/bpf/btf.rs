//! The little of the kernel's BTF (/sys/kernel/btf/vmlinux) the iterator programs need: the type
//! id of an iterator's target function (what a program attaches to) and the byte offset and size
//! of a field inside a kernel struct, so the programs read the running kernel's layout instead
//! of one compiled in. Pure: parses bytes it is given.

use std::collections::HashMap;

const MAGIC: u16 = 0xeb9f;
const KIND_INT: u32 = 1;
const KIND_STRUCT: u32 = 4;
const KIND_UNION: u32 = 5;
const KIND_TYPEDEF: u32 = 8;
const KIND_VOLATILE: u32 = 9;
const KIND_CONST: u32 = 10;
const KIND_RESTRICT: u32 = 11;
const KIND_FUNC: u32 = 12;
const KIND_TYPE_TAG: u32 = 18;

/// One type of the table: its kind, size (or referenced type) and, for structs and
/// unions, where its members start in the type section.
#[derive(Clone, Copy)]
struct Type {
    kind: u32,
    vlen: u32,
    kind_flag: bool,
    size_or_type: u32,
    members: usize,
}

/// A parsed BTF blob.
pub struct Btf<'a> {
    types: &'a [u8],
    strings: &'a [u8],
    /// Indexed by type id (0 is void).
    table: Vec<Type>,
    /// (kind, name) → the first id with them.
    names: HashMap<(u32, &'a str), u32>,
}

/// Where a field is: byte offset from the start of the outer struct, and its size in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    pub offset: u32,
    pub size: u32,
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

impl<'a> Btf<'a> {
    pub fn parse(blob: &'a [u8]) -> Result<Btf<'a>, String> {
        let bad = |what: &str| format!("unreadable BTF: {what}");
        if blob.len() < 24 || u16::from_le_bytes([blob[0], blob[1]]) != MAGIC {
            return Err(bad("no BTF header (little-endian hosts only)"));
        }
        let word = |at| u32_at(blob, at).map(|v| v as usize).ok_or_else(|| bad("header"));
        let (hdr, type_off, type_len, str_off, str_len) =
            (word(4)?, word(8)?, word(12)?, word(16)?, word(20)?);
        let types = blob
            .get(hdr + type_off..hdr + type_off + type_len)
            .ok_or_else(|| bad("type section"))?;
        let strings = blob
            .get(hdr + str_off..hdr + str_off + str_len)
            .ok_or_else(|| bad("string section"))?;
        let mut btf = Btf {
            types,
            strings,
            table: vec![Type {
                kind: 0,
                vlen: 0,
                kind_flag: false,
                size_or_type: 0,
                members: 0,
            }],
            names: HashMap::new(),
        };
        let mut at = 0;
        while at < types.len() {
            let (name, info, size_or_type) = match (
                u32_at(types, at),
                u32_at(types, at + 4),
                u32_at(types, at + 8),
            ) {
                (Some(a), Some(b), Some(c)) => (a, b, c),
                _ => return Err(bad("truncated type")),
            };
            let (kind, vlen) = ((info >> 24) & 0x1f, info & 0xffff);
            let extra = match kind {
                KIND_INT | 14 | 17 => 4,  // INT, VAR, DECL_TAG
                3 => 12,                  // ARRAY
                KIND_STRUCT | KIND_UNION | 15 | 19 => 12 * vlen as usize, // + DATASEC, ENUM64
                6 | 13 => 8 * vlen as usize, // ENUM, FUNC_PROTO
                2 | 7 | KIND_TYPEDEF | KIND_VOLATILE | KIND_CONST | KIND_RESTRICT | KIND_FUNC
                | 16 | KIND_TYPE_TAG => 0,
                k => return Err(bad(&format!("unknown kind {k}"))),
            };
            let id = btf.table.len() as u32;
            btf.table.push(Type {
                kind,
                vlen,
                kind_flag: info >> 31 == 1,
                size_or_type,
                members: at + 12,
            });
            if matches!(kind, KIND_STRUCT | KIND_FUNC) {
                let n = btf.name(name);
                btf.names.entry((kind, n)).or_insert(id);
            }
            at += 12 + extra;
        }
        Ok(btf)
    }

    fn name(&self, off: u32) -> &'a str {
        let s = self.strings.get(off as usize..).unwrap_or_default();
        let end = s.iter().position(|&b| b == 0).unwrap_or(s.len());
        std::str::from_utf8(&s[..end]).unwrap_or("")
    }

    /// The id of the kernel function `name` (an iterator target is `bpf_iter_<target>`).
    pub fn func(&self, name: &str) -> Result<u32, String> {
        self.names
            .get(&(KIND_FUNC, name))
            .copied()
            .ok_or_else(|| format!("the kernel's BTF has no function {name}"))
    }

    /// Follows typedefs and qualifiers to the type they name.
    fn resolve(&self, mut id: u32) -> Type {
        for _ in 0..32 {
            let t = self.table[id as usize];
            match t.kind {
                KIND_TYPEDEF | KIND_VOLATILE | KIND_CONST | KIND_RESTRICT | KIND_TYPE_TAG => {
                    id = t.size_or_type
                }
                _ => return t,
            }
        }
        self.table[0]
    }

    /// Finds `member` in the struct or union `t`, looking inside anonymous members too: its bit
    /// offset from the start of `t` and its type id.
    fn member(&self, t: Type, member: &str) -> Option<(u32, u32)> {
        if !matches!(t.kind, KIND_STRUCT | KIND_UNION) {
            return None;
        }
        for i in 0..t.vlen as usize {
            let at = t.members + 12 * i;
            let (name, ty, off) = (
                u32_at(self.types, at)?,
                u32_at(self.types, at + 4)?,
                u32_at(self.types, at + 8)?,
            );
            let bits = if t.kind_flag { off & 0x00ff_ffff } else { off };
            let bitfield = t.kind_flag && off >> 24 != 0;
            if name == 0 {
                if let Some((inner, id)) = self.member(self.resolve(ty), member) {
                    return Some((bits + inner, id));
                }
            } else if self.name(name) == member && !bitfield {
                return Some((bits, ty));
            }
        }
        None
    }

    /// The field at `path` (member names, each inside the previous one) of struct `outer`.
    pub fn field(&self, outer: &str, path: &[&str]) -> Result<Field, String> {
        let whole = || format!("{outer}.{}", path.join("."));
        let id = *self
            .names
            .get(&(KIND_STRUCT, outer))
            .ok_or_else(|| format!("the kernel's BTF has no struct {outer}"))?;
        let (mut t, mut bits) = (self.resolve(id), 0);
        for name in path {
            let (off, id) = self
                .member(t, name)
                .ok_or_else(|| format!("the kernel's BTF has no field {}", whole()))?;
            bits += off;
            t = self.resolve(id);
        }
        if bits % 8 != 0 {
            return Err(format!("{} is not byte-aligned", whole()));
        }
        let size = match t.kind {
            KIND_INT | KIND_STRUCT | KIND_UNION => t.size_or_type,
            2 => 8, // a pointer
            _ => return Err(format!("{} has a type the programs cannot read", whole())),
        };
        Ok(Field {
            offset: bits / 8,
            size,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let mut b = Vec::new();
        b.extend_from_slice(&MAGIC.to_le_bytes());
        b.extend_from_slice(&[1, 0]);
        for v in [24u32, 0, t.len() as u32, t.len() as u32, strings.len() as u32] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        b.extend(t);
        b.extend(strings);
        b
    }

    #[test]
    fn fields_inside_anonymous_members_and_functions_are_found() {
        let b = blob();
        let btf = Btf::parse(&b).unwrap();
        assert_eq!(btf.field("outer", &["a"]), Ok(Field { offset: 0, size: 4 }));
        assert_eq!(btf.field("outer", &["c"]), Ok(Field { offset: 6, size: 2 }));
        assert_eq!(btf.field("outer", &["b"]), Ok(Field { offset: 4, size: 2 }));
        assert!(btf.field("outer", &["d"]).unwrap_err().contains("outer.d"));
        assert_eq!(btf.func("f"), Ok(6));
        assert!(btf.func("g").is_err());
        assert!(Btf::parse(&b[..10]).is_err());
    }
}
