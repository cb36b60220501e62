//! Rebuilds the server when a migration changes (they are compiled in by `sqlx::migrate!`).
fn main() {
    println!("cargo:rerun-if-changed=../migrations");
}
