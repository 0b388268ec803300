//! The guest page in `web/` is embedded at compile time: rebuild when any file there changes,
//! including files that are added or removed.
fn main() {
    println!("cargo:rerun-if-changed=web");
}
