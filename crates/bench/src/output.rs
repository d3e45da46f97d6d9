//! Everything the harness prints (the one module allowed to write to stdout).

#![expect(clippy::print_stdout, reason = "the benchmark's output module")]

pub fn json(value: &serde_json::Value) {
    match serde_json::to_string_pretty(value) {
        Ok(text) => println!("{text}"),
        Err(err) => eprintln!("ordercycle-bench: {err}"),
    }
}

pub fn line(text: &str) {
    println!("{text}");
}

/// Progress, on stderr so `--json` stays one object on stdout.
pub fn progress(text: &str) {
    eprintln!("ordercycle-bench: {text}");
}
