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

/// One JSON document on one line (scripts read `--json` output line by line).
pub fn json(value: &serde_json::Value) {
    println!("{value}");
}

/// A progress line: on stdout for a person, on stderr when stdout carries JSON.
pub fn progress(json: bool, message: &str) {
    if json {
        eprintln!("{message}");
    } else {
        println!("{message}");
    }
}

/// A plain table: a header row, then aligned columns.
pub fn table(headers: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let render = |cells: Vec<&str>| {
        let mut line = String::new();
        for (i, cell) in cells.iter().enumerate() {
            let width = widths.get(i).copied().unwrap_or(0);
            if i + 1 == cells.len() {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<width$}  "));
            }
        }
        line.trim_end().to_owned()
    };
    println!("{}", render(headers.to_vec()));
    for row in rows {
        println!("{}", render(row.iter().map(String::as_str).collect()));
    }
    if rows.is_empty() {
        println!("(none)");
    }
}
