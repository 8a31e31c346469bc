//! The runtime directory's permissions, records and stale-record cleanup,
//! on real files in a temporary directory.

use std::os::unix::fs::{MetadataExt, PermissionsExt};

use super::record::now_unix;
use super::*;

fn mode(p: &Path) -> u32 {
    std::fs::symlink_metadata(p).unwrap().mode() & 0o777
}

pub(crate) fn record(name: &str, dir: &RuntimeDir, pid: ProcessId, state: State) -> Record {
    let inst = dir.instance(name);
    Record {
        name: name.into(),
        state,
        pid,
        qemu_pid: None,
        app: "/bin/app".into(),
        args: vec!["x y".into()],
        detached: true,
        started_unix: now_unix(),
        finished_unix: None,
        status: (state == State::Exited).then_some(3),
        message: None,
        socket: inst.socket(),
        log: inst.log(),
        remove_on_exit: false,
    }
}

fn add(dir: &RuntimeDir, r: &Record) {
    let inst = dir.instance(&r.name);
    private_dir(&inst.dir).unwrap();
    r.write(&inst.record()).unwrap();
}

/// A process id that is certainly dead: a reaped child's.
fn dead_pid() -> ProcessId {
    let mut c = std::process::Command::new("sleep").arg("0").spawn().unwrap();
    let id = ProcessId::of(c.id()).unwrap_or(ProcessId { pid: c.id(), start_ticks: 1 });
    c.wait().unwrap();
    id
}

#[test]
fn the_runtime_dir_location_follows_xdg() {
    assert_eq!(RuntimeDir::location(Some("/run/user/7".as_ref()), 7), Path::new("/run/user/7/ushell"));
    assert_eq!(RuntimeDir::location(None, 7), Path::new("/tmp/ushell-7"));
    assert_eq!(RuntimeDir::location(Some("relative".as_ref()), 9), Path::new("/tmp/ushell-9"), "XDG says: ignore relative");
}

#[test]
fn the_runtime_dir_is_0700_even_when_it_existed_with_other_bits() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("ushell");
    let d = RuntimeDir::open_at(&p).unwrap();
    assert_eq!(mode(d.path()), 0o700);
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    RuntimeDir::open_at(&p).unwrap();
    assert_eq!(mode(&p), 0o700);
}

#[test]
fn a_symlink_or_a_file_is_not_a_runtime_dir() {
    let tmp = tempfile::tempdir().unwrap();
    let real = tmp.path().join("real");
    std::fs::create_dir(&real).unwrap();
    let link = tmp.path().join("link");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let e = RuntimeDir::open_at(&link).unwrap_err();
    assert!(matches!(e, InstanceError::NotPrivate { .. }) && e.to_string().contains("not a directory"), "{e}");
    let file = tmp.path().join("file");
    std::fs::write(&file, "").unwrap();
    assert!(RuntimeDir::open_at(&file).is_err());
}

#[test]
fn records_round_trip_and_exited_ones_are_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let d = RuntimeDir::open_at(&tmp.path().join("u")).unwrap();
    let live = record("live", &d, ProcessId::me().unwrap(), State::Running);
    let done = record("done", &d, dead_pid(), State::Exited);
    add(&d, &live);
    add(&d, &done);
    let l = d.list().unwrap();
    assert_eq!(l.records.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(), ["live", "done"]);
    assert!(l.removed_stale.is_empty());
    assert_eq!(d.find("done").unwrap(), done);
    assert_eq!(d.find("done").unwrap().state_text(), "exited (3)");
    assert_eq!(mode(&d.instance("live").dir), 0o700);
}

#[test]
fn stale_records_are_removed_not_listed_as_running() {
    let tmp = tempfile::tempdir().unwrap();
    let d = RuntimeDir::open_at(&tmp.path().join("u")).unwrap();
    add(&d, &record("ghost", &d, dead_pid(), State::Running));
    add(&d, &record("live", &d, ProcessId::me().unwrap(), State::Running));
    let l = d.list().unwrap();
    assert_eq!(l.removed_stale, ["ghost"]);
    assert_eq!(l.running().map(|r| r.name.as_str()).collect::<Vec<_>>(), ["live"]);
    assert!(!d.instance("ghost").dir.exists(), "its directory is gone");
    add(&d, &record("ghost2", &d, dead_pid(), State::Running));
    let e = d.find("ghost2").unwrap_err();
    assert!(matches!(e, InstanceError::Stale { .. }), "{e}");
}

#[test]
fn the_default_instance_is_the_only_running_one() {
    let tmp = tempfile::tempdir().unwrap();
    let d = RuntimeDir::open_at(&tmp.path().join("u")).unwrap();
    let e = d.resolve(None, false).unwrap_err();
    assert!(matches!(e, InstanceError::NoneRunning { .. }), "{e}");
    add(&d, &record("old", &d, dead_pid(), State::Exited));
    assert_eq!(d.resolve(None, true).unwrap().name, "old", "logs may mean the only exited one");
    assert!(d.resolve(None, false).unwrap_err().to_string().contains("exited: old"));
    add(&d, &record("a", &d, ProcessId::me().unwrap(), State::Running));
    assert_eq!(d.resolve(None, false).unwrap().name, "a");
    add(&d, &record("b", &d, ProcessId::me().unwrap(), State::Running));
    let e = d.resolve(None, false).unwrap_err();
    assert_eq!(e.to_string(), "2 instances are running (a, b); say which with -i NAME");
    assert_eq!(d.resolve(Some("b"), false).unwrap().name, "b");
    let e = d.resolve(Some("nope"), false).unwrap_err();
    assert!(e.to_string().contains("no instance `nope` (known: old, a, b)"), "{e}");
}

#[test]
fn only_exited_instances_can_be_removed() {
    let tmp = tempfile::tempdir().unwrap();
    let d = RuntimeDir::open_at(&tmp.path().join("u")).unwrap();
    add(&d, &record("a", &d, ProcessId::me().unwrap(), State::Running));
    add(&d, &record("b", &d, dead_pid(), State::Exited));
    assert!(matches!(d.remove("a"), Err(InstanceError::StillRunning { .. })));
    d.remove("b").unwrap();
    assert!(!d.instance("b").dir.exists());
    assert!(matches!(d.remove("b"), Err(InstanceError::NoSuchInstance { .. })));
}
