//! Archives named by URL (`s3://`, `gs://`, `az://`, `http(s)://`): opened
//! through the library's object-store source when the binary is built with
//! the `object-store` feature, refused with a clear message otherwise.
//! Every object opened is remembered so `--requests` can report what the
//! run cost.

use npzmap::npz::{NpzReader, NpzWriter, ReaderOptions, WriterOptions};
use std::path::Path;

/// `file` as a URL, if it names an object rather than a local path.
pub fn url_of(file: &Path) -> Option<&str> {
    file.to_str().filter(|s| remote::is_url(s))
}

/// Opens the archive at `file`: mapped when local, by ranged requests when
/// `file` is a URL.
pub fn open_npz(file: &Path, opts: ReaderOptions) -> npzmap::Result<NpzReader> {
    match url_of(file) {
        Some(url) => remote::open(url, opts),
        None => NpzReader::open_with(file, opts),
    }
}

/// Creates the archive at `output` (a new file, or a multipart upload when
/// `output` is a URL).
pub fn create_npz(output: &Path, opts: WriterOptions) -> npzmap::Result<NpzWriter> {
    match url_of(output) {
        Some(url) => remote::create(url, opts),
        None => opts.create(output),
    }
}

/// Prints the requests made to each object (for `--requests`).
pub fn report_requests() {
    remote::report();
}

#[cfg(feature = "object-store")]
mod remote {
    use super::*;
    use npzmap::remote::Object;
    pub use npzmap::remote::is_url;
    use std::sync::Mutex;

    /// The objects opened in this run.
    static OPENED: Mutex<Vec<Object>> = Mutex::new(Vec::new());

    fn object(url: &str) -> npzmap::Result<Object> {
        let o = Object::from_url(url)?;
        OPENED
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(o.clone());
        Ok(o)
    }

    pub fn open(url: &str, opts: ReaderOptions) -> npzmap::Result<NpzReader> {
        NpzReader::open_object(object(url)?, opts)
    }

    pub fn create(url: &str, opts: WriterOptions) -> npzmap::Result<NpzWriter> {
        NpzWriter::create_object(object(url)?, opts)
    }

    pub fn report() {
        for o in OPENED.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            let r = o.requests();
            eprintln!(
                "{}: {} GET request(s), {} bytes read; {} upload request(s), {} bytes written",
                o.url(),
                r.gets,
                r.bytes_read,
                r.puts,
                r.bytes_written
            );
        }
    }
}

#[cfg(not(feature = "object-store"))]
mod remote {
    use super::*;

    /// Without object storage support, anything with a scheme is a URL
    /// this binary cannot open (and says so).
    pub fn is_url(s: &str) -> bool {
        s.split_once("://").is_some_and(|(scheme, _)| {
            !scheme.is_empty() && scheme.bytes().all(|b| b.is_ascii_alphanumeric())
        })
    }

    fn unsupported(url: &str) -> npzmap::Error {
        npzmap::Error::invalid_argument(
            "this npzmap was built without object storage support \
             (build it with `--features object-store`)",
        )
        .at_path(url)
    }

    pub fn open(url: &str, _opts: ReaderOptions) -> npzmap::Result<NpzReader> {
        Err(unsupported(url))
    }

    pub fn create(url: &str, _opts: WriterOptions) -> npzmap::Result<NpzWriter> {
        Err(unsupported(url))
    }

    pub fn report() {}
}
