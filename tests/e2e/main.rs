//! End-to-end tests: the real server over real PostgreSQL, a real S3-compatible server (moto) or
//! a local directory, and (for serving) a real ONNX Runtime. Run them with `scripts/test.sh`.

mod access;
mod console;
mod deployments;
mod docs;
mod faults;
mod gc;
mod grpc;
mod health;
mod metrics;
mod models;
mod serving;
mod uploads;
mod versions;

/// Declares one test per storage backend from an `async fn(Backend)`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),+ $(,)?) => {
        mod both_backends {
            $(
                mod $name {
                    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                    async fn local() {
                        super::super::$name(depot_tests::Backend::Local).await
                    }
                    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                    async fn s3() {
                        super::super::$name(depot_tests::Backend::S3).await
                    }
                }
            )+
        }
    };
}
