//! The subcommands.

use crate::Failure;
use crate::json;
use npzmap::npy::{self, NpyFile};
use npzmap::npz::{self, NpzReader, NpzWriter};
use serde_json::json;
use std::io::Read;
use std::path::{Path, PathBuf};

type Res = Result<(), Failure>;

/// What a file is, by its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Npy,
    Npz,
}

fn kind_of(path: &Path) -> Result<Kind, Failure> {
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

fn stem(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

struct Row {
    name: String,
    member: Option<String>,
    descr: serde_json::Value,
    dtype: String,
    shape: Vec<u64>,
    fortran_order: bool,
    offset: Option<u64>,
    nbytes: u64,
    compressed: bool,
    aligned: bool,
}

fn print_rows(rows: &[Row], as_json: bool) {
    if as_json {
        let arr: Vec<_> = rows
            .iter()
            .map(|r| {
                json!({
                    "name": r.name,
                    "member": r.member,
                    "descr": r.descr,
                    "shape": r.shape,
                    "fortran_order": r.fortran_order,
                    "offset": r.offset,
                    "nbytes": r.nbytes,
                    "compressed": r.compressed,
                    "aligned": r.aligned,
                })
            })
            .collect();
        println!("{}", serde_json::Value::Array(arr));
        return;
    }
    println!(
        "{:<24} {:<10} {:<18} {:>5} {:>14} {:>12} {:>5} {:>7}",
        "name", "dtype", "shape", "order", "offset", "nbytes", "zip", "aligned"
    );
    for r in rows {
        let shape = format!(
            "({})",
            r.shape
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
        println!(
            "{:<24} {:<10} {:<18} {:>5} {:>14} {:>12} {:>5} {:>7}",
            r.name,
            r.dtype,
            shape,
            if r.fortran_order { "F" } else { "C" },
            r.offset.map_or("-".to_string(), |o| o.to_string()),
            r.nbytes,
            if r.compressed { "defl" } else { "store" },
            if r.aligned { "yes" } else { "no" },
        );
    }
}

fn npy_row(path: &Path) -> Result<Row, Failure> {
    let f = NpyFile::open(path)?;
    let v = f.view();
    let h = f.header();
    Ok(Row {
        name: stem(path),
        member: None,
        descr: json::descr(&h.dtype),
        dtype: h.dtype.to_string(),
        shape: h.shape.clone(),
        fortran_order: h.order.is_fortran(),
        offset: Some(f.parsed_header().data_offset),
        nbytes: v.as_bytes().len() as u64,
        compressed: false,
        aligned: v.is_zero_copy(),
    })
}

pub fn ls(file: &Path, as_json: bool) -> Res {
    let (rows, problems) = match kind_of(file)? {
        Kind::Npy => (vec![npy_row(file)?], Vec::new()),
        Kind::Npz => npz_rows(file)?,
    };
    // What could be read is printed; broken members then fail the command.
    print_rows(&rows, as_json);
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Failure::check(problems.join("\n")))
    }
}

fn npz_rows(file: &Path) -> Result<(Vec<Row>, Vec<String>), Failure> {
    let r = NpzReader::open(file)?;
    let mut rows = Vec::new();
    let mut problems = Vec::new();
    for m in r.members() {
        if m.shadowed || !m.name.ends_with(".npy") {
            continue;
        }
        // Method 0 is "stored": anything else is compressed.
        let compressed = m.method != 0;
        let row = if compressed {
            // Only the npy header is inflated; the data stays compressed.
            r.header(m.key).map(|h| Row {
                name: m.key.to_string(),
                member: Some(m.name.to_string()),
                descr: json::descr(&h.dtype),
                dtype: h.dtype.to_string(),
                shape: h.shape.clone(),
                fortran_order: h.order.is_fortran(),
                offset: None,
                nbytes: h.data_len().unwrap_or(0),
                compressed: true,
                aligned: false,
            })
        } else {
            r.get(m.key).map(|v| Row {
                name: m.key.to_string(),
                member: Some(m.name.to_string()),
                descr: json::descr(v.dtype()),
                dtype: v.dtype().to_string(),
                shape: v.shape().to_vec(),
                fortran_order: v.order().is_fortran(),
                offset: v.location().offset,
                nbytes: v.as_bytes().len() as u64,
                compressed: false,
                aligned: v.is_zero_copy(),
            })
        };
        match row {
            Ok(row) => rows.push(row),
            Err(e) => problems.push(e.to_string()),
        }
    }
    Ok((rows, problems))
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

pub fn verify(file: &Path, quiet: bool) -> Res {
    match kind_of(file)? {
        Kind::Npy => {
            let f = NpyFile::open(file)?;
            let v = f.view();
            // Element-level check where the dtype has invalid bit patterns.
            let is_bool = v
                .dtype()
                .as_scalar()
                .is_some_and(|s| s.kind == npzmap::dtype::Kind::Bool);
            if is_bool && let Some(i) = v.as_bytes().iter().position(|&b| b > 1) {
                return Err(Failure::check(format!(
                    "{}: bool element {i} holds {} (offset {})",
                    file.display(),
                    v.as_bytes()[i],
                    f.parsed_header().data_offset + i as u64
                )));
            }
            println!(
                "{}: ok ({} {:?}, {} data bytes)",
                file.display(),
                v.dtype(),
                v.shape(),
                v.as_bytes().len()
            );
            Ok(())
        }
        Kind::Npz => npz_verify(file, quiet),
    }
}

pub fn recover(input: &Path, output: &Path, zerofill: bool) -> Res {
    match kind_of(input)? {
        Kind::Npy => {
            if input != output {
                std::fs::copy(input, output).map_err(|e| {
                    Failure::usage(format!(
                        "cannot copy {} to {}: {e}",
                        input.display(),
                        output.display()
                    ))
                })?;
            }
            let r = npy::recover(output, zerofill)?;
            let before = r
                .rows_before
                .map_or("unreadable".to_string(), |n| n.to_string());
            println!(
                "{}: growth axis {} -> {} rows; {} bytes dropped, {} bytes zero-filled{}",
                output.display(),
                before,
                r.rows_after,
                r.bytes_dropped,
                r.bytes_zero_filled,
                if r.changed { "" } else { " (nothing to do)" }
            );
            Ok(())
        }
        Kind::Npz => npz_recover(input, output),
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

fn npz_export(file: &Path, name: &str, output: &Path) -> Res {
    let r = NpzReader::open(file)?;
    // Deflated members come back inflated (native order); stored ones as
    // stored, byte order included: np.load reads both equal.
    let v = r.get(name)?;
    npy::write_view(output, &v)?;
    Ok(())
}

fn npz_verify(file: &Path, _quiet: bool) -> Res {
    let r = NpzReader::open(file)?;
    let report = r.verify();
    let mut problems: Vec<String> = report.errors().map(|(m, e)| format!("{m}: {e}")).collect();
    // Array-level checks: every .npy member's header parses and its data
    // length matches (structure beyond the CRC).
    for m in r.members() {
        if m.shadowed || !m.name.ends_with(".npy") {
            continue;
        }
        if report.errors().any(|(n, _)| n == m.name) {
            continue;
        }
        if let Err(e) = r.header(m.key) {
            problems.push(format!("{}: {e}", m.name));
        }
    }
    for d in r.duplicates() {
        eprintln!("warning: duplicate member {d:?} (the last one wins, as in np.load)");
    }
    if problems.is_empty() {
        println!("{}: ok ({} members)", file.display(), report.members.len());
        Ok(())
    } else {
        for p in &problems {
            println!("{p}");
        }
        Err(Failure::check(format!(
            "{}: {} problem(s) found",
            file.display(),
            problems.len()
        )))
    }
}

fn npz_recover(input: &Path, output: &Path) -> Res {
    if input == output {
        return Err(Failure::usage(
            "recover needs an output path different from the input",
        ));
    }
    let rep = npz::recover(input, output)?;
    for k in &rep.kept {
        println!("kept     {k}");
    }
    for d in &rep.dropped {
        println!("dropped  {} (offset {}): {}", d.name, d.offset, d.reason);
    }
    eprintln!(
        "{}: {} member(s) kept, {} dropped, {} bytes",
        output.display(),
        rep.kept.len(),
        rep.dropped.len(),
        rep.output_len
    );
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
    for (name, f) in &named {
        let v = f.view();
        w.write_view(name, &v)?;
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

pub fn demo(dir: Option<PathBuf>, samples: u64, quiet: bool) -> Res {
    crate::demo::run(dir, samples, quiet)
}

/// Progress bars on stderr, only when it is a terminal and not `--quiet`.
pub mod progress {
    use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
    use std::io::IsTerminal;

    fn visible(quiet: bool) -> bool {
        !quiet && std::io::stderr().is_terminal()
    }

    /// A byte-count bar.
    pub fn bytes(total: u64, quiet: bool) -> ProgressBar {
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
        if !visible(quiet) {
            bar.set_draw_target(ProgressDrawTarget::hidden());
        }
        if let Ok(style) =
            ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}")
        {
            bar.set_style(style);
        }
        bar
    }

    /// An item-count bar.
    pub fn items(total: u64, what: &str, quiet: bool) -> ProgressBar {
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
        if !visible(quiet) {
            bar.set_draw_target(ProgressDrawTarget::hidden());
        }
        if let Ok(style) = ProgressStyle::with_template(&format!(
            "{{bar:40}} {{pos}}/{{len}} {what} {{per_sec}} eta {{eta}}"
        )) {
            bar.set_style(style);
        }
        bar
    }
}
