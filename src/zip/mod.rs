//! The stored-only zip record layer.
