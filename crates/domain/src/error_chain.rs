//! Errors on one line, with their causes, for log lines and error reasons.

use std::error::Error;

/// `error: cause: cause`, the whole chain on one line.
pub fn error_chain(error: &dyn Error) -> String {
    let mut out = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        out.push_str(": ");
        out.push_str(&cause.to_string());
        source = cause.source();
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn causes_follow_the_error() {
        let inner = std::io::Error::other("disk full");
        assert_eq!(super::error_chain(&Wrapped(inner)), "wrapped: disk full");
    }

    #[derive(Debug)]
    struct Wrapped(std::io::Error);

    impl std::fmt::Display for Wrapped {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("wrapped")
        }
    }

    impl std::error::Error for Wrapped {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }
}
