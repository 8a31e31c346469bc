//! How replies print: aligned tables for people, JSON (`-j`) for scripts.
//! JSON output is one document per command, the protocol's own field
//! names, with map keys and values decoded as [`super::value`] shows them.

use std::fmt::Write as _;

use serde_json::{json, Value};
use shellproto::{Event, Info, LoadedObject, LogLevel, MapEntry, MapInfo, ProgInfo, SymOrigin, Symbol};

use super::value;

/// Rows under a header, each column as wide as its widest cell.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut w: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            w[i] = w[i].max(c.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                let _ = write!(s, "{c:<width$}  ", width = w[i]);
            }
        }
        s.trim_end().to_string() + "\n"
    };
    let mut out = line(header.to_vec());
    for r in rows {
        out.push_str(&line(r.iter().map(String::as_str).collect()));
    }
    out
}

fn pretty(v: &impl serde::Serialize) -> String {
    serde_json::to_string_pretty(v).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}")) + "\n"
}

fn ids(v: &[u32]) -> String {
    if v.is_empty() {
        "-".into()
    } else {
        v.iter().map(u32::to_string).collect::<Vec<_>>().join(",")
    }
}

pub fn progs(p: &[ProgInfo], json: bool) -> String {
    if json {
        return pretty(&p);
    }
    if p.is_empty() {
        return "no programs loaded\n".into();
    }
    let rows: Vec<Vec<String>> = p
        .iter()
        .map(|p| {
            vec![
                p.id.to_string(),
                p.name.clone(),
                p.prog_type.to_string(),
                p.section.clone(),
                p.insns.to_string(),
                p.engine.to_string(),
                ids(&p.maps),
                p.run_count.to_string(),
                p.run_time_ns.to_string(),
                p.object.clone(),
            ]
        })
        .collect();
    table(&["ID", "NAME", "TYPE", "SECTION", "INSNS", "ENGINE", "MAPS", "RUN_CNT", "RUN_TIME_NS", "OBJECT"], &rows)
}

pub fn maps(m: &[MapInfo], json: bool) -> String {
    if json {
        return pretty(&m);
    }
    if m.is_empty() {
        return "no maps\n".into();
    }
    let rows: Vec<Vec<String>> = m
        .iter()
        .map(|m| {
            let mut kind = m.def.map_type.to_string();
            if m.global_data {
                kind.push_str(if m.read_only { " (global, ro)" } else { " (global)" });
            }
            vec![
                m.id.to_string(),
                m.name.clone(),
                kind,
                m.def.key_size.to_string(),
                m.def.value_size.to_string(),
                m.def.max_entries.to_string(),
                m.entries.to_string(),
                ids(&m.objects),
            ]
        })
        .collect();
    table(&["ID", "NAME", "TYPE", "KEY", "VALUE", "MAX", "ENTRIES", "OBJECTS"], &rows)
}

pub fn map_dump(info: &MapInfo, entries: &[MapEntry], json: bool) -> String {
    if json {
        let e: Vec<Value> = entries.iter().map(|e| json!({"key": value::json(&e.key), "value": value::json(&e.value)})).collect();
        return pretty(&json!({"map": info, "entries": e}));
    }
    let mut out = String::new();
    for e in entries {
        let _ = writeln!(out, "{} = {}", value::show(&e.key), value::show(&e.value));
    }
    let _ = writeln!(out, "({} entries in map {} `{}`)", entries.len(), info.id, info.name);
    out
}

pub fn symbols(s: &[Symbol], truncated: bool, limit: u32, json: bool) -> String {
    if json {
        return pretty(&json!({"symbols": s, "truncated": truncated}));
    }
    if s.is_empty() {
        return "no symbol matches\n".into();
    }
    let rows: Vec<Vec<String>> = s
        .iter()
        .map(|s| {
            let origin = match s.origin {
                SymOrigin::App => "app",
                SymOrigin::Kernel => "kernel",
            };
            vec![format!("{:#018x}", s.addr), s.size.to_string(), origin.into(), s.name.clone()]
        })
        .collect();
    let mut out = table(&["ADDRESS", "SIZE", "IN", "NAME"], &rows);
    if truncated {
        let _ = writeln!(out, "(more than {limit} match; narrow the pattern or pass --limit)");
    }
    out
}

pub fn info(i: &Info, json: bool) -> String {
    if json {
        return pretty(i);
    }
    let mib = |b: u64| format!("{:.1} MiB", b as f64 / f64::from(1 << 20));
    let mut out = String::new();
    let _ = writeln!(out, "kernel:   {}", i.kernel);
    let _ = writeln!(out, "memory:   {} free of {}", mib(i.mem_free), mib(i.mem_total));
    let _ = writeln!(out, "uptime:   {:.3} s", i.uptime_ns as f64 / 1e9);
    let state = match i.app.state {
        shellproto::AppState::Running => "running".to_string(),
        shellproto::AppState::Exited { status } => format!("exited ({status})"),
    };
    let _ = writeln!(out, "app:      {} (pid {}, {state})", i.app.path, i.app.pid);
    let _ = writeln!(out, "loaded:   {} programs, {} maps", i.progs, i.maps);
    if !i.syscalls.is_empty() {
        let _ = writeln!(out, "syscalls:");
        let rows: Vec<Vec<String>> = i.syscalls.iter().map(|s| vec![format!("  {}", s.name), s.count.to_string()]).collect();
        let t = table(&["  NAME", "COUNT"], &rows);
        out.push_str(&t);
    }
    out
}

pub fn loaded(o: &LoadedObject, json: bool) -> String {
    if json {
        return pretty(o);
    }
    let mut out = format!("loaded `{}` as object {}\n", o.name, o.id);
    let rows: Vec<Vec<String>> = o
        .progs
        .iter()
        .map(|p| vec![p.id.to_string(), p.name.clone(), p.section.clone(), p.prog_type.to_string(), p.insns.to_string(), p.engine.to_string()])
        .collect();
    out.push_str(&table(&["PROG", "NAME", "SECTION", "TYPE", "INSNS", "ENGINE"], &rows));
    if !o.maps.is_empty() {
        let rows: Vec<Vec<String>> = o
            .maps
            .iter()
            .map(|m| {
                let shared = if m.objects.len() > 1 { format!("shared with objects {}", ids(&m.objects)) } else { String::new() };
                vec![m.id.to_string(), m.name.clone(), m.def.to_string(), shared]
            })
            .collect();
        out.push_str(&table(&["MAP", "NAME", "DEFINITION", ""], &rows));
    }
    out
}

pub fn unloaded(progs: &[u32], maps: &[u32], json: bool) -> String {
    if json {
        return pretty(&json!({"progs": progs, "maps": maps}));
    }
    format!("unloaded programs {}; maps removed: {}\n", ids(progs), ids(maps))
}

pub fn returned(value: u64, run_time_ns: u64, events: &[Event], json: bool) -> String {
    if json {
        let out: Vec<String> = events.iter().map(event_line).collect();
        return pretty(&json!({"returned": value, "returned_signed": value as i64, "run_time_ns": run_time_ns, "output": out}));
    }
    let mut out = String::new();
    for e in events {
        let _ = writeln!(out, "{}", event_line(e));
    }
    let _ = writeln!(out, "returned: {}", value as i64);
    out
}

pub fn level_prefix(l: LogLevel) -> &'static str {
    match l {
        LogLevel::Error => "error: ",
        LogLevel::Warn => "warning: ",
        LogLevel::Info | LogLevel::Debug => "",
    }
}

/// An event as one line, tagged like the instance log.
pub fn event_line(e: &Event) -> String {
    use crate::instance::log::{format_line, Source};
    match e {
        Event::ProgOutput { name, line, .. } => format_line(&Source::Prog(name.clone()), line),
        Event::Ringbuf { map_name, data, .. } => format_line(&Source::Ringbuf(map_name.clone()), &value::hex(data)),
        Event::Kernel { level, line } => format_line(&Source::Kernel, &format!("{}{line}", level_prefix(*level))),
        Event::Lost { what, count } => format_line(&Source::Supervisor, &format!("lost {count}: {what}")),
        Event::Syscalls { data } => format_line(&Source::Supervisor, &format!("{} bytes of syscall records (`ushell trace` shows them)", data.len())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shellproto::{MapDef, MapType, ProgType};

    fn prog() -> ProgInfo {
        ProgInfo {
            id: 3,
            name: "fill".into(),
            section: "syscall".into(),
            prog_type: ProgType::Syscall,
            object: "a.o".into(),
            object_id: 1,
            insns: 12,
            maps: vec![1, 2],
            run_count: 4,
            run_time_ns: 900,
            engine: shellproto::Engine::Interp,
        }
    }

    fn map() -> MapInfo {
        MapInfo {
            id: 1,
            name: "counts".into(),
            def: MapDef { map_type: MapType::Hash, key_size: 4, value_size: 8, max_entries: 16 },
            entries: 1,
            global_data: false,
            read_only: false,
            objects: vec![1],
        }
    }

    #[test]
    fn tables_align_and_json_has_the_fields() {
        let t = progs(&[prog()], false);
        let lines: Vec<&str> = t.lines().collect();
        assert!(lines[0].starts_with("ID  NAME  TYPE     SECTION  INSNS  ENGINE  MAPS  RUN_CNT  RUN_TIME_NS  OBJECT"), "{t}");
        assert!(lines[1].starts_with("3   fill  syscall  syscall  12     interp  1,2   4        900          a.o"), "{t}");
        let j: Value = serde_json::from_str(&progs(&[prog()], true)).unwrap();
        assert_eq!(j[0]["name"], "fill");
        assert_eq!(j[0]["run_count"], 4);
        assert_eq!(progs(&[], false), "no programs loaded\n");
    }

    #[test]
    fn map_dumps_decode_keys_and_values() {
        let e = vec![MapEntry { key: 7u32.to_le_bytes().to_vec(), value: 42u64.to_le_bytes().to_vec() }];
        assert_eq!(map_dump(&map(), &e, false), "7 = 42\n(1 entries in map 1 `counts`)\n");
        let j: Value = serde_json::from_str(&map_dump(&map(), &e, true)).unwrap();
        assert_eq!(j["entries"][0], json!({"key": 7, "value": 42}));
        assert_eq!(j["map"]["name"], "counts");
    }

    #[test]
    fn exec_output_comes_before_the_value() {
        let ev = Event::ProgOutput { prog: 3, name: "fill".into(), line: "stored 7".into() };
        assert_eq!(returned(u64::MAX, 5, std::slice::from_ref(&ev), false), "[prog fill] stored 7\nreturned: -1\n");
        let j: Value = serde_json::from_str(&returned(7, 5, &[ev], true)).unwrap();
        assert_eq!(j["returned"], 7);
        assert_eq!(j["output"][0], "[prog fill] stored 7");
    }
}
