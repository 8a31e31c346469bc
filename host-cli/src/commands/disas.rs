//! `ushell disas`: a function's first instructions as the CPU sees them
//! now, decoded on the host with iced-x86 in Intel syntax, spelled as
//! objdump's `-M intel` spells it (`nop DWORD PTR [rax+rax*1+0x0]`), so a
//! student sees the entry nop turn into `call 0x...` and back. The patch
//! site's line is marked, and a call to an attachment's trampoline says
//! whose it is.

use std::fmt::Write as _;

use iced_x86::{Decoder, DecoderOptions, Formatter, Instruction, IntelFormatter, OpKind};
use serde_json::json;
use shellproto::{Attachment, FuncText};

use super::value::hex;

/// One decoded instruction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub addr: u64,
    pub bytes: Vec<u8>,
    pub text: String,
    /// The target of a direct call or jump.
    pub target: Option<u64>,
}

fn formatter() -> IntelFormatter {
    let mut f = IntelFormatter::new();
    let o = f.options_mut();
    o.set_uppercase_keywords(true);
    o.set_always_show_scale(true);
    o.set_show_zero_displacements(true);
    o.set_hex_prefix("0x");
    o.set_hex_suffix("");
    o.set_uppercase_hex(false);
    o.set_branch_leading_zeros(false);
    o.set_leading_zeros(false);
    o.set_space_after_operand_separator(false);
    o.set_rip_relative_addresses(true);
    o.set_small_hex_numbers_in_decimal(false);
    o.set_memory_size_options(iced_x86::MemorySizeOptions::Always);
    f
}

/// Up to `max` instructions from `bytes` at `addr`; a last instruction cut
/// off by the end of the bytes is left out.
pub fn decode(addr: u64, bytes: &[u8], max: usize) -> Vec<Line> {
    let mut d = Decoder::with_ip(64, bytes, addr, DecoderOptions::NONE);
    let mut f = formatter();
    let mut out = Vec::new();
    let mut ins = Instruction::default();
    while d.can_decode() && out.len() < max {
        let start = d.position();
        d.decode_out(&mut ins);
        if ins.is_invalid() && d.last_error() == iced_x86::DecoderError::NoMoreBytes {
            break;
        }
        let mut text = String::new();
        if ins.is_invalid() {
            text.push_str("(bad)");
        } else {
            f.format(&ins, &mut text);
        }
        // Direct calls, jumps and branches (their only operand is the target).
        let target = (ins.op_count() > 0 && ins.op0_kind() == OpKind::NearBranch64).then(|| ins.near_branch_target());
        out.push(Line { addr: ins.ip(), bytes: bytes[start..d.position()].to_vec(), text, target });
    }
    out
}

/// What the note at the end of an instruction's line says.
fn note(l: &Line, t: &FuncText, attachments: &[Attachment]) -> Option<String> {
    let progs: Vec<String> =
        attachments.iter().filter(|a| a.trampoline.is_some() && a.trampoline == l.target).map(|a| format!("{} ({})", a.prog_name, a.kind)).collect();
    let calls_tramp = !progs.is_empty();
    if t.site == Some(l.addr) {
        Some(if calls_tramp {
            format!("<- site: calls the trampoline of {}", progs.join(", "))
        } else if l.target.is_some() {
            "<- site (patched)".into()
        } else {
            "<- site (nothing attached)".into()
        })
    } else if calls_tramp {
        Some(format!("<- the trampoline of {}", progs.join(", ")))
    } else {
        None
    }
}

/// The listing (or its JSON) of at most `max` instructions of `t`.
pub fn render(t: &FuncText, max: usize, attachments: &[Attachment], json: bool) -> String {
    let lines = decode(t.addr, &t.bytes, max);
    if json {
        let insns: Vec<_> = lines
            .iter()
            .map(|l| {
                json!({
                    "addr": l.addr,
                    "bytes": hex(&l.bytes),
                    "text": l.text,
                    "target": l.target,
                    "site": t.site == Some(l.addr),
                    "note": note(l, t, attachments),
                })
            })
            .collect();
        let v = json!({"name": t.name, "space": t.space, "addr": t.addr, "site": t.site, "insns": insns});
        return serde_json::to_string_pretty(&v).unwrap_or_default() + "\n";
    }
    let mut out = match t.site {
        Some(s) if s == t.addr => format!("{} ({}) at {:#x}, patch site at its entry:\n", t.name, t.space, t.addr),
        Some(s) => format!("{} ({}) at {:#x}, patch site at {s:#x}:\n", t.name, t.space, t.addr),
        None => format!("{} ({}) at {:#x}, no patch site:\n", t.name, t.space, t.addr),
    };
    let bw = lines.iter().map(|l| hex(&l.bytes).len()).max().unwrap_or(0);
    let tw = lines.iter().map(|l| l.text.len()).max().unwrap_or(0);
    for l in &lines {
        let mut row = format!("  {:#x}  {:<bw$}  {}", l.addr, hex(&l.bytes), l.text);
        if let Some(n) = note(l, t, attachments) {
            let pad = tw - l.text.len();
            let _ = write!(row, "{:pad$}  {n}", "");
        }
        out.push_str(row.trim_end());
        out.push('\n');
    }
    if lines.is_empty() {
        out.push_str("  (no complete instruction in the bytes read)\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use shellproto::{AttachKind, Space};

    /// gcc -O1 -pg -mfentry -mnop-mcount of `long myfun(long a) { return 3 * a + 1; }`.
    const MYFUN: [u8; 16] = [0x0f, 0x1f, 0x44, 0x00, 0x00, 0x55, 0x48, 0x89, 0xe5, 0x48, 0x8d, 0x44, 0x7f, 0x01, 0x5d, 0xc3];

    fn text(bytes: &[u8]) -> FuncText {
        FuncText { name: "myfun".into(), space: Space::App, addr: 0x4016ff, site: Some(0x4016ff), bytes: bytes.to_vec() }
    }

    #[test]
    fn the_nop_reads_as_objdump_writes_it() {
        let out = render(&text(&MYFUN), 8, &[], false);
        assert_eq!(
            out,
            "myfun (app) at 0x4016ff, patch site at its entry:\n\
             \x20 0x4016ff  0f 1f 44 00 00  nop DWORD PTR [rax+rax*1+0x0]  <- site (nothing attached)\n\
             \x20 0x401704  55              push rbp\n\
             \x20 0x401705  48 89 e5        mov rbp,rsp\n\
             \x20 0x401708  48 8d 44 7f 01  lea rax,[rdi+rdi*2+0x1]\n\
             \x20 0x40170d  5d              pop rbp\n\
             \x20 0x40170e  c3              ret\n"
        );
    }

    #[test]
    fn a_patched_site_names_the_trampolines_programs() {
        // call rel32 from 0x4016ff + 5 to 0x1000000.
        let rel = (0x100_0000i64 - 0x401704) as i32;
        let mut b = MYFUN;
        b[0] = 0xe8;
        b[1..5].copy_from_slice(&rel.to_le_bytes());
        let a = Attachment {
            id: 1,
            func: "myfun".into(),
            space: Space::App,
            addr: 0x4016ff,
            kind: AttachKind::Fentry,
            prog: 3,
            prog_name: "count".into(),
            run_cnt: 0,
            run_time_ns: 0,
            trampoline: Some(0x100_0000),
        };
        let out = render(&text(&b), 2, std::slice::from_ref(&a), false);
        let first = out.lines().nth(1).unwrap();
        assert_eq!(first, "  0x4016ff  e8 fc e8 bf 00  call 0x1000000  <- site: calls the trampoline of count (fentry)");
        assert_eq!(out.lines().count(), 3, "-n 2: two instructions\n{out}");
        let out = render(&text(&b), 1, &[], false);
        assert!(out.lines().nth(1).unwrap().ends_with("call 0x1000000  <- site (patched)"), "{out}");
        let j: serde_json::Value = serde_json::from_str(&render(&text(&b), 8, &[a], true)).unwrap();
        assert_eq!(j["insns"][0]["text"], "call 0x1000000");
        assert_eq!(j["insns"][0]["target"], 0x100_0000);
        assert_eq!(j["insns"][0]["site"], true);
        assert_eq!(j["insns"][1]["site"], false);
        assert_eq!(j["site"], 0x4016ff);
    }

    #[test]
    fn a_cut_off_instruction_is_left_out_and_no_site_is_said() {
        let mut t = text(&MYFUN[..12]);
        t.site = None;
        let out = render(&t, 8, &[], false);
        assert!(out.starts_with("myfun (app) at 0x4016ff, no patch site:\n"), "{out}");
        assert!(!out.contains("<- site"), "{out}");
        assert_eq!(out.lines().count(), 4, "nop, push, mov; the lea is cut off\n{out}");
        let cet = [0xf3, 0x0f, 0x1e, 0xfa, 0x0f, 0x1f, 0x44, 0x00, 0x00];
        let t = FuncText { name: "f".into(), space: Space::Kernel, addr: 0x1000, site: Some(0x1004), bytes: cet.to_vec() };
        let out = render(&t, 8, &[], false);
        assert!(out.starts_with("f (kernel) at 0x1000, patch site at 0x1004:\n  0x1000  f3 0f 1e fa     endbr64\n"), "{out}");
        assert!(out.contains("0x1004  0f 1f 44 00 00  nop DWORD PTR [rax+rax*1+0x0]  <- site"), "{out}");
    }
}
