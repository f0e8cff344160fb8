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
use std::time::Duration;

use depot_service::Services;
use tokio::sync::{mpsc, oneshot};
use tokio_stream::StreamExt;
use tokio_stream::wrappers::UnboundedReceiverStream;

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
    workers: usize,
}

impl GrpcServer {
    /// Binds `listen` (`host:port`; port 0 picks a free one). Requests larger than
    /// `max_message_bytes` are refused by tonic (OUT_OF_RANGE), as REST refuses a prediction body
    /// over `limits.max_predict_bytes` (413). Calls are served by `workers` threads (at least
    /// one), as REST's are by actix's workers.
    pub async fn bind(
        listen: &str,
        services: Services,
        max_message_bytes: usize,
        workers: usize,
    ) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(listen).await?;
        let address = listener.local_addr()?;
        let service = InferenceService::new(services);
        Ok(Self { listener, address, service, max_message_bytes, workers: workers.max(1) })
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Serves until `shutdown` resolves, then stops accepting and lets the calls in flight
    /// finish.
    ///
    /// Each worker is a thread with its own single-threaded runtime, and the connections
    /// accepted here are dealt to the workers in turn, as actix deals REST's: a connection's
    /// tasks (its HTTP/2 driver and one per call) then run and wake each other on one thread.
    /// On a shared multi-threaded runtime each call's tasks woke the other, idle worker, and a
    /// call cost about twice a REST request's CPU (BENCHMARKS.md, "gRPC on worker threads").
    pub async fn serve(self, shutdown: impl Future<Output = ()> + Send) -> Result<(), BoxError> {
        let Self { listener, service, max_message_bytes, workers, .. } = self;
        // Dropped (an early return) or sent, it stops every worker started.
        let (stop, stopping) = tokio::sync::watch::channel(false);
        let (mut deal, mut served) = (Vec::with_capacity(workers), Vec::with_capacity(workers));
        for index in 0..workers {
            let (connections, accepted) = mpsc::unbounded_channel();
            let (service, mut stopping) = (service.clone(), stopping.clone());
            let (started, start) = oneshot::channel();
            let (finished, done) = oneshot::channel();
            // Each runtime is built and dropped on its own thread: a runtime dropped in an
            // asynchronous context (this one, on an error) would panic.
            std::thread::Builder::new().name(format!("depot-grpc-{index}")).spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                    Ok(runtime) => runtime,
                    Err(error) => {
                        let _ = started.send(Err(error));
                        return;
                    }
                };
                let _ = started.send(Ok(()));
                let stopped = async move {
                    let _ = stopping.wait_for(|stop| *stop).await;
                };
                let _ =
                    finished.send(runtime.block_on(serve_connections(accepted, service, max_message_bytes, stopped)));
            })?;
            start.await.map_err(|_| "a gRPC worker stopped as it started")??;
            deal.push(connections);
            served.push(done);
        }
        let mut shutdown = std::pin::pin!(shutdown);
        let mut next = 0;
        loop {
            let accepted = tokio::select! {
                () = &mut shutdown => break,
                accepted = listener.accept() => accepted.and_then(|(stream, _)| stream.into_std()),
            };
            match accepted {
                Ok(stream) => {
                    next = (next + 1) % deal.len();
                    // A worker stops only when told to: its channel is open.
                    let _ = deal[next].send(stream);
                }
                Err(error) => {
                    // The peer gone, or out of descriptors: that connection is dropped, not the
                    // server, and a pause keeps a persistent failure from spinning.
                    tracing::warn!(error = %error, "a gRPC connection could not be accepted");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
        }
        // New connections are refused from here on, not left waiting.
        drop(listener);
        let _ = stop.send(true);
        let mut result = Ok(());
        for done in served {
            if let Ok(Err(error)) = done.await {
                result = Err(error.into());
            }
        }
        result
    }
}

/// An error of the server.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// One worker: serves the connections dealt to it until `stopped`.
async fn serve_connections(
    accepted: mpsc::UnboundedReceiver<std::net::TcpStream>,
    service: InferenceService,
    max_message_bytes: usize,
    stopped: impl Future<Output = ()>,
) -> Result<(), tonic::transport::Error> {
    let service = proto::grpc_inference_service_server::GrpcInferenceServiceServer::new(service)
        .max_decoding_message_size(max_message_bytes)
        .max_encoding_message_size(usize::MAX);
    // Registered with this worker's runtime as it takes them.
    let incoming = UnboundedReceiverStream::new(accepted).map(|stream| {
        let stream = tokio::net::TcpStream::from_std(stream)?;
        stream.set_nodelay(true)?;
        Ok::<_, std::io::Error>(stream)
    });
    tonic::transport::Server::builder().add_service(service).serve_with_incoming_shutdown(incoming, stopped).await
}
