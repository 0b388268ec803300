//! `cargo run -p uniffi-bindgen -- generate --library <libsalon_core.so> --language kotlin ...`
fn main() {
    uniffi::uniffi_bindgen_main()
}
