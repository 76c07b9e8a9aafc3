//! [`ArrayInfo`]s of many members: of given keys
//! ([`NpzReader::array_infos`]), or of every member in archive order
//! ([`NpzReader::for_each_array_info`], what `npzmap ls` lists). A local
//! archive's headers are parsed on all cores, an object's fetched in
//! coalesced requests; parsed headers are not kept, so memory stays bounded.

use super::member::Parsed;
use super::source::Window;
use super::{ArrayInfo, MemberInfo, NpzReader};
use crate::error::Result;
use crate::zip::METHOD_STORED;
use std::ops::ControlFlow;
use std::sync::mpsc;

/// Members a worker parses per hand-over to the caller's thread.
const CHUNK: usize = 64;
/// Hand-overs a worker may be ahead of the caller (memory stays bounded).
const AHEAD: usize = 16;
/// Members per request batch from object storage.
const REMOTE_BATCH: usize = 2048;

impl NpzReader {
    /// [`NpzReader::array_info`] of every key in `keys`, in order, each
    /// key's result in its place. A local archive's headers are parsed on
    /// all cores; from object storage the starts of the members are fetched
    /// together, in coalesced requests. Headers parsed here are not kept
    /// (memory stays bounded by the call), cached ones are used.
    pub fn array_infos(&self, keys: &[&str]) -> Vec<Result<ArrayInfo>> {
        let found: Vec<Result<usize>> = keys.iter().map(|k| self.lookup(k)).collect();
        let idx: Vec<usize> = found
            .iter()
            .filter_map(|r| r.as_ref().ok().copied())
            .collect();
        let mut infos = self.infos_at(&idx).into_iter();
        (found.into_iter())
            .map(|r| r.and_then(|i| infos.next().unwrap_or_else(|| Err(Self::bad_index(i)))))
            .collect()
    }

    /// The [`ArrayInfo`] of members `idx`, in order: from cached headers, or
    /// read together (on all cores, or in coalesced requests).
    fn infos_at(&self, idx: &[usize]) -> Vec<Result<ArrayInfo>> {
        // Looked up once: another thread may cache headers meanwhile.
        let cached: Vec<Option<&Parsed>> = idx.iter().map(|&i| self.parsed(i)).collect();
        let todo: Vec<usize> = (idx.iter().zip(&cached))
            .filter(|(_, p)| p.is_none())
            .map(|(&i, _)| i)
            .collect();
        let mut read = (self.with_windows(&todo, true, 64, |i, w| self.read_info(i, w)))
            .into_iter()
            .map(|r| r.and_then(|r| r));
        (idx.iter().zip(cached))
            .map(|(&i, p)| match p {
                Some(p) => self.info_of(i, p),
                None => read.next().unwrap_or_else(|| Err(Self::bad_index(i))),
            })
            .collect()
    }

    /// The [`ArrayInfo`] of member `i`, its headers parsed from `w` (and
    /// not kept).
    fn read_info(&self, i: usize, w: &Window<'_>) -> Result<ArrayInfo> {
        let p = self.parse_headers_in(i, w).map_err(|e| self.ctx(i, e))?;
        self.info_owned(i, p)
    }

    /// The [`ArrayInfo`] of member `i`, whose headers are `p`.
    pub(super) fn info_of(&self, i: usize, p: &Parsed) -> Result<ArrayInfo> {
        let (stored, aligned) = self.placement(i, p)?;
        Ok(ArrayInfo {
            header: p.cold.header.clone(),
            data_offset: p.cold.data_start,
            data_len: p.cold.data_len,
            stored,
            aligned,
        })
    }

    /// [`NpzReader::info_of`] of freshly parsed headers (moved, not copied).
    fn info_owned(&self, i: usize, p: Parsed) -> Result<ArrayInfo> {
        let (stored, aligned) = self.placement(i, &p)?;
        let c = *p.cold;
        Ok(ArrayInfo {
            header: c.header,
            data_offset: c.data_start,
            data_len: c.data_len,
            stored,
            aligned,
        })
    }

    /// Whether member `i` (headers `p`) is stored, and stored aligned and
    /// native (viewable in place). A deflated member's data offset is the
    /// offset in its inflated bytes.
    fn placement(&self, i: usize, p: &Parsed) -> Result<(bool, bool)> {
        let stored = self.entry(i)?.method == METHOD_STORED;
        let aligned = stored
            && p.cold.native.is_none()
            && p.cold
                .data_start
                .is_multiple_of((crate::view::natural_align(&p.cold.header.dtype) as u64).max(1));
        Ok((stored, aligned))
    }

    /// Calls `f` with every member, as [`NpzReader::members`] lists them
    /// (shadowed ones included), and its [`ArrayInfo`] (its own headers,
    /// read as [`NpzReader::array_info`] reads them), in archive order, until
    /// `f` breaks. A local archive's headers are parsed by a worker per core
    /// while `f` runs, a bounded distance ahead of it; from object storage the
    /// starts of the members are fetched in coalesced requests, a batch at a
    /// time. Headers parsed here are not kept.
    pub fn for_each_array_info<B>(
        &self,
        mut f: impl FnMut(MemberInfo<'_>, Result<ArrayInfo>) -> ControlFlow<B>,
    ) -> ControlFlow<B> {
        let n = self.entries.len();
        let mut members = self.members();
        let mut give = |r| match members.next() {
            Some(m) => f(m, r),
            None => ControlFlow::Continue(()),
        };
        let Some(w) = self.local() else {
            return self.remote_infos(n, give);
        };
        let info = |i: usize| match self.parsed(i) {
            Some(p) => self.info_of(i, p),
            None => self.read_info(i, &w),
        };
        let chunks = n.div_ceil(CHUNK);
        let workers = crate::fs::cores().min(chunks);
        if workers <= 1 {
            return (0..n).try_for_each(|i| give(info(i)));
        }
        let info = &info;
        std::thread::scope(|s| {
            // Worker `k` parses chunks k, k + workers, ... in order into its
            // own queue, so the caller takes chunk c from queue c % workers
            // and each worker stays at most AHEAD chunks ahead.
            let queues: Vec<mpsc::Receiver<Vec<Result<ArrayInfo>>>> = (0..workers)
                .map(|k| {
                    let (tx, rx) = mpsc::sync_channel(AHEAD);
                    s.spawn(move || {
                        for c in (k..chunks).step_by(workers) {
                            let start = c * CHUNK;
                            let infos = (start..(start + CHUNK).min(n)).map(info).collect();
                            if tx.send(infos).is_err() {
                                return; // the caller stopped
                            }
                        }
                    });
                    rx
                })
                .collect();
            for c in 0..chunks {
                // A queue closes early only if its worker panicked; the
                // scope then re-raises that panic.
                let Some(Ok(infos)) = queues.get(c % workers).map(|q| q.recv()) else {
                    break;
                };
                infos.into_iter().try_for_each(&mut give)?;
            }
            ControlFlow::Continue(())
        })
    }

    /// [`NpzReader::for_each_array_info`] from object storage: a batch of
    /// members fetched together (those with cached headers are not), then
    /// handed to `give`.
    fn remote_infos<B>(
        &self,
        n: usize,
        mut give: impl FnMut(Result<ArrayInfo>) -> ControlFlow<B>,
    ) -> ControlFlow<B> {
        for start in (0..n).step_by(REMOTE_BATCH) {
            let idx: Vec<usize> = (start..(start + REMOTE_BATCH).min(n)).collect();
            self.infos_at(&idx).into_iter().try_for_each(&mut give)?;
        }
        ControlFlow::Continue(())
    }
}
