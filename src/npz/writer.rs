//! Archive writer (being built).
