use std::io::Write;

use depot_runtime::{Runtime, RuntimeConfig, RuntimeError};

use crate::support::{config, library_path};

#[test]
fn a_missing_library_names_the_path_and_the_fetch_script() {
    let config = RuntimeConfig { library_path: "/nonexistent/libonnxruntime.so.1.31.0".into(), ..config() };
    let err = Runtime::new(config).expect_err("no library there");
    assert!(
        matches!(&err, RuntimeError::LibraryUnavailable { path, .. } if path.ends_with("libonnxruntime.so.1.31.0"))
    );
    let message = err.to_string();
    assert!(message.contains("/nonexistent/libonnxruntime.so.1.31.0"), "{message}");
    assert!(message.contains("scripts/fetch-onnxruntime.sh"), "{message}");
}

#[test]
fn a_file_that_is_not_the_library_is_refused() {
    let mut file = tempfile::NamedTempFile::new().expect("temp file");
    file.write_all(b"not a shared library").expect("write");
    let config = RuntimeConfig { library_path: file.path().to_owned(), ..config() };
    // Refused either by the loader or because the real library is already loaded in this process.
    assert!(matches!(Runtime::new(config), Err(RuntimeError::LibraryUnavailable { .. })));
}

#[test]
fn the_real_library_loads_and_runtimes_share_it() {
    let first = Runtime::new(config()).expect("first runtime");
    let second = Runtime::new(config()).expect("second runtime in the same process");
    assert_eq!(first.config().library_path, library_path());
    assert!(second.loaded().is_empty());
}

#[test]
fn invalid_configuration_is_refused_before_loading() {
    let config = RuntimeConfig { sessions_per_version: 0, ..config() };
    assert!(matches!(Runtime::new(config), Err(RuntimeError::InvalidConfig { .. })));
}
