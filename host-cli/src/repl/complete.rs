//! Tab completion in the REPL: command names, `map` operations, and the
//! names the instance knows right now (programs, maps, symbols, traceable
//! functions), asked for when Tab is pressed; paths for `load`, `exec` and
//! `attach`.

use crate::commands::help;

/// What the word under the cursor is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Want {
    Command,
    MapOp,
    Prog,
    /// A program or an object file (`exec`).
    ProgOrFile,
    Map,
    Symbol,
    /// A traceable function (`sites`).
    Site,
    /// A traceable function or an object file (`attach`'s first word).
    SiteOrFile,
    /// A traceable function or a program (`detach`'s first word).
    SiteOrProg,
    File,
    Nothing,
}

/// Names from the instance, fetched on demand.
pub trait Names {
    fn progs(&self) -> Vec<String>;
    fn maps(&self) -> Vec<String>;
    /// Symbols starting with `prefix`.
    fn symbols(&self, prefix: &str) -> Vec<String>;
    /// Traceable functions starting with `prefix`.
    fn sites(&self, prefix: &str) -> Vec<String>;
}

/// Options whose value is the next word.
const OPTIONS_WITH_VALUES: [&str; 9] = ["-n", "--limit", "--prog", "--args", "--engine", "--flags", "--func", "-i", "--instance"];

/// The start of the word under the cursor, and what it should be.
pub fn want(line: &str, pos: usize) -> (usize, Want) {
    let before = &line[..pos];
    let start = before.rfind(char::is_whitespace).map_or(0, |i| i + 1);
    let words: Vec<&str> = before[..start].split_whitespace().collect();
    // Options, and the values of those that take one, are not positional
    // words.
    let mut positional: Vec<&str> = Vec::new();
    let mut skip = false;
    for w in &words {
        if std::mem::take(&mut skip) {
            continue;
        }
        if w.starts_with('-') {
            skip = OPTIONS_WITH_VALUES.contains(w);
        } else {
            positional.push(w);
        }
    }
    let w = match positional.as_slice() {
        [] => Want::Command,
        ["help", ..] => Want::Command,
        ["map"] => Want::MapOp,
        ["map", "dump" | "update" | "delete"] => Want::Map,
        ["exec"] => Want::ProgOrFile,
        ["unload"] => Want::Prog,
        ["load"] => Want::File,
        ["sym"] => Want::Symbol,
        _ if words.last() == Some(&"--prog") => Want::Prog,
        _ if words.last() == Some(&"--func") => Want::Site,
        ["attach"] => Want::SiteOrFile,
        ["attach", _] => Want::ProgOrFile,
        ["detach"] => Want::SiteOrProg,
        ["detach", _] => Want::Prog,
        ["list" | "sites" | "disas"] => Want::Site,
        _ => Want::Nothing,
    };
    (start, w)
}

/// Candidates for the word `line[start..pos]` (file names are the caller's).
pub fn candidates(line: &str, pos: usize, names: &dyn Names) -> (usize, Want, Vec<String>) {
    let (start, w) = want(line, pos);
    let word = &line[start..pos];
    let pool = match w {
        Want::Command => help::command_names(),
        Want::MapOp => help::map_ops(),
        Want::Prog | Want::ProgOrFile => names.progs(),
        Want::Map => names.maps(),
        Want::Symbol => names.symbols(word),
        Want::Site | Want::SiteOrFile => names.sites(word),
        Want::SiteOrProg => names.sites(word).into_iter().chain(names.progs()).collect(),
        Want::File | Want::Nothing => Vec::new(),
    };
    let mut out: Vec<String> = pool.into_iter().filter(|c| c.starts_with(word)).collect();
    out.sort();
    out.dedup();
    (start, w, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed;
    impl Names for Fixed {
        fn progs(&self) -> Vec<String> {
            vec!["fill".into(), "emit".into()]
        }
        fn maps(&self) -> Vec<String> {
            vec!["shared".into(), "big".into(), "events".into(), "shared".into()]
        }
        fn symbols(&self, prefix: &str) -> Vec<String> {
            ["main", "myfun", "memcpy"].iter().filter(|s| s.starts_with(prefix)).map(|s| s.to_string()).collect()
        }
        fn sites(&self, prefix: &str) -> Vec<String> {
            ["myfun", "finish", "kernel::syscall::fs::read"].iter().filter(|s| s.starts_with(prefix)).map(|s| s.to_string()).collect()
        }
    }

    fn names(line: &str) -> Vec<String> {
        candidates(line, line.len(), &Fixed).2
    }

    #[test]
    fn commands_then_their_arguments() {
        assert_eq!(names("ma"), ["map", "maps"]);
        assert_eq!(names("map "), ["delete", "dump", "update"]);
        assert_eq!(names("map dump s"), ["shared"], "duplicates are listed once");
        assert_eq!(names("map update "), ["big", "events", "shared"]);
        assert_eq!(names("exec f"), ["fill"]);
        assert_eq!(names("unload "), ["emit", "fill"]);
        assert_eq!(names("sym m"), ["main", "memcpy", "myfun"]);
        assert_eq!(names("help ex"), ["exec", "exit"]);
        assert_eq!(names("exec x.o --prog e"), ["emit"]);
        assert!(names("progs ").is_empty());
        assert_eq!(want("load bpf/x", 10), (5, Want::File));
        assert_eq!(candidates("map dump sh", 11, &Fixed).0, 9);
    }

    #[test]
    fn tracer_commands_complete_functions_then_programs() {
        assert_eq!(names("att"), ["attach"]);
        assert_eq!(names("attach m"), ["myfun"]);
        assert_eq!(names("attach kernel::"), ["kernel::syscall::fs::read"]);
        assert_eq!(want("attach co", 9).1, Want::SiteOrFile, "files too (attach count.o)");
        assert_eq!(names("attach myfun f"), ["fill"]);
        assert_eq!(want("attach myfun x", 14).1, Want::ProgOrFile);
        assert_eq!(names("detach f"), ["fill", "finish"]);
        assert_eq!(names("detach myfun e"), ["emit"]);
        assert_eq!(names("disas f"), ["finish"]);
        assert_eq!(names("list "), ["finish", "kernel::syscall::fs::read", "myfun"]);
        assert_eq!(names("sites my"), ["myfun"]);
        assert_eq!(names("disas -n 3 m"), ["myfun"]);
        assert_eq!(names("attach myfun count.o --prog e"), ["emit"]);
        assert_eq!(names("exec get_count --func my"), ["myfun"]);
    }
}
