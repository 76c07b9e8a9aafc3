//! Rebuilding an archive from its local headers: [`recover`] and
//! [`recover_in_place`].
//!
//! A writer that dies before [`NpzWriter::close`](crate::npz::writer::NpzWriter::close)
//! leaves members without a central directory (or, when it was appending,
//! the old archive followed by new members). Recovery scans the file from
//! the start: it skips bytes before the first local header, checks every
//! member's CRC-32 (stored members directly, deflated ones by decompressing
//! them in a streaming fashion), steps over old central directories and end
//! records, and writes a new central directory for the members that check
//! out. Members whose sizes were never written (a streamed member that was
//! not finished), that run past the end of the file or whose CRC does not
//! match, and members with a compression method other than stored or
//! deflate (whose CRC cannot be checked) are dropped and listed in the
//! [`RecoverReport`] with their offset and the reason. When no member can be
//! kept, nothing is written and the call fails with
//! [`Error::Unrecoverable`].
//!
//! Kept members are never moved or changed: the output is the input up to
//! the end of the last kept member, byte for byte, followed by the new
//! directory. Memory use is bounded (a read window plus one directory entry
//! per kept member, and the file's own central directory while it is read
//! to confirm a name that holds a local header signature), and so is time:
//! what members that are dropped may read is at most eight times the file
//! plus 256 MiB, after which further members are dropped unchecked (each
//! listed with that reason).
//!
//! A local header whose name or extra field holds a local header signature
//! (`PK\x03\x04`) may be a damaged header that swallows the members behind
//! it (names carry no CRC). Such a member is kept only if the signature is
//! in its name and the file's committed archive lists it: same offset, name,
//! CRC and sizes, ending before the next member. `np.savez` writes such
//! names; [`NpzWriter`](crate::npz::writer::NpzWriter) refuses them, since
//! after a crash there is no directory to confirm them.
//!
//! Members with a data descriptor (flag bit 3) are supported: deflated ones
//! end where their deflate stream ends; for stored ones the descriptor is
//! found by searching for its signature `PK\x07\x08` followed by a CRC and
//! size that match the data before it (only the signed form is found).
//!
//! ```
//! use npzmap::npz::{recover, writer::NpzWriter};
//! use npzmap::Order;
//! let dir = tempfile::tempdir().unwrap();
//! let path = dir.path().join("a.npz");
//! let mut w = NpzWriter::create(&path).unwrap();
//! w.write("x", &[1i64, 2, 3], &[3], Order::C).unwrap();
//! w.sync().unwrap();
//! std::mem::forget(w); // as if the process died: no central directory
//! let report = recover::recover(&path, dir.path().join("fixed.npz")).unwrap();
//! assert_eq!(report.kept, vec!["x.npy".to_string()]);
//! assert!(report.dropped.is_empty());
//! ```

mod member;
mod scan;
mod src;
#[cfg(test)]
mod tests;
mod vouch;

use crate::error::{Error, Location, Result};
use crate::fs::lock::{ExclusiveLock, ReplaceLock};
use crate::fs::temp::TempFile;
use crate::zip::write_end_records;
use scan::Scan;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// What recovery kept and dropped.
///
/// Every member the scan found and did not keep is listed in
/// [`RecoverReport::dropped`] with its offset and the reason; nothing is
/// dropped silently. A caller that must not lose data checks
/// `dropped.is_empty()` (the CLI exits 1 otherwise).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecoverReport {
    /// Names of the members kept, in file order.
    pub kept: Vec<String>,
    /// Members dropped, with why.
    pub dropped: Vec<Dropped>,
    /// Bytes of the input kept: the output is the input up to here, byte for
    /// byte, followed by the new central directory.
    pub bytes_kept: u64,
    /// Length of the recovered archive.
    pub output_len: u64,
}

/// A member recovery dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dropped {
    /// Member name (lossily decoded; empty if the header was unreadable).
    pub name: String,
    /// Offset of its local header in the input.
    pub offset: u64,
    /// Why it was dropped (e.g. "unsupported compression method 12 (cannot
    /// check its CRC)", "CRC mismatch: ...").
    pub reason: String,
}

/// Reads `input`, writes a repaired archive to `output` (created or
/// replaced; it must not be the input file). See the [module docs](self).
///
/// The archive is written to a temporary file beside `output` and renamed
/// over it only on success: on any error `output` is left as it was (absent
/// or with its old bytes), and the input is never written.
///
/// Fails with [`Error::Unrecoverable`] naming the input (and the offset of
/// the first dropped member, if any) when no member could be recovered: an
/// empty archive is never written. Members that were dropped while others
/// were kept are listed in [`RecoverReport::dropped`].
pub fn recover(input: impl AsRef<Path>, output: impl AsRef<Path>) -> Result<RecoverReport> {
    let (input, output) = (input.as_ref(), output.as_ref());
    let file = File::open(input).map_err(|e| Error::io_path("open", e, input))?;
    let meta = file
        .metadata()
        .map_err(|e| Error::io_path("stat", e, input))?;
    if let Ok(om) = std::fs::metadata(output)
        && om.dev() == meta.dev()
        && om.ino() == meta.ino()
    {
        return Err(Error::invalid_argument(
            "recover: output is the input file; use recover_in_place",
        )
        .at_path(input));
    }
    let scan = Scan::run(&file, meta.len()).map_err(|e| e.at_path(input))?;
    scan.check_not_empty(input)?;
    // Written beside `output` and renamed over it: an existing output that
    // someone maps keeps its bytes, and a failure leaves it as it was.
    let replace = ReplaceLock::take(output)?;
    let TempFile { file: out, temp } = TempFile::new_beside(output)?;
    let mut src = &file;
    src.seek(SeekFrom::Start(0))
        .map_err(|e| Error::io_path("seek", e, input))?;
    let copied = io::copy(&mut src.take(scan.end), &mut &out)
        .map_err(|e| Error::io_path("copy", e, output))?;
    if copied != scan.end {
        return Err(Error::Unrecoverable {
            reason: "the input shrank while it was being recovered".into(),
            at: Location {
                offset: Some(copied),
                ..Location::path(input)
            },
        });
    }
    let len = write_directory(&out, &scan).map_err(|e| Error::io_path("write", e, output))?;
    temp.persist(&out, output, replace.old_file(), true)?;
    Ok(scan.report(len))
}

/// Repairs `path` in place: truncates it after the last kept member (only
/// bytes that are not part of a kept member are removed) and writes a new
/// central directory there.
///
/// When no member can be recovered the file is left untouched and
/// [`Error::Unrecoverable`] is returned (truncating it to an empty archive
/// would destroy whatever a better tool might still find).
///
/// Holds the exclusive lock: [`Error::Locked`]
/// while any reader, writer or modifier of the file is live, in this process
/// or another (see the [lock protocol](crate::fs)).
pub fn recover_in_place(path: impl AsRef<Path>) -> Result<RecoverReport> {
    let path = path.as_ref();
    let file = ExclusiveLock::open(path)?;
    let mut file: &File = &file;
    let len = file
        .metadata()
        .map_err(|e| Error::io_path("stat", e, path))?
        .len();
    let scan = Scan::run(file, len).map_err(|e| e.at_path(path))?;
    scan.check_not_empty(path)?;
    file.set_len(scan.end)
        .and_then(|_| file.seek(SeekFrom::Start(scan.end)).map(drop))
        .map_err(|e| Error::io_path("truncate", e, path))?;
    let out_len = write_directory(file, &scan).map_err(|e| Error::io_path("write", e, path))?;
    file.sync_all()
        .map_err(|e| Error::io_path("fsync", e, path))?;
    Ok(scan.report(out_len))
}

fn write_directory(out: &File, scan: &Scan) -> io::Result<u64> {
    let mut buf = Vec::with_capacity(1 << 16);
    let mut w = io::BufWriter::with_capacity(1 << 20, out);
    let mut cd_size = 0u64;
    for e in &scan.entries {
        buf.clear();
        e.write(&mut buf);
        cd_size += buf.len() as u64;
        w.write_all(&buf)?;
    }
    buf.clear();
    write_end_records(
        &mut buf,
        scan.entries.len() as u64,
        scan.end,
        cd_size,
        &scan.comment,
    );
    w.write_all(&buf)?;
    w.flush()?;
    Ok(scan.end + cd_size + buf.len() as u64)
}
