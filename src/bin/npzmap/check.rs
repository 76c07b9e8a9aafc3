//! `verify` and `recover`, with their `--json` reports.
//!
//! # `verify --json`
//!
//! One JSON object on stdout, also when the check fails (exit 1) or the file
//! cannot be opened (then `members` is empty and `error` is set):
//!
//! ```text
//! { "file": PATH, "format": "npz" | "npy", "ok": BOOL,
//!   "error": null | ERROR,              // the file as a whole could not be read
//!   "duplicates": [NAME, ...],          // npz: member names that occur twice
//!   "members": [ { "name": MEMBER NAME, "key": KEY (as np.load shows it),
//!                  "offset": local header offset (npz) / data offset (npy),
//!                  "size": bytes stored (compressed size for npz),
//!                  "uncompressed_size": N, "method": 0 | 8 | ... (npz),
//!                  "shadowed": BOOL (a later member of the same name wins),
//!                  "array": BOOL | null (NPY magic, np.load's rule; null if unreadable),
//!                  "ok": BOOL, "error": null | ERROR } ] }
//! ERROR = { "kind": error variant (e.g. "CrcMismatch"), "message": TEXT }
//! ```
//!
//! # `recover --json`
//!
//! ```text
//! { "input": PATH, "output": PATH | null (null: nothing was written),
//!   "format": "npz" | "npy", "ok": BOOL (written and nothing dropped),
//!   "error": null | ERROR,
//!   npz: "kept": [NAME, ...], "dropped": [ { "name", "offset", "reason" } ],
//!        "bytes_kept": N (input bytes copied unchanged), "output_len": N
//!   npy: "rows_before": N | null, "rows_after": N, "bytes_dropped": N,
//!        "bytes_zero_filled": N, "data_offset_before": N,
//!        "data_offset_after": N, "changed": BOOL }
//! ```
//!
//! Exit codes: 0 all good; 1 a check failed, a member was dropped or
//! nothing could be recovered; 2 usage or I/O error. A failed `recover`
//! leaves every existing file as it was.

use crate::cmd::{Kind, Res, kind_of, stem};
use crate::failure::Failure;
use crate::json;
use npzmap::npy::{self, NpyFile};
use npzmap::npz;
use serde_json::{Value, json};
use std::path::Path;

pub fn verify(file: &Path, as_json: bool) -> Res {
    let kind = kind_of(file)?;
    let (report, failure) = match kind {
        Kind::Npy => npy_verify(file),
        Kind::Npz => npz_verify(file),
    };
    if as_json {
        println!("{report}");
    } else if let Some(members) = report["members"].as_array() {
        let mut bad = 0;
        for m in members.iter().filter(|m| m["ok"] == false) {
            bad += 1;
            println!(
                "{}: {}",
                m["name"].as_str().unwrap_or(""),
                m["error"]["message"].as_str().unwrap_or("")
            );
        }
        if failure.is_none() && bad == 0 {
            println!("{}", ok_line(file, kind, &report));
        }
    }
    match failure {
        Some(f) => Err(f),
        None => Ok(()),
    }
}

fn ok_line(file: &Path, kind: Kind, report: &Value) -> String {
    let m = &report["members"][0];
    match kind {
        Kind::Npy => format!(
            "{}: ok ({} {}, {} data bytes)",
            file.display(),
            m["dtype"].as_str().unwrap_or(""),
            m["shape"],
            m["size"]
        ),
        Kind::Npz => format!(
            "{}: ok ({} members)",
            file.display(),
            report["members"].as_array().map_or(0, |a| a.len())
        ),
    }
}

fn npy_verify(file: &Path) -> (Value, Option<Failure>) {
    let mut report = json!({
        "file": file, "format": "npy", "ok": false, "error": null,
        "duplicates": [], "members": [],
    });
    let f = match NpyFile::open(file) {
        Ok(f) => f,
        Err(e) => {
            report["error"] = json::error(&e);
            return (report, Some(e.into()));
        }
    };
    let v = f.view();
    let data_offset = f.parsed_header().data_offset;
    // Element-level check where the dtype has invalid bit patterns.
    let is_bool = v
        .dtype()
        .as_scalar()
        .is_some_and(|s| s.kind == npzmap::dtype::Kind::Bool);
    let bad_bool = if is_bool {
        v.as_bytes().iter().position(|&b| b > 1)
    } else {
        None
    };
    let error = bad_bool.map(|i| {
        format!(
            "{}: bool element {i} holds {} (offset {})",
            file.display(),
            v.as_bytes()[i],
            data_offset + i as u64
        )
    });
    report["ok"] = json!(error.is_none());
    report["members"] = json!([{
        "name": file.file_name().map(|n| n.to_string_lossy().into_owned()),
        "key": stem(file),
        "offset": data_offset,
        "size": v.as_bytes().len(),
        "uncompressed_size": v.as_bytes().len(),
        "method": null,
        "shadowed": false,
        "array": true,
        "dtype": v.dtype().to_string(),
        "shape": v.shape(),
        "ok": error.is_none(),
        "error": error.as_ref().map(|m| json!({"kind": "InvalidBool", "message": m})),
    }]);
    (report, error.map(Failure::check))
}

fn npz_verify(file: &Path) -> (Value, Option<Failure>) {
    let mut report = json!({
        "file": file, "format": "npz", "ok": false, "error": null,
        "duplicates": [], "members": [],
    });
    let r = match crate::store::open_npz(file, npzmap::npz::ReaderOptions::new()) {
        Ok(r) => r,
        Err(e) => {
            report["error"] = json::error(&e);
            return (report, Some(e.into()));
        }
    };
    let results = r.verify();
    let mut members = Vec::new();
    let mut problems = 0usize;
    for (m, (_, res)) in r.members().zip(results.members.iter()) {
        // For a shadowed member the key names the winning one.
        let array = if m.shadowed {
            Value::Null
        } else {
            r.is_array(m.name).map_or(Value::Null, Value::Bool)
        };
        if res.is_err() {
            problems += 1;
        }
        members.push(json!({
            "name": m.name,
            "key": m.key,
            "offset": m.local_header_offset,
            "size": m.compressed_size,
            "uncompressed_size": m.uncompressed_size,
            "method": m.method,
            "shadowed": m.shadowed,
            "array": array,
            "ok": res.is_ok(),
            "error": res.as_ref().err().map(json::error),
        }));
    }
    for d in r.duplicates() {
        eprintln!("warning: duplicate member {d:?} (the last one wins, as in np.load)");
    }
    report["members"] = Value::Array(members);
    report["duplicates"] = json!(r.duplicates());
    report["ok"] = json!(problems == 0);
    let failure = (problems > 0)
        .then(|| Failure::check(format!("{}: {problems} problem(s) found", file.display())));
    (report, failure)
}

pub fn recover(input: &Path, output: &Path, zerofill: bool, as_json: bool) -> Res {
    let (report, failure) = match kind_of(input)? {
        Kind::Npy => npy_recover(input, output, zerofill, as_json),
        Kind::Npz => npz_recover(input, output, as_json),
    };
    if as_json {
        println!("{report}");
    }
    match failure {
        Some(f) => Err(f),
        None => Ok(()),
    }
}

fn npy_recover(
    input: &Path,
    output: &Path,
    zerofill: bool,
    as_json: bool,
) -> (Value, Option<Failure>) {
    let mut report = json!({
        "input": input, "output": null, "format": "npy", "ok": false, "error": null,
    });
    // Written to a temporary file beside OUT and renamed over it only on
    // success: a failure leaves IN and OUT as they were.
    let r = match npy::recover_to(input, output, zerofill) {
        Ok(r) => r,
        Err(e) => {
            report["error"] = json::error(&e);
            return (report, Some(e.into()));
        }
    };
    report["output"] = json!(output);
    // Dropping the bytes of an incomplete last row is what recovery is for,
    // but it is still data not kept: say so and exit 1, as for npz.
    report["ok"] = json!(r.bytes_dropped == 0);
    for (k, v) in [
        ("rows_before", json!(r.rows_before)),
        ("rows_after", json!(r.rows_after)),
        ("bytes_dropped", json!(r.bytes_dropped)),
        ("bytes_zero_filled", json!(r.bytes_zero_filled)),
        ("data_offset_before", json!(r.data_offset_before)),
        ("data_offset_after", json!(r.data_offset_after)),
        ("changed", json!(r.changed)),
    ] {
        report[k] = v;
    }
    if !as_json {
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
    }
    let failure = (r.bytes_dropped > 0).then(|| {
        Failure::check(format!(
            "{}: {} bytes of an incomplete last row dropped ({} holds the {} complete rows; --zerofill keeps them as a zero-filled row)",
            input.display(),
            r.bytes_dropped,
            output.display(),
            r.rows_after
        ))
    });
    (report, failure)
}

fn npz_recover(input: &Path, output: &Path, as_json: bool) -> (Value, Option<Failure>) {
    let mut report = json!({
        "input": input, "output": null, "format": "npz", "ok": false, "error": null,
        "kept": [], "dropped": [], "bytes_kept": 0, "output_len": 0,
    });
    if input == output {
        let f = Failure::usage("recover needs an output path different from the input");
        report["error"] = json!({"kind": "InvalidArgument", "message": f.message});
        return (report, Some(f));
    }
    let rep = match npz::recover(input, output) {
        Ok(r) => r,
        Err(e) => {
            report["error"] = json::error(&e);
            return (report, Some(e.into()));
        }
    };
    report["output"] = json!(output);
    report["kept"] = json!(rep.kept);
    report["dropped"] = Value::Array(
        rep.dropped
            .iter()
            .map(|d| json!({"name": d.name, "offset": d.offset, "reason": d.reason}))
            .collect(),
    );
    report["bytes_kept"] = json!(rep.bytes_kept);
    report["output_len"] = json!(rep.output_len);
    report["ok"] = json!(rep.dropped.is_empty());
    if !as_json {
        for k in &rep.kept {
            println!("kept     {k}");
        }
    }
    // Dropped members go to stderr in both modes: they are the problem.
    for d in &rep.dropped {
        eprintln!("dropped  {:?} (offset {}): {}", d.name, d.offset, d.reason);
    }
    eprintln!(
        "{}: {} member(s) kept, {} dropped, {} bytes",
        output.display(),
        rep.kept.len(),
        rep.dropped.len(),
        rep.output_len
    );
    let failure = (!rep.dropped.is_empty()).then(|| {
        Failure::check(format!(
            "{}: {} member(s) of {} dropped (listed above); {} holds the {} member(s) that check out",
            input.display(),
            rep.dropped.len(),
            rep.kept.len() + rep.dropped.len(),
            output.display(),
            rep.kept.len()
        ))
    });
    (report, failure)
}
