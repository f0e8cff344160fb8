//! Recognising Python pickles by their first bytes. Nothing here runs or decodes a pickle.

/// The `PROTO` opcode that opens every pickle of protocol 2 and later.
const PROTO: u8 = 0x80;

/// The pickle protocols Python has written since 2.3 (protocol 2) up to 3.8+ (protocol 5).
const PROTOCOLS: std::ops::RangeInclusive<u8> = 2..=5;

/// Whether `bytes`, the start of a stream, look like a pickle.
///
/// Protocols 2 to 5 open with `PROTO` and the protocol number. The older text protocol 0 and
/// binary protocol 1 have no header; only their usual openings are recognised: a dict or list
/// with a memo entry, or a `GLOBAL` line followed by an opcode.
pub(crate) fn is_pickle(bytes: &[u8]) -> bool {
    match bytes {
        [PROTO, protocol, ..] => PROTOCOLS.contains(protocol),
        // Protocol 0: MARK, DICT or LIST, PUT with a decimal memo index.
        [b'(', b'd' | b'l', b'p', digit, ..] => digit.is_ascii_digit(),
        // Protocol 1: EMPTY_DICT or EMPTY_LIST, then BINPUT or MARK.
        [b'}' | b']', b'q' | b'(', ..] => true,
        [b'c', rest @ ..] => opens_with_global(rest),
        _ => false,
    }
}

/// `GLOBAL`'s operands, `module\nname\n`, followed by a plausible next opcode.
fn opens_with_global(rest: &[u8]) -> bool {
    let is_dotted = |s: &[u8]| {
        !s.is_empty() && s.len() <= 256 && s.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.')
    };
    let mut lines = rest.splitn(3, |&b| b == b'\n');
    let (Some(module), Some(name), Some(after)) = (lines.next(), lines.next(), lines.next()) else {
        return false;
    };
    // PUT, BINPUT, MARK, EMPTY_TUPLE or STOP.
    is_dotted(module) && is_dotted(name) && matches!(after.first(), Some(b'p' | b'q' | b'(' | b')' | b'.'))
}

/// Whether a pickle's opening mentions joblib, as the pickles `joblib.dump` writes do
/// (`joblib.numpy_pickle` / `NumpyArrayWrapper` stand in for each NumPy array).
pub(crate) fn mentions_joblib(bytes: &[u8]) -> bool {
    bytes.windows(b"joblib".len()).any(|window| window == b"joblib")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocols_two_to_five_are_pickles() {
        for protocol in 2..=5 {
            assert!(is_pickle(&[0x80, protocol, 0x95]));
        }
        assert!(!is_pickle(&[0x80, 1]));
        assert!(!is_pickle(&[0x80, 6]));
        assert!(!is_pickle(&[0x80]));
    }

    #[test]
    fn older_protocols_are_recognised_by_their_usual_openings() {
        // pickle.dumps({'a': 1}, 0), pickle.dumps([1], 0), pickle.dumps({'a': 1}, 1).
        assert!(is_pickle(b"(dp0\nVa\np1\nI1\ns."));
        assert!(is_pickle(b"(lp0\nI1\na."));
        assert!(is_pickle(b"}q\x00X\x01\x00\x00\x00aq\x01K\x01s."));
        // An object: GLOBAL copy_reg._reconstructor, then PUT.
        assert!(is_pickle(b"ccopy_reg\n_reconstructor\np0\n(c__main__\nFoo\n"));
        assert!(!is_pickle(b"cd /tmp\nls\n"));
        assert!(!is_pickle(b"(define x 1)"));
        assert!(!is_pickle(b"certificate\nlines\nhere"));
    }

    #[test]
    fn joblib_is_found_anywhere_in_the_opening() {
        assert!(mentions_joblib(b"\x80\x04...\x8c\x13joblib.numpy_pickle\x94"));
        assert!(!mentions_joblib(b"\x80\x04...sklearn.linear_model"));
    }
}
