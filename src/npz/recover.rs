//! Rebuilding an archive from its local headers (being built).
