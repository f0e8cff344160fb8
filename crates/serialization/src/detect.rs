//! Deciding what an upload is from its first bytes, then reading on only as far as needed.

use std::io::{Cursor, ErrorKind, Read};

use depot_domain::ArtifactFormat;

use crate::archive::{find_saved_model_in_tar, find_saved_model_in_zip, is_tar, is_zip};
use crate::compressed::Codec;
use crate::input::{Metered, Source, read_sample};
use crate::{InspectError, InspectLimits, Inspection, onnx, pickle};

/// How much of the upload is read before deciding its format. Joblib's marks must appear this
/// early to be seen; a pickle of a large estimator writes its class names first.
const SNIFF_BYTES: usize = 64 * 1024;

/// How much of a compressed upload is read before decompressing its start. bzip2 emits nothing
/// until a whole block is decoded, and a block (up to 900 kB) of poorly compressible data takes
/// about as much space compressed.
const COMPRESSED_SNIFF_BYTES: usize = 1024 * 1024;

/// How much of a compressed stream is decompressed to see what it holds.
const SAMPLE_BYTES: usize = 16 * 1024;

/// The first byte of every ONNX model an exporter writes: the key of `ModelProto.ir_version`
/// (field 1, varint), which protobuf serializers write first.
const ONNX_FIRST_BYTE: u8 = 0x08;

/// How many leading bytes an "unrecognised" message shows.
const SHOWN_BYTES: usize = 8;

fn unrecognised(detail: impl Into<String>) -> InspectError {
    InspectError::Unrecognised { detail: detail.into() }
}

pub(crate) fn detect(mut input: impl Read, limits: &InspectLimits) -> Result<Inspection, InspectError> {
    let mut prefix = Vec::with_capacity(SNIFF_BYTES);
    input.by_ref().take(SNIFF_BYTES as u64).read_to_end(&mut prefix)?;

    if prefix.is_empty() {
        return Err(unrecognised("the upload is empty"));
    }
    if prefix[0] == ONNX_FIRST_BYTE {
        let (info, signature) = onnx::read_model(Cursor::new(prefix).chain(input), limits)?;
        return Ok(Inspection { format: ArtifactFormat::Onnx, onnx: Some(info), signature: Some(signature) });
    }
    if pickle::is_pickle(&prefix) {
        let format = if pickle::mentions_joblib(&prefix) { ArtifactFormat::Joblib } else { ArtifactFormat::Pickle };
        return Ok(Inspection::stored(format));
    }
    if let Some(codec) = Codec::sniff(&prefix) {
        let more = COMPRESSED_SNIFF_BYTES.saturating_sub(prefix.len());
        input.by_ref().take(more as u64).read_to_end(&mut prefix)?;
        return compressed(codec, prefix, input, limits);
    }
    if is_zip(&prefix) {
        find_saved_model_in_zip(&mut Source::new(Cursor::new(prefix).chain(input)), limits)?;
        return Ok(Inspection::stored(ArtifactFormat::SavedModel));
    }
    if is_tar(&prefix) {
        find_saved_model_in_tar(&mut Source::new(Cursor::new(prefix).chain(input)), limits)?;
        return Ok(Inspection::stored(ArtifactFormat::SavedModel));
    }
    Err(unrecognised(format!("its first bytes, {}, match no known signature", show(&prefix))))
}

/// A compressed stream is joblib when it holds a pickle (joblib is what writes compressed
/// pickles), and a SavedModel when it holds a tar archive with `saved_model.pb` in it.
fn compressed(
    codec: Codec,
    prefix: Vec<u8>,
    rest: impl Read,
    limits: &InspectLimits,
) -> Result<Inspection, InspectError> {
    // Decompress from the bytes already read: the start is all that is needed to decide.
    let (sample, error) = match codec.decoder(prefix.as_slice()) {
        Ok(decoder) => read_sample(decoder, SAMPLE_BYTES),
        Err(e) => (Vec::new(), Some(e)),
    };
    if sample.is_empty() {
        let reason = error.map_or_else(|| "it is empty".to_owned(), |e| e.to_string());
        return Err(unrecognised(format!("{codec} data that does not decompress ({reason})")));
    }
    if pickle::is_pickle(&sample) {
        return Ok(Inspection::stored(ArtifactFormat::Joblib));
    }
    if is_tar(&sample) {
        // The tar is walked through the whole stream, decompressed again from the start. A
        // bomb cannot hold memory, but it could hold the CPU: the decompressed bytes have a
        // budget too.
        let decoder = codec.decoder(Cursor::new(prefix).chain(rest))?;
        let mut decompressed = Metered::new(decoder, limits.max_artifact_bytes);
        let result = find_saved_model_in_tar(&mut Source::new(&mut decompressed), limits);
        if decompressed.exceeded() {
            return Err(InspectError::LimitExceeded { what: "decompressed bytes", limit: limits.max_artifact_bytes });
        }
        return match result {
            Ok(()) => Ok(Inspection::stored(ArtifactFormat::SavedModel)),
            // The decoders report bad or truncated input with these kinds.
            Err(InspectError::Io(e))
                if matches!(e.kind(), ErrorKind::InvalidData | ErrorKind::InvalidInput | ErrorKind::UnexpectedEof) =>
            {
                Err(unrecognised(format!("a {codec}-compressed tar archive that does not decompress ({e})")))
            }
            Err(e) => Err(e),
        };
    }
    Err(unrecognised(format!("{codec} data holding neither a pickle nor a tar archive (it starts {})", show(&sample))))
}

/// The first bytes in hex, then as text where printable: `3c 21 44 4f ("<!DO")`.
fn show(bytes: &[u8]) -> String {
    let head = &bytes[..bytes.len().min(SHOWN_BYTES)];
    let hex: Vec<String> = head.iter().map(|b| format!("{b:02x}")).collect();
    let text: String =
        head.iter().map(|&b| if b.is_ascii_graphic() || b == b' ' { char::from(b) } else { '.' }).collect();
    format!("{} (\"{text}\")", hex.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shows_hex_and_text() {
        assert_eq!(show(b"<!DOCTYPE html>"), "3c 21 44 4f 43 54 59 50 (\"<!DOCTYP\")");
        assert_eq!(show(&[0, 1]), "00 01 (\"..\")");
    }
}
