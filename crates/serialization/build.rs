//! Compiles the Open Inference Protocol's gRPC messages (`proto/inference.proto`) to Rust with
//! prost. `protox` parses the file in Rust, so no `protoc` has to be installed.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto/inference.proto");
    let descriptors = protox::compile(["inference.proto"], ["proto"])?;
    prost_build::Config::new()
        // Raw tensor contents stay as the buffers they arrived in, not copied.
        .bytes([".inference.ModelInferRequest.raw_input_contents", ".inference.ModelInferResponse.raw_output_contents"])
        .compile_fds(descriptors)?;
    Ok(())
}
