//! Reads what Depot needs from an ONNX `ModelProto` in one sequential pass.
//!
//! The model and its graph are walked field by field with [`WireReader`]; the few small messages
//! Depot reads (graph inputs and outputs, opset imports) are buffered under
//! [`InspectLimits::max_message_bytes`] and decoded with prost; everything else, the weights
//! above all, is read and discarded without being held. Memory therefore depends on the limits,
//! not on the size of the model.

mod proto;
mod types;
pub(crate) mod wire;

use std::collections::HashSet;
use std::io::Read;

use depot_domain::{Signature, TensorSpec};
use prost::Message;

use self::proto::{OperatorSetIdProto, ValueInfoProto};
use self::wire::{Tag, WireReader, WireType, corrupt, expect_wire};
use crate::input::Source;
use crate::{InspectError, InspectLimits, OnnxInfo, Opset};

/// `ModelProto` field numbers.
mod model {
    pub(super) const IR_VERSION: u32 = 1;
    pub(super) const PRODUCER_NAME: u32 = 2;
    pub(super) const PRODUCER_VERSION: u32 = 3;
    pub(super) const GRAPH: u32 = 7;
    pub(super) const OPSET_IMPORT: u32 = 8;
}

/// `GraphProto` field numbers.
mod graph {
    pub(super) const NAME: u32 = 2;
    pub(super) const INITIALIZER: u32 = 5;
    pub(super) const INPUT: u32 = 11;
    pub(super) const OUTPUT: u32 = 12;
    pub(super) const SPARSE_INITIALIZER: u32 = 15;
}

/// `TensorProto.name`.
const TENSOR_NAME: u32 = 8;
/// `SparseTensorProto.values`, the `TensorProto` that carries a sparse tensor's name.
const SPARSE_VALUES: u32 = 1;

/// The first IR version that requires `opset_import`.
const IR_VERSION_WITH_OPSETS: i64 = 3;

/// Reads an ONNX model from `input`, which must start at the model's first byte.
pub(crate) fn read_model<R: Read>(input: R, limits: &InspectLimits) -> Result<(OnnxInfo, Signature), InspectError> {
    ModelReader { wire: WireReader::new(Source::new(input)), limits, graph: None, held: 0 }.read()
}

/// What has been read of the graph. Protobuf merges repeated occurrences of a message field,
/// so a model whose graph field appears twice has the union of both.
#[derive(Debug, Default)]
struct GraphParts {
    name: Option<String>,
    inputs: Vec<TensorSpec>,
    outputs: Vec<TensorSpec>,
    initializers: HashSet<String>,
}

#[derive(Debug)]
struct ModelReader<'l, R> {
    wire: WireReader<R>,
    limits: &'l InspectLimits,
    graph: Option<GraphParts>,
    /// Bytes read into memory so far, against [`InspectLimits::max_message_bytes`].
    held: usize,
}

impl<R: Read> ModelReader<'_, R> {
    fn read(mut self) -> Result<(OnnxInfo, Signature), InspectError> {
        let mut ir_version = None;
        let mut producer_name = None;
        let mut producer_version = None;
        let mut opsets = Vec::new();
        let mut opset_entries = 0;

        while let Some(tag) = self.wire.next_tag(None)? {
            match tag.field {
                model::IR_VERSION => {
                    expect_wire(tag, WireType::Varint, "ModelProto.ir_version")?;
                    // int64 on the wire: the varint is the value's two's complement.
                    ir_version = Some(self.wire.varint()? as i64);
                }
                model::PRODUCER_NAME => producer_name = Some(self.string(tag, None, "ModelProto.producer_name")?),
                model::PRODUCER_VERSION => {
                    producer_version = Some(self.string(tag, None, "ModelProto.producer_version")?);
                }
                model::GRAPH => {
                    expect_wire(tag, WireType::Len, "ModelProto.graph")?;
                    let len = self.wire.len(None)?;
                    let end = self.wire.offset().saturating_add(len);
                    self.read_graph(end)?;
                }
                model::OPSET_IMPORT => {
                    if opset_entries >= self.limits.max_values {
                        return Err(InspectError::LimitExceeded {
                            what: "opset imports",
                            limit: self.limits.max_values as u64,
                        });
                    }
                    let opset = self.opset(tag, opset_entries)?;
                    opset_entries += 1;
                    // skl2onnx, for one, repeats the default domain's entry.
                    if !opsets.contains(&opset) {
                        opsets.push(opset);
                    }
                }
                _ => self.wire.skip_value(tag, None)?,
            }
        }

        let ir_version = ir_version.ok_or_else(|| corrupt("the model has no ir_version (ModelProto field 1)"))?;
        if ir_version < 1 {
            return Err(corrupt(format!("ir_version {ir_version} is not a valid ONNX IR version")));
        }
        let graph = self.graph.ok_or_else(|| corrupt("the model has no graph (ModelProto field 7)"))?;
        if opsets.is_empty() && ir_version >= IR_VERSION_WITH_OPSETS {
            return Err(corrupt(format!(
                "the model imports no operator set (ModelProto field 8), which IR version {ir_version} requires"
            )));
        }

        let GraphParts { name, mut inputs, outputs, initializers, .. } = graph;
        // An input that is also an initializer has a value already: before IR 4 every weight
        // was listed this way, and since then it marks a weight a caller may override. Neither
        // is an input a caller must supply, and ONNX Runtime does not list them either.
        inputs.retain(|input| !initializers.contains(&input.name));

        let info = OnnxInfo {
            ir_version,
            opsets,
            producer_name: producer_name.filter(|s| !s.is_empty()),
            producer_version: producer_version.filter(|s| !s.is_empty()),
            graph_name: name.filter(|s| !s.is_empty()),
        };
        Ok((info, Signature { inputs, outputs }))
    }

    /// Walks the `GraphProto` that ends at byte `end`.
    fn read_graph(&mut self, end: u64) -> Result<(), InspectError> {
        let mut parts = self.graph.take().unwrap_or_default();
        while let Some(tag) = self.wire.next_tag(Some(end))? {
            match tag.field {
                graph::NAME => parts.name = Some(self.string(tag, Some(end), "GraphProto.name")?),
                graph::INITIALIZER => {
                    expect_wire(tag, WireType::Len, "GraphProto.initializer")?;
                    let len = self.wire.len(Some(end))?;
                    let name = self.tensor_name(self.wire.offset() + len)?;
                    remember_initializer(&mut parts, name);
                }
                graph::SPARSE_INITIALIZER => {
                    expect_wire(tag, WireType::Len, "GraphProto.sparse_initializer")?;
                    let len = self.wire.len(Some(end))?;
                    let name = self.sparse_tensor_name(self.wire.offset() + len)?;
                    remember_initializer(&mut parts, name);
                }
                graph::INPUT => {
                    let spec = self.value_info(tag, end, &parts, "graph.input", parts.inputs.len())?;
                    parts.inputs.push(spec);
                }
                graph::OUTPUT => {
                    let spec = self.value_info(tag, end, &parts, "graph.output", parts.outputs.len())?;
                    parts.outputs.push(spec);
                }
                _ => self.wire.skip_value(tag, Some(end))?,
            }
        }
        self.graph = Some(parts);
        Ok(())
    }

    /// Buffers and decodes one graph input or output, the `index`th of its `list`.
    fn value_info(
        &mut self,
        tag: Tag,
        end: u64,
        parts: &GraphParts,
        list: &str,
        index: usize,
    ) -> Result<TensorSpec, InspectError> {
        let max_values = self.limits.max_values;
        if parts.inputs.len() + parts.outputs.len() >= max_values {
            return Err(InspectError::LimitExceeded { what: "graph inputs and outputs", limit: max_values as u64 });
        }
        let label = format!("{list}[{index}]");
        expect_wire(tag, WireType::Len, &label)?;
        let len = self.wire.len(Some(end))?;
        let bytes = self.buffer(len, &label)?;
        let info = ValueInfoProto::decode(bytes.as_slice())
            .map_err(|e| corrupt(format!("{label} at byte {} is not a valid ValueInfoProto: {e}", tag.at)))?;
        types::tensor_spec(info, &label, self.limits.max_depth)
    }

    /// Buffers and decodes the `index`th opset import.
    fn opset(&mut self, tag: Tag, index: usize) -> Result<Opset, InspectError> {
        let label = format!("opset_import[{index}]");
        expect_wire(tag, WireType::Len, &label)?;
        let len = self.wire.len(None)?;
        let bytes = self.buffer(len, &label)?;
        let opset = OperatorSetIdProto::decode(bytes.as_slice())
            .map_err(|e| corrupt(format!("{label} at byte {} is not a valid OperatorSetIdProto: {e}", tag.at)))?;
        Ok(Opset { domain: opset.domain.unwrap_or_default(), version: opset.version.unwrap_or_default() })
    }

    /// The name of the `TensorProto` that ends at byte `end`, skipping its data.
    fn tensor_name(&mut self, end: u64) -> Result<Option<String>, InspectError> {
        let mut name = None;
        while let Some(tag) = self.wire.next_tag(Some(end))? {
            if tag.field == TENSOR_NAME {
                name = Some(self.string(tag, Some(end), "TensorProto.name")?);
            } else {
                self.wire.skip_value(tag, Some(end))?;
            }
        }
        Ok(name)
    }

    /// The name of the `SparseTensorProto` that ends at byte `end` (its `values`' name).
    fn sparse_tensor_name(&mut self, end: u64) -> Result<Option<String>, InspectError> {
        let mut name = None;
        while let Some(tag) = self.wire.next_tag(Some(end))? {
            if tag.field == SPARSE_VALUES {
                expect_wire(tag, WireType::Len, "SparseTensorProto.values")?;
                let len = self.wire.len(Some(end))?;
                name = self.tensor_name(self.wire.offset() + len)?;
            } else {
                self.wire.skip_value(tag, Some(end))?;
            }
        }
        Ok(name)
    }

    /// A length-delimited UTF-8 field of a message ending at `end`, read into memory.
    fn string(&mut self, tag: Tag, end: Option<u64>, name: &str) -> Result<String, InspectError> {
        expect_wire(tag, WireType::Len, name)?;
        let len = self.wire.len(end)?;
        self.hold(len)?;
        self.wire.string(len, self.limits.max_message_bytes, name)
    }

    /// Reads `len` bytes into memory. `what` names them in errors.
    fn buffer(&mut self, len: u64, what: &str) -> Result<Vec<u8>, InspectError> {
        self.hold(len)?;
        self.wire.bytes(len, self.limits.max_message_bytes, what)
    }

    /// Accounts for `len` more bytes read into memory: everything kept (inputs, outputs,
    /// opsets, names) and everything decoded whole counts, so that a model made of many small
    /// pieces is bounded as surely as one made of a large one.
    fn hold(&mut self, len: u64) -> Result<(), InspectError> {
        let limit = self.limits.max_message_bytes;
        let held = usize::try_from(len).ok().and_then(|len| self.held.checked_add(len)).filter(|&held| held <= limit);
        let Some(held) = held else {
            return Err(InspectError::LimitExceeded { what: "bytes of model metadata", limit: limit as u64 });
        };
        self.held = held;
        Ok(())
    }
}

/// Keeps an initializer's name, to drop it from the inputs at the end: initializers come before
/// inputs in the field order every serializer writes. The name's bytes were counted when read.
fn remember_initializer(parts: &mut GraphParts, name: Option<String>) {
    if let Some(name) = name.filter(|name| !name.is_empty()) {
        parts.initializers.insert(name);
    }
}
