//! Everything the CLI prints for a person (the one place allowed to write to stdout).

#![expect(clippy::print_stdout, reason = "the CLI's output module")]

use std::net::SocketAddr;

pub fn dev_mode_banner() {
    println!(
        "ordercycle up: DEV MODE — authentication is off; every caller is `dev-operator` with \
         every role. Use `ordercycle serve <service>` with OC_JWT_SECRET in production."
    );
}

pub fn service_started(name: &str, grpc: SocketAddr, http: SocketAddr) {
    println!("{name:<14} grpc {grpc:<21} http {http}");
}

/// Text exactly as given (generated documents).
pub fn raw(text: &str) {
    print!("{text}");
}

pub fn note(message: &str) {
    println!("{message}");
}

/// One actionable line on stderr.
pub fn error(err: &anyhow::Error) {
    eprintln!("ordercycle: {err:#}");
}
