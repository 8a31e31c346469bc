//! `help` and `help CMD` in the REPL, from the same clap definitions the
//! command line uses, so the two never disagree.

use clap::{CommandFactory, Parser, Subcommand};

use super::InstanceCmd;

/// A REPL line, parsed.
#[derive(Parser, Debug)]
#[command(name = "ushell", no_binary_name = true, disable_help_subcommand = true, disable_version_flag = true)]
pub struct ReplLine {
    #[command(subcommand)]
    pub cmd: ReplCmd,
}

#[derive(Subcommand, Debug)]
pub enum ReplCmd {
    #[command(flatten)]
    Instance(InstanceCmd),
    /// List the commands, or show one command's usage and an example.
    #[command(after_help = "Examples:\n  help\n  help exec")]
    Help { command: Vec<String> },
    /// Leave the shell (the instance keeps running); Ctrl-D does the same.
    #[command(alias = "quit")]
    Exit,
}

/// The command names the REPL knows, for completion.
pub fn command_names() -> Vec<String> {
    let mut v: Vec<String> = ReplLine::command().get_subcommands().map(|c| c.get_name().to_string()).collect();
    v.push("quit".into());
    v
}

/// Subcommands of `map`.
pub fn map_ops() -> Vec<String> {
    ReplLine::command()
        .find_subcommand("map")
        .map(|m| m.get_subcommands().map(|c| c.get_name().to_string()).collect())
        .unwrap_or_default()
}

/// `help`: one line per command.
pub fn overview() -> String {
    let cmd = ReplLine::command();
    let mut rows: Vec<(String, String)> = Vec::new();
    for sc in cmd.get_subcommands() {
        let about = sc.get_about().map(|a| a.to_string()).unwrap_or_default();
        if sc.has_subcommands() {
            for op in sc.get_subcommands() {
                rows.push((format!("{} {}", sc.get_name(), op.get_name()), op.get_about().map(|a| a.to_string()).unwrap_or_default()));
            }
        } else {
            rows.push((sc.get_name().to_string(), about));
        }
    }
    let w = rows.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
    let mut out: String = rows.iter().map(|(n, a)| format!("  {n:<w$}  {a}\n")).collect();
    out.push_str("`help CMD` shows a command's options and an example.\n");
    out
}

/// `help CMD` (or `help map dump`): the command's usage, options and example.
pub fn command_help(path: &[String]) -> Option<String> {
    let mut cmd = ReplLine::command();
    let mut found: Option<clap::Command> = None;
    for word in path {
        let sub = found.as_ref().unwrap_or(&cmd).find_subcommand(word)?.clone();
        found = Some(sub);
    }
    let name: &'static str = Box::leak(path.join(" ").into_boxed_str());
    let mut c = found?.name(name);
    cmd.build();
    // The examples say `ushell CMD`; in the REPL it is just `CMD`.
    Some(c.render_long_help().to_string().replace("\n  ushell ", "\n  "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> Result<ReplCmd, clap::Error> {
        ReplLine::try_parse_from(shell_words::split(line).unwrap()).map(|l| l.cmd)
    }

    #[test]
    fn repl_lines_parse_like_the_command_line() {
        assert!(matches!(parse("progs -j"), Ok(ReplCmd::Instance(InstanceCmd::Progs { json: true }))));
        assert!(matches!(parse("map dump counts"), Ok(ReplCmd::Instance(InstanceCmd::Map(super::super::MapCmd::Dump { .. })))));
        match parse("exec get.o 'two words' --prog fill") {
            Ok(ReplCmd::Instance(InstanceCmd::Exec(a))) => {
                assert_eq!(a.arg.as_deref(), Some("two words"));
                assert_eq!(a.which.as_deref(), Some("fill"));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(parse("quit"), Ok(ReplCmd::Exit)));
        assert!(parse("frobnicate").is_err());
    }

    #[test]
    fn help_has_a_line_per_command_and_examples() {
        let o = overview();
        for c in ["load", "exec", "unload", "progs", "maps", "map dump", "map update", "map delete", "sym", "info", "attach", "detach", "list", "sites", "disas", "help", "exit"] {
            assert!(o.lines().any(|l| l.trim_start().starts_with(c)), "{c} missing in\n{o}");
        }
        let h = command_help(&["exec".into()]).unwrap();
        assert!(h.contains("Examples:") && h.contains("\n  exec get_count.o myfun"), "{h}");
        assert!(command_help(&["map".into(), "dump".into()]).unwrap().contains("\n  map dump counts"));
        assert!(command_help(&["nope".into()]).is_none());
        let h = command_help(&["attach".into()]).unwrap();
        assert!(h.contains("\n  attach myfun count.o\n") && h.contains("--args <N>") && h.contains("[PROG]"), "{h}");
        assert!(command_names().contains(&"load".to_string()));
        assert_eq!(map_ops(), ["dump", "update", "delete"]);
    }
}
