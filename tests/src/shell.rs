//! The debug shell from the host's side, without `host-cli`'s supervisor:
//! `ushell run` boots the app with an extra virtconsole (through a
//! `USHELL_QEMU` wrapper script that appends the device arguments), whose
//! chardev is a unix socket this side listens on; the test then speaks
//! shellproto on it directly.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use shellproto::{ClientMsg, Event, FrameError, Hello, MessageDecoder, Reply, Request, ServerMsg, ShellError};

use crate::locate::{kernel_image, ushell_bin};

/// The QEMU device arguments that attach the shell's console: port 0 of a
/// virtio-serial device on microvm's virtio-mmio, its chardev a unix socket
/// QEMU connects to (the host listens).
pub fn console_args(socket: &Path) -> Vec<String> {
    vec![
        "-device".into(),
        "virtio-serial-device".into(),
        "-chardev".into(),
        format!("socket,id=ushell0,path={}", socket.display()),
        "-device".into(),
        "virtconsole,chardev=ushell0".into(),
    ]
}

/// How to start the VM.
#[derive(Debug, Clone)]
pub struct ShellVmConfig {
    pub app: PathBuf,
    pub args: Vec<String>,
    pub kernel_args: String,
    /// `--timeout` for `ushell run`.
    pub timeout_secs: u64,
    /// Adds `-icount shift=0,sleep=off` (guest TSC = instructions).
    pub icount: bool,
    pub accel: String,
}

/// A running `ushell run` with the shell's console connected.
pub struct ShellVm {
    child: Child,
    pub client: Client,
    stdout: Option<JoinHandle<Vec<u8>>>,
    stderr_lines: Arc<Mutex<Vec<String>>>,
    stderr: Option<JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

/// What the run left when it ended.
#[derive(Debug)]
pub struct ShellVmOutput {
    pub status: Option<i32>,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

impl ShellVm {
    /// Starts the VM and waits (at most 60 s) for QEMU to connect.
    pub fn start(cfg: &ShellVmConfig) -> ShellVm {
        ShellVm::start_with_kernel(cfg, &kernel_image())
    }

    /// [`ShellVm::start`] with another kernel image (a build with other
    /// features, for a benchmark's baseline).
    pub fn start_with_kernel(cfg: &ShellVmConfig, kernel: &Path) -> ShellVm {
        let dir = tempfile::tempdir().expect("temp dir");
        let sock = dir.path().join("console.sock");
        let listener = UnixListener::bind(&sock).expect("bind the console socket");
        let wrapper = dir.path().join("qemu-shell.sh");
        // `ushell run` attaches the console itself, to its supervisor's
        // socket; the wrapper points that chardev at this side's socket
        // instead, so the test speaks to the guest directly.
        let console = console_args(&sock)[3].clone();
        let mut extra: Vec<String> = Vec::new();
        if cfg.icount {
            extra.extend(["-icount".into(), "shift=0,sleep=off".into()]);
        }
        let quoted: Vec<String> = extra.iter().map(|a| format!("'{a}'")).collect();
        let script = format!(
            "#!/bin/sh\nn=$#\nfor a in \"$@\"; do\n  case \"$a\" in socket,id=ushell0,*) a='{console}';; esac\n  set -- \"$@\" \"$a\"\ndone\nshift $n\nexec qemu-system-x86_64 \"$@\" {}\n",
            quoted.join(" ")
        );
        std::fs::write(&wrapper, script).expect("write the QEMU wrapper");
        std::fs::set_permissions(&wrapper, std::os::unix::fs::PermissionsExt::from_mode(0o755)).expect("chmod the wrapper");

        let mut cmd = Command::new(ushell_bin());
        cmd.args(["run", "--rm", "--accel", &cfg.accel, "--timeout", &cfg.timeout_secs.to_string(), "--"])
            .arg(&cfg.app)
            .args(&cfg.args)
            .env("USHELL_KERNEL", kernel)
            .env("USHELL_KERNEL_ARGS", &cfg.kernel_args)
            .env("USHELL_QEMU", &wrapper)
            .env("XDG_RUNTIME_DIR", crate::vm::runtime_parent())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        let mut child = cmd.spawn().expect("start ushell run");
        let mut out = child.stdout.take().expect("stdout");
        let stdout = std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = out.read_to_end(&mut v);
            v
        });
        let lines = Arc::new(Mutex::new(Vec::new()));
        let err = child.stderr.take().expect("stderr");
        let sink = lines.clone();
        let stderr = std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        listener.set_nonblocking(true).expect("nonblocking listener");
        let deadline = Instant::now() + Duration::from_secs(60);
        let stream = loop {
            match listener.accept() {
                Ok((s, _)) => break s,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock && Instant::now() < deadline => {
                    if let Ok(Some(st)) = child.try_wait() {
                        panic!("ushell exited ({st}) before QEMU connected to the console\n{}", lines.lock().unwrap().join("\n"));
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e) => {
                    let _ = Command::new("kill").args(["-KILL", "--", &format!("-{}", child.id())]).status();
                    panic!("QEMU did not connect to the console socket: {e}");
                }
            }
        };
        stream.set_nonblocking(false).expect("blocking stream");
        ShellVm { child, client: Client::new(stream), stdout: Some(stdout), stderr_lines: lines, stderr: Some(stderr), _dir: dir }
    }

    /// The stderr lines seen so far (app stderr and the kernel log).
    pub fn stderr_so_far(&self) -> Vec<String> {
        self.stderr_lines.lock().unwrap().clone()
    }

    /// Waits for `ushell run` to end (killing it after `limit`).
    pub fn wait(mut self, limit: Duration) -> ShellVmOutput {
        let deadline = Instant::now() + limit;
        let status = loop {
            if let Some(st) = self.child.try_wait().expect("wait") {
                break st.code();
            }
            if Instant::now() > deadline {
                let _ = Command::new("kill").args(["-KILL", "--", &format!("-{}", self.child.id())]).status();
                let _ = self.child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let stdout = self.stdout.take().map(|h| h.join().unwrap_or_default()).unwrap_or_default();
        if let Some(h) = self.stderr.take() {
            let _ = h.join();
        }
        let stderr = self.stderr_lines.lock().unwrap().join("\n");
        ShellVmOutput { status, stdout, stderr }
    }
}

impl Drop for ShellVm {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = Command::new("kill").args(["-KILL", "--", &format!("-{}", self.child.id())]).status();
            let _ = self.child.wait();
        }
    }
}

/// What came back for one request.
#[derive(Debug)]
pub struct Answer {
    /// Events that arrived before the reply (program output).
    pub events: Vec<Event>,
    /// Frames the kernel could not decode, reported meanwhile.
    pub bad_frames: Vec<FrameError>,
    pub result: Result<Reply, ShellError>,
    /// From sending the request to receiving its reply.
    pub elapsed: Duration,
}

/// One connection to the guest's console, speaking shellproto.
pub struct Client {
    stream: Arc<Mutex<UnixStream>>,
    incoming: Receiver<Result<ServerMsg, FrameError>>,
    next_id: u32,
    /// The window of the `FlowStarted` reply, from the reader, which then
    /// confirms what it reads ([`Client::flow_control`]).
    flow: Receiver<u32>,
    /// Whether the reader holds its confirmations, and the last one it
    /// held ([`Client::hold_flow`]).
    held: Arc<Mutex<(bool, Option<u64>)>>,
}

/// How long a request may wait for its reply.
const REPLY_TIMEOUT: Duration = Duration::from_secs(30);
/// The id of this side's `FlowStart` and `FlowRead` (never a request's).
const FLOW_ID: u32 = u32::MAX;

/// The `FlowRead` frame confirming `read` bytes.
fn flow_read(read: u64) -> Vec<u8> {
    shellproto::encode(&ClientMsg { id: FLOW_ID, req: Request::FlowRead { read } }).unwrap()
}

impl Client {
    fn new(stream: UnixStream) -> Client {
        let (tx, rx) = channel();
        let mut reader = stream.try_clone().expect("clone the stream");
        let stream = Arc::new(Mutex::new(stream));
        let (started, flow) = channel();
        let writer = stream.clone();
        let held = Arc::new(Mutex::new((false, None)));
        let hold = held.clone();
        std::thread::spawn(move || {
            let mut dec = MessageDecoder::<ServerMsg>::new();
            let mut buf = vec![0u8; 64 * 1024];
            // Flow control, as the supervisor does it.
            let (mut total, mut confirm) = (0u64, shellproto::flow::Confirmer::default());
            loop {
                let n = match reader.read(&mut buf) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => n,
                };
                let mut input = &buf[..n];
                while let Some(m) = dec.next(&mut input) {
                    if let Ok(ServerMsg::Reply { id: FLOW_ID, result }) = &m {
                        let window = match result {
                            Ok(Reply::FlowStarted { window }) => *window,
                            other => panic!("the kernel refused flow control: {other:?}"),
                        };
                        confirm.started(total + (n - input.len()) as u64, window);
                        let _ = started.send(window);
                        continue;
                    }
                    if tx.send(m).is_err() {
                        return;
                    }
                }
                total += n as u64;
                if let Some(read) = confirm.read(total) {
                    let mut h = hold.lock().unwrap();
                    if h.0 {
                        h.1 = Some(read);
                        continue;
                    }
                    if writer.lock().unwrap().write_all(&flow_read(read)).is_err() {
                        return;
                    }
                }
            }
        });
        Client { stream, incoming: rx, next_id: 1, flow, held }
    }

    /// Holds (`true`) the reader's confirmations, as a client that falls
    /// behind: it still reads, but the kernel stops sending once a window
    /// is unconfirmed. `false` confirms what was read meanwhile and goes on.
    pub fn hold_flow(&mut self, hold: bool) {
        let held = {
            let mut h = self.held.lock().unwrap();
            h.0 = hold;
            if hold { None } else { h.1.take() }
        };
        if let Some(read) = held {
            self.send_raw(&flow_read(read));
        }
    }

    /// Turns on flow control (what the supervisor does for every session):
    /// the kernel then keeps at most a window of output unconfirmed, and
    /// this client's reader confirms what it reads, so QEMU's virtconsole
    /// never drops output the socket could not take. Returns the window.
    pub fn flow_control(&mut self) -> u32 {
        self.send_raw(&shellproto::encode(&ClientMsg { id: FLOW_ID, req: Request::FlowStart }).unwrap());
        self.flow.recv_timeout(REPLY_TIMEOUT).unwrap_or_else(|e| panic!("no FlowStarted within {REPLY_TIMEOUT:?}: {e}"))
    }

    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.lock().unwrap().write_all(bytes).expect("write to the console socket");
    }

    /// The next message from the guest, or None after `timeout`.
    pub fn next_msg(&mut self, timeout: Duration) -> Option<Result<ServerMsg, FrameError>> {
        match self.incoming.recv_timeout(timeout) {
            Ok(m) => Some(m),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => None,
        }
    }

    /// Sends `req` and waits for its reply, collecting what came before.
    pub fn request(&mut self, req: Request) -> Answer {
        let id = self.next_id;
        self.next_id += 1;
        let frame = shellproto::encode(&ClientMsg { id, req }).expect("encode the request");
        let start = Instant::now();
        self.send_raw(&frame);
        let mut events = Vec::new();
        let mut bad_frames = Vec::new();
        loop {
            let left = REPLY_TIMEOUT.saturating_sub(start.elapsed());
            match self.next_msg(left) {
                Some(Ok(ServerMsg::Reply { id: got, result })) if got == id => {
                    return Answer { events, bad_frames, result, elapsed: start.elapsed() };
                }
                Some(Ok(ServerMsg::Reply { id: got, .. })) => panic!("reply for request {got} while waiting for {id}"),
                Some(Ok(ServerMsg::Event(e))) => events.push(e),
                Some(Ok(ServerMsg::BadFrame(e))) => bad_frames.push(e),
                Some(Err(e)) => panic!("the kernel sent a frame this side cannot decode: {e}"),
                None => panic!("no reply to request {id} within {REPLY_TIMEOUT:?}"),
            }
        }
    }

    /// The session's hello; panics unless the kernel accepts it.
    pub fn hello(&mut self) -> shellproto::HelloReply {
        // A lone delimiter ends whatever a previous peer left half-sent.
        self.send_raw(&[0]);
        let a = self.request(Request::Hello(Hello { version: shellproto::VERSION, client: "e2e".into() }));
        match a.result {
            Ok(Reply::Hello(h)) => h,
            other => panic!("hello refused: {other:?}"),
        }
    }

    /// Uploads `bytes` as `name` in chunks of `chunk` bytes and commits
    /// (`UploadCommit`: the kernel's default engine, the JIT).
    pub fn load(&mut self, name: &str, bytes: &[u8], chunk: usize) -> Answer {
        self.load_with(name, bytes, chunk, None)
    }

    /// [`Client::load`], committing with `UploadCommitWith` when an engine
    /// is given.
    pub fn load_with(&mut self, name: &str, bytes: &[u8], chunk: usize, engine: Option<shellproto::Engine>) -> Answer {
        let a = self.request(Request::UploadBegin { name: name.into(), size: bytes.len() as u32 });
        let upload = match a.result {
            Ok(Reply::UploadReady { upload }) => upload,
            _ => return a,
        };
        for (i, c) in bytes.chunks(chunk).enumerate() {
            let a = self.request(Request::UploadChunk { upload, offset: (i * chunk) as u32, data: c.to_vec() });
            if a.result.is_err() {
                return a;
            }
        }
        match engine {
            None => self.request(Request::UploadCommit { upload }),
            Some(engine) => self.request(Request::UploadCommitWith { upload, engine }),
        }
    }
}
