//! Generates the `GRPCInferenceService` server (and, for the `client` feature, its client)
//! from the protocol's definition, `crates/serialization/proto/inference.proto`. The messages
//! are not generated again here: they are `depot_serialization::inference`'s, which encodes
//! and decodes them.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto = "../serialization/proto";
    println!("cargo:rerun-if-changed={proto}/inference.proto");
    let descriptors = protox::compile(["inference.proto"], [proto])?;
    tonic_prost_build::configure()
        .build_transport(false)
        .extern_path(".inference", "::depot_serialization::inference")
        .client_mod_attribute("inference", "#[cfg(feature = \"client\")]")
        .compile_fds(descriptors)?;
    Ok(())
}
