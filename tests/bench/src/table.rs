//! The side-by-side table: one row per metric, ours next to Linux's from the
//! same run, the QEMU floor where it applies, the ratio, and the goal as a
//! reference (printed, never asserted). A failed measurement shows as
//! `n/a [k]`, with reason k listed under the table.

/// A measured value, or why there is none.
pub type Measure = Result<f64, String>;

#[derive(Clone, Copy)]
pub enum Unit {
    Insns,
    Seconds,
    Bytes,
    MiB,
}

#[derive(Clone, Copy)]
pub enum Goal {
    /// Linux's value divided by ours should be at least this.
    LinuxOverOursAtLeast(f64),
    /// Ours should be at most this many units.
    OursAtMost(f64),
    None,
}

pub struct Row {
    pub name: String,
    pub unit: Unit,
    pub ours: Measure,
    pub linux: Measure,
    pub floor: Option<Measure>,
    pub goal: Goal,
}

#[derive(Default)]
pub struct Table {
    rows: Vec<Row>,
}

impl Table {
    pub fn push(&mut self, row: Row) {
        self.rows.push(row);
    }

    pub fn render(&self) -> String {
        let mut notes: Vec<String> = Vec::new();
        let mut cell = |m: &Measure, unit: Unit| match m {
            Ok(v) => fmt_value(*v, unit),
            Err(why) => {
                let k = match notes.iter().position(|n| n == why) {
                    Some(i) => i + 1,
                    None => {
                        notes.push(why.clone());
                        notes.len()
                    }
                };
                format!("n/a [{k}]")
            }
        };
        let mut lines = vec![["metric", "ours", "Linux", "QEMU floor", "Linux/ours", "goal"].map(String::from)];
        for r in &self.rows {
            let ratio = match (&r.ours, &r.linux) {
                (Ok(o), Ok(l)) if *o > 0.0 && l / o >= 100.0 => format!("{:.0}x", l / o),
                (Ok(o), Ok(l)) if *o > 0.0 => format!("{:.1}x", l / o),
                _ => "-".into(),
            };
            lines.push([
                r.name.clone(),
                cell(&r.ours, r.unit),
                cell(&r.linux, r.unit),
                r.floor.as_ref().map_or("-".into(), |f| cell(f, r.unit)),
                ratio,
                goal_text(r),
            ]);
        }
        let mut width = [0usize; 6];
        for l in &lines {
            for (w, c) in width.iter_mut().zip(l) {
                *w = (*w).max(c.chars().count());
            }
        }
        let mut out = String::new();
        for (i, l) in lines.iter().enumerate() {
            let mut s = format!("{:<w$}", l[0], w = width[0]);
            for (c, w) in l.iter().zip(width).skip(1) {
                s += &format!("  {c:>w$}");
            }
            out += s.trim_end();
            out.push('\n');
            if i == 0 {
                out += &"-".repeat(width.iter().sum::<usize>() + 2 * (width.len() - 1));
                out.push('\n');
            }
        }
        for (i, n) in notes.iter().enumerate() {
            out += &format!("[{}] {n}\n", i + 1);
        }
        out
    }
}

fn goal_text(r: &Row) -> String {
    let (text, met) = match r.goal {
        Goal::LinuxOverOursAtLeast(g) => (
            format!("Linux/ours >= {g}"),
            match (&r.ours, &r.linux) {
                (Ok(o), Ok(l)) if *o > 0.0 => Some(l / o >= g),
                _ => None,
            },
        ),
        Goal::OursAtMost(g) => (format!("ours <= {}", fmt_value(g, r.unit)), r.ours.as_ref().ok().map(|o| *o <= g)),
        Goal::None => return String::new(),
    };
    match met {
        Some(true) => format!("{text} (met)"),
        Some(false) => format!("{text} (not met)"),
        None => text,
    }
}

pub fn fmt_value(v: f64, unit: Unit) -> String {
    match unit {
        Unit::Insns if v.fract() != 0.0 && v < 10_000.0 => format!("{v:.1}"),
        Unit::Insns => group(v.round() as u64),
        Unit::Seconds => format!("{v:.3} s"),
        Unit::Bytes if v >= 1024.0 * 1024.0 => format!("{:.2} MiB", v / (1024.0 * 1024.0)),
        Unit::Bytes => format!("{:.1} KiB", v / 1024.0),
        Unit::MiB => format!("{v} MiB"),
    }
}

/// 1234567 → "1,234,567".
fn group(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grouping_and_units() {
        assert_eq!(group(0), "0");
        assert_eq!(group(999), "999");
        assert_eq!(group(1000), "1,000");
        assert_eq!(group(6161705425), "6,161,705,425");
        assert_eq!(fmt_value(322.0, Unit::Insns), "322");
        assert_eq!(fmt_value(322.5, Unit::Insns), "322.5");
        assert_eq!(fmt_value(3.0 * 1024.0 * 1024.0, Unit::Bytes), "3.00 MiB");
    }

    #[test]
    fn ratio_goal_and_na_notes() {
        let mut t = Table::default();
        t.push(Row {
            name: "syscall".into(),
            unit: Unit::Insns,
            ours: Ok(100.0),
            linux: Ok(322.0),
            floor: None,
            goal: Goal::LinuxOverOursAtLeast(3.0),
        });
        t.push(Row {
            name: "boot".into(),
            unit: Unit::Insns,
            ours: Err("kernel panicked".into()),
            linux: Ok(5.0),
            floor: Some(Err("kernel panicked".into())),
            goal: Goal::LinuxOverOursAtLeast(50.0),
        });
        let s = t.render();
        assert!(s.contains("3.2x"), "{s}");
        assert!(s.contains("Linux/ours >= 3 (met)"), "{s}");
        assert!(s.contains("n/a [1]"), "{s}");
        assert!(s.contains("[1] kernel panicked"), "{s}");
        assert!(!s.contains("[2]"), "one note for one reason: {s}");
    }
}
