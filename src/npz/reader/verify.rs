//! Whole-archive checks: [`NpzReader::verify`] (every member's structure and
//! CRC-32, in parallel) with its [`VerifyReport`], and the parallel header
//! preload of [`ReaderOptions::preload`](super::ReaderOptions::preload).

use super::{NpzReader, to_usize, zip_err};
use crate::error::{Error, Result};
use crate::zip::{DataDescriptor, FLAG_DATA_DESCRIPTOR, MAX32};
use std::iter::FusedIterator;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The result of [`NpzReader::verify`]: one entry per member, in archive
/// order.
#[derive(Debug, Default)]
pub struct VerifyReport {
    /// `(member name, result)` for every member.
    pub members: Vec<(String, Result<()>)>,
}

impl VerifyReport {
    /// True when every member passed.
    pub fn is_ok(&self) -> bool {
        self.members.iter().all(|(_, r)| r.is_ok())
    }

    /// The members that failed, with their errors.
    pub fn errors(&self) -> Errors<'_> {
        Errors {
            inner: self.members.iter(),
        }
    }
}

/// The failed members of a [`VerifyReport`], as `(member name, error)`;
/// returned by [`VerifyReport::errors`].
#[derive(Debug, Clone)]
pub struct Errors<'a> {
    inner: std::slice::Iter<'a, (String, Result<()>)>,
}

impl<'a> Iterator for Errors<'a> {
    type Item = (&'a str, &'a Error);

    fn next(&mut self) -> Option<Self::Item> {
        self.inner
            .by_ref()
            .find_map(|(n, r)| r.as_ref().err().map(|e| (n.as_str(), e)))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, self.inner.size_hint().1)
    }
}

impl FusedIterator for Errors<'_> {}

impl NpzReader {
    /// Checks one member completely: zip structure, data descriptor, NPY
    /// header and length (for members that are arrays by `np.load`'s rule,
    /// whatever their name: see [`NpzReader::is_array`]) and CRC.
    fn verify_member(&self, i: usize) -> Result<()> {
        let e = self.entry(i)?;
        let loc = self.locate(i)?;
        if e.flags & FLAG_DATA_DESCRIPTOR != 0 {
            let zip64 = loc.local_zip64 || e.compressed >= MAX32 || e.uncompressed >= MAX32;
            // `locate` checked the member against `next_offset`, which
            // `index` checked against the map.
            let bounded = self
                .map
                .get(..to_usize(e.next_offset, loc.end)?)
                .ok_or_else(|| zip_err("member lies past the end of the file", loc.end))?;
            let dd = DataDescriptor::parse(bounded, loc.end, zip64)?;
            if dd.crc32 != e.crc32
                || dd.compressed_size != e.compressed
                || dd.uncompressed_size != e.uncompressed
            {
                return Err(zip_err(
                    "data descriptor disagrees with the central directory",
                    loc.end,
                ));
            }
        }
        if self.is_array_at(i, &loc)? {
            self.parse_member(i)?;
        }
        self.check_crc(i, &loc)
    }

    /// Checks every member's structure and CRC-32, in parallel over
    /// `std::thread::available_parallelism()` threads, and reports each
    /// member's result (including members hidden by duplicates and
    /// non-`.npy` members). Reads every byte of the archive.
    pub fn verify(&self) -> VerifyReport {
        let results = par_map(self.entries.len(), 1, |i| {
            self.verify_member(i).map_err(|e| self.ctx(i, e))
        });
        VerifyReport {
            members: results
                .into_iter()
                .enumerate()
                .map(|(i, r)| (self.name(i).to_string(), r))
                .collect(),
        }
    }

    /// Parses every live member's headers in parallel (see
    /// [`ReaderOptions::preload`](super::ReaderOptions::preload)).
    pub(super) fn preload(&mut self) -> Result<()> {
        let this = &*self;
        // Every key np.load would return as an array, whatever its name;
        // members that are not arrays (no NPY magic) are not errors.
        let live: Vec<usize> = (this.entries.iter().enumerate())
            .filter_map(|(i, e)| e.live.then_some(i))
            .collect();
        let results = par_map(live.len(), 64, |k| {
            let &i = live.get(k)?;
            match this.parse_member(i) {
                Ok(p) => {
                    if this.opts.cache
                        && let Some(e) = this.entries.get(i)
                    {
                        let _ = e.parsed.set(Box::new(p));
                    }
                    None
                }
                Err(e) => {
                    let not_array = this
                        .locate(i)
                        .and_then(|loc| this.is_array_at(i, &loc))
                        .is_ok_and(|a| !a);
                    (!not_array).then(|| (this.name(i).to_string(), this.ctx(i, e)))
                }
            }
        });
        let errors: Vec<(String, Error)> = results.into_iter().flatten().collect();
        if self.opts.strict {
            return match errors.into_iter().next() {
                Some((_, first)) => Err(first),
                None => Ok(()),
            };
        }
        self.preload_errors = errors;
        Ok(())
    }
}

/// Maps `f` over `0..n` on up to `available_parallelism()` scoped threads,
/// handing out `chunk` indices at a time; results come back in index order.
fn par_map<R: Send>(n: usize, chunk: usize, f: impl Fn(usize) -> R + Sync) -> Vec<R> {
    let chunk = chunk.max(1);
    let threads = std::thread::available_parallelism()
        .map_or(1, |t| t.get())
        .min(n.div_ceil(chunk))
        .max(1);
    if threads == 1 {
        return (0..n).map(f).collect();
    }
    let next = AtomicUsize::new(0);
    let mut all: Vec<(usize, R)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut out = Vec::new();
                    loop {
                        let start = next.fetch_add(chunk, Ordering::Relaxed);
                        if start >= n {
                            break;
                        }
                        for i in start..(start + chunk).min(n) {
                            out.push((i, f(i)));
                        }
                    }
                    out
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });
    all.sort_unstable_by_key(|(i, _)| *i);
    all.into_iter().map(|(_, r)| r).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn par_map_keeps_order() {
        let v = par_map(1000, 7, |i| i * 2);
        assert_eq!(v, (0..1000).map(|i| i * 2).collect::<Vec<_>>());
        assert!(par_map(0, 1, |i| i).is_empty());
    }
}
