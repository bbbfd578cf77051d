//! One upload request's body going into the drop folder as it arrives: a raw body (`PUT`, or a
//! `POST` that is not a form) is one file; a form's `multipart/form-data` body is as many files
//! as it has file parts. Each file is written under a hidden temporary name, created exclusively
//! (a link planted there is never followed), and given its own name only when complete, by a
//! rename that never replaces: a name that is taken gets a number (`photo (1).jpg`). A file
//! still partial when the upload fails or is dropped (a client gone, a limit met) is removed.

use std::io;

use super::multipart::{Event, Multipart, MultipartError};
use super::name::{self, NameError};
use crate::fs::{Folder, NewFile};

/// Bytes of a form's fields that are not files (a submit button's value, say) taken in all.
const MAX_FIELD_BYTES: u64 = 64 * 1024;
/// Parts one form may have.
const MAX_PARTS: usize = 1000;
/// Numbered names tried for a taken name (`name (1)` … `name (999)`).
const MAX_NUMBER: u32 = 999;
/// Temporary names tried before giving up (each is new unless another upload took it).
const MAX_TEMP_TRIES: u32 = 16;
/// What every temporary name starts with: hidden, and recognisably ours.
pub const TEMP_PREFIX: &str = ".hhttpp-upload-";

/// A file stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// The name the client gave (after NFC).
    pub asked: String,
    /// The name it was stored under.
    pub name: String,
    pub size: u64,
}

/// What an upload came to: the files stored (a form's before a failure stay stored), and why it
/// stopped short, if it did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub stored: Vec<Stored>,
    pub failure: Option<UploadError>,
}

/// Why an upload failed; each maps to one status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UploadError {
    /// The client's file name cannot be stored (`400`).
    Name { name: String, error: NameError },
    /// A file is larger than `--upload-max-size`, or a form's other fields too large (`413`).
    TooLarge { max: u64 },
    /// A form with too many parts (`413`).
    TooManyParts,
    /// The drop folder's file system is full, or the user's quota spent (`507`).
    NoSpace,
    /// The form is malformed (`400`).
    Form(MultipartError),
    /// The form carried no file (`400`).
    NoFile,
    /// Every numbered variant of the name is taken (`409`).
    Taken(String),
    /// The drop folder refused to be written otherwise (`500`).
    Unwritable(io::ErrorKind),
    /// The body stopped coming: the client sent nothing for the request timeout (`408`).
    Stalled,
    /// The body ended short of its length: the client left (`400`).
    Incomplete,
}

impl UploadError {
    pub fn status(&self) -> u16 {
        match self {
            UploadError::Name { .. } | UploadError::Form(_) | UploadError::NoFile => 400,
            UploadError::TooLarge { .. } | UploadError::TooManyParts => 413,
            UploadError::NoSpace => 507,
            UploadError::Taken(_) => 409,
            UploadError::Unwritable(_) => 500,
            UploadError::Stalled => 408,
            UploadError::Incomplete => 400,
        }
    }

    pub fn message(&self) -> String {
        match self {
            UploadError::Name { name, error } => {
                format!(
                    "The file name {name:?} cannot be stored: {}",
                    error.message()
                )
            }
            UploadError::TooLarge { max } => {
                format!("A file larger than {max} bytes is not taken (--upload-max-size).")
            }
            UploadError::TooManyParts => format!("A form of more than {MAX_PARTS} parts."),
            UploadError::NoSpace => {
                "There is no space left for the file; nothing of it was kept.".into()
            }
            UploadError::Form(error) => error.message().into(),
            UploadError::NoFile => "The form carried no file.".into(),
            UploadError::Taken(name) => {
                format!("{name:?} and {MAX_NUMBER} numbered variants of it are all taken.")
            }
            UploadError::Unwritable(kind) => format!("The file could not be written ({kind})."),
            UploadError::Stalled => {
                "The upload stopped coming; nothing of the file in progress was kept.".into()
            }
            UploadError::Incomplete => {
                "The upload ended before its body was complete; nothing of the file in progress \
                 was kept."
                    .into()
            }
        }
    }
}

impl From<io::Error> for UploadError {
    fn from(error: io::Error) -> UploadError {
        match error.kind() {
            io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded => UploadError::NoSpace,
            kind => UploadError::Unwritable(kind),
        }
    }
}

/// A file being written under its temporary name.
#[derive(Debug)]
struct Partial {
    temp: String,
    file: NewFile,
    asked: String,
    written: u64,
}

/// What the body is.
#[derive(Debug)]
enum Shape {
    /// One file, its name given by the request's path.
    Raw,
    /// A form; `in_field` while in a part that is not a file (its bytes are counted, not kept).
    Form { reader: Multipart, in_field: bool },
}

/// One upload request's body, being received.
#[derive(Debug)]
pub struct Upload {
    folder: Folder,
    max_size: u64,
    shape: Shape,
    current: Option<Partial>,
    stored: Vec<Stored>,
    parts: usize,
    field_bytes: u64,
    /// Makes temporary names differ between uploads (the host's clock, say).
    seed: u64,
    temps_made: u64,
}

impl Upload {
    /// The body is one file to store as `name` (already [`name::checked`]).
    pub fn raw(
        folder: Folder,
        name: String,
        max_size: u64,
        seed: u64,
    ) -> Result<Upload, UploadError> {
        let mut upload = Upload::new(folder, max_size, Shape::Raw, seed);
        upload.start(name)?;
        Ok(upload)
    }

    /// The body is a form whose parts `boundary` separates.
    pub fn form(folder: Folder, boundary: &str, max_size: u64, seed: u64) -> Upload {
        let reader = Multipart::new(boundary);
        let shape = Shape::Form {
            reader,
            in_field: false,
        };
        Upload::new(folder, max_size, shape, seed)
    }

    fn new(folder: Folder, max_size: u64, shape: Shape, seed: u64) -> Upload {
        Upload {
            folder,
            max_size,
            shape,
            current: None,
            stored: Vec::new(),
            parts: 0,
            field_bytes: 0,
            seed,
            temps_made: 0,
        }
    }

    /// The body's next bytes.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<(), UploadError> {
        let events = match &mut self.shape {
            Shape::Raw => return self.write(bytes),
            Shape::Form { reader, .. } => reader.feed(bytes).map_err(UploadError::Form)?,
        };
        events.into_iter().try_for_each(|event| self.take(event))
    }

    /// The body has ended: what was stored.
    pub fn finish(self) -> Result<Vec<Stored>, UploadError> {
        let outcome = self.end(None);
        match outcome.failure {
            Some(error) => Err(error),
            None => Ok(outcome.stored),
        }
    }

    /// The upload is over, with `failure` if it failed (the file in progress is then not
    /// kept), or else with the body ended: what was stored, and why it stopped short if it did.
    pub fn end(mut self, failure: Option<UploadError>) -> Outcome {
        let failure = match failure {
            Some(error) => Some(error),
            None => self.complete().err(),
        };
        Outcome {
            stored: std::mem::take(&mut self.stored),
            failure,
        }
    }

    fn complete(&mut self) -> Result<(), UploadError> {
        match &self.shape {
            Shape::Raw => self.publish()?,
            Shape::Form { reader, .. } => reader.finish().map_err(UploadError::Form)?,
        }
        match self.stored.is_empty() {
            true => Err(UploadError::NoFile),
            false => Ok(()),
        }
    }

    fn take(&mut self, event: Event) -> Result<(), UploadError> {
        let Shape::Form { in_field, .. } = &mut self.shape else {
            return Ok(());
        };
        match event {
            Event::Part { filename, .. } => {
                self.parts += 1;
                if self.parts > MAX_PARTS {
                    return Err(UploadError::TooManyParts);
                }
                match filename {
                    // A browser sends a file input left empty as a part with an empty name.
                    Some(asked) if !asked.is_empty() => {
                        *in_field = false;
                        let name = name::checked(&asked)
                            .map_err(|error| UploadError::Name { name: asked, error })?;
                        self.start(name)
                    }
                    _ => {
                        *in_field = true;
                        Ok(())
                    }
                }
            }
            Event::Data(bytes) if *in_field => {
                self.field_bytes += bytes.len() as u64;
                if self.field_bytes > MAX_FIELD_BYTES {
                    return Err(UploadError::TooLarge {
                        max: MAX_FIELD_BYTES,
                    });
                }
                Ok(())
            }
            Event::Data(bytes) => self.write(&bytes),
            Event::PartEnd => {
                *in_field = false;
                self.publish()
            }
            Event::End => Ok(()),
        }
    }

    /// Creates a temporary file for `asked`.
    fn start(&mut self, asked: String) -> Result<(), UploadError> {
        for _ in 0..MAX_TEMP_TRIES {
            self.temps_made += 1;
            let temp = format!("{TEMP_PREFIX}{:016x}-{}", self.seed, self.temps_made);
            match self.folder.create_new(&temp) {
                Ok(file) => {
                    self.current = Some(Partial {
                        temp,
                        file,
                        asked,
                        written: 0,
                    });
                    return Ok(());
                }
                Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {
                    self.seed = self.seed.rotate_left(13) ^ 0x9e37_79b9_7f4a_7c15;
                }
                Err(error) => return Err(error.into()),
            }
        }
        Err(UploadError::Unwritable(io::ErrorKind::AlreadyExists))
    }

    fn write(&mut self, bytes: &[u8]) -> Result<(), UploadError> {
        let Some(partial) = &mut self.current else {
            return Ok(());
        };
        let end = partial.written + bytes.len() as u64;
        if end > self.max_size {
            return Err(UploadError::TooLarge { max: self.max_size });
        }
        partial.file.write_all_at(bytes, partial.written)?;
        partial.written = end;
        Ok(())
    }

    /// Gives the complete file its name: the one asked, or the first numbered one free.
    fn publish(&mut self) -> Result<(), UploadError> {
        let Some(partial) = self.current.take() else {
            return Ok(());
        };
        let result = (0..=MAX_NUMBER)
            .map(|n| match n {
                0 => partial.asked.clone(),
                n => name::numbered(&partial.asked, n),
            })
            .find_map(|name| match self.folder.publish(&partial.temp, &name) {
                Ok(()) => Some(Ok(name)),
                Err(error) if error.kind() == io::ErrorKind::AlreadyExists => None,
                Err(error) => Some(Err(UploadError::from(error))),
            })
            .unwrap_or_else(|| Err(UploadError::Taken(partial.asked.clone())));
        match result {
            Ok(name) => {
                self.stored.push(Stored {
                    asked: partial.asked,
                    name,
                    size: partial.written,
                });
                Ok(())
            }
            Err(error) => {
                let _ = self.folder.remove_file(&partial.temp);
                Err(error)
            }
        }
    }
}

impl Drop for Upload {
    /// A file not complete is not kept.
    fn drop(&mut self) {
        if let Some(partial) = self.current.take() {
            let _ = self.folder.remove_file(&partial.temp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::TempDir;

    fn drop_folder() -> (TempDir, Folder) {
        let dir = TempDir::new();
        let folder = Folder::root(dir.path()).unwrap();
        (dir, folder)
    }

    /// The names in the folder, sorted.
    fn names(dir: &TempDir) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    }

    fn form(parts: &[(&str, Option<&str>, &[u8])]) -> Vec<u8> {
        let mut body = Vec::new();
        for (name, filename, content) in parts {
            body.extend_from_slice(b"--XyZ\r\nContent-Disposition: form-data; name=\"");
            body.extend_from_slice(name.as_bytes());
            body.push(b'"');
            if let Some(filename) = filename {
                body.extend_from_slice(format!("; filename=\"{filename}\"").as_bytes());
            }
            body.extend_from_slice(b"\r\n\r\n");
            body.extend_from_slice(content);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(b"--XyZ--\r\n");
        body
    }

    #[test]
    fn a_raw_body_is_stored_whole_and_a_taken_name_is_numbered() {
        let (dir, folder) = drop_folder();
        for content in [&b"first"[..], b"second", b"third"] {
            let mut upload = Upload::raw(folder.clone(), "a.txt".into(), 100, 7).unwrap();
            upload.feed(&content[..2]).unwrap();
            upload.feed(&content[2..]).unwrap();
            upload.finish().unwrap();
        }
        assert_eq!(names(&dir), ["a (1).txt", "a (2).txt", "a.txt"]);
        let read = |name: &str| std::fs::read(dir.path().join(name)).unwrap();
        assert_eq!(read("a.txt"), b"first");
        assert_eq!(read("a (2).txt"), b"third");
    }

    #[test]
    fn a_form_stores_each_file_part_and_skips_fields_and_empty_inputs() {
        let (dir, folder) = drop_folder();
        let body = form(&[
            ("note", None, b"not a file"),
            ("file", Some("one.bin"), b"\r\n--Xy is not a boundary\r\n"),
            ("file", Some(""), b""),
            ("file", Some("two.txt"), b"2"),
        ]);
        let mut upload = Upload::form(folder, "XyZ", 100, 1);
        for piece in body.chunks(3) {
            upload.feed(piece).unwrap();
        }
        let stored = upload.finish().unwrap();
        assert_eq!(
            stored
                .iter()
                .map(|s| (s.name.as_str(), s.size))
                .collect::<Vec<_>>(),
            [("one.bin", 26), ("two.txt", 1)]
        );
        assert_eq!(names(&dir), ["one.bin", "two.txt"]);
        assert_eq!(
            std::fs::read(dir.path().join("one.bin")).unwrap(),
            b"\r\n--Xy is not a boundary\r\n"
        );
    }

    #[test]
    fn a_file_over_the_limit_or_cut_short_leaves_nothing_behind() {
        let (dir, folder) = drop_folder();
        let mut upload = Upload::raw(folder.clone(), "big.bin".into(), 4, 2).unwrap();
        upload.feed(b"1234").unwrap();
        assert_eq!(upload.feed(b"5"), Err(UploadError::TooLarge { max: 4 }));
        drop(upload);
        assert!(names(&dir).is_empty(), "{:?}", names(&dir));

        // A client gone mid-form: the file in progress goes; the one complete stays.
        let body = form(&[
            ("f", Some("done.txt"), b"ok"),
            ("f", Some("cut.txt"), b"abc"),
        ]);
        let mut upload = Upload::form(folder, "XyZ", 100, 3);
        upload.feed(&body[..body.len() - 15]).unwrap();
        drop(upload);
        assert_eq!(names(&dir), ["done.txt"]);
    }

    #[test]
    fn a_link_planted_in_the_drop_folder_is_never_written_through() {
        let (dir, folder) = drop_folder();
        let outside = TempDir::new();
        let target = outside.path().join("victim.txt");
        std::fs::write(&target, "untouched").unwrap();
        std::os::unix::fs::symlink(&target, dir.path().join("victim.txt")).unwrap();
        let mut upload = Upload::raw(folder, "victim.txt".into(), 100, 4).unwrap();
        upload.feed(b"evil").unwrap();
        let stored = upload.finish().unwrap();
        assert_eq!(stored[0].name, "victim (1).txt");
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "untouched");
        assert_eq!(
            std::fs::read_to_string(dir.path().join("victim (1).txt")).unwrap(),
            "evil"
        );
    }

    #[test]
    fn bad_names_and_forms_without_files_are_refused() {
        let (dir, folder) = drop_folder();
        let body = form(&[("f", Some("../up.txt"), b"x")]);
        let mut upload = Upload::form(folder.clone(), "XyZ", 100, 5);
        let error = upload.feed(&body).unwrap_err();
        assert_eq!(error.status(), 400);
        assert!(
            error.message().contains("\"../up.txt\""),
            "{}",
            error.message()
        );
        let mut upload = Upload::form(folder, "XyZ", 100, 6);
        upload.feed(&form(&[("note", None, b"hi")])).unwrap();
        assert_eq!(upload.finish(), Err(UploadError::NoFile));
        drop(dir);
    }
}
