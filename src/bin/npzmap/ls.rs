//! `npzmap ls`: one row per array (or raw member), streamed to stdout as a
//! table or as one JSON array, without a per-member allocation.

use crate::cmd::{Kind, Res, checked_bytes, kind_of, stem};
use crate::failure::Failure;
use crate::json;
use npzmap::DType;
use npzmap::npy::NpyFile;
use npzmap::npz::{NpzReader, ReaderOptions, reader::ArrayInfo, reader::MemberInfo};
use std::fmt::Write as _;
use std::io::Write;
use std::ops::ControlFlow;
use std::path::Path;

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
    /// The last dtype listed and its texts: archives hold one or a few
    /// dtypes, and formatting each row's anew cost more than parsing it.
    last: Option<DType>,
    /// Its table text and that text's length in chars.
    dtype_text: (String, usize),
    /// Its JSON `descr` value.
    dtype_json: Vec<u8>,
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
            last: None,
            dtype_text: (String::new(), 0),
            dtype_json: Vec::new(),
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
        if let Some(d) = r.dtype
            && self.last.as_ref() != Some(d)
        {
            self.set_dtype(d)?;
        }
        if self.as_json {
            self.json_row(r)
        } else {
            self.table_row(r)
        }
    }

    /// Formats `d`, the dtype of the rows that follow.
    fn set_dtype(&mut self, d: &DType) -> std::io::Result<()> {
        let (text, chars) = &mut self.dtype_text;
        text.clear();
        let _ = write!(text, "{d}");
        *chars = text.chars().count();
        self.dtype_json.clear();
        match d {
            DType::Scalar(s) => {
                self.scratch.clear();
                let _ = write!(self.scratch, "{s}");
                json::write_str(&mut self.dtype_json, &self.scratch)?;
            }
            d => serde_json::to_writer(&mut self.dtype_json, &json::descr(d))?,
        }
        self.last = Some(d.clone());
        Ok(())
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
            // `row` formatted it.
            Some(_) => o.write_all(&self.dtype_json)?,
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
        self.cell.clear();
        let dtype: (&str, usize) = match r.dtype {
            // `row` formatted it.
            Some(_) => (&self.dtype_text.0, self.dtype_text.1),
            None => ("(bytes)", 7),
        };
        match r.dtype {
            Some(_) => {
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
            None => self.cell.push('-'),
        }
        let order: &[u8] = match (r.dtype.is_some(), r.fortran_order) {
            (false, _) => b"-",
            (true, true) => b"F",
            (true, false) => b"C",
        };
        let o = &mut self.out;
        pad_left(o, r.name.as_bytes(), r.name.chars().count(), 24)?;
        o.write_all(b" ")?;
        pad_left(o, dtype.0.as_bytes(), dtype.1, 10)?;
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
        // the central directory. From a URL they are fetched a batch of
        // members at a time, in a few coalesced range requests.
        Kind::Npz if crate::store::url_of(file).is_some() => Source::Npz(Box::new(
            crate::store::open_npz(file, ReaderOptions::new().cache(false))?,
        )),
        Kind::Npz => Source::Npz(Box::new(NpzReader::open_with(
            file,
            ReaderOptions::new().cache(false),
        )?)),
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
    Npz(Box<NpzReader>),
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
/// with `array: false`; unreadable members are problems. The headers are
/// read on all cores while the rows are written.
fn npz_list<W: Write>(
    r: &NpzReader,
    l: &mut Listing<W>,
    problems: &mut Vec<String>,
) -> std::io::Result<()> {
    let flow = r.for_each_array_info(|m, info| {
        // A live member is the one its key names.
        if m.shadowed {
            return ControlFlow::Continue(());
        }
        // The headers are parsed first: an array (nearly every member) then
        // costs nothing more. Only when that fails is the NPY magic checked
        // (np.load's rule), to tell a byte member from a broken array.
        let listed = match info {
            Ok(info) => Ok(array_row(&m, &info, l)),
            Err(e) => match r.is_array(m.name) {
                Ok(true) => Err(e),
                Ok(false) => bytes_row(r, &m, l),
                Err(magic) => Err(magic),
            },
        };
        match listed {
            Ok(Ok(())) => ControlFlow::Continue(()),
            Ok(Err(output)) => ControlFlow::Break(output),
            Err(e) => {
                problems.push(e.to_string());
                ControlFlow::Continue(())
            }
        }
    });
    match flow {
        ControlFlow::Break(output) => Err(output),
        ControlFlow::Continue(()) => Ok(()),
    }
}

/// The row of an array: its headers only, no member data read (or
/// fetched, for a URL); a compressed one's data offset is not listed.
fn array_row<W: Write>(
    m: &MemberInfo<'_>,
    info: &ArrayInfo,
    l: &mut Listing<W>,
) -> std::io::Result<()> {
    // Method 0 is "stored": anything else is compressed.
    let compressed = m.method != 0;
    l.row(&Row {
        name: m.key,
        member: Some(m.name),
        dtype: Some(&info.header.dtype),
        shape: &info.header.shape,
        fortran_order: info.header.order.is_fortran(),
        offset: (!compressed).then_some(info.data_offset),
        nbytes: info.data_len,
        compressed,
        aligned: info.aligned,
    })
}

/// Outcome of listing one member: input errors (outer) apart from output
/// errors (inner).
type RowRes = npzmap::Result<std::io::Result<()>>;

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
