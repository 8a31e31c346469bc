//! Sends a BPF object to the kernel in chunks and has it loaded: one
//! `UploadBegin`, chunks of at most the kernel's `max_chunk` bytes, then
//! `UploadCommitWith` and the engine that is to run the programs. If a step fails the upload is aborted, so the kernel
//! keeps nothing half-received.

use std::path::Path;

use shellproto::{Engine, HelloReply, LoadedObject, Reply, Request, MAX_CHUNK};

use super::{ClientError, Conn};

pub fn load_file(conn: &Conn, hello: &HelloReply, path: &Path, engine: Engine) -> Result<LoadedObject, ClientError> {
    let bytes = std::fs::read(path).map_err(|source| ClientError::Read { path: path.into(), source })?;
    let name = path.file_name().map_or_else(|| path.to_string_lossy().into_owned(), |n| n.to_string_lossy().into_owned());
    load_bytes(conn, hello, &name, &bytes, engine).map_err(|e| match e {
        ClientError::BadObject { why, .. } => ClientError::BadObject { path: path.into(), why },
        e => e,
    })
}

pub fn load_bytes(conn: &Conn, hello: &HelloReply, name: &str, bytes: &[u8], engine: Engine) -> Result<LoadedObject, ClientError> {
    let bad = |why: String| ClientError::BadObject { path: name.into(), why };
    let size = u32::try_from(bytes.len()).ok().filter(|s| *s <= hello.max_object).ok_or_else(|| {
        bad(format!("{} bytes; the kernel accepts objects of at most {} bytes", bytes.len(), hello.max_object))
    })?;
    if size == 0 {
        return Err(bad("the file is empty".into()));
    }
    let upload = match conn.call(Request::UploadBegin { name: name.into(), size })? {
        Reply::UploadReady { upload } => upload,
        other => return Err(ClientError::Unexpected { request: "upload-begin", reply: format!("{other:?}") }),
    };
    let chunk = (hello.max_chunk as usize).clamp(1, MAX_CHUNK);
    for (i, piece) in bytes.chunks(chunk).enumerate() {
        let offset = (i * chunk) as u32;
        // A chunk the kernel refused ended the upload there; any other
        // failure (the connection) is cleaned up by the supervisor.
        conn.call(Request::UploadChunk { upload, offset, data: piece.to_vec() })?;
    }
    match conn.call(Request::UploadCommitWith { upload, engine })? {
        Reply::Loaded(obj) => Ok(obj),
        other => Err(ClientError::Unexpected { request: "upload-commit", reply: format!("{other:?}") }),
    }
}
