//! Makes a run an instance: its directory in the runtime directory, its
//! two sockets (bound before QEMU starts, so QEMU can connect), its log,
//! and the record that `ushell ps` reads.

use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::UnixListener;
use std::sync::Arc;

use crate::instance::log::InstanceLog;
use crate::instance::{self, InstanceDir, InstanceError, ProcessId, Record, RuntimeDir, State};
use crate::supervisor::bind_private;

use super::RunArgs;

/// `sun_path` holds 108 bytes with the terminating NUL.
const MAX_SOCKET_PATH: usize = 107;

pub struct Registered {
    pub inst: InstanceDir,
    pub record: Record,
    pub client_listener: UnixListener,
    pub console_listener: UnixListener,
    pub log: Arc<InstanceLog>,
}

pub fn register(args: &RunArgs) -> anyhow::Result<Registered> {
    let rt = RuntimeDir::open()?;
    // The detaching parent chose the name (and told the user).
    let given = super::detach::child_name().or_else(|| args.name.clone());
    let inst = match &given {
        Some(name) => {
            instance::validate_name(name)?;
            let inst = rt.instance(name);
            create_dir(&rt, &inst)?;
            inst
        }
        None => loop {
            let name = instance::generate_name(&args.app().to_string_lossy(), instance::random_seed(), |n| rt.instance(n).dir.exists());
            let inst = rt.instance(&name);
            match create_dir(&rt, &inst) {
                // Another run took the name between the check and here.
                Err(InstanceError::Exists { .. }) => continue,
                r => break r.map(|()| inst)?,
            }
        },
    };
    let longest = inst.console();
    if longest.as_os_str().as_bytes().len() > MAX_SOCKET_PATH {
        let _ = std::fs::remove_dir_all(&inst.dir);
        anyhow::bail!(
            "the instance socket path {} is longer than a unix socket allows ({MAX_SOCKET_PATH} bytes); \
             use a shorter --name or set XDG_RUNTIME_DIR to a shorter directory",
            longest.display()
        );
    }
    let bind = |p: std::path::PathBuf| bind_private(&p).map_err(|source| InstanceError::Io { what: "creating the socket", path: p, source });
    let client_listener = bind(inst.socket())?;
    let console_listener = bind(inst.console())?;
    let log = Arc::new(InstanceLog::open(&inst.log()).map_err(|source| InstanceError::Io { what: "creating", path: inst.log(), source })?);
    let record = Record {
        name: inst.name.clone(),
        state: State::Running,
        pid: ProcessId::me()?,
        qemu_pid: None,
        app: args.app().to_string_lossy().into_owned(),
        args: args.command[1..].iter().map(|a| a.to_string_lossy().into_owned()).collect(),
        detached: args.detach,
        started_unix: instance::now_unix(),
        finished_unix: None,
        status: None,
        message: None,
        socket: inst.socket(),
        log: inst.log(),
        remove_on_exit: args.rm,
    };
    Ok(Registered { inst, record, client_listener, console_listener, log })
}

/// Creates the instance's directory; a stale one of the same name (its
/// supervisor died) is replaced, a live or exited one is not.
fn create_dir(rt: &RuntimeDir, inst: &InstanceDir) -> Result<(), InstanceError> {
    use std::os::unix::fs::DirBuilderExt;
    for _ in 0..2 {
        match std::fs::DirBuilder::new().mode(0o700).create(&inst.dir) {
            Ok(()) => return instance::private_dir(&inst.dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => match rt.find(&inst.name) {
                Err(InstanceError::Stale { .. }) => continue,
                _ => return Err(InstanceError::Exists { name: inst.name.clone() }),
            },
            Err(source) => return Err(InstanceError::Io { what: "creating", path: inst.dir.clone(), source }),
        }
    }
    Err(InstanceError::Exists { name: inst.name.clone() })
}
