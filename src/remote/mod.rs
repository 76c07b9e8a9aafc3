//! Objects in object storage (feature `object-store`): one object of any
//! [`ObjectStore`] (S3, GCS, Azure, HTTP, local file system, in memory),
//! read by byte ranges and written by multipart upload, with every request
//! counted ([`Object::requests`]) because users pay per request.
//!
//! This is the storage layer beside [`fs`](crate::fs): it knows nothing of
//! zip or NPY. The reader and writer above it call it synchronously; the
//! async requests run on one small shared Tokio runtime owned by npzmap, so
//! the calls work from any thread, inside another runtime included.
//!
//! Credentials and endpoints come from the usual environment variables, as
//! object_store's builders read them (`AWS_ACCESS_KEY_ID`,
//! `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION`,
//! `AWS_ENDPOINT`, `AWS_ALLOW_HTTP`; `GOOGLE_SERVICE_ACCOUNT`, ...;
//! `AZURE_STORAGE_ACCOUNT_NAME`, `AZURE_STORAGE_ACCOUNT_KEY`, ...).

use crate::error::{Error, Location, Result};
use bytes::Bytes;
use object_store::path::Path as ObjectPath;
use object_store::{GetOptions, GetRange, ObjectStore, ObjectStoreExt};
use std::fmt;
use std::future::Future;
use std::io;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

pub use object_store;

/// Requests sent for one [`Object`] (and everything opened from it), and
/// the bytes they moved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Requests {
    /// Ranged or whole `GET`s, and `HEAD`s (the writer's existence check).
    pub gets: u64,
    /// Bytes received by those `GET`s.
    pub bytes_read: u64,
    /// Upload requests: a simple `PUT`, or a multipart upload's create,
    /// parts and completion (or abort), each counted.
    pub puts: u64,
    /// Bytes sent by those requests.
    pub bytes_written: u64,
}

#[derive(Debug, Default)]
struct Counters {
    gets: AtomicU64,
    bytes_read: AtomicU64,
    puts: AtomicU64,
    bytes_written: AtomicU64,
}

/// One object in an object store: where it is, and the request counters.
/// Cheap to clone (clones share the store and the counters).
#[derive(Clone)]
pub struct Object {
    store: Arc<dyn ObjectStore>,
    path: ObjectPath,
    url: String,
    counters: Arc<Counters>,
}

impl fmt::Debug for Object {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Object")
            .field("url", &self.url)
            .field("requests", &self.requests())
            .finish_non_exhaustive()
    }
}

/// True if `s` names an object store rather than a local path:
/// `s3://`, `s3a://`, `gs://`, `az://`, `abfs(s)://`, `adl://`, `azure://`,
/// `http(s)://`, `memory://` or `file://`.
pub fn is_url(s: &str) -> bool {
    const SCHEMES: &[&str] = &[
        "s3://",
        "s3a://",
        "gs://",
        "az://",
        "abfs://",
        "abfss://",
        "adl://",
        "azure://",
        "http://",
        "https://",
        "memory://",
        "file://",
    ];
    SCHEMES.iter().any(|p| {
        s.get(..p.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(p))
    })
}

impl Object {
    /// The object at `url` (see [`is_url`] for the schemes), with
    /// credentials, region and endpoint from the environment.
    pub fn from_url(url: &str) -> Result<Object> {
        let bad = |reason: String| Error::InvalidArgument {
            reason,
            at: Location::path(url),
        };
        let parsed = url::Url::parse(url).map_err(|e| bad(format!("invalid URL: {e}")))?;
        let (scheme, path) = object_store::ObjectStoreScheme::parse(&parsed)
            .map_err(|e| bad(format!("unsupported URL: {e}")))?;
        let path = ObjectPath::parse(path).map_err(|e| bad(format!("invalid object path: {e}")))?;
        let store = store_for(scheme, &parsed).map_err(|e| bad(e.to_string()))?;
        Ok(Object {
            store,
            path,
            url: url.to_string(),
            counters: Arc::default(),
        })
    }

    /// The object at `path` in `store` (an in-memory store, a configured
    /// S3 client, ...). `path` is an object key like `data/train.npz`.
    pub fn new(store: Arc<dyn ObjectStore>, path: &str) -> Result<Object> {
        let path = ObjectPath::parse(path).map_err(|e| Error::InvalidArgument {
            reason: format!("invalid object path: {e}"),
            at: Location::path(path),
        })?;
        let url = format!("{store}/{path}");
        Ok(Object {
            store,
            path,
            url,
            counters: Arc::default(),
        })
    }

    /// The URL (or `store/path` description) errors name as the file.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    /// The object's key in the store.
    pub fn path(&self) -> &ObjectPath {
        &self.path
    }

    /// Requests sent so far through this object and its clones.
    pub fn requests(&self) -> Requests {
        let c = &self.counters;
        Requests {
            gets: c.gets.load(Ordering::Relaxed),
            bytes_read: c.bytes_read.load(Ordering::Relaxed),
            puts: c.puts.load(Ordering::Relaxed),
            bytes_written: c.bytes_written.load(Ordering::Relaxed),
        }
    }

    /// An I/O error of `op` on this object (the URL is the file).
    pub(crate) fn error(&self, op: &'static str, e: object_store::Error) -> Error {
        let kind = kind_of(&e);
        Error::io(op, io::Error::new(kind, e), Location::path(&self.url))
    }

    /// Whether the object exists (one `HEAD` request, counted with the
    /// `GET`s).
    pub(crate) fn exists(&self) -> Result<bool> {
        let (store, path) = (self.store.clone(), self.path.clone());
        let r = block_on(async move { store.head(&path).await })?;
        self.count_get(0);
        match r {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(self.error("HEAD", e)),
        }
    }

    pub(crate) fn count_put(&self, bytes: u64) {
        self.counters.puts.fetch_add(1, Ordering::Relaxed);
        self.counters
            .bytes_written
            .fetch_add(bytes, Ordering::Relaxed);
    }

    fn count_get(&self, bytes: u64) {
        self.counters.gets.fetch_add(1, Ordering::Relaxed);
        self.counters.bytes_read.fetch_add(bytes, Ordering::Relaxed);
    }

    /// The last `n` bytes of the object (all of it if shorter) and the
    /// object's size, in one request.
    pub fn get_tail(&self, n: u64) -> Result<(Bytes, u64)> {
        let (store, path) = (self.store.clone(), self.path.clone());
        let r = block_on(async move {
            let opts = GetOptions {
                range: Some(GetRange::Suffix(n)),
                ..GetOptions::default()
            };
            let got = store.get_opts(&path, opts).await?;
            let size = got.meta.size;
            let bytes = got.bytes().await?;
            Ok::<_, object_store::Error>((bytes, size))
        })?;
        let (bytes, size) = r.map_err(|e| self.error("GET", e))?;
        self.count_get(bytes.len() as u64);
        Ok((bytes, size))
    }

    /// The bytes `range` of the object, in one request.
    pub fn get_range(&self, range: Range<u64>) -> Result<Bytes> {
        let (store, path) = (self.store.clone(), self.path.clone());
        let bytes = block_on(async move { store.get_range(&path, range).await })?
            .map_err(|e| self.error("GET", e))?;
        self.count_get(bytes.len() as u64);
        Ok(bytes)
    }

    /// The bytes of each of `ranges`: ranges closer than `coalesce` bytes
    /// are fetched by one request, and up to 10 requests run at once.
    pub fn get_ranges(&self, ranges: &[Range<u64>], coalesce: u64) -> Result<Vec<Bytes>> {
        let (store, path) = (self.store.clone(), self.path.clone());
        let counters = self.counters.clone();
        let ranges = ranges.to_vec();
        block_on(async move {
            object_store::coalesce_ranges(
                &ranges,
                |r| {
                    let (store, path, counters) = (store.clone(), path.clone(), counters.clone());
                    async move {
                        let b = store.get_range(&path, r).await?;
                        counters.gets.fetch_add(1, Ordering::Relaxed);
                        counters
                            .bytes_read
                            .fetch_add(b.len() as u64, Ordering::Relaxed);
                        Ok::<_, object_store::Error>(b)
                    }
                },
                coalesce,
            )
            .await
        })?
        .map_err(|e| self.error("GET", e))
    }
}

/// The [`io::ErrorKind`] of an object-store error.
fn kind_of(e: &object_store::Error) -> io::ErrorKind {
    match e {
        object_store::Error::NotFound { .. } => io::ErrorKind::NotFound,
        object_store::Error::AlreadyExists { .. } | object_store::Error::Precondition { .. } => {
            io::ErrorKind::AlreadyExists
        }
        object_store::Error::PermissionDenied { .. }
        | object_store::Error::Unauthenticated { .. } => io::ErrorKind::PermissionDenied,
        _ => io::ErrorKind::Other,
    }
}

/// The store for a parsed URL, configured from the environment.
fn store_for(
    scheme: object_store::ObjectStoreScheme,
    url: &url::Url,
) -> object_store::Result<Arc<dyn ObjectStore>> {
    use object_store::ObjectStoreScheme as S;
    Ok(match scheme {
        S::Local => Arc::new(object_store::local::LocalFileSystem::new()),
        S::Memory => Arc::new(object_store::memory::InMemory::new()),
        S::AmazonS3 => Arc::new(
            object_store::aws::AmazonS3Builder::from_env()
                .with_url(url.as_str())
                .build()?,
        ),
        S::GoogleCloudStorage => Arc::new(
            object_store::gcp::GoogleCloudStorageBuilder::from_env()
                .with_url(url.as_str())
                .build()?,
        ),
        S::MicrosoftAzure => Arc::new(
            object_store::azure::MicrosoftAzureBuilder::from_env()
                .with_url(url.as_str())
                .build()?,
        ),
        S::Http => {
            // The store is the server; the object path is the URL's path.
            let base = format!("{}://{}", url.scheme(), url.authority());
            // An `http://` URL asks for plain HTTP (object_store refuses it
            // unless allowed).
            let client = object_store::ClientOptions::new().with_allow_http(url.scheme() == "http");
            Arc::new(
                object_store::http::HttpBuilder::new()
                    .with_url(base)
                    .with_client_options(client)
                    .build()?,
            )
        }
        other => {
            return Err(object_store::Error::NotImplemented {
                operation: format!("{other:?} URLs"),
                implementer: "npzmap".into(),
            });
        }
    })
}

/// npzmap's runtime for object-store requests: two worker threads, created
/// on first use.
fn runtime() -> Result<&'static tokio::runtime::Runtime> {
    static RT: OnceLock<std::result::Result<tokio::runtime::Runtime, String>> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("npzmap-io")
            .enable_all()
            .build()
            .map_err(|e| e.to_string())
    })
    .as_ref()
    .map_err(|e| {
        Error::io(
            "start the I/O runtime",
            io::Error::other(e.clone()),
            Location::default(),
        )
    })
}

/// Runs `fut` on npzmap's runtime and waits for it on this thread. Works
/// from any thread, including a worker of another Tokio runtime (which it
/// blocks while waiting, as any synchronous I/O would).
pub(crate) fn block_on<F>(fut: F) -> Result<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let rt = runtime()?;
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    rt.spawn(async move {
        // The receiver only goes away if the waiting thread is gone.
        let _ = tx.send(fut.await);
    });
    rx.recv().map_err(|_| {
        Error::io(
            "wait for an object-store request",
            io::Error::other("the request task ended without a result"),
            Location::default(),
        )
    })
}

pub(crate) mod upload;

#[cfg(test)]
mod tests;
