//! A sequential reader of the protobuf wire format.
//!
//! It reads one field at a time from a stream and never seeks, so a message can be walked without
//! holding it: the caller decides, field by field, whether to descend into a nested message, to
//! buffer a small one, or to skip it. Every error names the byte offset where it happened.

use std::fmt;
use std::io::{BufRead, Read};

use crate::InspectError;
use crate::input::Source;

/// The encoding of a field's value: the low three bits of its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WireType {
    Varint,
    Fixed64,
    Len,
    StartGroup,
    EndGroup,
    Fixed32,
}

impl WireType {
    fn from_key(key: u64) -> Option<Self> {
        match key & 7 {
            0 => Some(Self::Varint),
            1 => Some(Self::Fixed64),
            2 => Some(Self::Len),
            3 => Some(Self::StartGroup),
            4 => Some(Self::EndGroup),
            5 => Some(Self::Fixed32),
            _ => None,
        }
    }
}

impl fmt::Display for WireType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Varint => "varint",
            Self::Fixed64 => "64-bit",
            Self::Len => "length-delimited",
            Self::StartGroup => "start-group",
            Self::EndGroup => "end-group",
            Self::Fixed32 => "32-bit",
        })
    }
}

/// A field's key: its number, its wire type, and where it starts.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tag {
    pub(crate) field: u32,
    pub(crate) wire: WireType,
    pub(crate) at: u64,
}

/// The largest field number protobuf allows.
const MAX_FIELD: u64 = (1 << 29) - 1;

/// A varint is at most ten bytes long.
const MAX_VARINT_BYTES: u32 = 10;

pub(crate) fn corrupt(reason: impl Into<String>) -> InspectError {
    InspectError::CorruptOnnx { reason: reason.into() }
}

/// Fails unless `tag` has the wire type that the schema gives field `name`.
pub(crate) fn expect_wire(tag: Tag, wire: WireType, name: &str) -> Result<(), InspectError> {
    if tag.wire == wire {
        Ok(())
    } else {
        Err(corrupt(format!(
            "{name} (field {}) at byte {} is encoded as {}, expected {wire}",
            tag.field, tag.at, tag.wire
        )))
    }
}

/// Reads protobuf fields one at a time from a [`Source`].
#[derive(Debug)]
pub(crate) struct WireReader<R> {
    src: Source<R>,
}

impl<R: Read> WireReader<R> {
    pub(crate) fn new(src: Source<R>) -> Self {
        Self { src }
    }

    /// Bytes consumed so far.
    pub(crate) fn offset(&self) -> u64 {
        self.src.offset()
    }

    /// The next field of a message that ends at byte `end`, or at the end of the input when
    /// `end` is `None`; `None` when the message has no more fields.
    pub(crate) fn next_tag(&mut self, end: Option<u64>) -> Result<Option<Tag>, InspectError> {
        let at = self.offset();
        match end {
            Some(end) if at == end => return Ok(None),
            Some(end) if at > end => {
                return Err(corrupt(format!(
                    "a field overruns its enclosing message, which ends at byte {end} (now at byte {at})"
                )));
            }
            Some(end) => {
                if self.src.at_eof()? {
                    return Err(corrupt(format!(
                        "the input ends at byte {at}, inside a message that should end at byte {end}"
                    )));
                }
            }
            None => {
                if self.src.at_eof()? {
                    return Ok(None);
                }
            }
        }
        let key = self.varint()?;
        let field = key >> 3;
        if field == 0 || field > MAX_FIELD {
            return Err(corrupt(format!("invalid field number {field} at byte {at}")));
        }
        let wire =
            WireType::from_key(key).ok_or_else(|| corrupt(format!("invalid wire type {} at byte {at}", key & 7)))?;
        // `field` is at most 2^29 - 1, so it fits.
        let field = u32::try_from(field).unwrap_or(u32::MAX);
        Ok(Some(Tag { field, wire, at }))
    }

    /// A base-128 varint.
    pub(crate) fn varint(&mut self) -> Result<u64, InspectError> {
        let at = self.offset();
        let mut value: u64 = 0;
        for index in 0..MAX_VARINT_BYTES {
            let Some(&byte) = self.src.fill_buf()?.first() else {
                return Err(corrupt(format!("truncated varint at byte {at}")));
            };
            self.src.consume(1);
            // The tenth byte may carry only the top bit of a 64-bit value.
            if index == MAX_VARINT_BYTES - 1 && byte > 1 {
                return Err(corrupt(format!("varint at byte {at} overflows 64 bits")));
            }
            value |= u64::from(byte & 0x7f) << (7 * index);
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(corrupt(format!("varint at byte {at} is longer than {MAX_VARINT_BYTES} bytes")))
    }

    /// The length prefix of a length-delimited field, checked against its enclosing message.
    pub(crate) fn len(&mut self, end: Option<u64>) -> Result<u64, InspectError> {
        let at = self.offset();
        let len = self.varint()?;
        if let Some(end) = end {
            let room = end.saturating_sub(self.offset());
            if len > room {
                return Err(corrupt(format!(
                    "the length {len} at byte {at} runs past the end of its enclosing message at byte {end}"
                )));
            }
        }
        Ok(len)
    }

    /// Reads `len` bytes into memory, refusing more than `max`. `what` names the field.
    pub(crate) fn bytes(&mut self, len: u64, max: usize, what: &str) -> Result<Vec<u8>, InspectError> {
        let at = self.offset();
        let size = usize::try_from(len).ok().filter(|&size| size <= max);
        let Some(size) = size else {
            return Err(InspectError::LimitExceeded { what: "bytes in one message", limit: max as u64 });
        };
        let mut buf = vec![0; size];
        let got = self.src.read_up_to(&mut buf)?;
        if got < size {
            return Err(corrupt(format!(
                "truncated: {what} at byte {at} needs {len} bytes, but the input ends at byte {}",
                self.offset()
            )));
        }
        Ok(buf)
    }

    /// Reads a UTF-8 string of `len` bytes, refusing more than `max`.
    pub(crate) fn string(&mut self, len: u64, max: usize, what: &str) -> Result<String, InspectError> {
        let at = self.offset();
        let bytes = self.bytes(len, max, what)?;
        String::from_utf8(bytes).map_err(|_| corrupt(format!("{what} at byte {at} is not valid UTF-8")))
    }

    /// Reads and discards `len` bytes, holding none of them.
    pub(crate) fn skip(&mut self, len: u64, what: &str) -> Result<(), InspectError> {
        let at = self.offset();
        let skipped = self.src.skip(len)?;
        if skipped < len {
            return Err(corrupt(format!(
                "truncated: {what} at byte {at} needs {len} bytes, but the input ends at byte {}",
                self.offset()
            )));
        }
        Ok(())
    }

    /// Reads and discards the value of a field the caller has no use for.
    pub(crate) fn skip_value(&mut self, tag: Tag, end: Option<u64>) -> Result<(), InspectError> {
        let what = format!("field {}", tag.field);
        match tag.wire {
            WireType::Varint => self.varint().map(drop),
            WireType::Fixed64 => self.skip(8, &what),
            WireType::Fixed32 => self.skip(4, &what),
            WireType::Len => {
                let len = self.len(end)?;
                self.skip(len, &what)
            }
            WireType::StartGroup | WireType::EndGroup => Err(corrupt(format!(
                "field {} at byte {} uses the deprecated group encoding, which ONNX never writes",
                tag.field, tag.at
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reader(bytes: &[u8]) -> WireReader<&[u8]> {
        WireReader::new(Source::new(bytes))
    }

    fn reason(err: InspectError) -> String {
        match err {
            InspectError::CorruptOnnx { reason } => reason,
            other => panic!("expected CorruptOnnx, got {other:?}"),
        }
    }

    #[test]
    fn varints_decode_and_fail_with_their_offset() {
        assert_eq!(reader(&[0x96, 0x01]).varint().expect("150"), 150);
        let max = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
        assert_eq!(reader(&max).varint().expect("u64::MAX"), u64::MAX);
        let overflow = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02];
        assert!(reason(reader(&overflow).varint().expect_err("overflow")).contains("overflows"));
        let mut truncated = reader(&[0x08, 0x96]);
        truncated.varint().expect("first varint");
        assert_eq!(reason(truncated.varint().expect_err("truncated")), "truncated varint at byte 1");
    }

    #[test]
    fn tags_respect_the_enclosing_message() {
        // Field 2, length-delimited, claiming 5 bytes inside a message that ends after 3.
        let mut wire = reader(&[0x12, 0x05, 0, 0, 0]);
        let tag = wire.next_tag(Some(4)).expect("tag").expect("a field");
        assert_eq!((tag.field, tag.wire), (2, WireType::Len));
        assert!(reason(wire.len(Some(4)).expect_err("overrun")).contains("runs past the end"));

        assert!(reason(reader(&[0x00]).next_tag(None).expect_err("field 0")).contains("field number 0"));
        assert!(reason(reader(&[0x0f]).next_tag(None).expect_err("wire 7")).contains("wire type 7"));
        assert!(reader(&[]).next_tag(None).expect("empty").is_none());
        assert!(reason(reader(&[]).next_tag(Some(3)).expect_err("short")).contains("ends at byte 0"));
    }

    #[test]
    fn skipping_consumes_exactly_the_value() {
        // varint, fixed64, fixed32, a 3-byte string, then field 1 = 7.
        let bytes =
            [0x08, 0x96, 0x01, 0x11, 1, 2, 3, 4, 5, 6, 7, 8, 0x1d, 1, 2, 3, 4, 0x22, 3, b'a', b'b', b'c', 0x08, 7];
        let mut wire = reader(&bytes);
        for _ in 0..4 {
            let tag = wire.next_tag(None).expect("tag").expect("a field");
            wire.skip_value(tag, None).expect("skip");
        }
        let tag = wire.next_tag(None).expect("tag").expect("a field");
        assert_eq!(tag.field, 1);
        assert_eq!(wire.varint().expect("value"), 7);
        assert!(wire.next_tag(None).expect("end").is_none());
    }

    #[test]
    fn buffered_fields_are_bounded() {
        let mut wire = reader(&[b'a'; 10]);
        assert!(matches!(
            wire.bytes(10, 4, "name"),
            Err(InspectError::LimitExceeded { what: "bytes in one message", limit: 4 })
        ));
        let mut short = reader(b"abc");
        assert!(reason(short.bytes(5, 64, "name").expect_err("short")).starts_with("truncated: name at byte 0"));
        assert!(reason(reader(&[0xff, 0xfe]).string(2, 64, "name").expect_err("utf-8")).contains("UTF-8"));
    }
}
