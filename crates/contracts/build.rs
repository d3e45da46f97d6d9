//! Compiles every `.proto` under the workspace's `proto/` with protox (no system `protoc`),
//! generates prost messages and tonic clients/servers, and writes the encoded descriptor set
//! that the runtime serves through gRPC reflection.

use std::path::{Path, PathBuf};

use prost::Message;

fn main() -> anyhow::Result<()> {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let proto_root = manifest.join("../../proto").canonicalize()?;
    println!("cargo:rerun-if-changed={}", proto_root.display());

    let mut files = Vec::new();
    collect_protos(&proto_root, &mut files)?;
    files.sort();
    for file in &files {
        println!("cargo:rerun-if-changed={}", file.display());
    }

    let fds = protox::compile(&files, [&proto_root])?;
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(out.join("descriptor.bin"), fds.encode_to_vec())?;
    std::fs::write(out.join("order_scoped.rs"), order_scoped(&fds))?;

    let mut config = tonic_prost_build::Config::new();
    // `prost::Name` gives every message its full protobuf name: the CloudEvents `ce-type`.
    config.enable_type_names();
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        // RPCs that a later issue implements answer UNIMPLEMENTED until then.
        .generate_default_stubs(true)
        .compile_fds_with_config(fds, config)?;
    Ok(())
}

/// `impl OrderScoped` for every top-level ordercycle message: `Some(&self.order_id)` when it
/// has a string field `order_id`, else `None`. Generated so that a new event names its order in
/// logs and spans without anyone remembering to say so.
fn order_scoped(fds: &prost_types::FileDescriptorSet) -> String {
    const TYPE_STRING: i32 = 9;
    let mut out = String::new();
    for file in &fds.file {
        let package = file.package();
        let Some(rest) = package.strip_prefix("ordercycle.") else {
            continue;
        };
        let module = rest.replace('.', "::");
        for message in &file.message_type {
            let has_order_id = message
                .field
                .iter()
                .any(|f| f.name() == "order_id" && f.r#type.unwrap_or_default() == TYPE_STRING);
            let body = if has_order_id {
                "Some(&self.order_id)"
            } else {
                "None"
            };
            out.push_str(&format!(
                "impl crate::OrderScoped for crate::ordercycle::{module}::{} {{\n    \
                 fn order_id(&self) -> Option<&str> {{ {body} }}\n}}\n",
                message.name()
            ));
        }
    }
    out
}

fn collect_protos(dir: &Path, files: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect_protos(&path, files)?;
        } else if path.extension().is_some_and(|ext| ext == "proto") {
            files.push(path);
        }
    }
    Ok(())
}
