//! [`Failure`]: an error message with the exit code it maps to.

/// A failure with the exit code it maps to.
pub struct Failure {
    pub code: u8,
    pub message: String,
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
