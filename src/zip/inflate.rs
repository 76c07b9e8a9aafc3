//! Inflate-and-CRC: the one raw-deflate decoder used by the reader (whole
//! members and verification) and by recovery (streams of unknown length
//! read through a window). Output is hashed with CRC-32 as it is produced.

use super::spec::zip_err;
use crate::error::{Error, Location, Result};
use flate2::{Decompress, FlushDecompress, Status};

/// A raw deflate decoder that hashes its output.
pub(crate) struct CrcInflate {
    d: Decompress,
    h: crc32fast::Hasher,
}

/// What one [`CrcInflate::step`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Progress {
    /// Input bytes consumed.
    pub consumed: usize,
    /// Output bytes produced (and hashed).
    pub produced: usize,
    /// The deflate stream ended.
    pub end: bool,
}

impl CrcInflate {
    pub(crate) fn new() -> CrcInflate {
        CrcInflate {
            d: Decompress::new(false),
            h: crc32fast::Hasher::new(),
        }
    }

    /// Decompresses from `input` into `out` once; the output is hashed.
    pub(crate) fn step(
        &mut self,
        input: &[u8],
        out: &mut [u8],
    ) -> std::result::Result<Progress, flate2::DecompressError> {
        let (in0, out0) = (self.d.total_in(), self.d.total_out());
        let st = self.d.decompress(input, out, FlushDecompress::None)?;
        let consumed = (self.d.total_in() - in0) as usize;
        let produced = (self.d.total_out() - out0) as usize;
        self.h.update(out.get(..produced).unwrap_or_default());
        Ok(Progress {
            consumed,
            produced,
            end: st == Status::StreamEnd,
        })
    }

    /// Input consumed in total.
    pub(crate) fn total_in(&self) -> u64 {
        self.d.total_in()
    }

    /// Output produced in total.
    pub(crate) fn total_out(&self) -> u64 {
        self.d.total_out()
    }

    /// CRC-32 of the output so far.
    pub(crate) fn crc(&self) -> u32 {
        self.h.clone().finalize()
    }
}

/// Where [`inflate_checked`] puts the output.
pub(crate) enum Dest<'a> {
    /// Exactly this buffer, whose length is the declared size.
    Into(&'a mut [u8]),
    /// Nowhere (verification): `len` bytes are expected.
    Discard { len: u64 },
}

/// Inflates the member data `input` (at file offset `at`), requiring
/// exactly the declared number of output bytes and the declared CRC-32.
///
/// Errors: invalid data or fewer bytes than declared, [`Error::Zip`]; more
/// output than declared, [`Error::DecompressionLimit`]; a wrong checksum,
/// [`Error::CrcMismatch`].
pub(crate) fn inflate_checked(input: &[u8], dest: Dest<'_>, crc: u32, at: u64) -> Result<()> {
    let mut c = CheckedInflate::new(dest, crc, at);
    c.feed(input)?;
    c.finish()
}

/// [`inflate_checked`] fed in pieces (member data read in chunks): the same
/// checks and errors, whatever the chunk boundaries.
pub(crate) struct CheckedInflate<'a> {
    inf: CrcInflate,
    scratch: Vec<u8>,
    into: Option<&'a mut [u8]>,
    n: u64,
    crc: u32,
    at: u64,
    ended: bool,
}

impl<'a> CheckedInflate<'a> {
    /// A decoder expecting `dest`'s size and the CRC-32 `crc`, reporting
    /// errors at offset `at`.
    pub(crate) fn new(dest: Dest<'a>, crc: u32, at: u64) -> CheckedInflate<'a> {
        let mut scratch = Vec::new();
        let (into, n) = match dest {
            Dest::Into(b) => {
                let n = b.len() as u64;
                (Some(b), n)
            }
            Dest::Discard { len } => {
                scratch.resize(64 << 10, 0);
                (None, len)
            }
        };
        CheckedInflate {
            inf: CrcInflate::new(),
            scratch,
            into,
            n,
            crc,
            at,
            ended: false,
        }
    }

    /// Decompresses the next bytes of the member data (all of them, unless
    /// the deflate stream ends first; bytes after its end are ignored).
    pub(crate) fn feed(&mut self, input: &[u8]) -> Result<()> {
        let at = self.at;
        let bad = |e: flate2::DecompressError| zip_err(format!("invalid deflate data: {e}"), at);
        let mut probe = [0u8; 1];
        let mut used = 0usize;
        while !self.ended {
            let filled = self.inf.total_out();
            let rest = input.get(used..).unwrap_or_default();
            let out: &mut [u8] = match self.into.as_mut() {
                // Past the declared size: a 1-byte probe for excess output.
                Some(b) => match b.get_mut(usize::try_from(filled).unwrap_or(usize::MAX)..) {
                    Some(r) if !r.is_empty() => r,
                    _ => &mut probe,
                },
                None => &mut self.scratch,
            };
            let p = self.inf.step(rest, out).map_err(bad)?;
            used = used.saturating_add(p.consumed);
            if self.inf.total_out() > self.n {
                return Err(Error::DecompressionLimit {
                    limit: self.n,
                    at: Location::offset(at),
                });
            }
            if p.end {
                self.ended = true;
            }
            if p.consumed == 0 && p.produced == 0 {
                break;
            }
        }
        Ok(())
    }

    /// True once the deflate stream ended (more input would be ignored).
    #[cfg_attr(not(feature = "object-store"), allow(dead_code))]
    pub(crate) fn ended(&self) -> bool {
        self.ended
    }

    /// The checks once all the member data was fed: the declared size
    /// reached and the CRC-32 equal.
    pub(crate) fn finish(self) -> Result<()> {
        let n = self.n;
        if self.inf.total_out() < n {
            return Err(zip_err(
                format!(
                    "deflate data ends after {} of {n} declared bytes",
                    self.inf.total_out()
                ),
                self.at,
            ));
        }
        let actual = self.inf.crc();
        if actual != self.crc {
            return Err(Error::CrcMismatch {
                expected: self.crc,
                actual,
                at: Location::offset(self.at),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn deflate(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn checks_size_and_crc() {
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let z = deflate(&data);
        let crc = crc32fast::hash(&data);
        let mut out = vec![0u8; data.len()];
        inflate_checked(&z, Dest::Into(&mut out), crc, 0).unwrap();
        assert_eq!(out, data);
        let len = data.len() as u64;
        inflate_checked(&z, Dest::Discard { len }, crc, 0).unwrap();
        assert!(matches!(
            inflate_checked(&z, Dest::Discard { len }, crc ^ 1, 7),
            Err(Error::CrcMismatch { .. })
        ));
        let mut short = vec![0u8; data.len() - 1];
        assert!(matches!(
            inflate_checked(&z, Dest::Into(&mut short), crc, 0),
            Err(Error::DecompressionLimit { limit, .. }) if limit == len - 1
        ));
        assert!(matches!(
            inflate_checked(&z, Dest::Discard { len: len + 1 }, crc, 0),
            Err(Error::Zip { .. })
        ));
        assert!(matches!(
            inflate_checked(&z[..z.len() / 2], Dest::Discard { len }, crc, 0),
            Err(Error::Zip { .. })
        ));
        assert!(matches!(
            inflate_checked(&[0xff; 10], Dest::Discard { len }, crc, 0),
            Err(Error::Zip { .. })
        ));
    }
}
