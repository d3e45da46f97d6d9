// `sqlx::migrate!` embeds ./migrations at compile time but cannot tell cargo to watch the
// folder, so a new migration file alone would not rebuild the crate.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
