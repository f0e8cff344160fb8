//! Readers the inspectors are built on: a byte budget, and a buffered reader that knows its offset.

use std::fmt;
use std::io::{self, BufRead, BufReader, Read};

/// How much [`Source`] buffers. Also the most a skip holds in memory at once.
const BUFFER_BYTES: usize = 64 * 1024;

/// A reader that fails once more than `limit` bytes have come through it.
///
/// Wrapped readers (decompressors, archive walkers) may turn the failure into an error of their
/// own, so the budget is checked afterwards with [`Metered::exceeded`] rather than by inspecting
/// the error that comes back.
#[derive(Debug)]
pub(crate) struct Metered<R> {
    inner: R,
    read: u64,
    limit: u64,
    exceeded: bool,
}

impl<R> Metered<R> {
    pub(crate) fn new(inner: R, limit: u64) -> Self {
        Self { inner, read: 0, limit, exceeded: false }
    }

    /// Whether a read went past the limit.
    pub(crate) fn exceeded(&self) -> bool {
        self.exceeded
    }
}

/// The error a [`Metered`] reader fails with.
#[derive(Debug)]
struct OverBudget;

impl fmt::Display for OverBudget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the input is larger than the inspection limit")
    }
}

impl std::error::Error for OverBudget {}

impl<R: Read> Read for Metered<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.exceeded {
            return Err(io::Error::other(OverBudget));
        }
        // Ask for at most one byte past the limit: enough to tell "exactly at the limit" (fine)
        // from "over it" without reading further.
        let allowed = self.limit.saturating_sub(self.read).saturating_add(1);
        let len = buf.len().min(usize::try_from(allowed).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..len])?;
        self.read = self.read.saturating_add(n as u64);
        if self.read > self.limit {
            self.exceeded = true;
            return Err(io::Error::other(OverBudget));
        }
        Ok(n)
    }
}

/// A buffered reader that counts the bytes consumed, for error messages that say where.
#[derive(Debug)]
pub(crate) struct Source<R> {
    inner: BufReader<R>,
    offset: u64,
}

impl<R: Read> Source<R> {
    pub(crate) fn new(inner: R) -> Self {
        Self { inner: BufReader::with_capacity(BUFFER_BYTES, inner), offset: 0 }
    }

    /// Bytes consumed so far.
    pub(crate) fn offset(&self) -> u64 {
        self.offset
    }

    /// Whether the input has ended.
    pub(crate) fn at_eof(&mut self) -> io::Result<bool> {
        Ok(self.fill_buf()?.is_empty())
    }

    /// Reads and discards up to `len` bytes without holding more than the buffer; returns how
    /// many there were (fewer than `len` only at the end of the input).
    pub(crate) fn skip(&mut self, len: u64) -> io::Result<u64> {
        let mut skipped = 0;
        while skipped < len {
            let available = self.fill_buf()?.len();
            if available == 0 {
                break;
            }
            let step = usize::try_from(len - skipped).map_or(available, |rest| rest.min(available));
            self.consume(step);
            skipped += step as u64;
        }
        Ok(skipped)
    }

    /// Fills `buf` as far as the input allows; returns how many bytes were read (fewer than
    /// `buf.len()` only at the end of the input).
    pub(crate) fn read_up_to(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut filled = 0;
        while filled < buf.len() {
            match self.read(&mut buf[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(filled)
    }
}

impl<R: Read> Read for Source<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.offset += n as u64;
        Ok(n)
    }
}

impl<R: Read> BufRead for Source<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        // Retry interrupted reads here so that callers see only real errors.
        loop {
            match self.inner.fill_buf() {
                Ok(_) => return Ok(self.inner.buffer()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    fn consume(&mut self, amt: usize) {
        self.inner.consume(amt);
        self.offset += amt as u64;
    }
}

/// Reads up to `max` bytes from `reader`, keeping what arrived before an error.
///
/// Used to decompress the start of a stream held in memory, where running out of input midway
/// is expected rather than an error.
pub(crate) fn read_sample(mut reader: impl Read, max: usize) -> (Vec<u8>, Option<io::Error>) {
    let mut sample = vec![0; max];
    let mut filled = 0;
    while filled < max {
        match reader.read(&mut sample[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                sample.truncate(filled);
                return (sample, Some(e));
            }
        }
    }
    sample.truncate(filled);
    (sample, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metered_allows_exactly_the_limit_and_fails_past_it() {
        let mut exact = Metered::new(&[1u8, 2, 3][..], 3);
        let mut out = Vec::new();
        exact.read_to_end(&mut out).expect("three bytes fit a limit of three");
        assert_eq!(out, [1, 2, 3]);
        assert!(!exact.exceeded());

        let mut over = Metered::new(&[1u8, 2, 3, 4][..], 3);
        assert!(over.read_to_end(&mut Vec::new()).is_err());
        assert!(over.exceeded());
    }

    #[test]
    fn source_tracks_offsets_across_reads_and_skips() {
        let data: Vec<u8> = (0..=255).cycle().take(200_000).collect();
        let mut source = Source::new(&data[..]);
        let mut buf = [0; 10];
        assert_eq!(source.read_up_to(&mut buf).expect("read"), 10);
        assert_eq!(source.skip(150_000).expect("skip"), 150_000);
        assert_eq!(source.offset(), 150_010);
        assert_eq!(source.read_up_to(&mut buf).expect("read"), 10);
        assert_eq!(buf[0], (150_010 % 256) as u8);
        assert_eq!(source.skip(u64::MAX).expect("skip"), 200_000 - 150_020);
        assert!(source.at_eof().expect("eof"));
    }
}
