//! `npzmap`: inspect, check, repair and assemble `.npz` / `.npy` files.
//!
//! Exit codes: 0 success; 1 the data is damaged or a check failed; 2 bad
//! usage or an I/O error.

mod cmd;
mod demo;
mod json;

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
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// List the arrays of an .npz or .npy file.
    Ls {
        /// The .npz or .npy file.
        file: PathBuf,
        /// Print one JSON array of objects instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Write one array as a standalone .npy file.
    Export {
        /// The .npz (or .npy) file.
        file: PathBuf,
        /// The array's key (as np.load shows it).
        name: String,
        /// Output .npy path.
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Check structure and CRCs; exit 1 if anything is wrong.
    Verify {
        /// The .npz or .npy file.
        file: PathBuf,
    },
    /// Rebuild a damaged archive or fix a truncated .npy.
    Recover {
        /// The damaged file.
        input: PathBuf,
        /// Where to write the repaired file.
        #[arg(short, long)]
        output: PathBuf,
        /// .npy: pad an incomplete last row with zeros instead of dropping it.
        #[arg(long)]
        zerofill: bool,
    },
    /// Write (or append to) an archive from .npy files.
    Pack {
        /// The archive to write.
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

/// A failure with the exit code it maps to.
pub struct Failure {
    code: u8,
    message: String,
}

impl From<npzmap::Error> for Failure {
    fn from(e: npzmap::Error) -> Self {
        Failure {
            code: if e.is_data_error() { 1 } else { 2 },
            message: e.to_string(),
        }
    }
}

impl Failure {
    /// A failed check (exit 1).
    pub fn check(message: impl Into<String>) -> Failure {
        Failure {
            code: 1,
            message: message.into(),
        }
    }

    /// Bad usage or I/O (exit 2).
    pub fn usage(message: impl Into<String>) -> Failure {
        Failure {
            code: 2,
            message: message.into(),
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let quiet = cli.quiet;
    let res = match cli.command {
        Command::Ls { file, json } => cmd::ls(&file, json),
        Command::Export { file, name, output } => cmd::export(&file, &name, &output),
        Command::Verify { file } => cmd::verify(&file, quiet),
        Command::Recover {
            input,
            output,
            zerofill,
        } => cmd::recover(&input, &output, zerofill),
        Command::Pack {
            output,
            inputs,
            append,
            align,
        } => cmd::pack(&output, &inputs, append, align, quiet),
        Command::Concat { output, inputs } => cmd::concat(&output, &inputs, quiet),
        Command::Demo { dir, samples } => cmd::demo(dir, samples, quiet),
    };
    match res {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("npzmap: {}", f.message);
            ExitCode::from(f.code)
        }
    }
}
