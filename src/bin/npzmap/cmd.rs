//! The subcommands.

use crate::failure::Failure;
use crate::progress;
use crate::store;
use npzmap::npy::{self, NpyFile};
use npzmap::npz::{self, NpzReader, NpzWriter, reader::MemberInfo};
use std::io::Read;
use std::path::{Path, PathBuf};

pub type Res = Result<(), Failure>;

/// What a file is, by its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Npy,
    Npz,
}

pub fn kind_of(path: &Path) -> Result<Kind, Failure> {
    if let Some(url) = store::url_of(path) {
        // Objects are read by range: only archives (whose directory says
        // where everything is) are supported.
        let npy = url
            .rsplit('/')
            .next()
            .is_some_and(|n| n.to_ascii_lowercase().ends_with(".npy"));
        if npy {
            return Err(Failure::usage(format!(
                "{url}: .npy files in object storage are not supported (only .npz archives); download it first"
            )));
        }
        return Ok(Kind::Npz);
    }
    let mut f = std::fs::File::open(path)
        .map_err(|e| Failure::usage(format!("cannot open {}: {e}", path.display())))?;
    let mut magic = [0u8; 6];
    let n = f
        .read(&mut magic)
        .map_err(|e| Failure::usage(format!("cannot read {}: {e}", path.display())))?;
    if n >= 6 && &magic == b"\x93NUMPY" {
        return Ok(Kind::Npy);
    }
    let by_ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(|e| e.eq_ignore_ascii_case("npy"));
    Ok(if by_ext == Some(true) {
        Kind::Npy
    } else {
        Kind::Npz
    })
}

pub fn stem(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The raw bytes of member `key`, CRC-checked (stored members are borrowed
/// from the map unchecked by `read_member`).
fn member_bytes<'r>(r: &'r NpzReader, key: &str) -> npzmap::Result<std::borrow::Cow<'r, [u8]>> {
    match r
        .members()
        .find(|m| !m.shadowed && (m.name == key || m.key == key))
    {
        Some(m) => checked_bytes(r, &m),
        None => r.read_member(key),
    }
}

/// The raw bytes of member `m` (not shadowed), checked against its CRC.
pub(crate) fn checked_bytes<'r>(
    r: &'r NpzReader,
    m: &MemberInfo<'_>,
) -> npzmap::Result<std::borrow::Cow<'r, [u8]>> {
    let bytes = r.read_member(m.name)?;
    let actual = crc32fast::hash(&bytes);
    if actual != m.crc32 {
        return Err(npzmap::Error::CrcMismatch {
            expected: m.crc32,
            actual,
            at: npzmap::error::Location {
                offset: Some(m.local_header_offset),
                member: Some(m.name.to_string()),
                ..npzmap::error::Location::path(r.path())
            },
        });
    }
    Ok(bytes)
}

pub fn export(file: &Path, name: &str, output: &Path) -> Res {
    match kind_of(file)? {
        Kind::Npy => {
            if name != stem(file) {
                return Err(Failure::usage(format!(
                    "{} holds one array named {:?}, not {name:?}",
                    file.display(),
                    stem(file)
                )));
            }
            let f = NpyFile::open(file)?;
            npy::write_view(output, &f.view())?;
            Ok(())
        }
        Kind::Npz => npz_export(file, name, output),
    }
}

pub fn pack(output: &Path, inputs: &[String], append: bool, align: u64, quiet: bool) -> Res {
    npz_pack(output, inputs, append, align, quiet)
}

/// The dimensions other than the growth axis.
fn tail_shape(h: &npzmap::Header) -> Vec<u64> {
    match h.growth_axis() {
        Some(a) => h
            .shape
            .iter()
            .enumerate()
            .filter(|&(i, _)| i != a)
            .map(|(_, &d)| d)
            .collect(),
        None => Vec::new(),
    }
}

pub fn concat(output: &Path, inputs: &[PathBuf], quiet: bool) -> Res {
    // Open and check everything before a byte is written.
    let files = inputs
        .iter()
        .map(NpyFile::open)
        .collect::<Result<Vec<_>, _>>()?;
    let first = files[0].header().clone();
    let existing = if output.exists() {
        Some(NpyFile::open(output)?.header().clone())
    } else {
        None
    };
    let target = existing.as_ref().unwrap_or(&first);
    if target.shape.is_empty() {
        return Err(Failure::usage(format!(
            "{}: a 0-d array has no growth axis to concatenate along",
            existing
                .as_ref()
                .map_or(inputs[0].as_path(), |_| output)
                .display()
        )));
    }
    let want_tail = tail_shape(target);
    for f in &files {
        let h = f.header();
        if h.dtype != target.dtype {
            return Err(Failure::usage(format!(
                "{}: dtype {} differs from {}; nothing was written",
                f.path().display(),
                h.dtype,
                target.dtype
            )));
        }
        if h.shape.len() != target.shape.len() || tail_shape(h) != want_tail {
            return Err(Failure::usage(format!(
                "{}: shape {:?} does not match the tail shape {:?}; nothing was written",
                f.path().display(),
                h.shape,
                want_tail
            )));
        }
        let both = h.shape.contains(&0) || h.shape.iter().filter(|&&d| d != 1).count() <= 1;
        if h.order != target.order && !both {
            return Err(Failure::usage(format!(
                "{}: {:?} order differs from {:?}; nothing was written",
                f.path().display(),
                h.order,
                target.order
            )));
        }
    }
    let app = npy::NpyAppender::options()
        .rewrite_header_on_append(false)
        .open_or_create(output, target.dtype.clone(), &want_tail, target.order)?;
    let total: u64 = files.iter().map(|f| f.view().as_bytes().len() as u64).sum();
    let bar = progress::bytes(total, quiet);
    for f in &files {
        let v = f.view();
        // One append per input: it lands whole or is rolled back whole.
        app.append_view(&v)?;
        bar.inc(v.as_bytes().len() as u64);
    }
    app.close()?;
    bar.finish_and_clear();
    if !quiet {
        eprintln!(
            "{}: appended {} file(s), {} bytes",
            output.display(),
            files.len(),
            total
        );
    }
    Ok(())
}

/// Exports key `name`. A member that is not an NPY array (np.load returns
/// its bytes) is written as its raw bytes, CRC-checked, with a note on
/// stderr: that is what np.load gives for it.
fn npz_export(file: &Path, name: &str, output: &Path) -> Res {
    let r = store::open_npz(file, npzmap::npz::ReaderOptions::new())?;
    if !r.is_array(name)? {
        let bytes = member_bytes(&r, name)?;
        write_atomic(output, &bytes)?;
        eprintln!(
            "{}: member {name:?} is not an NPY array; wrote its {} raw bytes (what np.load returns for it)",
            output.display(),
            bytes.len()
        );
        return Ok(());
    }
    // The member as stored, dtype and byte order included, whether it is
    // stored or deflated.
    let v = r.get(name)?;
    npy::write_view(output, &v)?;
    Ok(())
}

fn npz_pack(output: &Path, inputs: &[String], append: bool, align: u64, quiet: bool) -> Res {
    if align == 0 || !align.is_power_of_two() {
        return Err(Failure::usage(format!(
            "--align must be a power of two, not {align}"
        )));
    }
    // Open and name every input before anything is written.
    let mut named = Vec::with_capacity(inputs.len());
    for spec in inputs {
        let (name, path) = match spec.split_once('=') {
            Some((n, p)) if !n.is_empty() => (n.to_string(), PathBuf::from(p)),
            _ => {
                let p = PathBuf::from(spec);
                (stem(&p), p)
            }
        };
        let f = NpyFile::open(&path)?;
        if named
            .iter()
            .any(|(n, _): &(String, NpyFile)| npz::member_name(n) == npz::member_name(&name))
        {
            return Err(Failure::usage(format!(
                "array name {name:?} given twice; nothing was written"
            )));
        }
        named.push((name, f));
    }
    if append && store::url_of(output).is_some() {
        return Err(Failure::usage(format!(
            "{}: appending to object storage is not supported (objects cannot be extended in place); \
             download the archive, append to it, upload it",
            output.display()
        )));
    }
    let opts = NpzWriter::options().align(align);
    let mut w = if append && output.exists() {
        opts.append(output)?
    } else {
        store::create_npz(output, opts)?
    };
    if let Some((n, _)) = named.iter().find(|(n, _)| w.contains(n)) {
        return Err(Failure::usage(format!(
            "{}: already holds an array named {n:?}; nothing was written",
            output.display()
        )));
    }
    let total: u64 = named
        .iter()
        .map(|(_, f)| f.view().as_bytes().len() as u64)
        .sum();
    let bar = progress::bytes(total, quiet);
    for (k, (name, f)) in named.iter().enumerate() {
        let v = f.view();
        if let Err(e) = w.write_view(name, &v) {
            bar.finish_and_clear();
            return Err(pack_stopped(output, &named, k, e, w.close()));
        }
        bar.inc(v.as_bytes().len() as u64);
    }
    w.close()?;
    bar.finish_and_clear();
    if !quiet {
        eprintln!(
            "{}: wrote {} array(s), {} bytes of data",
            output.display(),
            named.len(),
            total
        );
    }
    Ok(())
}

/// The summary of a pack that stopped at input `k`: the inputs before it
/// were written whole and (if `closed` is Ok) committed with a central
/// directory, the failed one was rolled back, the rest were not tried.
fn pack_stopped(
    output: &Path,
    named: &[(String, NpyFile)],
    k: usize,
    e: npzmap::Error,
    closed: npzmap::Result<()>,
) -> Failure {
    let list = |s: &[(String, NpyFile)]| {
        s.iter()
            .map(|(n, f)| format!("{n}={}", f.path().display()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let (done, rest) = named.split_at(k);
    let failed = rest.first().map_or(String::new(), |(n, f)| {
        format!("{n}={}", f.path().display())
    });
    let rest = rest.get(1..).unwrap_or_default();
    let committed = match &closed {
        Ok(()) if done.is_empty() => format!("{} holds none of the inputs", output.display()),
        Ok(()) => format!(
            "the {} input(s) written before it are committed in {}: {}",
            done.len(),
            output.display(),
            list(done)
        ),
        Err(ce) => format!(
            "closing the archive failed too ({ce}); run `npzmap recover` on {} to keep the {} input(s) written before it: {}",
            output.display(),
            done.len(),
            list(done)
        ),
    };
    let not_tried = if rest.is_empty() {
        String::new()
    } else {
        format!("; not written: {}", list(rest))
    };
    Failure {
        code: if e.is_data_error() { 1 } else { 2 },
        message: format!("pack stopped at {failed}: {e}; {committed}{not_tried}"),
    }
}

/// Writes `bytes` to a temporary file beside `path`, fsyncs it and renames
/// it over `path`: an existing `path` is replaced only on success.
fn write_atomic(path: &Path, bytes: &[u8]) -> Res {
    use std::io::Write;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.npzmap-tmp", std::process::id()));
    let io_fail = |op: &str, e: std::io::Error, p: &Path| {
        Failure::usage(format!("cannot {op} {}: {e}", p.display()))
    };
    let res = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .map_err(|e| io_fail("create", e, &tmp))?;
        f.write_all(bytes).map_err(|e| io_fail("write", e, &tmp))?;
        f.sync_all().map_err(|e| io_fail("fsync", e, &tmp))?;
        std::fs::rename(&tmp, path).map_err(|e| io_fail("rename to", e, path))
    })();
    if res.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    res
}
