//! The subcommands.

use crate::Failure;
use crate::json;
use npzmap::npy::NpyFile;
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
    let rows = match kind_of(file)? {
        Kind::Npy => vec![npy_row(file)?],
        Kind::Npz => npz_rows(file)?,
    };
    print_rows(&rows, as_json);
    Ok(())
}

fn npz_rows(_file: &Path) -> Result<Vec<Row>, Failure> {
    Err(Failure::usage("npz listing is not available yet"))
}

pub fn export(_file: &Path, _name: &str, _output: &Path) -> Res {
    Err(Failure::usage("export is not available yet"))
}

pub fn verify(_file: &Path, _quiet: bool) -> Res {
    Err(Failure::usage("verify is not available yet"))
}

pub fn recover(_input: &Path, _output: &Path, _zerofill: bool) -> Res {
    Err(Failure::usage("recover is not available yet"))
}

pub fn pack(_output: &Path, _inputs: &[String], _append: bool, _align: u64, _quiet: bool) -> Res {
    Err(Failure::usage("pack is not available yet"))
}

pub fn concat(_output: &Path, _inputs: &[PathBuf], _quiet: bool) -> Res {
    Err(Failure::usage("concat is not available yet"))
}

pub fn demo(_dir: Option<PathBuf>, _samples: u64, _quiet: bool) -> Res {
    Err(Failure::usage("demo is not available yet"))
}
