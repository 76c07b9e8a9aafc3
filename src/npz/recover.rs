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
//! match are dropped and listed in the [`RecoverReport`].
//!
//! Kept members are never moved or changed: the output is the input up to
//! the end of the last kept member, byte for byte, followed by the new
//! directory. Memory use is bounded (a read window plus one directory entry
//! per kept member).
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

use crate::error::{Error, Location, Result};
use crate::zip::records::{
    CENTRAL_HEADER_LEN, CENTRAL_SIG, CentralEntry, CentralEntryRef, DATA_DESCRIPTOR_SIG,
    DataDescriptor, EOCD_LEN, EOCD_SIG, FLAG_DATA_DESCRIPTOR, FLAG_ENCRYPTED,
    FLAG_STRONG_ENCRYPTION, LOCAL_HEADER_LEN, LOCAL_SIG, LocalHeaderRef, METHOD_DEFLATE,
    METHOD_STORED, ZIP64_EOCD_SIG, ZIP64_LOCATOR_LEN, ZIP64_LOCATOR_SIG, write_end_records,
};
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::Path;

const WINDOW: usize = 256 * 1024;

/// What recovery kept and dropped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecoverReport {
    /// Names of the members kept, in file order.
    pub kept: Vec<String>,
    /// Members dropped, with why.
    pub dropped: Vec<Dropped>,
    /// Length of the recovered archive.
    pub output_len: u64,
}

/// A member recovery dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dropped {
    /// Member name (lossily decoded; empty if the header was unreadable).
    pub name: String,
    /// Offset of its local header.
    pub offset: u64,
    /// Why it was dropped.
    pub reason: String,
}

/// Reads `input`, writes a repaired archive to `output` (created or
/// replaced; it must not be the input file). See the [module docs](self).
/// When no member can be kept, fails with [`Error::Unrecoverable`] and
/// writes nothing.
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
        .at_path(output));
    }
    let scan = Scan::run(&file, meta.len()).map_err(|e| e.at_path(input))?;
    scan.require_members(input)?;
    let mut out = File::create(output).map_err(|e| Error::io_path("create", e, output))?;
    let mut src = &file;
    src.seek(SeekFrom::Start(0))
        .map_err(|e| Error::io_path("seek", e, input))?;
    let copied = io::copy(&mut src.take(scan.end), &mut out)
        .map_err(|e| Error::io_path("copy", e, output))?;
    if copied != scan.end {
        return Err(Error::Unrecoverable {
            reason: "the input shrank while it was being recovered".into(),
            at: Location::path(input),
        });
    }
    let len = write_directory(&mut out, &scan).map_err(|e| Error::io_path("write", e, output))?;
    out.sync_all()
        .map_err(|e| Error::io_path("fsync", e, output))?;
    Ok(scan.report(len))
}

/// Repairs `path` in place: truncates it after the last kept member (only
/// bytes that are not part of a kept member are removed) and writes a new
/// central directory there. When no member can be kept, fails with
/// [`Error::Unrecoverable`] and leaves the file as it was.
pub fn recover_in_place(path: impl AsRef<Path>) -> Result<RecoverReport> {
    let path = path.as_ref();
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(|e| Error::io_path("open", e, path))?;
    let len = file
        .metadata()
        .map_err(|e| Error::io_path("stat", e, path))?
        .len();
    let scan = Scan::run(&file, len).map_err(|e| e.at_path(path))?;
    scan.require_members(path)?;
    file.set_len(scan.end)
        .and_then(|_| file.seek(SeekFrom::Start(scan.end)).map(drop))
        .map_err(|e| Error::io_path("truncate", e, path))?;
    let out_len =
        write_directory(&mut file, &scan).map_err(|e| Error::io_path("write", e, path))?;
    file.sync_all()
        .map_err(|e| Error::io_path("fsync", e, path))?;
    Ok(scan.report(out_len))
}

fn write_directory(out: &mut File, scan: &Scan) -> io::Result<u64> {
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

/// A read window over the input.
struct Src<'f> {
    file: &'f File,
    len: u64,
    win: Vec<u8>,
    start: u64,
}

impl Src<'_> {
    /// Up to `n` bytes at `off` (fewer at the end of the file).
    fn at(&mut self, off: u64, n: usize) -> Result<&[u8]> {
        let avail = self.len.saturating_sub(off);
        let n = (n as u64).min(avail) as usize;
        let cached = off >= self.start
            && off
                .checked_add(n as u64)
                .is_some_and(|e| e <= self.start + self.win.len() as u64);
        if !cached {
            let want = (n.max(WINDOW) as u64).min(avail) as usize;
            self.win.resize(want, 0);
            self.file
                .read_exact_at(&mut self.win, off)
                .map_err(|e| Error::io("read", e, Location::offset(off)))?;
            self.start = off;
        }
        let s = (off - self.start) as usize;
        Ok(&self.win[s..s + n])
    }

    fn u32_at(&mut self, off: u64) -> Result<Option<u32>> {
        let b = self.at(off, 4)?;
        Ok((b.len() == 4).then(|| u32::from_le_bytes([b[0], b[1], b[2], b[3]])))
    }

    /// The next local header signature at or after `from`, or the file end.
    fn resync(&mut self, from: u64) -> Result<u64> {
        self.resync_until(from, self.len)
    }

    /// The first local header signature starting in `from..limit`, else
    /// `limit`. Skipping a record with this instead of jumping to its end
    /// never steps over a member, however long the record claims to be (a
    /// claim that, in damaged data, may hold only once the file has grown).
    fn resync_until(&mut self, mut from: u64, limit: u64) -> Result<u64> {
        let sig = LOCAL_SIG.to_le_bytes();
        let limit = limit.min(self.len);
        while from < limit {
            let chunk = self.at(from, WINDOW)?;
            if chunk.len() < 4 {
                break;
            }
            if let Some(i) = chunk.windows(4).position(|w| w == sig) {
                return Ok((from + i as u64).min(limit));
            }
            from += (chunk.len() - 3) as u64;
        }
        Ok(limit)
    }
}

enum Member {
    Good {
        entry: CentralEntry,
        end: u64,
    },
    Bad {
        reason: String,
        /// Where the member's data would end, if known (diagnostic only).
        #[allow(dead_code)]
        resume: u64,
    },
}

struct Scan {
    entries: Vec<CentralEntry>,
    kept: Vec<String>,
    dropped: Vec<Dropped>,
    /// End of the last kept member.
    end: u64,
    comment: Vec<u8>,
}

impl Scan {
    /// Refuses to write anything when no member can be kept: an empty
    /// archive is no recovery, and in place it would destroy the input.
    fn require_members(&self, input: &Path) -> Result<()> {
        if !self.entries.is_empty() {
            return Ok(());
        }
        let mut reason = String::from("no complete member found");
        if let Some(d) = self.dropped.first() {
            reason.push_str(&format!(
                "; {} member(s) dropped, the first ({:?} at offset {}): {}",
                self.dropped.len(),
                d.name,
                d.offset,
                d.reason
            ));
        }
        Err(Error::Unrecoverable {
            reason,
            at: Location::path(input),
        })
    }

    fn report(&self, output_len: u64) -> RecoverReport {
        RecoverReport {
            kept: self.kept.clone(),
            dropped: self.dropped.clone(),
            output_len,
        }
    }

    fn run(file: &File, len: u64) -> Result<Scan> {
        let mut src = Src {
            file,
            len,
            win: Vec::new(),
            start: 0,
        };
        let mut scan = Scan {
            entries: Vec::new(),
            kept: Vec::new(),
            dropped: Vec::new(),
            end: 0,
            comment: Vec::new(),
        };
        let mut pos = src.resync(0)?;
        while pos < len {
            let Some(sig) = src.u32_at(pos)? else { break };
            pos = match sig {
                LOCAL_SIG => {
                    let (name, m) = member(&mut src, pos)?;
                    match m {
                        Member::Good { entry, end } => {
                            scan.entries.push(entry);
                            scan.kept.push(name);
                            scan.end = end;
                            end
                        }
                        Member::Bad { reason, .. } => {
                            scan.dropped.push(Dropped {
                                name,
                                offset: pos,
                                reason,
                            });
                            // Resume right after this signature: a false
                            // header (in a prefix, say) may claim a length
                            // that would skip real members.
                            src.resync(pos + 4)?
                        }
                    }
                }
                CENTRAL_SIG => {
                    let fixed = src.at(pos, CENTRAL_HEADER_LEN)?;
                    let skip = if fixed.len() == CENTRAL_HEADER_LEN {
                        let v = |i: usize| u64::from(u16::from_le_bytes([fixed[i], fixed[i + 1]]));
                        Some(CENTRAL_HEADER_LEN as u64 + v(28) + v(30) + v(32))
                    } else {
                        None
                    };
                    match skip {
                        Some(n) if src.at(pos, n as usize)?.len() as u64 == n => {
                            let all = src.at(pos, n as usize)?;
                            if CentralEntryRef::parse(all, 0).is_ok() {
                                src.resync_until(pos + 4, pos + n)?
                            } else {
                                src.resync(pos + 4)?
                            }
                        }
                        _ => src.resync(pos + 4)?,
                    }
                }
                ZIP64_EOCD_SIG => {
                    let b = src.at(pos + 4, 8)?;
                    let size = (b.len() == 8).then(|| {
                        let mut a = [0u8; 8];
                        a.copy_from_slice(b);
                        u64::from_le_bytes(a)
                    });
                    match size
                        .and_then(|s| s.checked_add(12))
                        .and_then(|s| s.checked_add(pos))
                    {
                        Some(next) if next <= len => src.resync_until(pos + 4, next)?,
                        _ => src.resync(pos + 4)?,
                    }
                }
                ZIP64_LOCATOR_SIG => src.resync_until(pos + 4, pos + ZIP64_LOCATOR_LEN as u64)?,
                EOCD_SIG => {
                    let b = src.at(pos, EOCD_LEN)?;
                    if b.len() == EOCD_LEN {
                        let clen = u64::from(u16::from_le_bytes([b[20], b[21]]));
                        let c = src.at(pos + EOCD_LEN as u64, clen as usize)?;
                        // The new end record is followed by this comment: an
                        // end record signature in it could be taken for the
                        // real one (and a local header one would be scanned
                        // on the next recovery), so keep only what comes
                        // before either.
                        let sigs = [EOCD_SIG.to_le_bytes(), LOCAL_SIG.to_le_bytes()];
                        let keep = c.windows(4).position(|w| sigs.iter().any(|s| s == w));
                        let c_len = c.len() as u64;
                        scan.comment = c[..keep.unwrap_or(c.len())].to_vec();
                        src.resync_until(pos + 4, pos + EOCD_LEN as u64 + c_len)?
                    } else {
                        len
                    }
                }
                _ => src.resync(pos + 1)?,
            };
        }
        Ok(scan)
    }
}

/// Examines the member whose local header is at `pos`.
fn member(src: &mut Src<'_>, pos: u64) -> Result<(String, Member)> {
    let bad = |reason: &str, resume: u64| Member::Bad {
        reason: reason.to_string(),
        resume,
    };
    let fixed = src.at(pos, LOCAL_HEADER_LEN)?;
    if fixed.len() < LOCAL_HEADER_LEN {
        return Ok((String::new(), bad("truncated local header", src.len)));
    }
    let n = usize::from(u16::from_le_bytes([fixed[26], fixed[27]]))
        + usize::from(u16::from_le_bytes([fixed[28], fixed[29]]));
    let hdr = src.at(pos, LOCAL_HEADER_LEN + n)?;
    if hdr.len() < LOCAL_HEADER_LEN + n {
        return Ok((String::new(), bad("truncated local header", src.len)));
    }
    let lh = match LocalHeaderRef::parse(hdr, 0) {
        Ok(lh) => lh,
        Err(e) => return Ok((String::new(), bad(&e.to_string(), pos + 4))),
    };
    let name = String::from_utf8_lossy(lh.name).into_owned();
    // Name and extra field carry no CRC: one that swallows a local header
    // signature is a damaged header (or one that only fits because the file
    // grew, as a recovered archive does), not a member to keep.
    let sig = LOCAL_SIG.to_le_bytes();
    if [lh.name, lh.extra]
        .iter()
        .any(|b| b.windows(4).any(|w| w == sig))
    {
        let reason = "local header name or extra field holds a local header signature";
        return Ok((name, bad(reason, pos + 4)));
    }
    let mut entry = CentralEntry {
        name: lh.name.to_vec(),
        crc32: lh.crc32,
        compressed_size: lh.compressed_size,
        uncompressed_size: lh.uncompressed_size,
        local_header_offset: pos,
        method: lh.method,
        flags: lh.flags,
        time: lh.time,
        date: lh.date,
        external_attrs: 0o100644 << 16,
        version_made_by: (3 << 8) | 45,
        other_extra: Vec::new(),
        comment: Vec::new(),
    };
    let (flags, method, has_zip64) = (lh.flags, lh.method, lh.has_zip64);
    let (csize, usize_, crc) = (lh.compressed_size, lh.uncompressed_size, lh.crc32);
    let data = pos + lh.len();
    if flags & (FLAG_ENCRYPTED | FLAG_STRONG_ENCRYPTION) != 0 {
        return Ok((name, bad("encrypted member (cannot check its CRC)", data)));
    }
    if method != METHOD_STORED && method != METHOD_DEFLATE {
        return Ok((
            name,
            bad(&format!("unsupported compression method {method}"), data),
        ));
    }
    let streamed = flags & FLAG_DATA_DESCRIPTOR != 0 && csize == 0 && crc == 0;
    if !streamed {
        if csize == u64::MAX || usize_ == u64::MAX {
            return Ok((
                name,
                bad("sizes were never written (member was being streamed)", data),
            ));
        }
        let Some(data_end) = data.checked_add(csize).filter(|&e| e <= src.len) else {
            return Ok((name, bad("member data runs past the end of the file", data)));
        };
        let got = if method == METHOD_STORED {
            if csize != usize_ {
                return Ok((name, bad("stored member with differing sizes", data)));
            }
            crc_range(src, data, csize)?
        } else {
            match inflate(src, data, Some(usize_))? {
                Some((c, u, crc)) if c == csize && u == usize_ => crc,
                _ => return Ok((name, bad("deflate stream does not match its sizes", data))),
            }
        };
        if got != crc {
            return Ok((
                name,
                bad(
                    &format!("CRC mismatch: header says {crc:08x}, data has {got:08x}"),
                    data_end,
                ),
            ));
        }
        let mut end = data_end;
        if flags & FLAG_DATA_DESCRIPTOR != 0 {
            match descriptor_at(src, data_end, has_zip64, crc, csize, usize_)? {
                Some(d) => end += d,
                // The local header's sizes and CRC checked out but no
                // descriptor follows: say so, or readers would look for it.
                None => entry.flags &= !FLAG_DATA_DESCRIPTOR,
            }
        }
        return Ok((name, Member::Good { entry, end }));
    }
    // Sizes and CRC follow the data.
    let found = if method == METHOD_DEFLATE {
        match inflate(src, data, None)? {
            Some((c, u, crc)) => {
                let at = data + c;
                descriptor_at(src, at, has_zip64, crc, c, u)?.map(|d| (c, u, crc, at + d))
            }
            None => None,
        }
    } else {
        find_stored_descriptor(src, data)?
    };
    let Some((c, u, crc, end)) = found else {
        return Ok((
            name,
            bad(
                "no data descriptor matching the data (incomplete member?)",
                data,
            ),
        ));
    };
    entry.crc32 = crc;
    entry.compressed_size = c;
    entry.uncompressed_size = u;
    Ok((name, Member::Good { entry, end }))
}

/// CRC-32 of `len` bytes at `off` (all present: checked by the caller).
fn crc_range(src: &mut Src<'_>, mut off: u64, mut len: u64) -> Result<u32> {
    let mut h = crc32fast::Hasher::new();
    while len > 0 {
        let b = src.at(off, (len.min(WINDOW as u64)) as usize)?;
        if b.is_empty() {
            break;
        }
        h.update(b);
        off += b.len() as u64;
        len -= b.len() as u64;
    }
    Ok(h.finalize())
}

/// The length of a data descriptor at `at` whose CRC and sizes match, in
/// either width (ZIP64 or not), signed or unsigned.
fn descriptor_at(
    src: &mut Src<'_>,
    at: u64,
    zip64_first: bool,
    crc: u32,
    c: u64,
    u: u64,
) -> Result<Option<u64>> {
    let b = src.at(at, 24)?.to_vec();
    for z in [zip64_first, !zip64_first] {
        if let Ok(d) = DataDescriptor::parse(&b, 0, z)
            && d.crc32 == crc
            && d.compressed_size == c
            && d.uncompressed_size == u
        {
            return Ok(Some(d.len));
        }
    }
    Ok(None)
}

/// Searches a stored member's data for a signed data descriptor whose CRC
/// and size match the bytes before it. Returns (size, size, crc, end).
fn find_stored_descriptor(src: &mut Src<'_>, data: u64) -> Result<Option<(u64, u64, u32, u64)>> {
    let sig = DATA_DESCRIPTOR_SIG.to_le_bytes();
    let mut h = crc32fast::Hasher::new();
    let mut fed = data;
    let mut from = data;
    while from < src.len {
        let chunk = src.at(from, WINDOW)?.to_vec();
        if chunk.len() < 4 {
            break;
        }
        let scan_len = chunk.len() - 3;
        let mut i = 0;
        while let Some(k) = chunk[i..scan_len + 3]
            .windows(4)
            .position(|w| w == sig)
            .map(|k| k + i)
        {
            if k >= scan_len {
                break;
            }
            let q = from + k as u64;
            h.update(&chunk[(fed - from) as usize..k]);
            fed = q;
            let crc = h.clone().finalize();
            let size = q - data;
            if let Some(d) = descriptor_at(src, q, size >= 0xFFFF_FFFF, crc, size, size)? {
                return Ok(Some((size, size, crc, q + d)));
            }
            i = k + 1;
        }
        let next = from + scan_len as u64;
        h.update(&chunk[(fed - from) as usize..scan_len]);
        fed = next;
        from = next;
    }
    Ok(None)
}

/// Inflates a raw deflate stream at `off`, hashing the output. Returns
/// (compressed length, uncompressed length, CRC) or `None` if the stream is
/// damaged, truncated or longer than `cap`.
fn inflate(src: &mut Src<'_>, off: u64, cap: Option<u64>) -> Result<Option<(u64, u64, u32)>> {
    use flate2::{Decompress, FlushDecompress, Status};
    let mut d = Decompress::new(false);
    let mut out = vec![0u8; 64 * 1024];
    let mut h = crc32fast::Hasher::new();
    loop {
        let pos = off + d.total_in();
        let input = src.at(pos, WINDOW)?;
        let eof = input.is_empty();
        let before_in = d.total_in();
        let before_out = d.total_out();
        let st = d.decompress(input, &mut out, FlushDecompress::None);
        let produced = (d.total_out() - before_out) as usize;
        h.update(&out[..produced]);
        if cap.is_some_and(|c| d.total_out() > c) {
            return Ok(None);
        }
        match st {
            Ok(Status::StreamEnd) => return Ok(Some((d.total_in(), d.total_out(), h.finalize()))),
            Ok(_) => {
                if eof || (d.total_in() == before_in && produced == 0) {
                    return Ok(None);
                }
            }
            Err(_) => return Ok(None),
        }
    }
}
