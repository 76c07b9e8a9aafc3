//! Whole-archive checks: [`NpzReader::verify`] (every member's structure and
//! CRC-32, in parallel) with its [`VerifyReport`], and the parallel header
//! preload of [`ReaderOptions::preload`](super::ReaderOptions::preload).

use super::source::{Window, rebase};
use super::{NpzReader, zip_err};
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
    /// whatever their name: see [`NpzReader::is_array`]) and CRC; reads
    /// through `w` (a remote member's whole range, or for a big one its
    /// headers, the rest then read in chunks).
    pub(super) fn verify_member(&self, i: usize, w: &Window<'_>) -> Result<()> {
        let e = self.entry(i)?;
        let loc = self.locate_in(i, w)?;
        if e.flags & FLAG_DATA_DESCRIPTOR != 0 {
            let zip64 = loc.local_zip64 || e.compressed >= MAX32 || e.uncompressed >= MAX32;
            // The descriptor is at most 24 bytes.
            let fetched;
            let dw = if w.end() >= e.next_offset {
                w
            } else {
                fetched =
                    self.range_window(loc.end, e.next_offset.min(loc.end.saturating_add(24)))?;
                &fetched
            };
            // `locate` checked the member against `next_offset`, which
            // `index` checked against the archive.
            let base = dw.base();
            let bounded = dw
                .upto(e.next_offset)
                .filter(|_| base <= loc.end)
                .ok_or_else(|| zip_err("member lies past the end of the file", loc.end))?;
            let at = loc.end - base;
            if DataDescriptor::matching(bounded, at, zip64, e.crc32, e.compressed, e.uncompressed)
                .is_none()
            {
                // Neither width matches: the expected width's parse error
                // (a cut descriptor), else the disagreement.
                DataDescriptor::parse(bounded, at, zip64).map_err(|x| rebase(x, base))?;
                return Err(zip_err(
                    "data descriptor disagrees with the central directory",
                    loc.end,
                ));
            }
        }
        if self.is_array_at(i, &loc, w)? {
            self.parse_headers_in(i, w)?;
        }
        self.check_crc(i, &loc, w)
    }

    /// Checks every member's structure and CRC-32, in parallel over
    /// one thread per core, and reports each
    /// member's result (including members hidden by duplicates and
    /// non-`.npy` members). Reads every byte of the archive; from object
    /// storage in coalesced requests of at most about 8 MiB each (so memory
    /// stays bounded whatever the archive's size).
    pub fn verify(&self) -> VerifyReport {
        let all: Vec<usize> = (0..self.entries.len()).collect();
        let results = self.with_windows(&all, false, 1, |i, w| {
            self.verify_member(i, w).map_err(|e| self.ctx(i, e))
        });
        VerifyReport {
            members: results
                .into_iter()
                .enumerate()
                .map(|(i, r)| (self.name(i).to_string(), r.and_then(|r| r)))
                .collect(),
        }
    }

    /// Maps `f` over the members `idx` (in parallel), each with a window
    /// holding it: the local archive, or fetched from object storage in
    /// coalesced batches of bounded size (`headers`: just each member's
    /// headers; else whole members, big ones as a header prefix). Results
    /// in `idx` order; a failed fetch is each member's error. Local members
    /// are handed to the threads `chunk` at a time.
    pub(super) fn with_windows<R: Send>(
        &self,
        idx: &[usize],
        headers: bool,
        chunk: usize,
        f: impl Fn(usize, &Window<'_>) -> R + Sync,
    ) -> Vec<Result<R>> {
        if let Some(w) = self.local() {
            return par_map(idx.len(), chunk, |k| match idx.get(k) {
                Some(&i) => Ok(f(i, &w)),
                None => Err(Self::bad_index(k)),
            });
        }
        #[cfg(feature = "object-store")]
        if let super::source::Source::Remote(r) = &*self.src {
            let batches = self.batches(idx, headers);
            let per = par_map(batches.len(), 1, |b| {
                let batch = batches.get(b).map(Vec::as_slice).unwrap_or_default();
                match self.batch_windows(r, batch, headers) {
                    Ok(ws) => batch
                        .iter()
                        .zip(ws)
                        .map(|(&(k, i), w)| (k, Ok(f(i, &w))))
                        .collect::<Vec<_>>(),
                    Err(e) => batch
                        .iter()
                        .map(|&(k, i)| (k, Err(self.ctx(i, super::remote::again(&e)))))
                        .collect(),
                }
            });
            let mut all: Vec<(usize, Result<R>)> = per.into_iter().flatten().collect();
            all.sort_unstable_by_key(|(k, _)| *k);
            return all.into_iter().map(|(_, r)| r).collect();
        }
        let _ = headers;
        idx.iter().map(|&i| Err(Self::bad_index(i))).collect()
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
        let results =
            this.with_windows(&live, true, 64, |i, w| match this.parse_headers_in(i, w) {
                Ok(p) => {
                    if this.opts.cache {
                        let _ = this.keep_parsed(i, p);
                    }
                    None
                }
                Err(e) => {
                    let not_array = this
                        .locate_in(i, w)
                        .and_then(|loc| this.is_array_at(i, &loc, w))
                        .is_ok_and(|a| !a);
                    (!not_array).then(|| (this.name(i).to_string(), this.ctx(i, e)))
                }
            });
        let mut errors: Vec<(String, Error)> = Vec::new();
        for (k, r) in results.into_iter().enumerate() {
            match r {
                Ok(Some(e)) => errors.push(e),
                Ok(None) => {}
                Err(e) => {
                    let i = live.get(k).copied().unwrap_or_default();
                    errors.push((this.name(i).to_string(), e));
                }
            }
        }
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

/// Maps `f` over `0..n` on up to [`cores`](crate::fs::cores) scoped threads,
/// handing out `chunk` indices at a time; results come back in index order.
pub(super) fn par_map<R: Send>(n: usize, chunk: usize, f: impl Fn(usize) -> R + Sync) -> Vec<R> {
    let chunk = chunk.max(1);
    let threads = crate::fs::cores().min(n.div_ceil(chunk)).max(1);
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
