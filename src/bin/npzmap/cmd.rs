//! The subcommands.

use crate::failure::Failure;
use crate::json;
use crate::progress;
use npzmap::DType;
use npzmap::npy::{self, NpyFile};
use npzmap::npz::{self, NpzReader, NpzWriter, ReaderOptions, reader::MemberInfo};
use std::fmt::Write as _;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

pub type Res = Result<(), Failure>;

/// What a file is, by its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Npy,
    Npz,
}

pub fn kind_of(path: &Path) -> Result<Kind, Failure> {
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

/// One listed key, borrowing from the reader (or the .npy file): nothing is
/// copied per member but what the reader itself builds.
struct Row<'a> {
    name: &'a str,
    member: Option<&'a str>,
    /// `None` for a member that is not an NPY array (np.load returns its bytes).
    dtype: Option<&'a DType>,
    shape: &'a [u64],
    fortran_order: bool,
    offset: Option<u64>,
    nbytes: u64,
    compressed: bool,
    aligned: bool,
}

/// Streams the listing to stdout: one large buffer over the locked stdout,
/// each row written as it is produced (no rows kept, no JSON values built).
struct Listing<W: Write> {
    out: W,
    as_json: bool,
    rows: u64,
    /// Scratch for Display forms (dtype, shape), reused across rows.
    scratch: String,
    cell: String,
    digits: [u8; 20],
}

fn json_bool(b: bool) -> &'static [u8] {
    if b { b"true" } else { b"false" }
}

/// `v` in decimal, formatted into `buf` (20 digits hold any u64).
fn decimal(buf: &mut [u8; 20], mut v: u64) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        // v % 10 < 10: the cast cannot truncate.
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    &buf[i..]
}

const SPACES: &[u8; 32] = b"                                ";

/// `text` (`chars` characters) then spaces up to `width` (`{:<width}`).
fn pad_left<W: Write>(o: &mut W, text: &[u8], chars: usize, width: usize) -> std::io::Result<()> {
    o.write_all(text)?;
    o.write_all(&SPACES[..width.saturating_sub(chars).min(SPACES.len())])
}

/// Spaces up to `width`, then the ASCII `text` (`{:>width}`).
fn pad_right<W: Write>(o: &mut W, text: &[u8], width: usize) -> std::io::Result<()> {
    o.write_all(&SPACES[..width.saturating_sub(text.len()).min(SPACES.len())])?;
    o.write_all(text)
}

impl<W: Write> Listing<W> {
    fn start(out: W, as_json: bool) -> std::io::Result<Self> {
        let mut l = Listing {
            out,
            as_json,
            rows: 0,
            scratch: String::new(),
            cell: String::new(),
            digits: [0; 20],
        };
        if as_json {
            l.out.write_all(b"[")?;
        } else {
            writeln!(
                l.out,
                "{:<24} {:<10} {:<18} {:>5} {:>14} {:>12} {:>5} {:>7}",
                "name", "dtype", "shape", "order", "offset", "nbytes", "zip", "aligned"
            )?;
        }
        Ok(l)
    }

    fn row(&mut self, r: &Row<'_>) -> std::io::Result<()> {
        self.rows += 1;
        if self.as_json {
            self.json_row(r)
        } else {
            self.table_row(r)
        }
    }

    /// The object serde_json printed for a row before (keys in its sorted
    /// order, compact), written directly.
    fn json_row(&mut self, r: &Row<'_>) -> std::io::Result<()> {
        let o = &mut self.out;
        if self.rows > 1 {
            o.write_all(b",")?;
        }
        let array = r.dtype.is_some();
        o.write_all(b"{\"aligned\":")?;
        o.write_all(json_bool(r.aligned))?;
        o.write_all(b",\"array\":")?;
        o.write_all(json_bool(array))?;
        o.write_all(b",\"compressed\":")?;
        o.write_all(json_bool(r.compressed))?;
        o.write_all(b",\"descr\":")?;
        match r.dtype {
            None => o.write_all(b"null")?,
            Some(DType::Scalar(s)) => {
                self.scratch.clear();
                let _ = write!(self.scratch, "{s}");
                json::write_str(o, &self.scratch)?;
            }
            Some(d) => serde_json::to_writer(&mut *o, &json::descr(d))?,
        }
        o.write_all(b",\"fortran_order\":")?;
        o.write_all(json_bool(r.fortran_order))?;
        o.write_all(if array {
            b",\"kind\":\"array\",\"member\":"
        } else {
            b",\"kind\":\"bytes\",\"member\":"
        })?;
        match r.member {
            Some(m) => json::write_str(o, m)?,
            None => o.write_all(b"null")?,
        }
        o.write_all(b",\"name\":")?;
        json::write_str(o, r.name)?;
        o.write_all(b",\"nbytes\":")?;
        o.write_all(decimal(&mut self.digits, r.nbytes))?;
        o.write_all(b",\"offset\":")?;
        match r.offset {
            Some(v) => o.write_all(decimal(&mut self.digits, v))?,
            None => o.write_all(b"null")?,
        }
        o.write_all(b",\"shape\":[")?;
        for (i, &d) in r.shape.iter().enumerate() {
            if i > 0 {
                o.write_all(b",")?;
            }
            o.write_all(decimal(&mut self.digits, d))?;
        }
        o.write_all(b"]}")
    }

    /// The table row (`{:<24} {:<10} {:<18} {:>5} {:>14} {:>12} {:>5}
    /// {:>7}`), padded by hand as `format!` pads (by chars).
    fn table_row(&mut self, r: &Row<'_>) -> std::io::Result<()> {
        self.scratch.clear();
        self.cell.clear();
        match r.dtype {
            Some(d) => {
                let _ = write!(self.scratch, "{d}");
                self.cell.push('(');
                for (i, &d) in r.shape.iter().enumerate() {
                    if i > 0 {
                        self.cell.push_str(", ");
                    }
                    let text = decimal(&mut self.digits, d);
                    // Digits are ASCII.
                    self.cell.push_str(std::str::from_utf8(text).unwrap_or("?"));
                }
                self.cell.push(')');
            }
            None => {
                self.scratch.push_str("(bytes)");
                self.cell.push('-');
            }
        }
        let order: &[u8] = match (r.dtype.is_some(), r.fortran_order) {
            (false, _) => b"-",
            (true, true) => b"F",
            (true, false) => b"C",
        };
        let o = &mut self.out;
        pad_left(o, r.name.as_bytes(), r.name.chars().count(), 24)?;
        o.write_all(b" ")?;
        pad_left(o, self.scratch.as_bytes(), self.scratch.chars().count(), 10)?;
        o.write_all(b" ")?;
        pad_left(o, self.cell.as_bytes(), self.cell.chars().count(), 18)?;
        o.write_all(b" ")?;
        pad_right(o, order, 5)?;
        o.write_all(b" ")?;
        match r.offset {
            Some(v) => pad_right(o, decimal(&mut self.digits, v), 14)?,
            None => pad_right(o, b"-", 14)?,
        }
        o.write_all(b" ")?;
        pad_right(o, decimal(&mut self.digits, r.nbytes), 12)?;
        o.write_all(b" ")?;
        pad_right(o, if r.compressed { b"defl" } else { b"store" }, 5)?;
        o.write_all(b" ")?;
        pad_right(o, if r.aligned { b"yes" } else { b"no" }, 7)?;
        o.write_all(b"\n")
    }

    fn finish(mut self) -> std::io::Result<()> {
        if self.as_json {
            self.out.write_all(b"]\n")?;
        }
        self.out.flush()
    }
}

/// Lists `file` as a table or (`as_json`) one JSON array, streamed.
///
/// A closed stdout (`npzmap ls big.npz | head`) ends the listing quietly
/// with exit 0: the reader asked for no more, which is not a failure of the
/// archive (Rust ignores SIGPIPE, so the write fails with `BrokenPipe`
/// instead of killing the process). Other write errors (a full disk) exit 2.
pub fn ls(file: &Path, as_json: bool) -> Res {
    // The file is opened (and its directory read) before anything is printed.
    let src = match kind_of(file)? {
        Kind::Npy => Source::Npy(NpyFile::open(file)?),
        // Headers are parsed once and not cached: memory stays bounded by
        // the central directory.
        Kind::Npz => Source::Npz(NpzReader::open_with(
            file,
            ReaderOptions::new().cache(false),
        )?),
    };
    let stdout = std::io::stdout();
    let out = std::io::BufWriter::with_capacity(1 << 20, raw_stdout(&stdout));
    let mut problems = Vec::new();
    let listed = Listing::start(out, as_json).and_then(|mut l| {
        match &src {
            Source::Npy(f) => npy_list(file, f, &mut l)?,
            Source::Npz(r) => npz_list(r, &mut l, &mut problems)?,
        }
        l.finish()
    });
    match listed {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
        Err(e) => return Err(Failure::usage(format!("cannot write the listing: {e}"))),
    }
    // What could be read was printed; broken members then fail the command.
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Failure::check(problems.join("\n")))
    }
}

/// Stdout without std's line buffering (which scans every buffered chunk
/// for its last newline): a duplicate of the descriptor, written in the
/// large chunks of the caller's `BufWriter`. Holds the stdout lock so
/// nothing else interleaves.
#[cfg(unix)]
fn raw_stdout(stdout: &std::io::Stdout) -> impl Write + '_ {
    use std::os::fd::AsFd;
    struct Raw<'a> {
        file: Option<std::fs::File>,
        lock: std::io::StdoutLock<'a>,
    }
    impl Write for Raw<'_> {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            match &mut self.file {
                Some(f) => f.write(buf),
                None => self.lock.write(buf),
            }
        }
        fn flush(&mut self) -> std::io::Result<()> {
            match &mut self.file {
                Some(f) => f.flush(),
                None => self.lock.flush(),
            }
        }
    }
    let lock = stdout.lock();
    // If the descriptor cannot be duplicated, the locked stdout still works.
    let file = lock
        .as_fd()
        .try_clone_to_owned()
        .ok()
        .map(std::fs::File::from);
    Raw { file, lock }
}

#[cfg(not(unix))]
fn raw_stdout(stdout: &std::io::Stdout) -> impl Write + '_ {
    stdout.lock()
}

/// The opened file being listed.
enum Source {
    Npy(NpyFile),
    Npz(NpzReader),
}

fn npy_list<W: Write>(path: &Path, f: &NpyFile, l: &mut Listing<W>) -> std::io::Result<()> {
    let v = f.view();
    let h = f.header();
    let name = stem(path);
    l.row(&Row {
        name: &name,
        member: None,
        dtype: Some(&h.dtype),
        shape: &h.shape,
        fortran_order: h.order.is_fortran(),
        offset: Some(f.parsed_header().data_offset),
        nbytes: v.as_bytes().len() as u64,
        compressed: false,
        aligned: v.is_zero_copy(),
    })
}

/// One row per key (the member np.load returns for it). Members that are not
/// NPY arrays (np.load's rule: no NPY magic, whatever the name) are listed
/// with `array: false`; unreadable members are problems.
fn npz_list<W: Write>(
    r: &NpzReader,
    l: &mut Listing<W>,
    problems: &mut Vec<String>,
) -> std::io::Result<()> {
    for m in r.members() {
        if m.shadowed {
            continue;
        }
        // Method 0 is "stored": anything else is compressed.
        let compressed = m.method != 0;
        // The header is parsed first: an array (nearly every member) then
        // costs one lookup. Only when that fails is the NPY magic checked
        // (np.load's rule), to tell a byte member from a broken array.
        let row = if compressed {
            compressed_row(r, &m, l)
        } else {
            stored_row(r, &m, l)
        };
        let listed = match row {
            Ok(written) => Ok(written),
            Err(e) => match r.is_array(m.name) {
                Ok(true) => Err(e),
                Ok(false) => bytes_row(r, &m, l),
                Err(magic) => Err(magic),
            },
        };
        match listed {
            Ok(written) => written?,
            Err(e) => problems.push(e.to_string()),
        }
    }
    Ok(())
}

/// Outcome of listing one member: input errors (outer) apart from output
/// errors (inner).
type RowRes = npzmap::Result<std::io::Result<()>>;

fn compressed_row<W: Write>(r: &NpzReader, m: &MemberInfo<'_>, l: &mut Listing<W>) -> RowRes {
    // Only the npy header is inflated; the data stays compressed.
    let h = r.header(m.name)?;
    Ok(l.row(&Row {
        name: m.key,
        member: Some(m.name),
        dtype: Some(&h.dtype),
        shape: &h.shape,
        fortran_order: h.order.is_fortran(),
        offset: None,
        nbytes: h.data_len().unwrap_or(0),
        compressed: true,
        aligned: false,
    }))
}

fn stored_row<W: Write>(r: &NpzReader, m: &MemberInfo<'_>, l: &mut Listing<W>) -> RowRes {
    let v = r.get(m.name)?;
    Ok(l.row(&Row {
        name: m.key,
        member: Some(m.name),
        dtype: Some(v.dtype()),
        shape: v.shape(),
        fortran_order: v.order().is_fortran(),
        offset: v.location().offset,
        nbytes: v.as_bytes().len() as u64,
        compressed: false,
        aligned: v.is_zero_copy(),
    }))
}

/// A member that is not an array: its bytes are read (and CRC-checked, as
/// np.load's zipfile does) so a damaged one is reported, not listed.
fn bytes_row<W: Write>(r: &NpzReader, m: &MemberInfo<'_>, l: &mut Listing<W>) -> RowRes {
    checked_bytes(r, m)?;
    Ok(l.row(&Row {
        name: m.key,
        member: Some(m.name),
        dtype: None,
        shape: &[],
        fortran_order: false,
        offset: None,
        nbytes: m.uncompressed_size,
        compressed: m.method != 0,
        aligned: false,
    }))
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
fn checked_bytes<'r>(
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
    let r = NpzReader::open(file)?;
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
    let opts = NpzWriter::options().align(align);
    let mut w = if append && output.exists() {
        opts.append(output)?
    } else {
        opts.create(output)?
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
