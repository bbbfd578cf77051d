//! The zip format as a folder archive writes it while it streams (APPNOTE 6.3.10): members
//! stored (a folder's files are mostly compressed already, and a core is worth more than the
//! last few percent), each CRC-32 sent after its data in a data descriptor (flag bit 3) so that
//! nothing is read twice, names in UTF-8 (bit 11), and ZIP64 fields wherever a size, an offset or
//! the number of members outgrows the classic ones. Pure functions: the caller sends the bytes
//! and keeps the central directory ([`Directory`]) until the end.

/// A value that says "see the ZIP64 field" in a classic 32-bit one.
const FULL32: u32 = u32::MAX;
/// "Version needed to extract": 2.0 classic, 4.5 with ZIP64 fields.
const CLASSIC: u16 = 20;
const WITH_ZIP64: u16 = 45;
/// "Version made by": Unix (3, so that external attributes are Unix modes), spec 4.5.
const MADE_BY: u16 = (3 << 8) | 45;
/// Flags: bit 3, sizes and CRC in a descriptor after the data; bit 11, names in UTF-8.
const DESCRIBED_AFTER: u16 = 1 << 3;
const UTF8: u16 = 1 << 11;
/// Extra field ids: ZIP64 sizes and offset, and Info-ZIP's Unix modification time.
const ZIP64_EXTRA: u16 = 0x0001;
const UNIX_TIME_EXTRA: u16 = 0x5455;

/// What a member is, and when it was modified (seconds since the Unix epoch).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// `/`-separated; a folder's ends in `/`.
    pub path: String,
    pub folder: bool,
    /// The size announced (and kept: a file that grows is cut to it).
    pub size: u64,
    pub mtime: u64,
}

impl Member {
    /// Whether the member's size needs ZIP64 fields (then its descriptor's sizes are 8 bytes).
    fn is_zip64(&self) -> bool {
        self.size >= u64::from(FULL32)
    }

    fn flags(&self) -> u16 {
        if self.folder {
            UTF8
        } else {
            UTF8 | DESCRIBED_AFTER
        }
    }

    fn version_needed(&self) -> u16 {
        if self.is_zip64() { WITH_ZIP64 } else { CLASSIC }
    }

    /// The Unix mode in the upper half of the external attributes (and MS-DOS's folder bit).
    fn external_attributes(&self) -> u32 {
        if self.folder {
            (0o040_755 << 16) | 0x10
        } else {
            0o100_644 << 16
        }
    }
}

/// The local header that precedes a member's data. A file's CRC and sizes follow its data
/// ([`descriptor`]); a member of 4 GiB or more says so with a ZIP64 field here already, which
/// tells streaming readers that its descriptor's sizes are 8 bytes.
pub fn local_header(member: &Member) -> Vec<u8> {
    let mut extra = Vec::new();
    if member.is_zip64() {
        push_u16(&mut extra, ZIP64_EXTRA);
        push_u16(&mut extra, 16);
        push_u64(&mut extra, 0);
        push_u64(&mut extra, 0);
    }
    push_unix_time(&mut extra, member.mtime);
    let sizes = if member.is_zip64() { FULL32 } else { 0 };
    let (time, date) = dos_time(member.mtime);
    let mut out = Vec::with_capacity(30 + member.path.len() + extra.len());
    push_u32(&mut out, 0x0403_4b50);
    push_u16(&mut out, member.version_needed());
    push_u16(&mut out, member.flags());
    push_u16(&mut out, 0); // stored
    push_u16(&mut out, time);
    push_u16(&mut out, date);
    push_u32(&mut out, 0); // CRC-32: in the descriptor
    push_u32(&mut out, sizes);
    push_u32(&mut out, sizes);
    push_u16(&mut out, member.path.len() as u16);
    push_u16(&mut out, extra.len() as u16);
    out.extend_from_slice(member.path.as_bytes());
    out.extend_from_slice(&extra);
    out
}

/// The data descriptor that follows a file's data: its CRC-32 and its size (stored, so both
/// sizes are the same), in 8 bytes each for a ZIP64 member.
pub fn descriptor(member: &Member, crc: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(24);
    push_u32(&mut out, 0x0807_4b50);
    push_u32(&mut out, crc);
    if member.is_zip64() {
        push_u64(&mut out, member.size);
        push_u64(&mut out, member.size);
    } else {
        push_u32(&mut out, member.size as u32);
        push_u32(&mut out, member.size as u32);
    }
    out
}

/// The central directory, kept as it will be written (about 60 bytes and the name per member):
/// members are added once their data is sent, and the whole is written at the end.
#[derive(Debug, Default)]
pub struct Directory {
    bytes: Vec<u8>,
    count: u64,
}

impl Directory {
    /// The directory's size so far, in bytes: what the archive holds in memory until its end.
    pub fn size(&self) -> usize {
        self.bytes.len()
    }

    /// Adds `member`, whose local header was written at `offset`, with its data's `crc`.
    pub fn add(&mut self, member: &Member, crc: u32, offset: u64) {
        let far = offset >= u64::from(FULL32);
        let mut extra = Vec::new();
        if member.is_zip64() || far {
            push_u16(&mut extra, ZIP64_EXTRA);
            let fields = if member.is_zip64() { 16 } else { 0 } + if far { 8 } else { 0 };
            push_u16(&mut extra, fields);
            if member.is_zip64() {
                push_u64(&mut extra, member.size);
                push_u64(&mut extra, member.size);
            }
            if far {
                push_u64(&mut extra, offset);
            }
        }
        push_unix_time(&mut extra, member.mtime);
        let size = if member.is_zip64() {
            FULL32
        } else {
            member.size as u32
        };
        let (time, date) = dos_time(member.mtime);
        let out = &mut self.bytes;
        push_u32(out, 0x0201_4b50);
        push_u16(out, MADE_BY);
        push_u16(
            out,
            if far {
                WITH_ZIP64
            } else {
                member.version_needed()
            },
        );
        push_u16(out, member.flags());
        push_u16(out, 0); // stored
        push_u16(out, time);
        push_u16(out, date);
        push_u32(out, crc);
        push_u32(out, size);
        push_u32(out, size);
        push_u16(out, member.path.len() as u16);
        push_u16(out, extra.len() as u16);
        push_u16(out, 0); // comment
        push_u16(out, 0); // disk
        push_u16(out, 0); // internal attributes
        push_u32(out, member.external_attributes());
        push_u32(out, if far { FULL32 } else { offset as u32 });
        out.extend_from_slice(member.path.as_bytes());
        out.extend_from_slice(&extra);
        self.count += 1;
    }

    /// The end of the archive, for a directory written at `offset`: the directory, then (when a
    /// count, size or offset outgrows the classic fields) the ZIP64 end record and its locator,
    /// then the classic end record.
    pub fn finish(self, offset: u64) -> Vec<u8> {
        let size = self.bytes.len() as u64;
        let mut out = self.bytes;
        let zip64 =
            self.count >= 0xFFFF || size >= u64::from(FULL32) || offset >= u64::from(FULL32);
        if zip64 {
            let record_at = offset + size;
            push_u32(&mut out, 0x0606_4b50);
            push_u64(&mut out, 44); // the record's size after this field
            push_u16(&mut out, MADE_BY);
            push_u16(&mut out, WITH_ZIP64);
            push_u32(&mut out, 0); // this disk
            push_u32(&mut out, 0); // the directory's disk
            push_u64(&mut out, self.count);
            push_u64(&mut out, self.count);
            push_u64(&mut out, size);
            push_u64(&mut out, offset);
            push_u32(&mut out, 0x0706_4b50);
            push_u32(&mut out, 0); // the record's disk
            push_u64(&mut out, record_at);
            push_u32(&mut out, 1); // disks
        }
        let count = if zip64 { 0xFFFF } else { self.count as u16 };
        push_u32(&mut out, 0x0605_4b50);
        push_u16(&mut out, 0);
        push_u16(&mut out, 0);
        push_u16(&mut out, count);
        push_u16(&mut out, count);
        push_u32(&mut out, if zip64 { FULL32 } else { size as u32 });
        push_u32(&mut out, if zip64 { FULL32 } else { offset as u32 });
        push_u16(&mut out, 0); // comment
        out
    }
}

/// Info-ZIP's extended timestamp: the modification time in Unix seconds (MS-DOS's has no time
/// zone and two-second steps); left out past 2106.
fn push_unix_time(extra: &mut Vec<u8>, mtime: u64) {
    if let Ok(mtime) = u32::try_from(mtime) {
        push_u16(extra, UNIX_TIME_EXTRA);
        push_u16(extra, 5);
        extra.push(1); // the modification time is present
        push_u32(extra, mtime);
    }
}

/// MS-DOS time and date (UTC, two-second steps), clamped to 1980–2107.
fn dos_time(mtime: u64) -> (u16, u16) {
    let (year, month, day, hour, minute, second) = crate::time::civil(mtime);
    if year < 1980 {
        return (0, (1 << 5) | 1);
    }
    let year = (year - 1980).min(127) as u16;
    let time = (hour << 11) | (minute << 5) | (second / 2);
    (
        time as u16,
        (year << 9) | ((month as u16) << 5) | day as u16,
    )
}

fn push_u16(out: &mut Vec<u8>, value: u16) {
    out.extend_from_slice(&value.to_le_bytes());
}

fn push_u32(out: &mut Vec<u8>, value: u32) {
    out.extend_from_slice(&value.to_le_bytes());
}

fn push_u64(out: &mut Vec<u8>, value: u64) {
    out.extend_from_slice(&value.to_le_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u16_at(bytes: &[u8], at: usize) -> u16 {
        u16::from_le_bytes([bytes[at], bytes[at + 1]])
    }

    fn u32_at(bytes: &[u8], at: usize) -> u32 {
        u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap())
    }

    fn file(path: &str, size: u64) -> Member {
        Member {
            path: path.to_owned(),
            folder: false,
            size,
            mtime: 1_700_000_000,
        }
    }

    #[test]
    fn dos_times_are_utc_in_two_second_steps() {
        // 2023-11-14 22:13:20 UTC.
        let (time, date) = dos_time(1_700_000_000);
        assert_eq!((date >> 9) + 1980, 2023);
        assert_eq!(((date >> 5) & 0xF, date & 0x1F), (11, 14));
        assert_eq!(
            (time >> 11, (time >> 5) & 0x3F, (time & 0x1F) * 2),
            (22, 13, 20)
        );
        assert_eq!(dos_time(0), (0, (1 << 5) | 1));
    }

    #[test]
    fn a_small_file_has_classic_fields_and_a_short_descriptor() {
        let member = file("site/a.txt", 5);
        let local = local_header(&member);
        assert_eq!(u32_at(&local, 0), 0x0403_4b50);
        assert_eq!(u16_at(&local, 4), CLASSIC);
        assert_eq!(u16_at(&local, 6), UTF8 | DESCRIBED_AFTER);
        assert_eq!(&local[30..40], b"site/a.txt");
        assert_eq!(descriptor(&member, 7).len(), 16);
    }

    #[test]
    fn a_large_file_or_far_offset_gets_zip64_fields() {
        let member = file("site/big", 5 << 30);
        let local = local_header(&member);
        assert_eq!(u16_at(&local, 4), WITH_ZIP64);
        assert_eq!((u32_at(&local, 18), u32_at(&local, 22)), (FULL32, FULL32));
        assert_eq!(u16_at(&local, 30 + 8), ZIP64_EXTRA);
        assert_eq!(descriptor(&member, 7).len(), 24);
        let mut directory = Directory::default();
        directory.add(&member, 7, 6 << 30);
        let entry = directory.bytes.clone();
        assert_eq!(u32_at(&entry, 42), FULL32);
        let extra = &entry[46 + 8..];
        assert_eq!((u16_at(extra, 0), u16_at(extra, 2)), (ZIP64_EXTRA, 24));
        assert_eq!(
            u64::from_le_bytes(extra[20..28].try_into().unwrap()),
            6 << 30
        );
        // A directory beyond 4 GiB ends with the ZIP64 end record and its locator.
        let end = directory.finish(7 << 30);
        assert_eq!(u32_at(&end, entry.len()), 0x0606_4b50);
        assert_eq!(u32_at(&end, entry.len() + 56), 0x0706_4b50);
        assert_eq!(u32_at(&end, end.len() - 22), 0x0605_4b50);
    }

    #[test]
    fn a_small_archive_ends_with_the_classic_record_only() {
        let mut directory = Directory::default();
        directory.add(&file("site/a.txt", 5), 7, 0);
        let size = directory.size();
        let end = directory.finish(100);
        assert_eq!(end.len(), size + 22);
        assert_eq!(u16_at(&end, size + 10), 1);
        assert_eq!(u32_at(&end, size + 12), size as u32);
        assert_eq!(u32_at(&end, size + 16), 100);
    }
}
