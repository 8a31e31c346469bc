//! Address-to-symbol lookup from an ELF's `.symtab`, so fault reports can say
//! "in crash_here+0x12" instead of a bare address.

use alloc::string::String;
use alloc::vec::Vec;
use goblin::elf::{sym, Elf};

#[derive(Debug, Default, Clone)]
pub struct Symbols {
    /// (start, size, name), sorted by start.
    entries: Vec<(u64, u64, String)>,
}

impl Symbols {
    /// Function and object symbols of `bytes`, shifted by `bias`. An ELF
    /// without a symtab (stripped) gives an empty table.
    pub fn from_elf(bytes: &[u8], bias: u64) -> Symbols {
        let Ok(elf) = Elf::parse(bytes) else { return Symbols::default() };
        let mut entries: Vec<(u64, u64, String)> = elf
            .syms
            .iter()
            .filter(|s| matches!(s.st_type(), sym::STT_FUNC | sym::STT_OBJECT) && s.st_value != 0)
            .filter_map(|s| {
                let name = elf.strtab.get_at(s.st_name)?;
                Some((s.st_value.wrapping_add(bias), s.st_size, String::from(name)))
            })
            .collect();
        entries.sort_by_key(|e| e.0);
        Symbols { entries }
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Every symbol as `(start, size, name)`, by address (the debug
    /// shell's symbol search).
    pub fn iter(&self) -> impl Iterator<Item = (u64, u64, &str)> {
        self.entries.iter().map(|(start, size, name)| (*start, *size, name.as_str()))
    }

    /// The symbol containing `addr` and the offset into it. A symbol of size
    /// 0 matches only its own address.
    pub fn lookup(&self, addr: u64) -> Option<(&str, u64)> {
        let idx = self.entries.partition_point(|e| e.0 <= addr);
        // Several symbols may share a start; search back for one that covers addr.
        self.entries[..idx]
            .iter()
            .rev()
            .take(8)
            .find(|(start, size, _)| addr - start < (*size).max(1))
            .map(|(start, _, name)| (name.as_str(), addr - start))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_own_function() {
        let exe = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        let syms = Symbols::from_elf(&exe, 0);
        assert!(!syms.is_empty());
        // Some symbol exists with nonzero size; looking up its middle finds it.
        let (start, size, name) = syms.entries.iter().find(|e| e.1 > 16).unwrap().clone();
        let (n, off) = syms.lookup(start + 5).unwrap();
        assert_eq!(off, 5);
        assert_eq!(syms.lookup(start).unwrap().1, 0);
        assert!(syms.iter().any(|(s, _, n)| s == start && n == name), "iter yields what lookup finds");
        let _ = (n, name, size);
        assert!(syms.lookup(1).is_none());
    }
}
