//! Checking one member found by the scan: its local header, its data
//! against the CRC-32 (stored or deflated), and its data descriptor.

use super::src::{Src, WINDOW};
use super::vouch::{Vouched, holds_signature};
use crate::error::Result;
use crate::zip::decode_name;
use crate::zip::inflate::CrcInflate;
use crate::zip::read::extra_fields;
use crate::zip::spec::block_at;
use crate::zip::{
    CentralEntry, DATA_DESCRIPTOR_SIG, DataDescriptor, EXTERNAL_ATTRS_FILE, EXTRA_ZIP64,
    FLAG_DATA_DESCRIPTOR, FLAG_ENCRYPTED, FLAG_STRONG_ENCRYPTION, LOCAL_HEADER_LEN, LocalBlock,
    LocalHeaderRef, METHOD_DEFLATE, METHOD_STORED, VERSION_MADE_BY,
};

/// The verdict on one member.
pub(super) enum Member {
    /// Its data checks out; the directory entry to write, and where the
    /// member (with any data descriptor) ends.
    Good {
        /// The new central directory entry.
        entry: CentralEntry,
        /// End of the member in the input.
        end: u64,
    },
    /// Dropped, with why.
    Bad {
        /// Why (goes to [`Dropped::reason`](super::Dropped::reason)).
        reason: String,
    },
}

fn bad(reason: impl Into<String>) -> Member {
    Member::Bad {
        reason: reason.into(),
    }
}

/// A local header that parsed, copied out of the read window.
struct Local {
    /// The member name, lossily decoded (for the report).
    name: String,
    /// The directory entry the header gives (sizes and CRC as recorded).
    entry: CentralEntry,
    /// Whether the header had a ZIP64 extra (the descriptor's likely width).
    has_zip64: bool,
    /// Offset of the member's data.
    data: u64,
    /// Name or extra field holds a local header signature.
    suspect: bool,
}

/// Examines the member whose local header is at `pos`: its name (empty if
/// the header is unreadable) and the verdict. Bytes read checking a member
/// that is dropped are taken from `budget`.
pub(super) fn member(
    src: &mut Src<'_>,
    vouched: &mut Vouched,
    budget: &mut Budget,
    pos: u64,
) -> Result<(String, Member)> {
    let Local {
        name,
        entry,
        has_zip64,
        data,
        suspect,
    } = match local_header(src, pos)? {
        Ok(local) => local,
        Err((name, reason)) => return Ok((name, bad(reason))),
    };
    let swallows = || bad("local header name or extra field holds a local header signature");
    // Such a header is checked only if the directory lists it, and then
    // only up to the next listed member: its data is never read past there.
    let bound = match suspect {
        false => src.len,
        true => match vouched.bound(src, pos, &entry.name) {
            Some(bound) => bound.min(src.len),
            None => return Ok((name, swallows())),
        },
    };
    if let Some(reason) = uncheckable(&entry) {
        return Ok((name, bad(reason)));
    }
    let streamed =
        entry.flags & FLAG_DATA_DESCRIPTOR != 0 && entry.compressed_size == 0 && entry.crc32 == 0;
    let total = budget.total;
    let gave_up = || {
        bad(format!(
            "not checked to its end: recovery reads at most {} bytes for members it drops, \
             and had used them up",
            total
        ))
    };
    // What the check may read: a streamed member up to where its end is
    // found (within the budget), a sized one its data and a descriptor.
    let limit = if streamed {
        bound.min(data.saturating_add(budget.left))
    } else {
        let csize = entry.compressed_size;
        if data.saturating_add(csize) <= bound && csize > budget.left {
            return Ok((name, gave_up()));
        }
        bound.min(data.saturating_add(csize).saturating_add(24))
    };
    let full = std::mem::replace(&mut src.len, limit);
    src.high = data;
    let verdict = match streamed {
        true => described(src, entry, data, has_zip64),
        false => sized(src, entry, data, has_zip64),
    };
    src.len = full;
    let verdict = match verdict? {
        Member::Good { entry, end } if suspect && !vouched.vouches(pos, &entry, end) => swallows(),
        Member::Good { entry, end } => Member::Good { entry, end },
        Member::Bad { reason } => {
            budget.left = budget.left.saturating_sub(src.high.saturating_sub(data));
            if streamed && limit < bound && src.high >= limit {
                gave_up()
            } else {
                Member::Bad { reason }
            }
        }
    };
    Ok((name, verdict))
}

/// Bytes recovery may still read checking members it then drops.
///
/// A member is kept or dropped only once its data was read: CRC'd, inflated
/// or searched for its data descriptor. The scan steps over a kept member,
/// so kept members cost one read of the file in all; but after a dropped
/// one it resumes right behind its signature, and the next header may claim
/// the same bytes again. A file made of such headers (every 31 bytes a
/// stored header whose data runs to the end) made recovery quadratic: 10 s
/// for 620 KB. So what dropped members read is limited to eight times the
/// file plus 256 MiB (a file damaged by a crash, whose dropped members are
/// the unfinished last one and stray signatures, reads a small part of
/// that); a member the budget stops is dropped with a reason that says so.
pub(super) struct Budget {
    /// The whole budget (for the reason given).
    pub(super) total: u64,
    /// What is left of it.
    pub(super) left: u64,
}

impl Budget {
    /// The budget for an input of `len` bytes.
    pub(super) fn for_input(len: u64) -> Budget {
        Budget::of(len.saturating_mul(8).saturating_add(256 << 20))
    }

    /// A budget of `total` bytes.
    pub(super) fn of(total: u64) -> Budget {
        Budget { total, left: total }
    }
}

/// Parses the local header at `pos`; `Err` holds the name (if known) and
/// why a header that cannot be a member was dropped.
fn local_header(
    src: &mut Src<'_>,
    pos: u64,
) -> Result<std::result::Result<Local, (String, String)>> {
    let truncated = || Err((String::new(), "truncated local header".to_string()));
    let Ok(fixed) = block_at::<LocalBlock>(src.at(pos, LOCAL_HEADER_LEN)?, 0, pos, "") else {
        return Ok(truncated());
    };
    let n = usize::from(fixed.name_len.get()) + usize::from(fixed.extra_len.get());
    // Both sizes in the ZIP64 extra: their values are used (and checked
    // against the data), so a signature in them is no sign of damage.
    let zip64_sizes =
        fixed.compressed_size.get() == u32::MAX && fixed.uncompressed_size.get() == u32::MAX;
    let hdr = src.at(pos, LOCAL_HEADER_LEN + n)?;
    if hdr.len() < LOCAL_HEADER_LEN + n {
        return Ok(truncated());
    }
    let lh = match LocalHeaderRef::parse(hdr, 0) {
        Ok(lh) => lh,
        Err(e) => return Ok(Err((String::new(), e.to_string()))),
    };
    let name = decode_name(lh.name, lh.flags).into_owned();
    // Name and extra field carry no CRC: one that swallows a local header
    // signature may be a damaged header (or one that only fits because the
    // file grew, as a recovered archive does), see `vouch`.
    let suspect = holds_signature(lh.name) || extra_holds_signature(lh.extra, zip64_sizes);
    let entry = CentralEntry {
        name: lh.name.to_vec(),
        crc32: lh.crc32,
        compressed_size: lh.compressed_size,
        uncompressed_size: lh.uncompressed_size,
        local_header_offset: pos,
        method: lh.method,
        flags: lh.flags,
        time: lh.time,
        date: lh.date,
        external_attrs: EXTERNAL_ATTRS_FILE,
        version_made_by: VERSION_MADE_BY,
        other_extra: Vec::new(),
        comment: Vec::new(),
    };
    Ok(Ok(Local {
        name,
        entry,
        has_zip64: lh.has_zip64,
        data: pos + lh.len(),
        suspect,
    }))
}

/// Whether a local extra field holds a local header signature outside the
/// values of a ZIP64 field that gives both sizes (`zip64_sizes`), the one
/// extra field a writer fills with numbers that can spell it (a streamed
/// member of 0x04034b50 bytes, say). An extra that does not parse as back
/// to back fields is searched whole.
fn extra_holds_signature(extra: &[u8], zip64_sizes: bool) -> bool {
    if !holds_signature(extra) {
        return false;
    }
    if !zip64_sizes {
        return true;
    }
    let mut masked = extra.to_vec();
    let mut at = 0;
    for (id, data) in extra_fields(extra) {
        at += 4;
        if id == EXTRA_ZIP64
            && data.len() >= 16
            && let Some(values) = masked.get_mut(at..at + 16)
        {
            values.fill(0);
        }
        at += data.len();
    }
    if at != extra.len() {
        return true;
    }
    holds_signature(&masked)
}

/// Why a member's CRC cannot be checked (encrypted, or compressed with a
/// method other than stored or deflate), if it cannot.
fn uncheckable(entry: &CentralEntry) -> Option<String> {
    if entry.flags & (FLAG_ENCRYPTED | FLAG_STRONG_ENCRYPTION) != 0 {
        return Some("encrypted member (cannot check its CRC)".into());
    }
    let method = entry.method;
    if method != METHOD_STORED && method != METHOD_DEFLATE {
        return Some(format!(
            "unsupported compression method {method} (cannot check its CRC)"
        ));
    }
    None
}

/// A member whose local header gives its sizes and CRC: checks the data
/// at `data` against them, and steps over a data descriptor that repeats
/// them.
fn sized(src: &mut Src<'_>, mut entry: CentralEntry, data: u64, has_zip64: bool) -> Result<Member> {
    let (csize, usize_, crc) = (entry.compressed_size, entry.uncompressed_size, entry.crc32);
    if csize == u64::MAX || usize_ == u64::MAX {
        return Ok(bad("sizes were never written (member was being streamed)"));
    }
    let Some(data_end) = data.checked_add(csize).filter(|&e| e <= src.len) else {
        return Ok(bad("member data runs past the end of the file"));
    };
    let got = if entry.method == METHOD_STORED {
        if csize != usize_ {
            return Ok(bad("stored member with differing sizes"));
        }
        crc_range(src, data, csize)?
    } else {
        match inflate(src, data, Some(usize_))? {
            Some((c, u, crc)) if c == csize && u == usize_ => crc,
            _ => return Ok(bad("deflate stream does not match its sizes")),
        }
    };
    if got != crc {
        return Ok(bad(format!(
            "CRC mismatch: header says {crc:08x}, data has {got:08x}"
        )));
    }
    let mut end = data_end;
    if entry.flags & FLAG_DATA_DESCRIPTOR != 0 {
        match descriptor_at(src, data_end, has_zip64, crc, csize, usize_)? {
            Some(d) => end += d,
            // The local header's sizes and CRC checked out but no
            // descriptor follows: say so, or readers would look for it.
            None => entry.flags &= !FLAG_DATA_DESCRIPTOR,
        }
    }
    Ok(Member::Good { entry, end })
}

/// A member whose sizes and CRC follow its data (in a data descriptor):
/// finds where the data ends and a descriptor that matches it.
fn described(
    src: &mut Src<'_>,
    mut entry: CentralEntry,
    data: u64,
    has_zip64: bool,
) -> Result<Member> {
    let found = if entry.method == METHOD_DEFLATE {
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
        return Ok(bad(
            "no data descriptor matching the data (incomplete member?)",
        ));
    };
    entry.crc32 = crc;
    entry.compressed_size = c;
    entry.uncompressed_size = u;
    Ok(Member::Good { entry, end })
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
    let b = src.at(at, 24)?;
    Ok(DataDescriptor::matching(b, 0, zip64_first, crc, c, u).map(|d| d.len))
}

/// Searches a stored member's data for a signed data descriptor whose CRC
/// and size match the bytes before it. Returns (size, size, crc, end).
fn find_stored_descriptor(src: &mut Src<'_>, data: u64) -> Result<Option<(u64, u64, u32, u64)>> {
    let sig = DATA_DESCRIPTOR_SIG.to_le_bytes();
    let mut h = crc32fast::Hasher::new();
    // Hashed up to `fed`, which is always inside the current chunk.
    let mut fed = data;
    let mut from = data;
    while from < src.len {
        let chunk = src.at(from, WINDOW)?.to_vec();
        if chunk.len() < 4 {
            break;
        }
        // Signatures starting here lie whole in the chunk; the last 3 bytes
        // are searched again at the start of the next chunk.
        let scan_len = chunk.len() - 3;
        let mut i = 0;
        while let Some(k) = chunk
            .get(i..)
            .and_then(|c| c.windows(4).position(|w| w == sig))
            .map(|k| k + i)
        {
            if k >= scan_len {
                break;
            }
            let q = from + k as u64;
            feed(&mut h, &chunk, fed - from, k);
            fed = q;
            let crc = h.clone().finalize();
            let size = q - data;
            if let Some(d) = descriptor_at(src, q, size >= 0xFFFF_FFFF, crc, size, size)? {
                return Ok(Some((size, size, crc, q + d)));
            }
            i = k + 1;
        }
        let next = from + scan_len as u64;
        feed(&mut h, &chunk, fed - from, scan_len);
        fed = next;
        from = next;
    }
    Ok(None)
}

/// Hashes `chunk[skip..to]`: the chunk's bytes from where hashing stopped
/// up to `to` (`skip <= to <= chunk.len()` by the caller's bookkeeping; a
/// broken bookkeeping would only make the CRC fail, dropping the member).
fn feed(h: &mut crc32fast::Hasher, chunk: &[u8], skip: u64, to: usize) {
    let part = usize::try_from(skip).ok().and_then(|s| chunk.get(s..to));
    debug_assert!(
        part.is_some(),
        "hashed past {to} in a chunk of {}",
        chunk.len()
    );
    if let Some(part) = part {
        h.update(part);
    }
}

/// Inflates a raw deflate stream at `off`, hashing the output. Returns
/// (compressed length, uncompressed length, CRC) or `None` if the stream is
/// damaged, truncated or longer than `cap`.
fn inflate(src: &mut Src<'_>, off: u64, cap: Option<u64>) -> Result<Option<(u64, u64, u32)>> {
    let mut inf = CrcInflate::new();
    let mut out = vec![0u8; 64 * 1024];
    loop {
        let input = src.at(off + inf.total_in(), WINDOW)?;
        let eof = input.is_empty();
        let Ok(p) = inf.step(input, &mut out) else {
            return Ok(None);
        };
        if cap.is_some_and(|c| inf.total_out() > c) {
            return Ok(None);
        }
        if p.end {
            return Ok(Some((inf.total_in(), inf.total_out(), inf.crc())));
        }
        if eof || (p.consumed == 0 && p.produced == 0) {
            return Ok(None);
        }
    }
}
