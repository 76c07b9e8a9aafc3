//! Checking one member found by the scan: its local header, its data
//! against the CRC-32 (stored or deflated), and its data descriptor.

use super::src::{Src, WINDOW};
use crate::error::Result;
use crate::zip::decode_name;
use crate::zip::inflate::CrcInflate;
use crate::zip::spec::block_at;
use crate::zip::{
    CentralEntry, DATA_DESCRIPTOR_SIG, DataDescriptor, EXTERNAL_ATTRS_FILE, FLAG_DATA_DESCRIPTOR,
    FLAG_ENCRYPTED, FLAG_STRONG_ENCRYPTION, LOCAL_HEADER_LEN, LOCAL_SIG, LocalBlock,
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
}

/// Examines the member whose local header is at `pos`: its name (empty if
/// the header is unreadable) and the verdict.
pub(super) fn member(src: &mut Src<'_>, pos: u64) -> Result<(String, Member)> {
    let Local {
        name,
        entry,
        has_zip64,
        data,
    } = match local_header(src, pos)? {
        Ok(local) => local,
        Err((name, reason)) => return Ok((name, bad(reason))),
    };
    if let Some(reason) = uncheckable(&entry) {
        return Ok((name, bad(reason)));
    }
    let streamed =
        entry.flags & FLAG_DATA_DESCRIPTOR != 0 && entry.compressed_size == 0 && entry.crc32 == 0;
    let verdict = if streamed {
        described(src, entry, data, has_zip64)?
    } else {
        sized(src, entry, data, has_zip64)?
    };
    Ok((name, verdict))
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
    // signature is a damaged header (or one that only fits because the file
    // grew, as a recovered archive does), not a member to keep.
    let sig = LOCAL_SIG.to_le_bytes();
    if [lh.name, lh.extra]
        .iter()
        .any(|b| b.windows(4).any(|w| w == sig))
    {
        let reason = "local header name or extra field holds a local header signature";
        return Ok(Err((name, reason.to_string())));
    }
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
    }))
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
