//! `ushell`, the host side of the unikernel: boots apps as instances
//! (`ushell run`), manages them (`ps`, `wait`, `stop`, `logs`, `rm`), talks
//! to a running instance's kernel shell (`load`, `exec`, `progs`, `maps`,
//! `map`, `sym`, `info`, the function tracer's `attach`, `detach`, `list`,
//! `sites`, `disas`, and the REPL `ushell shell`), and checks BPF
//! objects without a VM (`ushell verify`).

mod client;
mod commands;
mod instance;
mod kernel_image;
mod manage;
mod prog_run;
mod repl;
mod run;
mod shellquote;
mod supervisor;
mod systrace;
mod verify;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

use commands::InstanceCmd;

#[derive(Parser, Debug)]
#[command(
    name = "ushell",
    disable_version_flag = true,
    about = "Run Linux binaries as unikernels and look inside them",
    after_help = "Without a command, `ushell` opens the shell (REPL) on the running instance.\n\n\
Examples:\n  ushell run -d --name web ./server\n  ushell load count.o\n  ushell attach myfun count.o\n  ushell exec get_count --func myfun\n  ushell map dump counts -i web\n  ushell logs -f web"
)]
struct Cli {
    /// Print the version of ushell and of the kernel image it boots.
    #[arg(short = 'V', long)]
    version: bool,
    /// The instance to act on (default: the only running one).
    #[arg(short = 'i', long = "instance", global = true, value_name = "NAME")]
    instance: Option<String>,
    #[command(subcommand)]
    cmd: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Boot APP in the unikernel under QEMU and exit with its status.
    Run(run::RunArgs),
    /// Load and verify a BPF object on the host; no VM needed.
    Verify(verify::VerifyArgs),
    /// List instances: running, and exited ones until `ushell rm`.
    Ps(manage::PsArgs),
    /// Wait for an instance's app to exit; exits with its status.
    Wait(manage::NameArg),
    /// End an instance (its status becomes 143).
    Stop(manage::NameArg),
    /// Print an instance's log: app output, kernel and program messages.
    Logs(manage::LogsArgs),
    /// Remove exited instances' records and logs.
    Rm(manage::RmArgs),
    /// Open the interactive shell on an instance (also: `ushell` alone).
    Shell,
    /// Trace a running instance's syscalls as strace does (-c: the summary table; --hist: a latency histogram).
    Trace(systrace::TraceArgs),
    #[command(flatten)]
    Instance(InstanceCmd),
    /// Test hook: send stdin's bytes to the guest console verbatim, print
    /// what the guest answers that belongs to no request.
    #[command(hide = true)]
    Raw(manage::RawArgs),
    /// Work with BPF programs on the host (`ushell prog run`).
    #[command(subcommand)]
    Prog(prog_run::ProgCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if cli.version {
        print!("{}", kernel_image::version_text());
        return ExitCode::SUCCESS;
    }
    let instance = cli.instance.as_deref();
    let result = match cli.cmd {
        Some(Command::Run(args)) => {
            if instance.is_some() {
                Err(anyhow::anyhow!("`ushell run` names its instance with --name NAME, not -i"))
            } else {
                run::main(args)
            }
        }
        Some(Command::Verify(args)) => verify::main(args),
        Some(Command::Ps(a)) => manage::ps(a),
        Some(Command::Wait(a)) => manage::wait(a.pick(instance)),
        Some(Command::Stop(a)) => manage::stop(a.pick(instance)),
        Some(Command::Logs(a)) => manage::logs(instance, a),
        Some(Command::Rm(a)) => manage::rm(instance, a),
        Some(Command::Shell) | None => repl::main(instance),
        Some(Command::Trace(a)) => systrace::main(instance, a),
        Some(Command::Instance(c)) => manage::one_shot(instance, &c),
        Some(Command::Raw(a)) => manage::raw(instance, a),
        Some(Command::Prog(cmd)) => prog_run::main(cmd),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("ushell: error: {e:#}");
            ExitCode::from(runproto::HOST_FAILURE_STATUS as u8)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Cli {
        Cli::try_parse_from(std::iter::once("ushell").chain(args.iter().copied())).unwrap_or_else(|e| panic!("{args:?}: {e}"))
    }

    #[test]
    fn the_instance_option_goes_before_or_after_the_command() {
        for args in [&["-i", "web", "progs"][..], &["progs", "-i", "web"], &["--instance", "web", "progs", "-j"], &["progs", "--instance=web"]] {
            let c = parse(args);
            assert_eq!(c.instance.as_deref(), Some("web"), "{args:?}");
            assert!(matches!(c.cmd, Some(Command::Instance(InstanceCmd::Progs { .. }))), "{args:?}");
        }
        let c = parse(&["map", "dump", "counts", "-i", "web"]);
        assert_eq!(c.instance.as_deref(), Some("web"));
        let c = parse(&["-i", "web"]);
        assert!(c.cmd.is_none(), "the REPL");
        assert!(parse(&["progs"]).instance.is_none());
    }

    #[test]
    fn run_keeps_its_app_options() {
        // After APP everything is the app's, -i included.
        let c = parse(&["run", "-d", "--name", "w", "/bin/busybox", "grep", "-i", "x"]);
        assert!(c.instance.is_none());
        let Some(Command::Run(r)) = c.cmd else { panic!() };
        assert!(r.detach);
        assert_eq!(r.name.as_deref(), Some("w"));
        assert_eq!(r.command, ["/bin/busybox", "grep", "-i", "x"]);
    }

    #[test]
    fn instance_commands_parse() {
        let c = parse(&["exec", "get.o", "myfun", "--prog", "get_count"]);
        let Some(Command::Instance(InstanceCmd::Exec(a))) = c.cmd else { panic!() };
        assert_eq!((a.prog.as_str(), a.arg.as_deref(), a.which.as_deref()), ("get.o", Some("myfun"), Some("get_count")));
        assert!(matches!(parse(&["wait", "web"]).cmd, Some(Command::Wait(manage::NameArg { name: Some(_) }))));
        assert!(matches!(parse(&["ps", "-j"]).cmd, Some(Command::Ps(manage::PsArgs { json: true }))));
        assert!(Cli::try_parse_from(["ushell", "map", "update", "m", "1"]).is_err(), "VALUE is required");
    }

    #[test]
    fn tracer_commands_parse() {
        let Some(Command::Instance(InstanceCmd::Attach(a))) = parse(&["attach", "myfun", "fexit_check.o", "--args", "1", "-i", "w"]).cmd else { panic!() };
        assert_eq!((a.first.as_str(), a.second.as_deref(), a.nr_args, a.which), ("myfun", Some("fexit_check.o"), Some(1), None));
        let Some(Command::Instance(InstanceCmd::Attach(a))) = parse(&["attach", "count.o", "--prog", "count", "-j"]).cmd else { panic!() };
        assert_eq!((a.first.as_str(), a.second, a.which.as_deref(), a.json), ("count.o", None, Some("count"), true));
        assert!(Cli::try_parse_from(["ushell", "attach"]).is_err(), "PROG is required");
        assert!(Cli::try_parse_from(["ushell", "attach", "f", "p.o", "--args", "7"]).is_err(), "at most 6 arguments");
        assert!(Cli::try_parse_from(["ushell", "attach", "f", "p.o", "extra"]).is_err());
        let Some(Command::Instance(InstanceCmd::Detach(d))) = parse(&["detach", "notify"]).cmd else { panic!() };
        assert_eq!((d.first.as_str(), d.second), ("notify", None));
        assert!(matches!(parse(&["list"]).cmd, Some(Command::Instance(InstanceCmd::List { func: None, json: false }))));
        let Some(Command::Instance(InstanceCmd::List { func, json })) = parse(&["list", "myfun", "-j"]).cmd else { panic!() };
        assert_eq!((func.as_deref(), json), (Some("myfun"), true));
        let Some(Command::Instance(InstanceCmd::Sites { pattern, limit, .. })) = parse(&["sites"]).cmd else { panic!() };
        assert_eq!((pattern.as_str(), limit), ("*", 100));
        let Some(Command::Instance(InstanceCmd::Disas { func, count, .. })) = parse(&["disas", "myfun"]).cmd else { panic!() };
        assert_eq!((func.as_str(), count), ("myfun", 8));
        let Some(Command::Instance(InstanceCmd::Disas { count, .. })) = parse(&["disas", "-n", "3", "myfun"]).cmd else { panic!() };
        assert_eq!(count, 3);
        assert!(Cli::try_parse_from(["ushell", "disas", "-n", "0", "f"]).is_err());
        let Some(Command::Instance(InstanceCmd::Exec(e))) = parse(&["exec", "get_count", "--func", "myfun"]).cmd else { panic!() };
        assert_eq!((e.prog.as_str(), e.func.as_deref(), e.arg), ("get_count", Some("myfun"), None));
        assert!(Cli::try_parse_from(["ushell", "exec", "get_count", "7", "--func", "myfun"]).is_err(), "ARG or --func");
    }

    #[test]
    fn trace_commands_parse() {
        let Some(Command::Trace(t)) = parse(&["trace", "web", "-e", "openat,read", "-T", "-o", "x.txt", "--ring", "65536"]).cmd else { panic!() };
        assert_eq!((t.name.as_deref(), t.syscalls.as_deref(), t.time, t.ring), (Some("web"), Some("openat,read"), true, Some(65536)));
        assert_eq!(t.output.as_deref(), Some(std::path::Path::new("x.txt")));
        let Some(Command::Trace(t)) = parse(&["trace", "-c", "-i", "web"]).cmd else { panic!() };
        assert!(t.summary && t.name.is_none());
        let Some(Command::Trace(t)) = parse(&["trace", "--hist", "nanosleep", "--duration", "2"]).cmd else { panic!() };
        assert_eq!((t.hist.as_deref(), t.duration), (Some("nanosleep"), Some(2.0)));
        assert!(Cli::try_parse_from(["ushell", "trace", "--hist", "read", "-c"]).is_err());
        assert!(Cli::try_parse_from(["ushell", "trace", "-c", "-j"]).is_err());
        let Some(Command::Run(r)) = parse(&["run", "--trace", "-c", "-o", "t.txt", "./app", "-c"]).cmd else { panic!() };
        assert_eq!((r.trace.as_deref(), r.summary, r.command.len()), (Some("all"), true, 2));
        let Some(Command::Run(r)) = parse(&["run", "--trace=openat,read", "-T", "./app"]).cmd else { panic!() };
        assert_eq!((r.trace.as_deref(), r.trace_time), (Some("openat,read"), true));
        assert!(Cli::try_parse_from(["ushell", "run", "-c", "./app"]).is_err(), "-c needs --trace");
        assert!(Cli::try_parse_from(["ushell", "run", "-d", "--trace", "./app"]).is_err(), "not detached");
    }

    #[test]
    fn clap_definitions_are_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
