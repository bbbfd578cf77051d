//! Folder archives (`--archives`, `?download=tar|tar.gz|zip`): a folder's tree as one tar or zip
//! stream, made as it is sent.
//!
//! An [`Archive`] is a body source: a transport pulls it a piece at a time, as it pulls a file,
//! and it reads the folder only as far as it has sent: one member's file open at a time, one
//! folder's names per level of the walk ([`walk`]), and, for zip, the central directory (about
//! 60 bytes a member, at most [`MAX_DIRECTORY`]). No temporary file, no whole-folder buffer. Its
//! length is not known in advance, so it goes chunked (close-delimited to HTTP/1.0 clients) and
//! ranges are not offered. `tar.gz` is the tar stream gzip-compressed on the way out by the
//! body's encoder, as any body compressed on the fly.
//!
//! What the archive holds is what a request could fetch: [`walk`] opens every name through a
//! request's lookup. When the walk cannot go on within its bounds, the archive's last member is
//! `HHTTPP-INCOMPLETE.txt`, saying why (the archive's end follows it, so any reader shows it),
//! and the body then fails, so a transport cuts it (no last chunk, a reset stream): a client
//! sees it broken, never silently short. A file that shrinks
//! while it is archived cuts the body the same way; one that grows is archived at the size its
//! header announced.

pub mod tar;
pub mod walk;
pub mod zip;

use std::io;

use crate::fs::OpenFile;

use self::walk::{Member, Shortfall, Walk};

/// The file-system budget of an archive download, as a multiple of a request's
/// ([`crate::Limits::max_fs_operations`]): 4,000,000 operations by default, about a million
/// files.
pub const BUDGET_FACTOR: usize = 100;
/// The most bytes of zip central directory an archive holds until its end (about 100,000
/// members with short names: a member costs about 60 bytes and its path); beyond it the zip
/// ends as incomplete, and says to download the folder as tar. With the walk's names, what an
/// archive holds stays well inside a sandbox's default 64 MiB.
pub const MAX_DIRECTORY: usize = 8 * 1024 * 1024;
/// Bytes of one file read at a time.
const CHUNK: usize = 64 * 1024;
/// The name of the member that says an archive is incomplete.
pub const INCOMPLETE: &str = "HHTTPP-INCOMPLETE.txt";

/// An archive format a client may ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Tar,
    TarGz,
    Zip,
}

impl Format {
    /// Every format, in the order a listing offers them.
    pub const ALL: [Format; 3] = [Format::Tar, Format::TarGz, Format::Zip];

    /// The format a query asks for with `download=…`: `None` when it does not ask, an error
    /// (the value) when it names no format.
    pub fn asked(query: Option<&str>) -> Option<Result<Format, String>> {
        let value = query?
            .split('&')
            .find_map(|pair| pair.strip_prefix("download="))?;
        Some(
            Format::ALL
                .into_iter()
                .find(|f| f.token() == value)
                .ok_or_else(|| value.to_owned()),
        )
    }

    /// The token of `?download=` and the file name's extension.
    pub fn token(self) -> &'static str {
        match self {
            Format::Tar => "tar",
            Format::TarGz => "tar.gz",
            Format::Zip => "zip",
        }
    }

    pub fn media_type(self) -> &'static str {
        match self {
            Format::Tar => "application/x-tar",
            Format::TarGz => "application/gzip",
            Format::Zip => "application/zip",
        }
    }
}

/// The `Content-Disposition` of an archive named `name.ext` (RFC 6266): an ASCII fallback
/// `filename` (other characters, quotes and backslashes as `_`) and the UTF-8 `filename*`.
pub fn disposition(name: &str, format: Format) -> String {
    let file = format!("{name}.{}", format.token());
    let fallback: String = file
        .chars()
        .map(|c| match c {
            ' '..='~' if c != '"' && c != '\\' => c,
            _ => '_',
        })
        .collect();
    let encoded = percent_encoding::utf8_percent_encode(&file, RFC_5987);
    format!("attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}")
}

/// What RFC 5987's `value-chars` leaves unencoded: letters, digits and `!#$&+-.^_`|~`.
const RFC_5987: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'!')
    .remove(b'#')
    .remove(b'$')
    .remove(b'&')
    .remove(b'+')
    .remove(b'-')
    .remove(b'.')
    .remove(b'^')
    .remove(b'_')
    .remove(b'`')
    .remove(b'|')
    .remove(b'~');

/// How members are written: tar, or zip with the central directory kept until the end.
#[derive(Debug)]
enum Writer {
    Tar,
    Zip(zip::Directory),
}

/// Where the archive is.
#[derive(Debug)]
enum State {
    /// Between members: the next is to be asked of the walk.
    Between,
    /// Sending a file's data.
    Data(Data),
    /// Every byte is out.
    Ended,
    /// The incomplete member is out; the body fails with this.
    Cut(String),
}

/// A file member being sent: its data, read so far, and the CRC-32 of what was sent (for zip).
struct Data {
    member: zip::Member,
    file: OpenFile,
    read: u64,
    crc: crc32fast::Hasher,
    offset: u64,
}

impl std::fmt::Debug for Data {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Data")
            .field("member", &self.member)
            .field("read", &self.read)
            .finish_non_exhaustive()
    }
}

/// An archive of one folder, made as it is read.
#[derive(Debug)]
pub struct Archive {
    walk: Walk,
    writer: Writer,
    state: State,
    /// Bytes made (a header, a descriptor) but not handed out yet, and how many were.
    held: Vec<u8>,
    held_out: usize,
    /// Bytes of the archive made so far: where the next member's header starts.
    made: u64,
}

impl Archive {
    /// The archive, as `format` (tar for `tar.gz`: its encoder compresses it), of what `walk`
    /// finds.
    pub fn new(walk: Walk, format: Format) -> Archive {
        let writer = match format {
            Format::Tar | Format::TarGz => Writer::Tar,
            Format::Zip => Writer::Zip(zip::Directory::default()),
        };
        Archive {
            walk,
            writer,
            state: State::Between,
            held: Vec::new(),
            held_out: 0,
            made: 0,
        }
    }

    /// Appends up to `max_bytes` of the archive to `out`; nothing once it has ended. Fails
    /// once an incomplete archive's last member is out, or when a file shrank while it was
    /// being sent: the transport must then cut the body.
    pub fn read_into(&mut self, out: &mut Vec<u8>, max_bytes: usize) -> io::Result<()> {
        let (start, limit) = (out.len(), out.len() + max_bytes);
        while out.len() < limit {
            if self.held_out < self.held.len() {
                let take = (limit - out.len()).min(self.held.len() - self.held_out);
                out.extend_from_slice(&self.held[self.held_out..self.held_out + take]);
                self.held_out += take;
                continue;
            }
            self.held.clear();
            self.held_out = 0;
            match &mut self.state {
                State::Between => self.next_member(),
                State::Data(_) => self.read_data(out, limit)?,
                State::Ended => break,
                // What this call made is sent first (the member that says why, above all):
                // the next call fails.
                State::Cut(_) if out.len() > start => break,
                State::Cut(reason) => return Err(io::Error::other(reason.clone())),
            }
        }
        Ok(())
    }

    /// Asks the walk for the next member and holds its header (or the archive's end).
    fn next_member(&mut self) {
        match self.walk.next_member() {
            Ok(Some(Member::Folder { path, mtime })) => {
                let member = zip::Member {
                    path,
                    folder: true,
                    size: 0,
                    mtime,
                };
                let offset = self.made;
                self.hold_header(&member);
                if let Writer::Zip(directory) = &mut self.writer {
                    directory.add(&member, 0, offset);
                }
                self.check_directory();
            }
            Ok(Some(Member::File {
                path,
                file,
                size,
                mtime,
            })) => {
                let member = zip::Member {
                    path,
                    folder: false,
                    size,
                    mtime,
                };
                let offset = self.made;
                self.hold_header(&member);
                self.state = State::Data(Data {
                    member,
                    file,
                    read: 0,
                    crc: crc32fast::Hasher::new(),
                    offset,
                });
            }
            Ok(None) => {
                let end = match std::mem::replace(&mut self.writer, Writer::Tar) {
                    Writer::Tar => tar::end(),
                    Writer::Zip(directory) => directory.finish(self.made),
                };
                self.hold(end);
                self.state = State::Ended;
            }
            Err(shortfall) => self.end_incomplete(&shortfall),
        }
    }

    /// Holds `member`'s header, in the archive's format.
    fn hold_header(&mut self, member: &zip::Member) {
        let header = match self.writer {
            Writer::Tar => {
                let kind = if member.folder {
                    tar::Type::Folder
                } else {
                    tar::Type::File
                };
                tar::header(&member.path, kind, member.size, member.mtime)
            }
            Writer::Zip(_) => zip::local_header(member),
        };
        self.hold(header);
    }

    fn hold(&mut self, bytes: Vec<u8>) {
        self.made += bytes.len() as u64;
        if self.held.is_empty() {
            // Taken as it is: a zip's directory is not copied at its end.
            self.held = bytes;
        } else {
            self.held.extend(bytes);
        }
    }

    /// Appends the next piece of the file being sent (up to `limit` in `out`); after its last
    /// byte, holds what follows its data and goes on to the next member.
    fn read_data(&mut self, out: &mut Vec<u8>, limit: usize) -> io::Result<()> {
        let State::Data(data) = &mut self.state else {
            return Ok(());
        };
        let left = data.member.size - data.read;
        if left > 0 {
            // In u64 first: a guest's usize is 32 bits, and a member may be larger.
            let want = left.min((limit - out.len()).min(CHUNK) as u64) as usize;
            let start = out.len();
            out.resize(start + want, 0);
            let read = loop {
                match data.file.read_at(&mut out[start..], data.read) {
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    other => break other,
                }
            };
            let read = read.inspect_err(|_| out.truncate(start))?;
            out.truncate(start + read);
            if read == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("{} shrank while it was archived", data.member.path),
                ));
            }
            data.crc.update(&out[start..]);
            data.read += read as u64;
            self.made += read as u64;
            return Ok(());
        }
        let State::Data(data) = std::mem::replace(&mut self.state, State::Between) else {
            return Ok(());
        };
        let crc = data.crc.finalize();
        match &mut self.writer {
            Writer::Tar => {
                let padding = vec![0; tar::padding(data.member.size)];
                self.hold(padding);
            }
            Writer::Zip(directory) => {
                directory.add(&data.member, crc, data.offset);
                let descriptor = zip::descriptor(&data.member, crc);
                self.hold(descriptor);
                self.check_directory();
            }
        }
        Ok(())
    }

    /// Ends a zip as incomplete once its directory is as large as an archive may hold.
    fn check_directory(&mut self) {
        if matches!(&self.writer, Writer::Zip(d) if d.size() > MAX_DIRECTORY)
            && matches!(self.state, State::Between)
        {
            self.end_incomplete(&Shortfall::Directory);
        }
    }

    /// Holds a last member saying why the archive is incomplete, and the archive's end (so that
    /// a reader shows the member, whoever kept the download), and cuts the body after them.
    fn end_incomplete(&mut self, shortfall: &Shortfall) {
        let message = shortfall.message();
        let text = format!("{message}\n");
        let member = zip::Member {
            path: format!("{}{INCOMPLETE}", self.walk.root_prefix()),
            folder: false,
            size: text.len() as u64,
            mtime: 0,
        };
        let offset = self.made;
        self.hold_header(&member);
        self.hold(text.clone().into_bytes());
        let end = match std::mem::replace(&mut self.writer, Writer::Tar) {
            Writer::Tar => {
                self.hold(vec![0; tar::padding(member.size)]);
                tar::end()
            }
            Writer::Zip(mut directory) => {
                let crc = crc32fast::hash(text.as_bytes());
                self.hold(zip::descriptor(&member, crc));
                directory.add(&member, crc, offset);
                directory.finish(self.made)
            }
        };
        self.hold(end);
        self.state = State::Cut(message);
    }
}

#[cfg(test)]
mod tests;
