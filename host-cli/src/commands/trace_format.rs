//! How the tracer's replies print: one line per attach or detach (the
//! site's bytes before and after), tables for `list` and `sites`, and
//! JSON with the protocol's field names for `-j`.

use std::fmt::Write as _;

use serde_json::{json, Value};
use shellproto::{Attachment, LoadedObject, SiteChange, SiteInfo};

use super::format::table;
use super::value::hex;

fn pretty(v: &impl serde::Serialize) -> String {
    serde_json::to_string_pretty(v).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}")) + "\n"
}

fn addr(a: u64) -> String {
    format!("{a:#x}")
}

/// `count (#3, fentry) ... myfun (app) at 0x401136: 0f 1f 44 00 00 -> e8 ...`
fn change_line(verb: &str, prep: &str, c: &SiteChange) -> String {
    let bytes = if c.before == c.after {
        format!("{} (unchanged)", hex(&c.before))
    } else {
        format!("{} -> {}", hex(&c.before), hex(&c.after))
    };
    let tail = match c.trampoline {
        Some(t) => format!("trampoline {}", addr(t)),
        None => "nop restored".into(),
    };
    format!("{verb} {} (#{}, {}) {prep} {} ({}) at {}: {bytes} ({tail})\n", c.prog_name, c.prog, c.kind, c.func, c.space, addr(c.addr))
}

/// `-j`: the change, its bytes also as hex strings, and the object an
/// implicit load brought in.
fn change_json(c: &SiteChange, loaded: Option<&LoadedObject>) -> String {
    let mut v = serde_json::to_value(c).unwrap_or(Value::Null);
    if let Value::Object(m) = &mut v {
        m.insert("before_hex".into(), hex(&c.before).into());
        m.insert("after_hex".into(), hex(&c.after).into());
        m.insert("loaded".into(), loaded.map_or(Value::Null, |o| serde_json::to_value(o).unwrap_or(Value::Null)));
    }
    pretty(&v)
}

/// `loaded count.o as object 2: count #3 (fentry/myfun), get_count #4 (syscall)`
pub fn loaded_line(o: &LoadedObject) -> String {
    let progs: Vec<String> = o.progs.iter().map(|p| format!("{} #{} ({})", p.name, p.id, p.section)).collect();
    format!("loaded {} as object {}: {}\n", o.name, o.id, progs.join(", "))
}

pub fn attached(c: &SiteChange, loaded: Option<&LoadedObject>, json: bool) -> String {
    if json {
        return change_json(c, loaded);
    }
    let mut out = loaded.map(loaded_line).unwrap_or_default();
    out.push_str(&change_line("attached", "to", c));
    out
}

pub fn detached(c: &SiteChange, json: bool) -> String {
    if json {
        return change_json(c, None);
    }
    change_line("detached", "from", c)
}

pub fn attachments(a: &[Attachment], func: Option<&str>, json: bool) -> String {
    if json {
        return pretty(&a);
    }
    if a.is_empty() {
        return match func {
            Some(f) => format!("nothing is attached to {f}\n"),
            None => "nothing is attached\n".into(),
        };
    }
    let rows: Vec<Vec<String>> = a
        .iter()
        .map(|a| {
            vec![
                a.func.clone(),
                a.space.to_string(),
                a.kind.to_string(),
                a.prog.to_string(),
                a.prog_name.clone(),
                a.run_cnt.to_string(),
                a.run_time_ns.to_string(),
                a.trampoline.map_or_else(|| "-".into(), addr),
            ]
        })
        .collect();
    table(&["FUNC", "IN", "KIND", "PROG", "NAME", "RUN_CNT", "RUN_TIME_NS", "TRAMPOLINE"], &rows)
}

pub fn sites(s: &[SiteInfo], truncated: bool, limit: u32, json: bool) -> String {
    if json {
        let v: Vec<Value> = s
            .iter()
            .map(|x| {
                let mut v = serde_json::to_value(x).unwrap_or(Value::Null);
                if let Value::Object(m) = &mut v {
                    m.insert("original_hex".into(), hex(&x.original).into());
                }
                v
            })
            .collect();
        return pretty(&json!({"sites": v, "truncated": truncated}));
    }
    if s.is_empty() {
        return "no traceable function matches\n".into();
    }
    let rows: Vec<Vec<String>> = s
        .iter()
        .map(|x| {
            let at = if x.addr == x.func { "entry".to_string() } else { format!("entry+{}", x.addr.wrapping_sub(x.func)) };
            vec![format!("{:#018x}", x.func), at, x.space.to_string(), hex(&x.original), x.attached.to_string(), x.name.clone()]
        })
        .collect();
    let mut out = table(&["ADDRESS", "SITE", "IN", "BYTES", "ATTACHED", "NAME"], &rows);
    if truncated {
        let _ = writeln!(out, "(more than {limit} match; narrow the pattern or pass --limit)");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use shellproto::{AttachKind, Space};

    const NOP: [u8; 5] = [0x0f, 0x1f, 0x44, 0x00, 0x00];
    const CALL: [u8; 5] = [0xe8, 0xc5, 0xee, 0xbf, 0x00];

    fn change(before: [u8; 5], after: [u8; 5], trampoline: Option<u64>) -> SiteChange {
        SiteChange {
            attachment: 1,
            func: "myfun".into(),
            space: Space::App,
            addr: 0x401136,
            kind: AttachKind::Fentry,
            prog: 3,
            prog_name: "count".into(),
            before,
            after,
            trampoline,
        }
    }

    #[test]
    fn attach_and_detach_are_one_line_with_the_bytes() {
        assert_eq!(
            attached(&change(NOP, CALL, Some(0x100_0000)), None, false),
            "attached count (#3, fentry) to myfun (app) at 0x401136: 0f 1f 44 00 00 -> e8 c5 ee bf 00 (trampoline 0x1000000)\n"
        );
        assert_eq!(
            detached(&change(CALL, NOP, None), false),
            "detached count (#3, fentry) from myfun (app) at 0x401136: e8 c5 ee bf 00 -> 0f 1f 44 00 00 (nop restored)\n"
        );
        assert_eq!(
            detached(&change(CALL, CALL, Some(0x100_0000)), false),
            "detached count (#3, fentry) from myfun (app) at 0x401136: e8 c5 ee bf 00 (unchanged) (trampoline 0x1000000)\n"
        );
    }

    #[test]
    fn an_implicit_load_is_reported_first_and_in_json() {
        let o = LoadedObject { id: 2, name: "count.o".into(), progs: vec![], maps: vec![] };
        let t = attached(&change(NOP, CALL, Some(16)), Some(&o), false);
        assert!(t.starts_with("loaded count.o as object 2: \nattached count"), "{t}");
        let j: Value = serde_json::from_str(&attached(&change(NOP, CALL, Some(16)), Some(&o), true)).unwrap();
        assert_eq!(j["func"], "myfun");
        assert_eq!(j["addr"], 0x401136);
        assert_eq!(j["before_hex"], "0f 1f 44 00 00");
        assert_eq!(j["after"][0], 0xe8);
        assert_eq!(j["trampoline"], 16);
        assert_eq!(j["loaded"]["id"], 2);
        let j: Value = serde_json::from_str(&detached(&change(CALL, NOP, None), true)).unwrap();
        assert_eq!(j["trampoline"], Value::Null);
        assert_eq!(j["loaded"], Value::Null);
    }

    fn attachment(func: &str, space: Space, kind: AttachKind, prog: u32, name: &str, cnt: u64) -> Attachment {
        Attachment { id: prog, func: func.into(), space, addr: 0x401136, kind, prog, prog_name: name.into(), run_cnt: cnt, run_time_ns: cnt * 90, trampoline: Some(0x100_0000) }
    }

    #[test]
    fn list_is_a_table_of_functions_and_programs() {
        let a = [
            attachment("myfun", Space::App, AttachKind::Fentry, 3, "count", 1200),
            attachment("kernel::syscall::fs::read", Space::Kernel, AttachKind::Kprobe, 5, "notify", 7),
        ];
        let t = attachments(&a, None, false);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines[0], "FUNC                       IN      KIND    PROG  NAME    RUN_CNT  RUN_TIME_NS  TRAMPOLINE");
        assert_eq!(lines[1], "myfun                      app     fentry  3     count   1200     108000       0x1000000");
        assert_eq!(lines[2], "kernel::syscall::fs::read  kernel  kprobe  5     notify  7        630          0x1000000");
        assert_eq!(attachments(&[], Some("myfun"), false), "nothing is attached to myfun\n");
        let j: Value = serde_json::from_str(&attachments(&a, None, true)).unwrap();
        assert_eq!(j[0]["run_cnt"], 1200);
        assert_eq!(j[1]["space"], "Kernel");
        assert_eq!(j[1]["kind"], "Kprobe");
    }

    #[test]
    fn sites_show_where_the_nop_is() {
        let s = [
            SiteInfo { name: "myfun".into(), space: Space::App, func: 0x401136, addr: 0x401136, original: NOP, attached: 2 },
            SiteInfo { name: "k::read".into(), space: Space::Kernel, func: 0xffff_8000_0000_1000, addr: 0xffff_8000_0000_1004, original: NOP, attached: 0 },
        ];
        let t = sites(&s, true, 2, false);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines[0], "ADDRESS             SITE     IN      BYTES           ATTACHED  NAME");
        assert_eq!(lines[1], "0x0000000000401136  entry    app     0f 1f 44 00 00  2         myfun");
        assert_eq!(lines[2], "0xffff800000001000  entry+4  kernel  0f 1f 44 00 00  0         k::read");
        assert!(lines[3].starts_with("(more than 2 match"), "{t}");
        let j: Value = serde_json::from_str(&sites(&s, false, 2, true)).unwrap();
        assert_eq!(j["sites"][0]["func"], 0x401136);
        assert_eq!(j["sites"][0]["original_hex"], "0f 1f 44 00 00");
        assert_eq!(j["truncated"], false);
        assert_eq!(sites(&[], false, 9, false), "no traceable function matches\n");
    }
}
