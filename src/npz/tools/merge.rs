//! [`merge`]: the shards of parallel writers joined into one archive.

use super::{Out, check_align, locate, open_input};
use crate::error::{Error, Location, Result};
use crate::npz::key_of;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

/// What [`merge`] does when two members have the same key (the name
/// without `.npy`, as `np.load` shows it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum OnDuplicate {
    /// Refuse the merge before anything is written ([`Error::DuplicateName`]
    /// naming the input and member of the second occurrence). The default.
    #[default]
    Error,
    /// The first occurrence keeps its name; every later member whose key is
    /// taken is renamed to `<stem>/<name>`, where `<stem>` is its input's
    /// file name without the last extension (`shard3.npz` gives
    /// `shard3/x.npy`, key `shard3/x`). If that name is taken too, the
    /// merge is refused ([`Error::DuplicateName`]) before anything is written.
    Prefix,
    /// Only the last occurrence (in input order, then archive order) is
    /// kept, at its own position; the earlier ones are dropped and listed in
    /// [`MergeReport::dropped`].
    Last,
}

/// Options of [`merge`].
#[derive(Debug, Clone)]
pub struct MergeOptions {
    align: u64,
    on_duplicate: OnDuplicate,
    fsync: bool,
}

impl Default for MergeOptions {
    fn default() -> Self {
        MergeOptions {
            align: 64,
            on_duplicate: OnDuplicate::Error,
            fsync: true,
        }
    }
}

impl MergeOptions {
    /// The defaults: 64-byte alignment, duplicates refused, fsync.
    pub fn new() -> Self {
        Self::default()
    }

    /// Member data starts on a multiple of `align` bytes (a power of two
    /// from 1 to 32768; 1 turns alignment off). Default 64.
    pub fn align(mut self, align: u64) -> Self {
        self.align = align;
        self
    }

    /// The duplicate policy (default [`OnDuplicate::Error`]).
    pub fn on_duplicate(mut self, policy: OnDuplicate) -> Self {
        self.on_duplicate = policy;
        self
    }

    /// fsync the output before the rename (default `true`).
    pub fn fsync(mut self, on: bool) -> Self {
        self.fsync = on;
        self
    }
}

/// A member renamed by [`OnDuplicate::Prefix`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Renamed {
    /// The input it came from.
    pub input: PathBuf,
    /// Its name there.
    pub from: String,
    /// Its name in the output.
    pub to: String,
}

/// What [`merge`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MergeReport {
    /// Members written.
    pub members: u64,
    /// Members renamed ([`OnDuplicate::Prefix`]).
    pub renamed: Vec<Renamed>,
    /// Members dropped ([`OnDuplicate::Last`]): input and member name.
    pub dropped: Vec<(PathBuf, String)>,
    /// Length of the output.
    pub output_len: u64,
}

/// Joins the archives `inputs` into `output`: every member of every input,
/// in input order then archive order, copied byte for byte without
/// re-encoding (deflated members stay deflated; the CRC-32 of each input's
/// directory is reused; the kernel copies between the files where it can,
/// through `copy_file_range`), with fresh local headers aligning the data.
///
/// Every input is checked completely first (structure and every CRC, as
/// [`NpzReader::verify`](crate::npz::NpzReader::verify)), and duplicates are
/// resolved by [`MergeOptions::on_duplicate`], before the first byte of the
/// output is written: a damaged input or a refused duplicate fails the call
/// and `output` is left as it was. Members whose CRC cannot be checked
/// (encrypted, or compressed by a method other than stored or deflate) fail
/// that check. `output` may be one of the inputs (it is
/// replaced atomically). See the [module docs](super) for locking,
/// atomicity and memory.
///
/// ```
/// use npzmap::npz::{NpzReader, NpzWriter, tools::{merge, MergeOptions}};
/// use npzmap::Order;
/// let dir = tempfile::tempdir().unwrap();
/// let shards: Vec<_> = (0..2).map(|i| {
///     let p = dir.path().join(format!("shard{i}.npz"));
///     let mut w = NpzWriter::create(&p).unwrap();
///     w.write(&format!("x{i}"), &[i as i32], &[1], Order::C).unwrap();
///     w.close().unwrap();
///     p
/// }).collect();
/// let out = dir.path().join("all.npz");
/// merge(&out, &shards, MergeOptions::new()).unwrap();
/// assert_eq!(NpzReader::open(&out).unwrap().keys().collect::<Vec<_>>(), ["x0", "x1"]);
/// ```
pub fn merge<P: AsRef<Path>>(
    output: impl AsRef<Path>,
    inputs: &[P],
    opts: MergeOptions,
) -> Result<MergeReport> {
    let output = output.as_ref();
    check_align(opts.align)?;
    if inputs.is_empty() {
        return Err(Error::invalid_argument("merge: no input archives"));
    }
    let mut opened = Vec::with_capacity(inputs.len());
    for p in inputs {
        let p = p.as_ref();
        let (reader, file, len) = open_input(p)?;
        let verdict = reader.verify();
        if let Some(e) = verdict.members.into_iter().find_map(|(_, r)| r.err()) {
            return Err(e.at_path(p));
        }
        opened.push((p, reader, file, len));
    }
    let mut report = MergeReport::default();
    // The plan: the output name of every member (None: dropped).
    let plan = plan(&opened, opts.on_duplicate, &mut report)?;
    let mut out = Out::create(output, opts.fsync)?;
    let mut names = plan.into_iter();
    for (path, reader, file, len) in &opened {
        for info in reader.members() {
            let Some(name) = names.next().flatten() else {
                continue;
            };
            let data = locate(file, path, &info, *len)?;
            let fields = (
                info.method,
                info.crc32,
                info.compressed_size,
                info.uncompressed_size,
            );
            out.header(&name, fields, opts.align)?;
            out.copy_raw(file, path, &data)?;
            report.members += 1;
        }
    }
    report.output_len = out.finish(&[], opts.fsync)?;
    Ok(report)
}

type Opened<'p> = (&'p Path, crate::npz::NpzReader, std::fs::File, u64);

/// The output name of every member of every input, in order (`None`:
/// dropped by [`OnDuplicate::Last`]); refuses duplicates as the policy says.
fn plan(
    opened: &[Opened<'_>],
    policy: OnDuplicate,
    report: &mut MergeReport,
) -> Result<Vec<Option<String>>> {
    let dup = |name: &str, path: &Path, offset: u64| Error::DuplicateName {
        name: name.to_string(),
        at: Location {
            path: Some(path.to_path_buf()),
            member: Some(name.to_string()),
            offset: Some(offset),
        },
    };
    let mut plan = Vec::new();
    match policy {
        OnDuplicate::Error | OnDuplicate::Prefix => {
            let mut seen: HashSet<String> = HashSet::new();
            for (path, reader, ..) in opened {
                let stem = path
                    .file_stem()
                    .map_or_else(|| "input".into(), |s| s.to_string_lossy().into_owned());
                for info in reader.members() {
                    let key = key_of(info.name);
                    let name = if seen.contains(key) {
                        if policy == OnDuplicate::Error {
                            return Err(dup(info.name, path, info.local_header_offset));
                        }
                        let new = format!("{stem}/{}", info.name);
                        if seen.contains(key_of(&new)) {
                            return Err(dup(&new, path, info.local_header_offset));
                        }
                        report.renamed.push(Renamed {
                            input: path.to_path_buf(),
                            from: info.name.to_string(),
                            to: new.clone(),
                        });
                        new
                    } else {
                        info.name.to_string()
                    };
                    seen.insert(key_of(&name).to_string());
                    plan.push(Some(name));
                }
            }
        }
        OnDuplicate::Last => {
            // Position (input, member) of the last occurrence of every key.
            let mut last: HashMap<&str, (usize, usize)> = HashMap::new();
            for (i, (_, reader, ..)) in opened.iter().enumerate() {
                for (j, info) in reader.members().enumerate() {
                    last.insert(key_of(info.name), (i, j));
                }
            }
            for (i, (path, reader, ..)) in opened.iter().enumerate() {
                for (j, info) in reader.members().enumerate() {
                    if last.get(key_of(info.name)) == Some(&(i, j)) {
                        plan.push(Some(info.name.to_string()));
                    } else {
                        report
                            .dropped
                            .push((path.to_path_buf(), info.name.to_string()));
                        plan.push(None);
                    }
                }
            }
        }
    }
    Ok(plan)
}
