//! The Open Inference Protocol over gRPC, as Triton and KServe serve it
//! (`inference.GRPCInferenceService`), so that `tritonclient.grpc` works unchanged: one more
//! transport over the serving use cases of [`depot_service`], beside the REST API.
//!
//! Each call parses its message, calls one use case and renders the answer, as the REST handlers
//! do; the tensors are decoded and encoded by [`depot_serialization::tensors`] with the REST
//! decoder's checks and messages. Errors are gRPC status codes ([`status`]) carrying the REST
//! error's message, its code in the `depot-error-code` trailer. A bearer token goes in the
//! `authorization` metadata, as in REST's header. A prediction answers with `depot-served-by`
//! (`model/version`) metadata. Every call is logged and counted as a REST request is.
//!
//! This is the only crate that knows tonic.

mod service;
mod status;

use std::future::Future;
use std::net::SocketAddr;

use depot_service::Services;
use tonic::transport::server::TcpIncoming;

pub use service::InferenceService;
pub use status::status;

/// The generated service (and, with the `client` feature, client) of `inference.proto`.
#[allow(clippy::all, clippy::pedantic, missing_docs, missing_debug_implementations, reason = "generated code")]
pub mod proto {
    include!(concat!(env!("OUT_DIR"), "/inference.rs"));
}

/// The gRPC listener, bound, ready to serve.
#[derive(Debug)]
pub struct GrpcServer {
    listener: tokio::net::TcpListener,
    address: SocketAddr,
    service: InferenceService,
    max_message_bytes: usize,
}

impl GrpcServer {
    /// Binds `listen` (`host:port`; port 0 picks a free one). Requests larger than
    /// `max_message_bytes` are refused by tonic (OUT_OF_RANGE), as REST refuses a prediction body
    /// over `limits.max_predict_bytes` (413).
    pub async fn bind(listen: &str, services: Services, max_message_bytes: usize) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(listen).await?;
        let address = listener.local_addr()?;
        Ok(Self { listener, address, service: InferenceService::new(services), max_message_bytes })
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Serves until `shutdown` resolves, then stops accepting and lets the calls in flight
    /// finish.
    pub async fn serve(self, shutdown: impl Future<Output = ()> + Send) -> Result<(), tonic::transport::Error> {
        let service = proto::grpc_inference_service_server::GrpcInferenceServiceServer::new(self.service)
            .max_decoding_message_size(self.max_message_bytes)
            .max_encoding_message_size(usize::MAX);
        let incoming = TcpIncoming::from(self.listener).with_nodelay(Some(true));
        tonic::transport::Server::builder().add_service(service).serve_with_incoming_shutdown(incoming, shutdown).await
    }
}
