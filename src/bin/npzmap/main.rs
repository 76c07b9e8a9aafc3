//! `npzmap`: inspect, check, repair and assemble `.npz` / `.npy` files.
//!
//! Exit codes: 0 success; 1 the data is damaged or a check failed; 2 bad
//! usage or an I/O error.
//!
//! Modules, imports one way only (each uses only those listed before it):
//! `failure` (error message + exit code) and `progress` (bars) and `json`
//! (dtype/error JSON forms) are leaves, as is `store` (archives named by
//! URL: `s3://`, `gs://`, `az://`, `http(s)://`); `cmd` (ls,
//! export, pack, concat) uses them; `check` (verify, recover and their `--json` reports) uses
//! `cmd`'s file-kind helpers; `tools` (rewrite, merge) uses `failure`; `demo` uses `failure` and `progress`; this
//! file only parses arguments and dispatches.

mod check;
mod cmd;
mod demo;
mod failure;
mod json;
mod ls;
mod progress;
mod store;
mod tools;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// Inspect, check, repair and assemble NumPy .npz and .npy files.
#[derive(Parser, Debug)]
#[command(name = "npzmap", version, about, long_about = None)]
struct Cli {
    /// No progress bars.
    #[arg(long, short, global = true)]
    quiet: bool,
    /// Print the object-store requests each URL cost (count, bytes) on stderr.
    #[arg(long, global = true)]
    requests: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// List the keys of an .npz (or the array of an .npy) file.
    ///
    /// Every key np.load shows is listed; a member that is not an NPY array
    /// (np.load returns its bytes) is marked "(bytes)" in the table and has
    /// kind "bytes", array false in --json (kind "array" otherwise).
    Ls {
        /// The .npz or .npy file, or an .npz URL (s3://, gs://, az://, http(s)://).
        file: PathBuf,
        /// Print one JSON array of objects instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Write one array as a standalone .npy file.
    ///
    /// A member that is not an NPY array is written as its raw bytes
    /// (CRC-checked; what np.load returns for it), with a note on stderr.
    Export {
        /// The .npz (or .npy) file, or an .npz URL (s3://, gs://, az://, http(s)://).
        file: PathBuf,
        /// The array's key (as np.load shows it).
        name: String,
        /// Output .npy path.
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Check structure and CRCs; exit 1 if anything is wrong.
    ///
    /// With --json: one object {file, format, ok, error, duplicates,
    /// members: [{name, key, offset, size, uncompressed_size, method,
    /// shadowed, array, ok, error: null | {kind, message}}]}.
    Verify {
        /// The .npz or .npy file, or an .npz URL (s3://, gs://, az://, http(s)://).
        file: PathBuf,
        /// Print one JSON object (per-member status) instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Rebuild a damaged archive or fix a truncated .npy.
    ///
    /// OUT is written through a temporary file and replaced only on success:
    /// a failed recover leaves IN and OUT as they were. Archives: every
    /// dropped member is listed on stderr (name, offset, reason) and the exit
    /// code is 1 if anything was dropped; when nothing can be recovered no
    /// output is written (exit 1). .npy: an incomplete last row is dropped
    /// (or zero-filled) and the bytes are reported (exit 0). With --json: one object {input, output,
    /// format, ok, error, kept, dropped: [{name, offset, reason}],
    /// bytes_kept, output_len} (.npy: rows_before, rows_after,
    /// bytes_dropped, bytes_zero_filled, data_offset_before,
    /// data_offset_after, changed instead of kept/dropped).
    Recover {
        /// The damaged file.
        input: PathBuf,
        /// Where to write the repaired file.
        #[arg(short, long)]
        output: PathBuf,
        /// .npy: pad an incomplete last row with zeros instead of dropping it.
        #[arg(long)]
        zerofill: bool,
        /// Print one JSON object (kept/dropped, bytes, output) instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Write (or append to) an archive from .npy files.
    ///
    /// If writing stops on an error (a full disk, say), the inputs written
    /// before it are committed with a central directory; the message names
    /// them, the input that failed (rolled back) and those not written, and
    /// the exit code is non-zero.
    Pack {
        /// The archive to write: a path, or an s3:// (gs://, az://) URL
        /// (multipart upload; the object appears only when complete).
        output: PathBuf,
        /// `[NAME=]FILE.npy`; NAME defaults to the file stem.
        #[arg(required = true)]
        inputs: Vec<String>,
        /// Add to an existing archive instead of creating a new one.
        #[arg(long)]
        append: bool,
        /// Align array data to this many bytes (1 = no alignment).
        #[arg(long, default_value_t = 64)]
        align: u64,
    },
    /// Append the rows of each input to OUT along the growth axis.
    Concat {
        /// The .npy to create or extend.
        output: PathBuf,
        /// Input .npy files.
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
    },
    /// Rewrite an archive so every array is zero-copy readable.
    ///
    /// Members are stored (deflated ones inflated, unless --keep-compressed)
    /// with their data aligned; names, order and member bytes are kept; every
    /// CRC is checked on the way. OUT is written beside itself and renamed
    /// into place only on success (OUT may be IN): a damaged input leaves OUT
    /// as it was (exit 1).
    Rewrite {
        /// The archive to read.
        input: PathBuf,
        /// The archive to write (may be the input).
        #[arg(short, long)]
        output: PathBuf,
        /// Align member data to this many bytes (power of two, 1 = none).
        #[arg(long, default_value_t = 64)]
        align: u64,
        /// Store deflated members inflated (the default; zero-copy).
        #[arg(long, conflicts_with = "keep_compressed")]
        decompress: bool,
        /// Copy deflated members as they are (still CRC-checked).
        #[arg(long)]
        keep_compressed: bool,
        /// Drop members superseded by a later one with the same key (listed on stderr).
        #[arg(long)]
        dedupe: bool,
    },
    /// Merge archives (e.g. one shard per worker) into one.
    ///
    /// Members are copied byte for byte (no re-encoding, CRCs reused) with
    /// aligned data. Every input is verified and duplicates resolved before
    /// OUT is written; OUT is replaced atomically. --on-duplicate: error
    /// (default) refuses; prefix renames a later duplicate to
    /// <input file stem>/<name> (shard3.npz: shard3/x.npy); last keeps the
    /// last occurrence only.
    Merge {
        /// The archive to write.
        output: PathBuf,
        /// The archives to merge, in order.
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
        /// error | prefix | last.
        #[arg(long, default_value = "error")]
        on_duplicate: String,
        /// Align member data to this many bytes (power of two, 1 = none).
        #[arg(long, default_value_t = 64)]
        align: u64,
    },
    /// The main job on generated data: write, reopen lazily, read at random, verify.
    Demo {
        /// Directory for the files (default: a temporary directory).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Number of samples.
        #[arg(long, default_value_t = 50_000)]
        samples: u64,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let quiet = cli.quiet;
    let res = match cli.command {
        Command::Ls { file, json } => ls::ls(&file, json),
        Command::Export { file, name, output } => cmd::export(&file, &name, &output),
        Command::Verify { file, json } => check::verify(&file, json),
        Command::Recover {
            input,
            output,
            zerofill,
            json,
        } => check::recover(&input, &output, zerofill, json),
        Command::Pack {
            output,
            inputs,
            append,
            align,
        } => cmd::pack(&output, &inputs, append, align, quiet),
        Command::Concat { output, inputs } => cmd::concat(&output, &inputs, quiet),
        Command::Rewrite {
            input,
            output,
            align,
            decompress: _,
            keep_compressed,
            dedupe,
        } => tools::rewrite_cmd(&input, &output, align, keep_compressed, dedupe),
        Command::Merge {
            output,
            inputs,
            on_duplicate,
            align,
        } => tools::merge_cmd(&output, &inputs, &on_duplicate, align),
        Command::Demo { dir, samples } => demo::run(dir, samples, quiet),
    };
    if cli.requests {
        store::report_requests();
    }
    match res {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("npzmap: {}", f.message);
            ExitCode::from(f.code)
        }
    }
}
