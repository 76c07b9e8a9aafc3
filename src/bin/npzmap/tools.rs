//! `rewrite` and `merge`: the archive tools over `npzmap::npz::tools`.

use crate::failure::Failure;
use npzmap::npz::tools::{MergeOptions, OnDuplicate, RewriteOptions, merge, rewrite};
use std::path::{Path, PathBuf};

/// `npzmap rewrite IN -o OUT`: aligned, stored, CRC-checked copy.
pub fn rewrite_cmd(
    input: &Path,
    output: &Path,
    align: u64,
    keep_compressed: bool,
    dedupe: bool,
) -> Result<(), Failure> {
    let opts = RewriteOptions::new()
        .align(align)
        .decompress(!keep_compressed)
        .dedupe(dedupe);
    let r = rewrite(input, output, opts)?;
    for (name, offset) in &r.dropped {
        eprintln!(
            "dropped {name:?} (local header at offset {offset}): superseded by a later member"
        );
    }
    println!(
        "{} -> {}: {} members ({} decompressed, {} duplicates dropped), {} bytes",
        input.display(),
        output.display(),
        r.members,
        r.decompressed.len(),
        r.dropped.len(),
        r.output_len
    );
    Ok(())
}

/// `npzmap merge OUT IN...`: members copied as they are, inputs verified first.
pub fn merge_cmd(
    output: &Path,
    inputs: &[PathBuf],
    policy: &str,
    align: u64,
) -> Result<(), Failure> {
    let on_duplicate = match policy {
        "error" => OnDuplicate::Error,
        "prefix" => OnDuplicate::Prefix,
        "last" => OnDuplicate::Last,
        other => {
            return Err(Failure::usage(format!(
                "--on-duplicate must be error, prefix or last, not {other:?}"
            )));
        }
    };
    let opts = MergeOptions::new().align(align).on_duplicate(on_duplicate);
    let r = merge(output, inputs, opts)?;
    for rn in &r.renamed {
        eprintln!(
            "renamed {:?} of {} to {:?}",
            rn.from,
            rn.input.display(),
            rn.to
        );
    }
    for (input, name) in &r.dropped {
        eprintln!(
            "dropped {name:?} of {}: superseded by a later member",
            input.display()
        );
    }
    println!(
        "{}: {} members from {} archives ({} renamed, {} dropped), {} bytes",
        output.display(),
        r.members,
        inputs.len(),
        r.renamed.len(),
        r.dropped.len(),
        r.output_len
    );
    Ok(())
}
