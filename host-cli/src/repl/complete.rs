//! Tab completion in the REPL: command names, `map` operations, and the
//! names the instance knows right now (programs, maps, symbols), asked
//! for when Tab is pressed; paths for `load` and `exec`.

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
    File,
    Nothing,
}

/// Names from the instance, fetched on demand.
pub trait Names {
    fn progs(&self) -> Vec<String>;
    fn maps(&self) -> Vec<String>;
    /// Symbols starting with `prefix`.
    fn symbols(&self, prefix: &str) -> Vec<String>;
}

/// The start of the word under the cursor, and what it should be.
pub fn want(line: &str, pos: usize) -> (usize, Want) {
    let before = &line[..pos];
    let start = before.rfind(char::is_whitespace).map_or(0, |i| i + 1);
    let words: Vec<&str> = before[..start].split_whitespace().collect();
    // Options are not positional words.
    let positional: Vec<&str> = words.iter().copied().filter(|w| !w.starts_with('-')).collect();
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
}
