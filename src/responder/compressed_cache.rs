//! Files compressed whole, kept for the next request that asks for the same coding: a text file
//! is compressed once, not once per response (`--compress-cache MIB`).
//!
//! Whoever sends a connection's responses owns one and shares it between the connections of one
//! server: the native host (for both engines: a sandboxed connection asks its host with
//! `Step::Encode`) and the in-guest server of `wasmtime run`. What is kept is made here, from the
//! file's own bytes, by the code that keeps it: a connection (or the guest serving it) chooses
//! which file and coding, never the bytes, so no connection can decide what another is sent.
//!
//! An entry is keyed by the file's [`Identity`] (device and inode, size, modification and
//! status-change times) read from the open handle on every request, and the coding. A file
//! rewritten in place changes its status-change time (which no user can set back), so it is
//! compressed again; what the key cannot see is a second write of the same size within the
//! file system's clock tick after a compression read the first. To keep that window closed, a
//! file changed within the last [`SETTLE`] is compressed but not kept, nor is one whose identity
//! changed while it was read (its bytes are sent, as a body sent as it is would be). Under
//! `wasmtime run` the runtime reports the creation time where the status-change time belongs,
//! so there a same-size rewrite that puts the modification time back (`cp -p`) is sent as kept
//! until it is dropped. Entries are evicted least recently used first once their bytes pass the
//! budget.

use std::io;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::fs::{Identity, OpenFile};
use crate::responder::compression;
use crate::responder::encoding::Coding;
use crate::responder::response::{Body, Response, read_whole};

/// A file changed this recently is compressed for the request but not kept: it may be being
/// written still, faster than its times can show.
pub const SETTLE: Duration = Duration::from_secs(2);

/// What an entry costs besides its bytes (its key, the list node and map slot, the shared
/// buffer's counts), rounded up.
const ENTRY_OVERHEAD: usize = 256;

/// Why a file could not be compressed whole.
#[derive(Debug)]
pub enum EncodeError {
    /// It is not a regular file of the promised length, or it changed while it was read.
    Changed,
    /// It is longer than [`compression::WHOLE_MAX`]: such a file is compressed as it is sent.
    TooLarge,
    /// Reading it failed.
    Io(io::Error),
    /// The connection's caller went on without compressing it.
    Unanswered,
}

/// Fields of a compressed response that describe its representation, which a `500` sent in its
/// place must not carry (the others — CORS, `--header` fields, `Vary` — it keeps).
const REPRESENTATION_FIELDS: [&str; 6] = [
    "Content-Type",
    "Content-Encoding",
    "ETag",
    "Last-Modified",
    "Accept-Ranges",
    "Cache-Control",
];

impl EncodeError {
    /// The answer instead of `compressed`, the response whose file could not be compressed: a
    /// `500` (the response's length cannot be promised; never part of the file as the whole),
    /// with the fields it had that do not describe the file.
    pub fn response(&self, compressed: &Response) -> Response {
        let message = match self {
            EncodeError::Changed => "The file changed while it was read.",
            EncodeError::Io(_) => "The file could not be read.",
            EncodeError::TooLarge | EncodeError::Unanswered => "The file could not be compressed.",
        };
        let mut response = Response::error(500, message);
        let kept = compressed.headers.iter().filter(|(name, _)| {
            !REPRESENTATION_FIELDS
                .iter()
                .any(|field| name.eq_ignore_ascii_case(field))
        });
        response.headers.extend(kept.cloned());
        response
    }
}

/// `response` with its body compressed here and now, if it is still to be compressed whole:
/// for a door that keeps nothing between requests (wasi:http, where each request has its own
/// instance).
pub fn compress_here(mut response: Response) -> Response {
    let Some((send, coding)) = response.body.take_whole() else {
        return response;
    };
    match compress_file(&send.file, send.len, coding) {
        Ok(bytes) => {
            response.body = Body::bytes(bytes);
            response
        }
        Err(error) => error.response(&response),
    }
}

impl From<io::Error> for EncodeError {
    fn from(error: io::Error) -> EncodeError {
        EncodeError::Io(error)
    }
}

/// What a lookup found: the bytes kept, or what to fill.
#[derive(Debug)]
pub enum Lookup {
    Hit(Arc<[u8]>),
    Miss(Miss),
}

/// A file to compress: its key, and the length the response promised. A file found longer than
/// that (it grew since it was looked at) is compressed as its first `len` bytes, as a body sent
/// as it is would be, but not kept.
#[derive(Debug, Clone, Copy)]
pub struct Miss {
    key: Key,
    len: u64,
}

/// An entry's key: which version of which file, in which coding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key {
    identity: Identity,
    coding: Coding,
}

/// Compressed files, up to a budget of bytes; shared by reference between connections.
#[derive(Debug)]
pub struct CompressedCache {
    budget: usize,
    inner: Mutex<Entries>,
}

#[derive(Debug)]
struct Entries {
    map: lru::LruCache<Key, Arc<[u8]>>,
    /// What the entries cost, counted as [`cost`] does.
    bytes: usize,
}

fn cost(bytes: &[u8]) -> usize {
    bytes.len() + ENTRY_OVERHEAD
}

impl CompressedCache {
    /// A cache keeping at most `budget` bytes (0 keeps nothing: every request compresses).
    pub fn new(budget: usize) -> Arc<CompressedCache> {
        Arc::new(CompressedCache {
            budget,
            inner: Mutex::new(Entries {
                map: lru::LruCache::unbounded(),
                bytes: 0,
            }),
        })
    }

    /// The bytes kept for `file` (`len` bytes, as the response promised) in `coding`, or the key
    /// to [`CompressedCache::fill`]. One `fstat` of the handle; no read.
    pub fn lookup(&self, file: &OpenFile, len: u64, coding: Coding) -> Result<Lookup, EncodeError> {
        let identity = checked_identity(file, len)?;
        let key = Key { identity, coding };
        if identity.len == len
            && let Some(bytes) = self.lock().map.get(&key)
        {
            return Ok(Lookup::Hit(bytes.clone()));
        }
        Ok(Lookup::Miss(Miss { key, len }))
    }

    /// Compresses `file` (from a [`CompressedCache::lookup`] that missed) and keeps the result:
    /// [`read`] then [`CompressedCache::fill_from`].
    pub fn fill(
        &self,
        miss: Miss,
        file: &OpenFile,
        now: SystemTime,
    ) -> Result<Arc<[u8]>, EncodeError> {
        let source = read(miss, file)?;
        self.fill_from(miss, &source, file, now)
    }

    /// Compresses `source` (what [`read`] read of `file` for `miss`) and keeps the result if the
    /// file is whole as promised, settled at `now`, and did not change while it was read (if it
    /// did, the bytes are sent, as a body sent as it is would be, but not kept). The slow part,
    /// run without the lock: two connections missing at once both compress, and the second's
    /// result is kept.
    pub fn fill_from(
        &self,
        miss: Miss,
        source: &[u8],
        file: &OpenFile,
        now: SystemTime,
    ) -> Result<Arc<[u8]>, EncodeError> {
        let Miss { key, len } = miss;
        let bytes: Arc<[u8]> = compression::compress(key.coding, source).into();
        let keep = key.identity.len == len
            && settled(&key.identity, now)
            && file.identity()? == key.identity;
        if keep {
            self.keep(key, bytes.clone());
        }
        Ok(bytes)
    }

    /// [`CompressedCache::lookup`], then [`CompressedCache::fill`] on a miss.
    pub fn encode(
        &self,
        file: &OpenFile,
        len: u64,
        coding: Coding,
        now: SystemTime,
    ) -> Result<Arc<[u8]>, EncodeError> {
        match self.lookup(file, len, coding)? {
            Lookup::Hit(bytes) => Ok(bytes),
            Lookup::Miss(miss) => self.fill(miss, file, now),
        }
    }

    /// Bytes the entries cost now.
    pub fn held(&self) -> usize {
        self.lock().bytes
    }

    fn keep(&self, key: Key, bytes: Arc<[u8]>) {
        let size = cost(&bytes);
        if size > self.budget {
            return;
        }
        let mut entries = self.lock();
        if let Some(old) = entries.map.put(key, bytes) {
            entries.bytes -= cost(&old);
        }
        entries.bytes += size;
        while entries.bytes > self.budget {
            match entries.map.pop_lru() {
                Some((_, old)) => entries.bytes -= cost(&old),
                None => break,
            }
        }
    }

    /// The entries; a panic elsewhere while they were held leaves them consistent (each change
    /// is one map operation and one count), so a poisoned lock is taken as it is.
    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// `file` compressed whole in `coding`, read as `len` bytes (no cache): for a door that keeps
/// none.
pub fn compress_file(file: &OpenFile, len: u64, coding: Coding) -> Result<Vec<u8>, EncodeError> {
    checked_identity(file, len)?;
    Ok(compression::compress(coding, &read_source(file, len)?))
}

/// The `len` bytes of `file` a miss is to compress (the slow part, which a host may run apart
/// from compressing: the folder's file system may be slow).
pub fn read(miss: Miss, file: &OpenFile) -> Result<Vec<u8>, EncodeError> {
    read_source(file, miss.len)
}

/// The first `len` bytes of `file`, at most [`compression::WHOLE_MAX`].
fn read_source(file: &OpenFile, len: u64) -> Result<Vec<u8>, EncodeError> {
    if len > compression::WHOLE_MAX {
        return Err(EncodeError::TooLarge);
    }
    read_whole(file, len).map_err(|error| match error.kind() {
        io::ErrorKind::UnexpectedEof => EncodeError::Changed,
        _ => EncodeError::Io(error),
    })
}

/// The identity of `file`, which must be a regular file of at least `len` bytes (what the
/// response promised): a file that shrank since it was looked at is refused, never compressed.
fn checked_identity(file: &OpenFile, len: u64) -> Result<Identity, EncodeError> {
    if len > compression::WHOLE_MAX {
        return Err(EncodeError::TooLarge);
    }
    let identity = file.identity()?;
    if !identity.regular || identity.len < len {
        return Err(EncodeError::Changed);
    }
    Ok(identity)
}

/// Whether the file last changed at least [`SETTLE`] before `now` (and not in `now`'s future).
fn settled(identity: &Identity, now: SystemTime) -> bool {
    let Ok(now) = now.duration_since(UNIX_EPOCH) else {
        return false;
    };
    let last = identity.modified_ns.max(identity.changed_ns);
    last > 0 && last + SETTLE.as_nanos() as i128 <= now.as_nanos() as i128
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::responder::compression::tests::decode;
    use crate::test_support::TempDir;

    fn open(dir: &TempDir, name: &str) -> OpenFile {
        let root = crate::fs::Folder::root(dir.path()).unwrap();
        match root.open(name).unwrap() {
            crate::fs::Opened::File(file, _) => file,
            other => panic!("not a file: {other:?}"),
        }
    }

    fn later() -> SystemTime {
        SystemTime::now() + SETTLE * 2
    }

    /// A folder holding `a.txt`, 2,000 bytes of `a`, opened; and an empty cache of a mebibyte.
    fn a_file() -> (TempDir, OpenFile, Arc<CompressedCache>) {
        let dir = TempDir::new();
        std::fs::write(dir.path().join("a.txt"), "a".repeat(2000)).unwrap();
        let file = open(&dir, "a.txt");
        (dir, file, CompressedCache::new(1 << 20))
    }

    #[test]
    fn a_file_is_compressed_once_and_served_from_then_on() {
        let dir = TempDir::new();
        let text = "body { color: red }\n".repeat(100);
        std::fs::write(dir.path().join("a.css"), &text).unwrap();
        let cache = CompressedCache::new(1 << 20);
        let file = open(&dir, "a.css");
        let len = text.len() as u64;
        let Lookup::Miss(miss) = cache.lookup(&file, len, Coding::Gzip).unwrap() else {
            panic!("an empty cache has nothing");
        };
        let made = cache.fill(miss, &file, later()).unwrap();
        assert_eq!(decode(Coding::Gzip, &made), text.as_bytes());
        let Lookup::Hit(kept) = cache
            .lookup(&open(&dir, "a.css"), len, Coding::Gzip)
            .unwrap()
        else {
            panic!("a settled file is kept");
        };
        assert!(Arc::ptr_eq(&kept, &made));
        // Another coding is another entry.
        assert!(matches!(
            cache.lookup(&file, len, Coding::Brotli).unwrap(),
            Lookup::Miss(_)
        ));
    }

    #[test]
    fn a_file_changed_in_place_is_compressed_again() {
        let (dir, file, cache) = a_file();
        let path = dir.path().join("a.txt");
        let first = cache.encode(&file, 2000, Coding::Gzip, later()).unwrap();
        // Same size, modification time put back: the status-change time still moves.
        let modified = std::fs::metadata(&path).unwrap().modified().unwrap();
        std::thread::sleep(Duration::from_millis(20));
        std::fs::write(&path, "b".repeat(2000)).unwrap();
        std::fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(modified)
            .unwrap();
        let second = cache
            .encode(&open(&dir, "a.txt"), 2000, Coding::Gzip, later())
            .unwrap();
        assert_eq!(decode(Coding::Gzip, &first), "a".repeat(2000).as_bytes());
        assert_eq!(decode(Coding::Gzip, &second), "b".repeat(2000).as_bytes());
    }

    #[test]
    fn a_file_changed_just_now_is_compressed_but_not_kept() {
        let (_dir, file, cache) = a_file();
        cache
            .encode(&file, 2000, Coding::Gzip, SystemTime::now())
            .unwrap();
        assert_eq!(cache.held(), 0);
        assert!(matches!(
            cache.lookup(&file, 2000, Coding::Gzip).unwrap(),
            Lookup::Miss(_)
        ));
    }

    #[test]
    fn a_file_grown_is_compressed_as_promised_and_not_kept_and_one_shrunk_is_refused() {
        let (_dir, file, cache) = a_file();
        let grown = cache.encode(&file, 1999, Coding::Gzip, later()).unwrap();
        assert_eq!(decode(Coding::Gzip, &grown), "a".repeat(1999).as_bytes());
        assert_eq!(
            cache.held(),
            0,
            "only a file of the promised length is kept"
        );
        assert!(matches!(
            cache.encode(&file, 2001, Coding::Gzip, later()),
            Err(EncodeError::Changed)
        ));
        assert!(matches!(
            compress_file(&file, compression::WHOLE_MAX + 1, Coding::Gzip),
            Err(EncodeError::TooLarge)
        ));
    }

    #[test]
    fn the_least_recently_used_go_first_once_past_the_budget() {
        let dir = TempDir::new();
        for name in ["a", "b", "c"] {
            // Incompressible bytes: each entry costs about its 4 KB.
            let mut x = u64::from(name.as_bytes()[0]);
            let bytes: Vec<u8> = (0..4096)
                .map(|_| {
                    x = x
                        .wrapping_mul(6_364_136_223_846_793_005)
                        .wrapping_add(1_442_695_040_888_963_407);
                    (x >> 56) as u8
                })
                .collect();
            std::fs::write(dir.path().join(name), bytes).unwrap();
        }
        let cache = CompressedCache::new(9000);
        for name in ["a", "b", "a", "c"] {
            cache
                .encode(&open(&dir, name), 4096, Coding::Gzip, later())
                .unwrap();
        }
        assert!(cache.held() <= 9000);
        let kept = |name| {
            matches!(
                cache.lookup(&open(&dir, name), 4096, Coding::Gzip).unwrap(),
                Lookup::Hit(_)
            )
        };
        assert!(
            kept("a") && kept("c") && !kept("b"),
            "b was used least recently"
        );
        let none = CompressedCache::new(0);
        none.encode(&open(&dir, "a"), 4096, Coding::Gzip, later())
            .unwrap();
        assert_eq!(none.held(), 0, "a budget of 0 keeps nothing");
    }
}
