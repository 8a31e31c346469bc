//! Just enough BTF to read libbpf-style map definitions. clang writes the
//! `.maps` section as zeros; the map's type, sizes and max_entries exist only
//! as the *types* of the struct's members (`__uint(max_entries, 16)` is
//! `int (*max_entries)[16]`, `__type(key, u64)` is `u64 *key`), found through
//! the `.maps` DATASEC.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

const KIND_INT: u32 = 1;
const KIND_PTR: u32 = 2;
const KIND_ARRAY: u32 = 3;
const KIND_STRUCT: u32 = 4;
const KIND_UNION: u32 = 5;
const KIND_ENUM: u32 = 6;
const KIND_TYPEDEF: u32 = 8;
const KIND_VOLATILE: u32 = 9;
const KIND_CONST: u32 = 10;
const KIND_RESTRICT: u32 = 11;
const KIND_FUNC_PROTO: u32 = 13;
const KIND_VAR: u32 = 14;
const KIND_DATASEC: u32 = 15;
const KIND_FLOAT: u32 = 16;
const KIND_DECL_TAG: u32 = 17;
const KIND_TYPE_TAG: u32 = 18;
const KIND_ENUM64: u32 = 19;

#[derive(Debug, Clone, Default)]
struct Type {
    kind: u32,
    name: String,
    /// `size` for sized kinds, `type` for PTR/TYPEDEF/VAR/modifiers.
    size_or_type: u32,
    /// STRUCT/UNION members (name, type) and DATASEC entries (var type).
    members: Vec<(String, u32)>,
    /// ARRAY: element type and count.
    array: Option<(u32, u32)>,
}

/// Parsed `.BTF` type table.
pub struct Btf {
    types: Vec<Type>,
}

/// A map definition as BTF describes it; fields absent in the source are
/// `None`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct MapDef {
    pub name: String,
    pub kind: Option<u32>,
    pub key_size: Option<u32>,
    pub value_size: Option<u32>,
    pub max_entries: Option<u32>,
}

fn u32_at(b: &[u8], off: usize) -> Result<u32, &'static str> {
    let s = b.get(off..off.checked_add(4).ok_or("BTF offset overflow")?).ok_or("BTF truncated")?;
    Ok(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

fn name_at(strs: &[u8], off: u32) -> Result<String, &'static str> {
    let rest = strs.get(off as usize..).ok_or("BTF name offset outside the string table")?;
    let end = rest.iter().position(|&c| c == 0).ok_or("BTF name not NUL-terminated")?;
    Ok(String::from_utf8_lossy(&rest[..end]).to_string())
}

impl Btf {
    pub fn parse(b: &[u8]) -> Result<Btf, &'static str> {
        if b.len() < 24 || b[0..2] != [0x9f, 0xeb] {
            return Err("not little-endian BTF (bad magic)");
        }
        let hdr_len = u32_at(b, 4)? as usize;
        let (type_off, type_len) = (u32_at(b, 8)? as usize, u32_at(b, 12)? as usize);
        let (str_off, str_len) = (u32_at(b, 16)? as usize, u32_at(b, 20)? as usize);
        let range = |off: usize, len: usize| {
            let start = hdr_len.checked_add(off)?;
            b.get(start..start.checked_add(len)?)
        };
        let tys = range(type_off, type_len).ok_or("BTF type section out of bounds")?;
        let strs = range(str_off, str_len).ok_or("BTF string section out of bounds")?;
        // Type 0 is `void`.
        let mut types = alloc::vec![Type::default()];
        let mut p = 0;
        while p < tys.len() {
            let name = name_at(strs, u32_at(tys, p)?)?;
            let info = u32_at(tys, p + 4)?;
            let size_or_type = u32_at(tys, p + 8)?;
            let (kind, vlen) = ((info >> 24) & 0x1f, (info & 0xffff) as usize);
            p += 12;
            let mut t = Type { kind, name, size_or_type, ..Type::default() };
            let extra = match kind {
                KIND_INT | KIND_VAR | KIND_DECL_TAG => 4,
                KIND_ARRAY => {
                    t.array = Some((u32_at(tys, p)?, u32_at(tys, p + 8)?));
                    12
                }
                KIND_STRUCT | KIND_UNION => {
                    for i in 0..vlen {
                        let m = p + i * 12;
                        t.members.push((name_at(strs, u32_at(tys, m)?)?, u32_at(tys, m + 4)?));
                    }
                    vlen * 12
                }
                KIND_DATASEC => {
                    for i in 0..vlen {
                        t.members.push((String::new(), u32_at(tys, p + i * 12)?));
                    }
                    vlen * 12
                }
                KIND_ENUM | KIND_FUNC_PROTO => vlen * 8,
                KIND_ENUM64 => vlen * 12,
                0 | 7 | KIND_PTR | KIND_TYPEDEF | KIND_VOLATILE | KIND_CONST | KIND_RESTRICT | 12 | KIND_FLOAT | KIND_TYPE_TAG => 0,
                _ => return Err("unknown BTF kind"),
            };
            p += extra;
            if p > tys.len() {
                return Err("BTF type section truncated");
            }
            types.push(t);
        }
        Ok(Btf { types })
    }

    fn get(&self, id: u32) -> Result<&Type, &'static str> {
        self.types.get(id as usize).ok_or("BTF type id out of range")
    }

    /// Follows typedefs and qualifiers.
    fn skip_mods(&self, mut id: u32) -> Result<&Type, &'static str> {
        for _ in 0..32 {
            let t = self.get(id)?;
            match t.kind {
                KIND_TYPEDEF | KIND_VOLATILE | KIND_CONST | KIND_RESTRICT | KIND_TYPE_TAG => id = t.size_or_type,
                _ => return Ok(t),
            }
        }
        Err("BTF modifier chain too long")
    }

    /// `sizeof` of a type.
    pub fn size_of(&self, id: u32) -> Result<u32, &'static str> {
        self.size_depth(id, 0)
    }

    fn size_depth(&self, id: u32, depth: u32) -> Result<u32, &'static str> {
        if depth > 32 {
            return Err("BTF type nesting too deep");
        }
        let t = self.skip_mods(id)?;
        match t.kind {
            KIND_INT | KIND_STRUCT | KIND_UNION | KIND_ENUM | KIND_FLOAT | KIND_ENUM64 | KIND_DATASEC => Ok(t.size_or_type),
            KIND_PTR => Ok(8),
            KIND_ARRAY => {
                let (elem, n) = t.array.ok_or("BTF array without element")?;
                self.size_depth(elem, depth + 1)?.checked_mul(n).ok_or("BTF array size overflows")
            }
            _ => Err("BTF type has no size"),
        }
    }

    /// The `N` of a `__uint(field, N)` member: pointer to an array of N.
    fn uint_field(&self, id: u32) -> Result<u32, &'static str> {
        let p = self.skip_mods(id)?;
        if p.kind != KIND_PTR {
            return Err("expected __uint(...) (a pointer to an array)");
        }
        let a = self.skip_mods(p.size_or_type)?;
        a.array.map(|(_, n)| n).ok_or("expected __uint(...) (a pointer to an array)")
    }

    /// The map definitions of the `.maps` DATASEC, in declaration order.
    pub fn map_defs(&self) -> Result<Vec<MapDef>, (String, &'static str)> {
        let Some(sec) = self.types.iter().find(|t| t.kind == KIND_DATASEC && t.name == ".maps") else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for (_, var_id) in &sec.members {
            let var = self.get(*var_id).map_err(|e| (String::new(), e))?;
            let name = var.name.clone();
            let err = |e| (name.clone(), e);
            if var.kind != KIND_VAR {
                return Err(err("`.maps` entry is not a variable"));
            }
            let def = self.skip_mods(var.size_or_type).map_err(err)?;
            if def.kind != KIND_STRUCT {
                return Err(err("map definition is not a struct"));
            }
            let mut m = MapDef { name: name.clone(), ..MapDef::default() };
            for (field, ty) in &def.members {
                let v = match field.as_str() {
                    "type" => &mut m.kind,
                    "max_entries" => &mut m.max_entries,
                    "key_size" => &mut m.key_size,
                    "value_size" => &mut m.value_size,
                    "key" | "value" => {
                        let p = self.skip_mods(*ty).map_err(err)?;
                        if p.kind != KIND_PTR {
                            return Err(err("__type(key/value, T) must be a pointer member"));
                        }
                        let size = self.size_of(p.size_or_type).map_err(err)?;
                        if field == "key" {
                            m.key_size = Some(size);
                        } else {
                            m.value_size = Some(size);
                        }
                        continue;
                    }
                    // map_flags, pinning, numa_node...: no effect here.
                    _ => continue,
                };
                *v = Some(self.uint_field(*ty).map_err(err)?);
            }
            out.push(m);
        }
        Ok(out)
    }
}
