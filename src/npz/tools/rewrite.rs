//! [`rewrite`]: any archive made zero-copy readable.

use super::{CHUNK, Data, Out, check_align, check_crc, inflate_member, locate, open_input};
use crate::error::{Error, Location, Result};
use crate::zip::{METHOD_DEFLATE, METHOD_STORED};
use std::os::unix::fs::FileExt;
use std::path::Path;

/// Options of [`rewrite`].
#[derive(Debug, Clone)]
pub struct RewriteOptions {
    align: u64,
    decompress: bool,
    dedupe: bool,
    fsync: bool,
}

impl Default for RewriteOptions {
    fn default() -> Self {
        RewriteOptions {
            align: 64,
            decompress: true,
            dedupe: false,
            fsync: true,
        }
    }
}

impl RewriteOptions {
    /// The defaults: 64-byte alignment, deflated members decompressed,
    /// duplicates kept, fsync before the rename.
    pub fn new() -> Self {
        Self::default()
    }

    /// Member data starts on a multiple of `align` bytes (a power of two
    /// from 1 to 32768; 1 turns alignment off). Default 64 (enough for
    /// every NumPy dtype); 4096 gives page-aligned data.
    pub fn align(mut self, align: u64) -> Self {
        self.align = align;
        self
    }

    /// Inflate deflated members and store them (default `true`: only stored
    /// members can be viewed without a copy). With `false` deflated members
    /// are copied as they are, compressed (their CRC is still checked).
    pub fn decompress(mut self, on: bool) -> Self {
        self.decompress = on;
        self
    }

    /// Drop members hidden by a later member with the same key (what
    /// `np.load` would never show); they are listed in
    /// [`RewriteReport::dropped`]. Default `false`: every member is kept,
    /// duplicates included.
    pub fn dedupe(mut self, on: bool) -> Self {
        self.dedupe = on;
        self
    }

    /// fsync the output before the rename (default `true`).
    pub fn fsync(mut self, on: bool) -> Self {
        self.fsync = on;
        self
    }
}

/// What [`rewrite`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RewriteReport {
    /// Members written, in order.
    pub members: u64,
    /// Members that were deflated in the input and are stored now.
    pub decompressed: Vec<String>,
    /// Members dropped by [`RewriteOptions::dedupe`]: name and the offset
    /// of the local header in the input.
    pub dropped: Vec<(String, u64)>,
    /// Length of the output.
    pub output_len: u64,
}

/// Rewrites the archive `input` to `output` so that every array can be
/// viewed without a copy: members stored (deflated ones inflated, unless
/// [`RewriteOptions::decompress`] is off) and their data aligned.
///
/// Names, member order, the archive comment and every member's bytes (NPY
/// header and data) are kept; with [`RewriteOptions::dedupe`] members hidden
/// by a later one with the same key are dropped (and reported). Every
/// member's CRC-32 (and deflate stream) is checked while it is copied: a
/// damaged input fails the call with the error naming the input file,
/// member and offset ([`Error::CrcMismatch`], [`Error::Zip`], ...) and
/// `output` is left as it was. Members whose CRC cannot be checked
/// (encrypted, or compressed by a method other than deflate) are refused.
///
/// `output` may be `input` (the file is replaced atomically). See the
/// [module docs](super) for locking, atomicity and memory.
///
/// ```
/// use npzmap::npz::{NpzReader, NpzWriter, tools::{rewrite, RewriteOptions}};
/// use npzmap::Order;
/// let dir = tempfile::tempdir().unwrap();
/// let (a, b) = (dir.path().join("a.npz"), dir.path().join("b.npz"));
/// let mut w = NpzWriter::options().align(1).create(&a).unwrap();
/// w.write("x", &[1.0f64, 2.0], &[2], Order::C).unwrap();
/// w.close().unwrap();
/// rewrite(&a, &b, RewriteOptions::new().align(4096)).unwrap();
/// assert!(!NpzReader::open(&b).unwrap().get_slice::<f64>("x").unwrap().is_copy());
/// ```
pub fn rewrite(
    input: impl AsRef<Path>,
    output: impl AsRef<Path>,
    opts: RewriteOptions,
) -> Result<RewriteReport> {
    let (input, output) = (input.as_ref(), output.as_ref());
    check_align(opts.align)?;
    let (reader, src, len) = open_input(input)?;
    let mut out = Out::create(output, opts.fsync)?;
    let mut report = RewriteReport::default();
    let mut buf = vec![0u8; CHUNK];
    for info in reader.members() {
        if opts.dedupe && info.shadowed {
            report
                .dropped
                .push((info.name.to_string(), info.local_header_offset));
            continue;
        }
        let data = locate(&src, input, &info, len)?;
        let sizes = (info.compressed_size, info.uncompressed_size);
        match info.method {
            METHOD_STORED => {
                if sizes.0 != sizes.1 {
                    return Err(super::zip_err(
                        "stored member with differing sizes",
                        input,
                        info.name,
                        info.local_header_offset,
                    ));
                }
                out.header(
                    info.name,
                    (METHOD_STORED, info.crc32, sizes.0, sizes.0),
                    opts.align,
                )?;
                copy_checked(&mut out, &src, input, &data, &mut buf)
                    .and_then(|crc| check_crc(&info, crc, input, data.offset))?;
            }
            METHOD_DEFLATE if opts.decompress => {
                out.header(
                    info.name,
                    (METHOD_STORED, info.crc32, sizes.1, sizes.1),
                    opts.align,
                )?;
                inflate_member(&src, input, &info, &data, |b| out.write_all(b))?;
                report.decompressed.push(info.name.to_string());
            }
            METHOD_DEFLATE => {
                inflate_member(&src, input, &info, &data, |_| Ok(()))?;
                out.header(
                    info.name,
                    (METHOD_DEFLATE, info.crc32, sizes.0, sizes.1),
                    opts.align,
                )?;
                out.copy_raw(&src, input, &data)?;
            }
            method => {
                return Err(Error::UnsupportedCompression {
                    method,
                    at: Location {
                        path: Some(input.to_path_buf()),
                        member: Some(info.name.to_string()),
                        offset: Some(info.local_header_offset),
                    },
                });
            }
        }
        report.members += 1;
    }
    report.output_len = out.finish(reader.comment(), opts.fsync)?;
    Ok(report)
}

/// Copies `data` through `buf`, returning the CRC-32 of the bytes copied.
fn copy_checked(
    out: &mut Out,
    src: &std::fs::File,
    path: &Path,
    data: &Data,
    buf: &mut [u8],
) -> Result<u32> {
    let mut h = crc32fast::Hasher::new();
    let mut done = 0u64;
    while done < data.len {
        let n = (data.len - done).min(buf.len() as u64) as usize;
        let b = buf.get_mut(..n).unwrap_or_default();
        let at = data.offset + done;
        src.read_exact_at(b, at)
            .map_err(|e| Error::io("read", e, Location::offset(at)).at_path(path))?;
        h.update(b);
        out.write_all(b)?;
        done += n as u64;
    }
    Ok(h.finalize())
}
