//! Looking for a TensorFlow SavedModel in a zip or tar archive, streaming.
//!
//! Both walkers read entry headers in order and skip entry data without holding it, stopping at
//! the first entry named `saved_model.pb`. They are written by hand because the tar and zip
//! crates buffer some headers whole (GNU long names, PAX records) without a bound, and a few
//! megabytes of gzip can expand into gigabytes of header.

use std::io::{self, Read};

use flate2::bufread::DeflateDecoder;

use crate::input::Source;
use crate::{InspectError, InspectLimits};

/// The file a SavedModel directory is recognised by.
const SAVED_MODEL_PB: &[u8] = b"saved_model.pb";

fn unrecognised(detail: impl Into<String>) -> InspectError {
    InspectError::Unrecognised { detail: detail.into() }
}

fn entries_limit(limits: &InspectLimits) -> InspectError {
    InspectError::LimitExceeded { what: "archive entries examined", limit: limits.max_values as u64 }
}

/// Whether an entry path names `saved_model.pb`, at any depth.
fn is_saved_model(path: &[u8]) -> bool {
    path.rsplit(|&b| b == b'/' || b == b'\\').next() == Some(SAVED_MODEL_PB)
}

fn not_found(kind: &str, entries: usize) -> InspectError {
    unrecognised(format!("a {kind} archive whose {entries} entries include no saved_model.pb"))
}

// ---------------------------------------------------------------------------------------------
// zip

const LOCAL_FILE_HEADER: u32 = 0x0403_4b50;
const CENTRAL_DIRECTORY_HEADER: u32 = 0x0201_4b50;
const END_OF_CENTRAL_DIRECTORY: u32 = 0x0605_4b50;
const ZIP64_END_OF_CENTRAL_DIRECTORY: u32 = 0x0606_4b50;
const DATA_DESCRIPTOR: u32 = 0x0807_4b50;
/// General-purpose flag bit 3: the sizes follow the data instead of preceding it.
const FLAG_DATA_DESCRIPTOR: u16 = 1 << 3;
const METHOD_STORED: u16 = 0;
const METHOD_DEFLATED: u16 = 8;
const ZIP64_EXTRA_ID: u16 = 0x0001;
/// A 32-bit size field that defers to the zip64 extra field.
const ZIP64_SENTINEL: u32 = u32::MAX;

/// Whether `bytes` start with a zip local file header.
pub(crate) fn is_zip(bytes: &[u8]) -> bool {
    bytes.starts_with(&LOCAL_FILE_HEADER.to_le_bytes())
}

fn le16(bytes: &[u8], at: usize) -> u16 {
    bytes.get(at..at + 2).map_or(0, |b| u16::from_le_bytes([b[0], b[1]]))
}

fn le32(bytes: &[u8], at: usize) -> u32 {
    bytes.get(at..at + 4).map_or(0, |b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

fn le64(bytes: &[u8], at: usize) -> Option<u64> {
    let b = bytes.get(at..at + 8)?;
    Some(u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]))
}

/// Reads exactly `len` bytes of a zip or tar structure, or says where the archive ended.
fn read_exact<R: Read>(src: &mut Source<R>, len: usize, kind: &str) -> Result<Vec<u8>, InspectError> {
    let mut buf = vec![0; len];
    if src.read_up_to(&mut buf)? < len {
        return Err(unrecognised(format!("a {kind} archive that is truncated at byte {}", src.offset())));
    }
    Ok(buf)
}

fn skip_exact<R: Read>(src: &mut Source<R>, len: u64, kind: &str) -> Result<(), InspectError> {
    if src.skip(len)? < len {
        return Err(unrecognised(format!("a {kind} archive that is truncated at byte {}", src.offset())));
    }
    Ok(())
}

/// Walks a zip archive's local file headers from the start. Succeeds when an entry is named
/// `saved_model.pb`; otherwise fails with [`InspectError::Unrecognised`] saying what was found.
pub(crate) fn find_saved_model_in_zip<R: Read>(
    src: &mut Source<R>,
    limits: &InspectLimits,
) -> Result<(), InspectError> {
    let mut entries = 0;
    loop {
        let at = src.offset();
        let mut signature = [0; 4];
        if src.read_up_to(&mut signature)? < signature.len() {
            return Err(unrecognised(format!(
                "a zip archive that ends at byte {} without a central directory",
                src.offset()
            )));
        }
        match u32::from_le_bytes(signature) {
            LOCAL_FILE_HEADER => {}
            CENTRAL_DIRECTORY_HEADER | END_OF_CENTRAL_DIRECTORY | ZIP64_END_OF_CENTRAL_DIRECTORY => {
                return Err(not_found("zip", entries));
            }
            other => {
                return Err(unrecognised(format!("a zip archive with an unknown record {other:#010x} at byte {at}")));
            }
        }
        if entries >= limits.max_values {
            return Err(entries_limit(limits));
        }
        entries += 1;

        // version(2) flags(2) method(2) time(2) date(2) crc(4) csize(4) usize(4) name(2) extra(2)
        let header = read_exact(src, 26, "zip")?;
        let flags = le16(&header, 2);
        let method = le16(&header, 4);
        let compressed = le32(&header, 14);
        let uncompressed = le32(&header, 18);
        let name = read_exact(src, usize::from(le16(&header, 22)), "zip")?;
        let extra = read_exact(src, usize::from(le16(&header, 24)), "zip")?;
        if is_saved_model(&name) {
            return Ok(());
        }

        let zip64 = zip64_compressed_size(&extra, uncompressed, compressed);
        let size = match zip64 {
            Some(Some(size)) => size,
            _ => u64::from(compressed),
        };
        if flags & FLAG_DATA_DESCRIPTOR == 0 {
            skip_exact(src, size, "zip")?;
            continue;
        }
        // The sizes follow the data: a deflate stream marks its own end; anything else can only
        // be skipped when the writer filled in the sizes anyway.
        match method {
            METHOD_DEFLATED => inflate_to_end(src, &name, limits)?,
            METHOD_STORED if size > 0 => skip_exact(src, size, "zip")?,
            _ => {
                return Err(unrecognised(format!(
                    "a zip archive whose entry '{}' (compression method {method}) gives its size only after its data, \
                     so it cannot be read as a stream",
                    String::from_utf8_lossy(&name)
                )));
            }
        }
        // crc32, then the two sizes (8 bytes each in zip64), optionally behind a signature.
        let sizes = if zip64.is_some() { 16 } else { 8 };
        let first = read_exact(src, 4, "zip")?;
        let rest = if le32(&first, 0) == DATA_DESCRIPTOR { 4 + sizes } else { sizes };
        skip_exact(src, rest, "zip")?;
    }
}

/// The compressed size from a zip64 extra field: `None` without one, `Some(None)` when it is
/// present but does not carry the compressed size.
fn zip64_compressed_size(extra: &[u8], uncompressed: u32, compressed: u32) -> Option<Option<u64>> {
    // A sequence of (id: u16, len: u16, data: [u8; len]) blocks.
    let mut rest = extra;
    while let [a, b, c, d, tail @ ..] = rest {
        let id = u16::from_le_bytes([*a, *b]);
        let len = usize::from(u16::from_le_bytes([*c, *d]));
        let data = tail.get(..len)?;
        if id == ZIP64_EXTRA_ID {
            // The 64-bit values appear in this order, each only where the 32-bit field is full.
            let offset = if uncompressed == ZIP64_SENTINEL { 8 } else { 0 };
            return Some(if compressed == ZIP64_SENTINEL { le64(data, offset) } else { None });
        }
        rest = &tail[len..];
    }
    None
}

/// Decompresses and discards one deflate stream, leaving `src` just past its end.
fn inflate_to_end<R: Read>(src: &mut Source<R>, name: &[u8], limits: &InspectLimits) -> Result<(), InspectError> {
    let mut decoder = DeflateDecoder::new(&mut *src);
    let mut buf = [0; 8 * 1024];
    let mut total: u64 = 0;
    loop {
        match decoder.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => {
                total = total.saturating_add(n as u64);
                if total > limits.max_artifact_bytes {
                    return Err(InspectError::LimitExceeded {
                        what: "decompressed bytes",
                        limit: limits.max_artifact_bytes,
                    });
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if matches!(e.kind(), io::ErrorKind::InvalidInput | io::ErrorKind::InvalidData) => {
                return Err(unrecognised(format!(
                    "a zip archive whose entry '{}' is not valid deflate data: {e}",
                    String::from_utf8_lossy(name)
                )));
            }
            Err(e) => return Err(e.into()),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// tar

const BLOCK: usize = 512;
/// Regular files: `'0'`, the pre-POSIX `'\0'`, and contiguous files `'7'`.
const REGULAR_FILE_TYPES: [u8; 3] = [b'0', b'\0', b'7'];
const GNU_LONG_NAME: u8 = b'L';
const PAX_HEADER: u8 = b'x';

/// Whether `bytes` start with a POSIX or GNU tar header (the `ustar` magic and a valid checksum).
pub(crate) fn is_tar(bytes: &[u8]) -> bool {
    bytes.first_chunk::<BLOCK>().is_some_and(|header| &header[257..262] == b"ustar" && checksum_ok(header))
}

/// A header's checksum: the sum of its bytes with the checksum field read as spaces. Some old
/// writers summed signed bytes, so either sum is accepted.
fn checksum_ok(header: &[u8; BLOCK]) -> bool {
    let Some(stored) = parse_number(&header[148..156]) else {
        return false;
    };
    let (mut unsigned, mut signed) = (0u64, 0i64);
    for (i, &byte) in header.iter().enumerate() {
        let byte = if (148..156).contains(&i) { b' ' } else { byte };
        unsigned += u64::from(byte);
        signed += i64::from(byte as i8);
    }
    stored == unsigned || i64::try_from(stored).is_ok_and(|stored| stored == signed)
}

/// A numeric header field: octal text, or GNU's base-256 for values too large for it.
fn parse_number(field: &[u8]) -> Option<u64> {
    if let Some((&first, rest)) = field.split_first()
        && first & 0x80 != 0
    {
        // Base-256, big-endian, the first byte's high bit a marker and its next bit a sign.
        if first & 0x40 != 0 {
            return None;
        }
        return rest
            .iter()
            .try_fold(u64::from(first & 0x3f), |acc, &b| acc.checked_mul(256)?.checked_add(u64::from(b)));
    }
    let mut digits = field.iter().skip_while(|&&b| b == b' ' || b == 0).take_while(|&&b| b != b' ' && b != 0);
    digits.try_fold(0u64, |acc, &b| match b {
        b'0'..=b'7' => acc.checked_mul(8)?.checked_add(u64::from(b - b'0')),
        _ => None,
    })
}

/// The path in a header: `prefix/name` for POSIX ustar, `name` otherwise.
fn header_path(header: &[u8; BLOCK]) -> Vec<u8> {
    let field = |range: std::ops::Range<usize>| {
        let bytes = &header[range];
        &bytes[..bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len())]
    };
    let name = field(0..100);
    let prefix = if &header[257..263] == b"ustar\0" { field(345..500) } else { &[] };
    if prefix.is_empty() { name.to_vec() } else { [prefix, b"/", name].concat() }
}

/// The `path` record of a PAX extended header, if any.
fn pax_path(mut records: &[u8]) -> Option<Vec<u8>> {
    let mut path = None;
    // Each record is "<length> <key>=<value>\n", the length counting the whole record.
    while !records.is_empty() {
        let space = records.iter().position(|&b| b == b' ')?;
        let len: usize = std::str::from_utf8(&records[..space]).ok()?.parse().ok()?;
        if len <= space + 1 {
            return None;
        }
        let record = records.get(space + 1..len)?.strip_suffix(b"\n")?;
        if let Some(value) = record.strip_prefix(b"path=") {
            path = Some(value.to_vec());
        }
        records = &records[len..];
    }
    path
}

/// Walks a tar archive's headers from the start. Succeeds when a regular file is named
/// `saved_model.pb`; otherwise fails with [`InspectError::Unrecognised`] saying what was found.
pub(crate) fn find_saved_model_in_tar<R: Read>(
    src: &mut Source<R>,
    limits: &InspectLimits,
) -> Result<(), InspectError> {
    let mut entries = 0;
    // The path a GNU long-name or PAX header gives the entry that follows it.
    let mut next_path: Option<Vec<u8>> = None;
    loop {
        let at = src.offset();
        let mut header = [0; BLOCK];
        let got = src.read_up_to(&mut header)?;
        // An archive ends with zero blocks, though some writers stop without them.
        if got == 0 || (got == BLOCK && header.iter().all(|&b| b == 0)) {
            return Err(not_found("tar", entries));
        }
        if got < BLOCK {
            return Err(unrecognised(format!("a tar archive that is truncated at byte {}", src.offset())));
        }
        if !checksum_ok(&header) {
            return Err(unrecognised(format!("a tar archive whose header at byte {at} is corrupt (bad checksum)")));
        }
        if entries >= limits.max_values {
            return Err(entries_limit(limits));
        }
        entries += 1;

        let invalid_size = || unrecognised(format!("a tar archive whose header at byte {at} has an invalid size"));
        let size = parse_number(&header[124..136]).ok_or_else(invalid_size)?;
        let padded = size.checked_next_multiple_of(BLOCK as u64).ok_or_else(invalid_size)?;
        match header[156] {
            kind @ (GNU_LONG_NAME | PAX_HEADER) => {
                let Some(len) = usize::try_from(size).ok().filter(|&len| len <= limits.max_message_bytes) else {
                    return Err(InspectError::LimitExceeded {
                        what: "bytes in one tar extended header",
                        limit: limits.max_message_bytes as u64,
                    });
                };
                let data = read_exact(src, len, "tar")?;
                skip_exact(src, padded - size, "tar")?;
                if kind == GNU_LONG_NAME {
                    next_path = Some(data[..data.iter().position(|&b| b == 0).unwrap_or(data.len())].to_vec());
                } else if let Some(path) = pax_path(&data) {
                    next_path = Some(path);
                }
            }
            kind => {
                let path = next_path.take().unwrap_or_else(|| header_path(&header));
                if REGULAR_FILE_TYPES.contains(&kind) && is_saved_model(&path) {
                    return Ok(());
                }
                skip_exact(src, padded, "tar")?;
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn limits() -> InspectLimits {
        InspectLimits::default()
    }

    /// A ustar header for `name` of `size` bytes, with a valid checksum.
    fn tar_header(name: &str, size: usize, kind: u8) -> [u8; BLOCK] {
        let mut h = [0; BLOCK];
        h[..name.len()].copy_from_slice(name.as_bytes());
        h[100..107].copy_from_slice(b"0000644");
        h[124..135].copy_from_slice(format!("{size:011o}").as_bytes());
        h[156] = kind;
        h[257..263].copy_from_slice(b"ustar\0");
        h[263..265].copy_from_slice(b"00");
        h[148..156].copy_from_slice(b"        ");
        let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
        h[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
        h
    }

    /// Appends a tar entry (header, data, padding) to `out`.
    pub(crate) fn tar_entry(out: &mut Vec<u8>, name: &str, data: &[u8], kind: u8) {
        out.extend_from_slice(&tar_header(name, data.len(), kind));
        out.extend_from_slice(data);
        out.resize(out.len().next_multiple_of(BLOCK), 0);
    }

    fn walk_tar(bytes: &[u8], limits: &InspectLimits) -> Result<(), InspectError> {
        find_saved_model_in_tar(&mut Source::new(bytes), limits)
    }

    #[test]
    fn numbers_parse_as_octal_or_base_256() {
        assert_eq!(parse_number(b"00000001750\0"), Some(0o1750));
        assert_eq!(parse_number(b"   17 \0"), Some(0o17));
        assert_eq!(parse_number(b"\0\0\0\0"), Some(0));
        assert_eq!(parse_number(b"0000009\0"), None);
        assert_eq!(parse_number(&[0x80, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0]), Some(65536));
        assert_eq!(parse_number(&[0xff, 0xff]), None);
        assert_eq!(parse_number(&[0x80, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), None);
    }

    #[test]
    fn tar_finds_saved_model_behind_other_entries_and_long_names() {
        let mut tar = Vec::new();
        tar_entry(&mut tar, "model/variables/variables.index", b"index", b'0');
        tar_entry(&mut tar, "model/", b"", b'5');
        let long = format!("{}/saved_model.pb", "deep/".repeat(40));
        tar_entry(&mut tar, "././@LongLink", format!("{long}\0").as_bytes(), b'L');
        tar_entry(&mut tar, &long[..100], b"pb bytes", b'0');
        assert!(is_tar(&tar));
        walk_tar(&tar, &limits()).expect("found behind a GNU long name");

        let mut pax = Vec::new();
        // The length prefix counts itself.
        let body = format!(" path={long}\n");
        let mut len = body.len();
        while len != body.len() + len.to_string().len() {
            len = body.len() + len.to_string().len();
        }
        let record = format!("{len}{body}");
        assert_eq!(pax_path(record.as_bytes()), Some(long.clone().into_bytes()));
        tar_entry(&mut pax, "PaxHeaders/x", record.as_bytes(), b'x');
        tar_entry(&mut pax, &long[..100], b"pb bytes", b'0');
        walk_tar(&pax, &limits()).expect("found behind a PAX path");
    }

    #[test]
    fn tar_without_saved_model_or_with_a_bad_header_is_unrecognised() {
        let mut tar = Vec::new();
        tar_entry(&mut tar, "model/saved_model.pbtxt", b"text", b'0');
        tar_entry(&mut tar, "model/saved_model.pb", b"", b'5');
        tar.extend_from_slice(&[0; 2 * BLOCK]);
        let err = walk_tar(&tar, &limits()).expect_err("no saved_model.pb file");
        assert!(matches!(err, InspectError::Unrecognised { detail } if detail.contains("2 entries")));

        let mut corrupt = tar.clone();
        corrupt[BLOCK * 2 + 10] ^= 0x55;
        let err = walk_tar(&corrupt, &limits()).expect_err("bad checksum");
        assert!(matches!(err, InspectError::Unrecognised { detail } if detail.contains("bad checksum")));

        let err = walk_tar(&tar[..BLOCK + 100], &limits()).expect_err("truncated");
        assert!(matches!(err, InspectError::Unrecognised { detail } if detail.contains("truncated")));
    }

    #[test]
    fn tar_limits_entries_and_extended_headers() {
        let mut tar = Vec::new();
        for i in 0..5 {
            tar_entry(&mut tar, &format!("f{i}"), b"x", b'0');
        }
        let few = InspectLimits { max_values: 3, ..limits() };
        assert!(matches!(
            walk_tar(&tar, &few),
            Err(InspectError::LimitExceeded { what: "archive entries examined", .. })
        ));

        let mut long = Vec::new();
        tar_entry(&mut long, "././@LongLink", &[b'a'; 2000], b'L');
        let small = InspectLimits { max_message_bytes: 1024, ..limits() };
        assert!(matches!(walk_tar(&long, &small), Err(InspectError::LimitExceeded { limit: 1024, .. })));
    }

    /// A stored zip entry with its sizes in the local header.
    fn zip_entry(out: &mut Vec<u8>, name: &str, data: &[u8]) {
        let len = u32::try_from(data.len()).expect("small");
        out.extend_from_slice(&LOCAL_FILE_HEADER.to_le_bytes());
        out.extend_from_slice(&[20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&u16::try_from(name.len()).expect("short").to_le_bytes());
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(data);
    }

    /// A deflated zip entry whose sizes follow the data, as streaming writers produce.
    fn streamed_zip_entry(out: &mut Vec<u8>, name: &str, data: &[u8]) {
        use std::io::Write;
        let mut encoder = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(data).expect("compress");
        let deflated = encoder.finish().expect("finish");
        out.extend_from_slice(&LOCAL_FILE_HEADER.to_le_bytes());
        out.extend_from_slice(&[20, 0, 8, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        out.extend_from_slice(&u16::try_from(name.len()).expect("short").to_le_bytes());
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(&deflated);
        out.extend_from_slice(&DATA_DESCRIPTOR.to_le_bytes());
        out.extend_from_slice(&[0; 4]);
        out.extend_from_slice(&u32::try_from(deflated.len()).expect("small").to_le_bytes());
        out.extend_from_slice(&u32::try_from(data.len()).expect("small").to_le_bytes());
    }

    fn walk_zip(bytes: &[u8], limits: &InspectLimits) -> Result<(), InspectError> {
        find_saved_model_in_zip(&mut Source::new(bytes), limits)
    }

    #[test]
    fn zip_skips_stored_and_streamed_entries() {
        let mut zip = Vec::new();
        zip_entry(&mut zip, "m/variables/variables.index", &[7; 3000]);
        streamed_zip_entry(&mut zip, "m/assets/vocab.txt", &b"token\n".repeat(5000));
        zip_entry(&mut zip, "m/saved_model.pb", b"pb");
        assert!(is_zip(&zip));
        walk_zip(&zip, &limits()).expect("found after a streamed entry");

        let mut without = Vec::new();
        zip_entry(&mut without, "m/model.onnx", b"x");
        without.extend_from_slice(&END_OF_CENTRAL_DIRECTORY.to_le_bytes());
        let err = walk_zip(&without, &limits()).expect_err("no saved_model.pb");
        assert!(matches!(err, InspectError::Unrecognised { detail } if detail.contains("1 entries")));

        let few = InspectLimits { max_values: 1, ..limits() };
        assert!(matches!(walk_zip(&zip, &few), Err(InspectError::LimitExceeded { .. })));
        let err = walk_zip(&zip[..100], &limits()).expect_err("truncated");
        assert!(matches!(err, InspectError::Unrecognised { detail } if detail.contains("truncated")));
    }

    #[test]
    fn zip64_extra_fields_give_the_compressed_size() {
        let mut extra = Vec::new();
        extra.extend_from_slice(&0x5455u16.to_le_bytes());
        extra.extend_from_slice(&1u16.to_le_bytes());
        extra.push(0);
        extra.extend_from_slice(&ZIP64_EXTRA_ID.to_le_bytes());
        extra.extend_from_slice(&16u16.to_le_bytes());
        extra.extend_from_slice(&5u64.to_le_bytes());
        extra.extend_from_slice(&9u64.to_le_bytes());
        assert_eq!(zip64_compressed_size(&extra, ZIP64_SENTINEL, ZIP64_SENTINEL), Some(Some(9)));
        assert_eq!(zip64_compressed_size(&extra, 5, 9), Some(None));
        assert_eq!(zip64_compressed_size(&extra[..5], 5, 9), None);
        assert_eq!(zip64_compressed_size(&[1, 0, 200], 5, 9), None);
    }
}
