//! Compressed streams: recognised by their magic bytes, decompressed only as far as needed.

use std::fmt;
use std::io::{self, Read};

use bzip2::read::MultiBzDecoder;
use flate2::read::{MultiGzDecoder, ZlibDecoder};
use lzma_rust2::{LzmaReader, XzReader};

/// The most memory an LZMA or xz decoder may claim for its dictionary, in KiB. `xz -9` needs
/// 65 MiB; the pages are only touched as far as the decoder gets.
const LZMA_MEM_LIMIT_KIB: u32 = 96 * 1024;

/// The compressions joblib writes (`compress=` zlib, gzip, bz2, xz and lzma) and tar archives
/// commonly travel in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Codec {
    Zlib,
    Gzip,
    Bzip2,
    Xz,
    /// The legacy `.lzma` ("LZMA alone") format.
    Lzma,
}

impl Codec {
    /// The codec whose magic bytes start `bytes`, if any.
    pub(crate) fn sniff(bytes: &[u8]) -> Option<Self> {
        match bytes {
            // Deflate with a 32 KiB window at each of the four compression levels.
            [0x78, 0x01 | 0x5e | 0x9c | 0xda, ..] => Some(Self::Zlib),
            [0x1f, 0x8b, 0x08, ..] => Some(Self::Gzip),
            // "BZh", the block size, and the first block's (or the empty stream's end) magic.
            [b'B', b'Z', b'h', b'1'..=b'9', rest @ ..]
                if rest.starts_with(b"1AY&SY") || rest.starts_with(b"\x17\x72\x45\x38\x50\x90") =>
            {
                Some(Self::Bzip2)
            }
            [0xfd, b'7', b'z', b'X', b'Z', 0x00, ..] => Some(Self::Xz),
            // Properties lc=3 lp=0 pb=2 (every encoder's default) and a dictionary size that is
            // a multiple of 64 KiB: what joblib itself checks for.
            [0x5d, 0x00, 0x00, ..] => Some(Self::Lzma),
            _ => None,
        }
    }

    /// A reader of the decompressed stream.
    pub(crate) fn decoder<'a>(self, input: impl Read + 'a) -> io::Result<Box<dyn Read + 'a>> {
        Ok(match self {
            Self::Zlib => Box::new(ZlibDecoder::new(input)),
            Self::Gzip => Box::new(MultiGzDecoder::new(input)),
            Self::Bzip2 => Box::new(MultiBzDecoder::new(input)),
            Self::Xz => Box::new(XzReader::new_mem_limit(input, true, LZMA_MEM_LIMIT_KIB)),
            Self::Lzma => Box::new(LzmaReader::new_mem_limit(input, LZMA_MEM_LIMIT_KIB, None)?),
        })
    }
}

impl fmt::Display for Codec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Zlib => "zlib",
            Self::Gzip => "gzip",
            Self::Bzip2 => "bzip2",
            Self::Xz => "xz",
            Self::Lzma => "lzma",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic_bytes_pick_the_codec() {
        assert_eq!(Codec::sniff(&[0x78, 0x9c, 0]), Some(Codec::Zlib));
        assert_eq!(Codec::sniff(&[0x78, 0x00]), None);
        assert_eq!(Codec::sniff(&[0x1f, 0x8b, 0x08, 0]), Some(Codec::Gzip));
        assert_eq!(Codec::sniff(b"BZh91AY&SY...."), Some(Codec::Bzip2));
        assert_eq!(Codec::sniff(b"BZh is not bzip2"), None);
        assert_eq!(Codec::sniff(&[0xfd, b'7', b'z', b'X', b'Z', 0, 0]), Some(Codec::Xz));
        assert_eq!(Codec::sniff(&[0x5d, 0, 0, 0x40, 0]), Some(Codec::Lzma));
        assert_eq!(Codec::sniff(b"plain text"), None);
    }

    #[test]
    fn zlib_round_trips_through_the_decoder() {
        use std::io::Write;
        let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(b"hello hello hello").expect("compress");
        let compressed = encoder.finish().expect("finish");
        assert_eq!(Codec::sniff(&compressed), Some(Codec::Zlib));
        let mut out = String::new();
        Codec::Zlib.decoder(compressed.as_slice()).expect("decoder").read_to_string(&mut out).expect("decompress");
        assert_eq!(out, "hello hello hello");
    }
}
