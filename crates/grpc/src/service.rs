//! `inference.GRPCInferenceService`: each call authenticates, parses, calls one use case of
//! [`Services`] and renders the answer, with one log line and its metrics when it ends.

use std::time::Instant;

use depot_domain::{ModelName, VersionRef};
use depot_serialization::inference::model_metadata_response::TensorMetadata;
use depot_serialization::inference::{
    ModelInferRequest, ModelInferResponse, ModelMetadataRequest, ModelMetadataResponse, ModelReadyRequest,
    ModelReadyResponse, ServerLiveRequest, ServerLiveResponse, ServerMetadataRequest, ServerMetadataResponse,
    ServerReadyRequest, ServerReadyResponse,
};
use depot_serialization::tensors;
use depot_service::{Actor, Credentials, Error, Reference, ServableVersion, Services, TraceContext};
use tonic::metadata::{MetadataMap, MetadataValue};
use tonic::{Request, Response, Status};
use tracing::{Instrument, Level, Span};

use crate::proto::grpc_inference_service_server::GrpcInferenceService;
use crate::status::status;

/// The metadata naming the version that answered a prediction, `model/version`, as REST's
/// header of the same name.
pub const SERVED_BY: &str = "depot-served-by";
/// The request id metadata, read and sent back, as REST's header.
const REQUEST_ID: &str = "x-request-id";
/// The W3C trace context metadata, continued and sent back, as REST's header.
const TRACEPARENT: &str = "traceparent";

/// The service, over the use cases. Cheap to clone.
#[derive(Debug, Clone)]
pub struct InferenceService {
    services: Services,
}

impl InferenceService {
    pub fn new(services: Services) -> Self {
        Self { services }
    }

    /// Who the call is from, noted for its log line.
    async fn caller<T>(&self, request: &Request<T>, notes: &mut Notes) -> Result<Actor, Error> {
        let actor = self.actor(request).await?;
        notes.principal = Some(actor.principal_shared());
        Ok(actor)
    }

    /// Who the call is from: its `authorization: Bearer <token>` metadata, as REST's header.
    async fn actor<T>(&self, request: &Request<T>) -> Result<Actor, Error> {
        let metadata = request.metadata();
        let text = |key: &str| metadata.get(key).and_then(|v| v.to_str().ok()).map(str::trim);
        let bearer = text("authorization").and_then(|value| {
            let (scheme, token) = value.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        });
        let credentials = Credentials {
            bearer,
            peer: request.remote_addr().map(|a| a.ip()),
            claimed_actor: text("x-depot-actor"),
            predicting: true,
        };
        if let Some(answer) = self.services.auth.authenticate_now(&credentials) {
            return answer;
        }
        self.services.auth.authenticate(credentials).await
    }
}

/// The model and version a message names: a number or an alias, else (none or empty) the
/// deployment, as REST's paths with and without `/versions/{version}`.
fn reference(name: &str, version: Option<&str>) -> Result<(ModelName, Reference), Error> {
    let reference = match version.map(str::trim).filter(|v| !v.is_empty()) {
        Some(version) => Reference::Version(VersionRef::parse(version)?),
        None => Reference::Deployed,
    };
    Ok((ModelName::parse(name)?, reference))
}

/// One call being served: its log line and metrics when it ends.
struct Call {
    method: &'static str,
    started: Instant,
    request_id: String,
    trace: TraceContext,
    span: Span,
}

impl Call {
    fn start(method: &'static str, metadata: &MetadataMap) -> Self {
        let request_id = depot_service::request_id(metadata.get(REQUEST_ID).and_then(|v| v.to_str().ok()));
        let mut trace = TraceContext::continuing(metadata.get(TRACEPARENT).and_then(|v| v.to_str().ok()));
        let span = if tracing::span_enabled!(Level::INFO) {
            let span = tracing::info_span!("request", request_id = %request_id, trace_id = tracing::field::Empty);
            trace.export_with(&span);
            span.record("trace_id", tracing::field::display(trace.trace_id()));
            span
        } else {
            Span::none()
        };
        Self { method, started: Instant::now(), request_id, trace, span }
    }

    /// Ends the call: counts it, logs it (every call at INFO; a server failure at ERROR, with
    /// its cause chain), and sends the request id back.
    fn finish<T>(
        self,
        services: &Services,
        result: Result<Response<T>, Error>,
        notes: Notes,
    ) -> Result<Response<T>, Status> {
        let took = self.started.elapsed();
        let (code, error) = match &result {
            Ok(_) => (tonic::Code::Ok, None),
            Err(error) => (crate::status::code(error.code), Some(error)),
        };
        let code_name = code_name(code);
        services.metrics.grpc(self.method, code_name, took);
        let failed = matches!(code, tonic::Code::Internal | tonic::Code::Unknown | tonic::Code::DataLoss);
        if failed || tracing::enabled!(Level::INFO) {
            let _entered = self.span.enter();
            let duration_ms = took.as_secs_f64() * 1e3;
            let (model, version) = notes.served.unwrap_or_default();
            let principal = notes.principal.as_deref().unwrap_or("");
            let (method, id) = (self.method, self.request_id.as_str());
            let trace_id = self.trace.trace_id();
            let trace_id = trace_id.as_str();
            match error {
                Some(error) if failed => tracing::error!(
                    rpc.method = method, rpc.code = code_name, duration_ms, request_id = id, trace_id,
                    model.name = model, model.version = version, auth.principal = principal,
                    error.code = error.code.as_str(), error.chain = %error.chain(), "grpc call failed"
                ),
                Some(error) => tracing::info!(
                    rpc.method = method, rpc.code = code_name, duration_ms, request_id = id, trace_id,
                    model.name = model, model.version = version, auth.principal = principal,
                    error.code = error.code.as_str(), error.message = %error.message, "grpc call refused"
                ),
                None => tracing::info!(
                    rpc.method = method,
                    rpc.code = code_name,
                    duration_ms,
                    request_id = id,
                    model.name = model,
                    model.version = version,
                    auth.principal = principal,
                    "grpc call"
                ),
            }
        }
        let answer = [
            (REQUEST_ID, MetadataValue::try_from(self.request_id.as_str()).ok()),
            (TRACEPARENT, MetadataValue::try_from(self.trace.header()).ok()),
        ];
        let insert = |metadata: &mut MetadataMap| {
            for (key, value) in answer {
                if let Some(value) = value {
                    metadata.insert(key, value);
                }
            }
        };
        match result {
            Ok(mut response) => {
                insert(response.metadata_mut());
                Ok(response)
            }
            Err(error) => {
                let mut status = status(&error);
                insert(status.metadata_mut());
                Err(status)
            }
        }
    }
}

/// The canonical name of a status code, as gRPC writes it (`NOT_FOUND`).
fn code_name(code: tonic::Code) -> &'static str {
    use tonic::Code::*;
    match code {
        Ok => "OK",
        Cancelled => "CANCELLED",
        Unknown => "UNKNOWN",
        InvalidArgument => "INVALID_ARGUMENT",
        DeadlineExceeded => "DEADLINE_EXCEEDED",
        NotFound => "NOT_FOUND",
        AlreadyExists => "ALREADY_EXISTS",
        PermissionDenied => "PERMISSION_DENIED",
        ResourceExhausted => "RESOURCE_EXHAUSTED",
        FailedPrecondition => "FAILED_PRECONDITION",
        Aborted => "ABORTED",
        OutOfRange => "OUT_OF_RANGE",
        Unimplemented => "UNIMPLEMENTED",
        Internal => "INTERNAL",
        Unavailable => "UNAVAILABLE",
        DataLoss => "DATA_LOSS",
        Unauthenticated => "UNAUTHENTICATED",
    }
}

fn tensor_metadata(spec: &depot_domain::TensorSpec) -> TensorMetadata {
    TensorMetadata {
        name: spec.name.clone(),
        datatype: spec.datatype.map(|d| d.as_str().to_owned()).unwrap_or_else(|| spec.type_name.clone()),
        shape: spec.shape.clone().unwrap_or_default(),
    }
}

fn metadata_of(servable: ServableVersion) -> ModelMetadataResponse {
    ModelMetadataResponse {
        name: servable.model.to_string(),
        versions: vec![servable.version.to_string()],
        platform: "onnxruntime_onnx".to_owned(),
        inputs: servable.signature.inputs.iter().map(tensor_metadata).collect(),
        outputs: servable.signature.outputs.iter().map(tensor_metadata).collect(),
        properties: Default::default(),
    }
}

/// What a call learned for its log line: who called, and which version answered.
#[derive(Debug, Default)]
struct Notes {
    principal: Option<std::sync::Arc<str>>,
    served: Option<(String, String)>,
}

impl InferenceService {
    /// Serves one call: `handle` is the call's own work, counted and logged when it ends.
    async fn serve<Q, T, F>(
        &self,
        method: &'static str,
        request: Request<Q>,
        handle: impl FnOnce(Self, Request<Q>) -> F,
    ) -> Result<Response<T>, Status>
    where
        F: Future<Output = (Result<Response<T>, Error>, Notes)>,
    {
        let call = Call::start(method, request.metadata());
        let (result, notes) = handle(self.clone(), request).instrument(call.span.clone()).await;
        call.finish(&self.services, result, notes)
    }

    async fn metadata(
        &self,
        request: Request<ModelMetadataRequest>,
        notes: &mut Notes,
    ) -> Result<Response<ModelMetadataResponse>, Error> {
        let actor = self.caller(&request, notes).await?;
        let message = request.into_inner();
        let (name, reference) = reference(&message.name, message.version.as_deref())?;
        let servable = self.services.serving.describe(&actor, &name, &reference).await?;
        notes.served = Some((servable.model.to_string(), servable.version.to_string()));
        Ok(Response::new(metadata_of(servable)))
    }

    async fn ready(
        &self,
        request: Request<ModelReadyRequest>,
        notes: &mut Notes,
    ) -> Result<Response<ModelReadyResponse>, Error> {
        let actor = self.caller(&request, notes).await?;
        let message = request.into_inner();
        let (name, reference) = reference(&message.name, message.version.as_deref())?;
        let servable = self.services.serving.ready(&actor, &name, &reference).await?;
        notes.served = Some((servable.model.to_string(), servable.version.to_string()));
        Ok(Response::new(ModelReadyResponse { ready: true }))
    }

    async fn infer(
        &self,
        request: Request<ModelInferRequest>,
        notes: &mut Notes,
    ) -> Result<Response<ModelInferResponse>, Error> {
        let actor = self.caller(&request, notes).await?;
        let mut message = request.into_inner();
        let (name, reference) = reference(&message.model_name, message.model_version.as_deref())?;
        let prediction = self
            .services
            .serving
            .predict(&actor, &name, &reference, |signature| {
                let mut decoded = tensors::decode_grpc_request(&mut message, signature)?;
                Ok((std::mem::take(&mut decoded.inputs), decoded))
            })
            .await?;
        let version = prediction.version.to_string();
        let model = prediction.model.to_string();
        let answer = tracing::info_span!(target: "depot::span", "encode")
            .in_scope(|| tensors::encode_grpc_response(&model, &version, prediction.outputs, &prediction.request));
        let mut response = Response::new(answer);
        if let Ok(value) = MetadataValue::try_from(format!("{model}/{version}")) {
            response.metadata_mut().insert(SERVED_BY, value);
        }
        notes.served = Some((model, version));
        Ok(response)
    }
}

/// Runs a call's work with its notes.
macro_rules! noted {
    ($this:ident, $request:ident, $work:ident) => {
        async move {
            let mut notes = Notes::default();
            let result = $this.$work($request, &mut notes).await;
            (result, notes)
        }
    };
}

#[tonic::async_trait]
impl GrpcInferenceService for InferenceService {
    async fn server_live(&self, request: Request<ServerLiveRequest>) -> Result<Response<ServerLiveResponse>, Status> {
        self.serve("ServerLive", request, |_, _| async {
            (Ok(Response::new(ServerLiveResponse { live: true })), Notes::default())
        })
        .await
    }

    async fn server_ready(
        &self,
        request: Request<ServerReadyRequest>,
    ) -> Result<Response<ServerReadyResponse>, Status> {
        self.serve("ServerReady", request, |this, _| async move {
            (Ok(Response::new(ServerReadyResponse { ready: this.services.readiness().ready })), Notes::default())
        })
        .await
    }

    async fn server_metadata(
        &self,
        request: Request<ServerMetadataRequest>,
    ) -> Result<Response<ServerMetadataResponse>, Status> {
        self.serve("ServerMetadata", request, |_, _| async {
            let metadata = ServerMetadataResponse {
                name: "depot".to_owned(),
                version: env!("CARGO_PKG_VERSION").to_owned(),
                extensions: Vec::new(),
            };
            (Ok(Response::new(metadata)), Notes::default())
        })
        .await
    }

    async fn model_metadata(
        &self,
        request: Request<ModelMetadataRequest>,
    ) -> Result<Response<ModelMetadataResponse>, Status> {
        self.serve("ModelMetadata", request, |this, request| noted!(this, request, metadata)).await
    }

    async fn model_ready(&self, request: Request<ModelReadyRequest>) -> Result<Response<ModelReadyResponse>, Status> {
        self.serve("ModelReady", request, |this, request| noted!(this, request, ready)).await
    }

    async fn model_infer(&self, request: Request<ModelInferRequest>) -> Result<Response<ModelInferResponse>, Status> {
        self.serve("ModelInfer", request, |this, request| noted!(this, request, infer)).await
    }
}
