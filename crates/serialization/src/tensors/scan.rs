//! The fast path for JSON tensor data: a byte scanner that reads arrays of numbers straight into
//! a typed `Vec`, with `lexical-core` parsing the floats, instead of serde_json's tokenizer,
//! which takes two to three times as long over a body of numbers.
//!
//! The fast path decodes only what it fully understands and is sure of: a value of any other
//! form, any syntax error and any invalid element makes it give up (`None`), and the serde path
//! then decodes the same bytes as before, so that every error and its message stay exactly as
//! they were. Whatever it decodes, it decodes to the same values as the serde path:
//! - a number is reported as serde_json reports it ([`Scalar::U64`], [`Scalar::I64`] or
//!   [`Scalar::F64`], by the same rules) and becomes an element through the same
//!   [`Element::from_json`]; except that a float element below 2^53 in magnitude is read
//!   straight as an `f64` (`Element::from_f64`), which there is the same element whichever way
//!   serde_json reads the number;
//! - floats are read by `lexical-core` under its JSON number grammar, correctly rounded as
//!   serde_json's `float_roundtrip` reads them; a number beyond the range of `f64`, which
//!   serde_json refuses, makes the fast path give up;
//! - the nesting is checked by the same [`Nested`] as the serde path's, and nesting deeper than
//!   [`MAX_DEPTH`] is left to the serde path and its recursion limit.
//!
//! The scanner never recurses and never indexes out of bounds: hostile input costs at most one
//! extra pass, by the serde path.

use std::ops::Range;

use depot_domain::{DataType, TensorData};
use lexical_core::ParseFloatOptions;

use super::element::{EXACT_F64_INTEGER, Element, Scalar, with_element_type};
use super::json::{Cx, Failure, Nested};

/// The deepest nesting of arrays that the fast path decodes.
pub(super) const MAX_DEPTH: usize = 32;

/// `lexical-core`'s options for reading floats: the defaults (`.` and `e`/`E`).
const FLOAT_OPTIONS: ParseFloatOptions = ParseFloatOptions::new();

/// `lexical-core`'s number format for JSON: digits required before and after `.` and after
/// `e`, no `+` sign on the number, no leading zeros, no `NaN` or `Infinity`.
const JSON_NUMBER: u128 = lexical_core::format::JSON;

/// A position in a JSON text.
#[derive(Debug)]
pub(super) struct Scanner<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Scanner<'a> {
    pub(super) fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, pos: 0 }
    }

    /// Whether every byte has been read.
    pub(super) fn at_end(&self) -> bool {
        self.pos >= self.bytes.len()
    }

    /// Skips JSON whitespace.
    #[inline]
    pub(super) fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.bytes.get(self.pos) {
            self.pos += 1;
        }
    }

    /// The next byte, not consumed.
    #[inline]
    pub(super) fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    /// The next byte, consumed.
    #[inline]
    pub(super) fn next_byte(&mut self) -> Option<u8> {
        let byte = self.peek()?;
        self.pos += 1;
        Some(byte)
    }

    /// Consumes `byte`, which must come next.
    pub(super) fn eat(&mut self, byte: u8) -> Option<()> {
        (self.next_byte()? == byte).then_some(())
    }

    /// Reads a string with no escapes and no control characters, which is then exactly its
    /// bytes between the quotes; gives up on any other (serde reads those).
    pub(super) fn string(&mut self) -> Option<&'a str> {
        let start = self.pos;
        let bytes = self.plain_string()?;
        let s = std::str::from_utf8(bytes).ok();
        if s.is_none() {
            self.pos = start;
        }
        s
    }

    /// As [`Self::string`], the bytes, which may not be UTF-8 (serde then refuses them).
    fn plain_string(&mut self) -> Option<&'a [u8]> {
        let rest = self.bytes.get(self.pos..)?;
        let (&b'"', rest) = rest.split_first()? else { return None };
        let len = rest.iter().position(|&b| b == b'"' || b == b'\\' || b < 0x20)?;
        if rest.get(len) != Some(&b'"') {
            return None;
        }
        self.pos += len + 2;
        rest.get(..len)
    }

    /// Reads an object key: `Some(key)` for a string [`Self::plain_string`] reads, `None` (and
    /// the string skipped) for one with escapes.
    fn key(&mut self) -> Option<Option<&'a [u8]>> {
        if let Some(key) = self.plain_string() {
            return Some(Some(key));
        }
        self.skip_string()?;
        Some(None)
    }

    /// Skips a string, escapes and all: to the first quote not escaped by a backslash.
    fn skip_string(&mut self) -> Option<()> {
        self.eat(b'"')?;
        loop {
            let rest = self.bytes.get(self.pos..)?;
            let at = rest.iter().position(|&b| b == b'"' || b == b'\\')?;
            self.pos += at + 1;
            if rest.get(at) == Some(&b'\\') {
                // The escaped byte cannot end the string.
                self.pos += 1;
            } else {
                return Some(());
            }
        }
    }

    /// Skips one value, finding where it ends without checking what it holds (the serde path
    /// checks that): strings to their closing quote, arrays and objects to their matching
    /// bracket, anything else to the next delimiter.
    fn skip_value(&mut self) -> Option<()> {
        match self.peek()? {
            b'"' => self.skip_string(),
            b'[' | b'{' => {
                let mut depth = 0usize;
                loop {
                    match self.peek()? {
                        b'"' => {
                            self.skip_string()?;
                            continue;
                        }
                        b'[' | b'{' => depth += 1,
                        b']' | b'}' => {
                            depth -= 1;
                            if depth == 0 {
                                self.pos += 1;
                                return Some(());
                            }
                        }
                        _ => {}
                    }
                    self.pos += 1;
                }
            }
            _ => {
                let rest = self.bytes.get(self.pos..)?;
                let len = rest
                    .iter()
                    .position(|b| matches!(b, b',' | b']' | b'}' | b' ' | b'\t' | b'\n' | b'\r'))
                    .unwrap_or(rest.len());
                (len > 0).then(|| self.pos += len)
            }
        }
    }

    /// Reads a number, `true`, `false` or `null`, as serde_json reports it.
    #[inline]
    fn scalar(&mut self) -> Option<Scalar<'static>> {
        let literal = |s: &mut Self, text: &[u8], value: Scalar<'static>| {
            let end = s.pos + text.len();
            (s.bytes.get(s.pos..end)? == text).then(|| {
                s.pos = end;
                value
            })
        };
        match self.peek()? {
            b't' => literal(self, b"true", Scalar::Bool(true)),
            b'f' => literal(self, b"false", Scalar::Bool(false)),
            b'n' => literal(self, b"null", Scalar::Null),
            _ => self.number(),
        }
    }

    /// Reads a JSON number as serde_json (with `float_roundtrip`) reports it: a whole number
    /// written without fraction or exponent is [`Scalar::U64`] if it is not negative, or
    /// [`Scalar::I64`] if it is, when it fits; `-0` and any other number is [`Scalar::F64`],
    /// correctly rounded. Gives up on a number beyond the range of `f64`, which serde_json
    /// refuses, and on anything that is not a JSON number.
    #[inline]
    pub(super) fn number(&mut self) -> Option<Scalar<'static>> {
        let start = self.pos;
        let negative = self.peek()? == b'-';
        let mut i = start + usize::from(negative);
        let mut significand = 0u64;
        match self.bytes.get(i) {
            Some(b'0') => i += 1,
            Some(b'1'..=b'9') => {
                while let Some(&digit @ b'0'..=b'9') = self.bytes.get(i) {
                    match significand.checked_mul(10).and_then(|s| s.checked_add(u64::from(digit - b'0'))) {
                        Some(wider) => significand = wider,
                        // Beyond u64: serde_json reads it as a float, correctly rounded.
                        None => return self.float(start).map(Scalar::F64),
                    }
                    i += 1;
                }
            }
            _ => return None,
        }
        match self.bytes.get(i) {
            Some(b'.' | b'e' | b'E') => return self.float(start).map(Scalar::F64),
            // A leading zero.
            Some(b'0'..=b'9') => return None,
            _ => {}
        }
        self.pos = i;
        Some(if !negative {
            Scalar::U64(significand)
        } else {
            // As serde_json: a float below i64::MIN, and for -0.
            match 0i64.checked_sub_unsigned(significand) {
                Some(value) if significand != 0 => Scalar::I64(value),
                _ => Scalar::F64(-(significand as f64)),
            }
        })
    }

    /// Reads a value as an element of type `T`, as the serde path reads it.
    #[inline]
    fn element<T: Element>(&mut self) -> Option<T> {
        if T::FROM_F64 {
            // A number, read once, straight as the `f64` it is closest to. Below 2^53 that is
            // the element `scalar` + `from_json` give for it, whether serde_json reads it as a
            // whole number or as a float; anything else (not a number, or larger) goes the
            // long way.
            let read = self.bytes.get(self.pos..).and_then(|rest| {
                lexical_core::parse_partial_with_options::<f64, JSON_NUMBER>(rest, &FLOAT_OPTIONS).ok()
            });
            if let Some((value, len)) = read
                && value.abs() < EXACT_F64_INTEGER
            {
                self.pos += len;
                return T::from_f64(value);
            }
        }
        self.element_by_scalar()
    }

    /// An element read the long way (`scalar`, then `from_json`): out of [`Self::element`]'s
    /// loop, and for a lone value (not in an array), which is rare.
    #[cold]
    #[inline(never)]
    fn element_by_scalar<T: Element>(&mut self) -> Option<T> {
        T::from_json(self.scalar()?).ok()
    }

    /// Reads the number at `start` as an `f64`.
    fn float(&mut self, start: usize) -> Option<f64> {
        let rest = self.bytes.get(start..)?;
        let (value, len) = lexical_core::parse_partial_with_options::<f64, JSON_NUMBER>(rest, &FLOAT_OPTIONS).ok()?;
        if !value.is_finite() {
            return None;
        }
        self.pos = start + len;
        Some(value)
    }
}

/// Reads tensor data of element type `T`: a value, or arrays of values nested to any depth up
/// to [`MAX_DEPTH`], from where `s` stands (after any whitespace), to the end of that value.
/// `None` on anything the serde path would refuse, or that it reads differently.
pub(super) fn data<T: Element>(s: &mut Scanner<'_>, cx: Cx<'_>) -> Option<Nested<T>> {
    let mut nested = Nested::new();
    if s.peek()? != b'[' {
        let element = s.element_by_scalar::<T>()?;
        if !nested.begin_leaves(0) {
            return None;
        }
        nested.push_leaf(element);
        return Some(nested);
    }
    // The number of elements so far of each open array, outermost first.
    let mut lengths = [0usize; MAX_DEPTH];
    // The number of open arrays.
    let mut depth = 0;
    'value: loop {
        // At a value in the array `depth` deep, or at the outermost array.
        if s.peek()? == b'[' {
            nested.open(depth, cx).ok()?;
            *lengths.get_mut(depth)? = 0;
            depth += 1;
            s.pos += 1;
            s.ws();
            if s.peek()? != b']' {
                continue 'value;
            }
            s.pos += 1;
        } else {
            // The values of one array, up to its `]`: where the time goes.
            let length = lengths.get_mut(depth.checked_sub(1)?)?;
            if !nested.begin_leaves(depth) {
                return None;
            }
            loop {
                nested.push_leaf(s.element::<T>()?);
                *length += 1;
                let mut byte = s.next_byte()?;
                if matches!(byte, b' ' | b'\t' | b'\n' | b'\r') {
                    s.ws();
                    byte = s.next_byte()?;
                }
                match byte {
                    // An array after a value here is ragged: `scalar` gives up on it.
                    b',' => s.ws(),
                    b']' => break,
                    _ => return None,
                }
            }
        }
        // At the `]` just read: close its array, and those whose `]` follows.
        loop {
            depth -= 1;
            nested.close(depth, *lengths.get(depth)?, cx).ok()?;
            let Some(parent) = depth.checked_sub(1) else { return Some(nested) };
            *lengths.get_mut(parent)? += 1;
            s.ws();
            match s.next_byte()? {
                b',' => {
                    s.ws();
                    continue 'value;
                }
                b']' => {}
                _ => return None,
            }
        }
    }
}

/// Reads `text`, the whole of one value of tensor data of element type `T`.
pub(super) fn data_text<T: Element>(text: &[u8], cx: Cx<'_>) -> Option<Nested<T>> {
    let mut s = Scanner::new(text);
    s.ws();
    let nested = data::<T>(&mut s, cx)?;
    s.ws();
    s.at_end().then_some(nested)
}

/// Reads an array of integers that fit `i64`, as serde reads a `Vec<i64>`.
pub(super) fn integers(s: &mut Scanner<'_>) -> Option<Vec<i64>> {
    s.eat(b'[')?;
    s.ws();
    let mut values = Vec::new();
    if s.peek()? == b']' {
        s.pos += 1;
        return Some(values);
    }
    loop {
        values.push(match s.number()? {
            Scalar::U64(v) => i64::try_from(v).ok()?,
            Scalar::I64(v) => v,
            _ => return None,
        });
        s.ws();
        match s.next_byte()? {
            b',' => s.ws(),
            b']' => return Some(values),
            _ => return None,
        }
    }
}

/// An OIP request's JSON with the `data` arrays that the fast path decoded taken out.
#[derive(Debug)]
pub(super) struct Skeleton<'a> {
    /// The JSON, each decoded `data` array replaced by `[]`: for serde to read the rest of the
    /// request from, quickly.
    pub(super) text: Vec<u8>,
    /// For each input, by its position in `inputs`: its decoded `data`, if it was decoded.
    pub(super) inputs: Vec<Option<Decoded<'a>>>,
}

/// An OIP input's `data` array, decoded as the element type of the input's stated `datatype`.
#[derive(Debug)]
pub(super) struct Decoded<'a> {
    /// The array as the request wrote it (UTF-8, as the scanner checked).
    pub(super) text: &'a [u8],
    pub(super) data: TensorData,
}

/// Finds the `data` arrays of the inputs of an OIP request (`{"inputs": [{"datatype": "FP32",
/// "data": [..]}, ..], ..}`) that follow the input's `datatype`, and decodes them as that
/// datatype; `None` when it decodes none.
///
/// Everything else is left to serde, which reads it from [`Skeleton::text`]: each decoded
/// array is a valid JSON array there, replaced by another (`[]`), so serde accepts the skeleton
/// exactly when it accepts the request. An input's array that is not decoded (its `datatype`
/// comes after it, or it holds anything [`data`] gives up on) stays as it is.
pub(super) fn oip_skeleton(header: &[u8]) -> Option<Skeleton<'_>> {
    let mut s = Scanner::new(header);
    let mut inputs = Vec::new();
    let mut replaced = Vec::new();
    let mut seen_inputs = false;
    s.ws();
    s.eat(b'{')?;
    s.ws();
    if s.peek()? == b'}' {
        return None;
    }
    loop {
        let key = s.key()?;
        s.ws();
        s.eat(b':')?;
        s.ws();
        if matches!(key, Some(b"inputs")) && s.peek()? == b'[' {
            if seen_inputs {
                // Twice: serde refuses the request.
                return None;
            }
            seen_inputs = true;
            oip_inputs(&mut s, &mut inputs, &mut replaced)?;
            if replaced.is_empty() {
                // Nothing to take out (all binary, say): serde reads the request as it is.
                return None;
            }
        } else {
            s.skip_value()?;
        }
        s.ws();
        match s.next_byte()? {
            b',' => s.ws(),
            b'}' => break,
            _ => return None,
        }
    }
    if replaced.is_empty() {
        return None;
    }
    let mut text =
        Vec::with_capacity(header.len() - replaced.iter().map(Range::len).sum::<usize>() + 2 * replaced.len());
    let mut copied = 0;
    for range in &replaced {
        text.extend_from_slice(header.get(copied..range.start)?);
        text.extend_from_slice(b"[]");
        copied = range.end;
    }
    text.extend_from_slice(header.get(copied..)?);
    Some(Skeleton { text, inputs })
}

/// Reads the `inputs` array, decoding what [`oip_skeleton`] decodes.
fn oip_inputs<'a>(
    s: &mut Scanner<'a>,
    inputs: &mut Vec<Option<Decoded<'a>>>,
    replaced: &mut Vec<Range<usize>>,
) -> Option<()> {
    s.eat(b'[')?;
    s.ws();
    if s.peek()? == b']' {
        s.pos += 1;
        return Some(());
    }
    loop {
        let decoded = if s.peek()? == b'{' {
            oip_input(s, replaced)?
        } else {
            s.skip_value()?;
            None
        };
        inputs.push(decoded);
        s.ws();
        match s.next_byte()? {
            b',' => s.ws(),
            b']' => return Some(()),
            _ => return None,
        }
    }
}

/// Reads one input object, decoding its `data` array if its `datatype` comes first.
fn oip_input<'a>(s: &mut Scanner<'a>, replaced: &mut Vec<Range<usize>>) -> Option<Option<Decoded<'a>>> {
    s.eat(b'{')?;
    s.ws();
    let mut datatype = None;
    let mut decoded = None;
    if s.peek()? == b'}' {
        s.pos += 1;
        return Some(None);
    }
    loop {
        let key = s.key()?;
        s.ws();
        s.eat(b':')?;
        s.ws();
        let start = s.pos;
        match key {
            Some(b"datatype") => {
                datatype = s.string().and_then(DataType::parse);
                if datatype.is_none() {
                    s.pos = start;
                    s.skip_value()?;
                }
            }
            Some(b"data") if decoded.is_none() && s.peek() == Some(b'[') => {
                let data = datatype.and_then(|datatype| decode_as(s, datatype));
                match data {
                    Some(data) => {
                        let text = s.bytes.get(start..s.pos)?;
                        replaced.push(start..s.pos);
                        decoded = Some(Decoded { text, data });
                    }
                    None => {
                        s.pos = start;
                        s.skip_value()?;
                    }
                }
            }
            _ => s.skip_value()?,
        }
        s.ws();
        match s.next_byte()? {
            b',' => s.ws(),
            b'}' => return Some(decoded),
            _ => return None,
        }
    }
}

/// Reads tensor data as elements of `datatype`.
fn decode_as(s: &mut Scanner<'_>, datatype: DataType) -> Option<TensorData> {
    // The input's name is not known here; the error it would go into is dropped.
    let failure = Failure::default();
    let cx = Cx { name: "", failure: &failure };
    with_element_type!(
        datatype,
        T => data::<T>(s, cx).map(|nested| T::into_data(nested.into_parts().1)),
        unsupported => None
    )
}
