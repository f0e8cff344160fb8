//! The few `onnx.proto` messages that are decoded whole, written by hand for prost.
//!
//! Field numbers follow `onnx/onnx.proto` (IR version 11). Only the fields Depot reads are
//! declared; prost skips the others. These messages are small (a graph input's declaration, an
//! opset import), so they are buffered under a size limit and decoded in one go, unlike the
//! model and graph, which are walked field by field.

/// `ValueInfoProto`: a graph input or output.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct ValueInfoProto {
    #[prost(string, optional, tag = "1")]
    pub(crate) name: Option<String>,
    #[prost(message, optional, tag = "2")]
    pub(crate) r#type: Option<TypeProto>,
}

/// `TypeProto`: a tensor, sequence, map, optional, sparse tensor or opaque type.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct TypeProto {
    #[prost(oneof = "type_proto::Value", tags = "1, 4, 5, 7, 8, 9")]
    pub(crate) value: Option<type_proto::Value>,
}

pub(crate) mod type_proto {
    use super::{TensorShapeProto, TypeProto};

    #[derive(Clone, PartialEq, prost::Oneof)]
    pub(crate) enum Value {
        #[prost(message, tag = "1")]
        Tensor(Tensor),
        #[prost(message, tag = "4")]
        Sequence(Box<Sequence>),
        #[prost(message, tag = "5")]
        Map(Box<Map>),
        #[prost(message, tag = "7")]
        Opaque(Opaque),
        #[prost(message, tag = "8")]
        SparseTensor(Tensor),
        #[prost(message, tag = "9")]
        Optional(Box<Optional>),
    }

    /// `TypeProto.Tensor`, and `TypeProto.SparseTensor`, which has the same fields.
    #[derive(Clone, PartialEq, prost::Message)]
    pub(crate) struct Tensor {
        #[prost(int32, optional, tag = "1")]
        pub(crate) elem_type: Option<i32>,
        #[prost(message, optional, tag = "2")]
        pub(crate) shape: Option<TensorShapeProto>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub(crate) struct Sequence {
        #[prost(message, optional, boxed, tag = "1")]
        pub(crate) elem_type: Option<Box<TypeProto>>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub(crate) struct Map {
        #[prost(int32, optional, tag = "1")]
        pub(crate) key_type: Option<i32>,
        #[prost(message, optional, boxed, tag = "2")]
        pub(crate) value_type: Option<Box<TypeProto>>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub(crate) struct Optional {
        #[prost(message, optional, boxed, tag = "1")]
        pub(crate) elem_type: Option<Box<TypeProto>>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub(crate) struct Opaque {
        #[prost(string, optional, tag = "1")]
        pub(crate) domain: Option<String>,
        #[prost(string, optional, tag = "2")]
        pub(crate) name: Option<String>,
    }
}

/// `TensorShapeProto`: a tensor's dimensions.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct TensorShapeProto {
    #[prost(message, repeated, tag = "1")]
    pub(crate) dim: Vec<tensor_shape_proto::Dimension>,
}

pub(crate) mod tensor_shape_proto {
    #[derive(Clone, PartialEq, prost::Message)]
    pub(crate) struct Dimension {
        #[prost(oneof = "dimension::Value", tags = "1, 2")]
        pub(crate) value: Option<dimension::Value>,
    }

    pub(crate) mod dimension {
        #[derive(Clone, PartialEq, prost::Oneof)]
        pub(crate) enum Value {
            #[prost(int64, tag = "1")]
            DimValue(i64),
            #[prost(string, tag = "2")]
            DimParam(String),
        }
    }
}

/// `OperatorSetIdProto`: one entry of a model's `opset_import`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct OperatorSetIdProto {
    #[prost(string, optional, tag = "1")]
    pub(crate) domain: Option<String>,
    #[prost(int64, optional, tag = "2")]
    pub(crate) version: Option<i64>,
}
