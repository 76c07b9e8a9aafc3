//! Archive reader (being built).
