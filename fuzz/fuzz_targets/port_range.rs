//! `PortRange::from_str`: the `--udp-ports` flag and `SALON_UDP_PORTS`.
//!
//! Properties: an accepted range is non-empty and never includes port 0; `FIRST-LAST` written
//! back parses to the same range; `Any` comes only from "0".

#![no_main]

use std::str::FromStr;

use libfuzzer_sys::fuzz_target;
use salon_server::config::PortRange;

fuzz_target!(|data: &[u8]| {
    // Flags and environment variables reach clap as OS strings; clap hands the value parser a
    // &str, so only UTF-8 gets here.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match PortRange::from_str(text) {
        Ok(PortRange::Range { first, last }) => {
            assert!(first >= 1, "{text:?} gave a range starting at 0");
            assert!(
                first <= last,
                "{text:?} gave the empty range {first}-{last}"
            );
            assert_eq!(
                PortRange::from_str(&format!("{first}-{last}")),
                Ok(PortRange::Range { first, last })
            );
        }
        Ok(PortRange::Any) => assert_eq!(text.trim(), "0", "{text:?} gave Any"),
        Err(message) => assert!(!message.is_empty()),
    }
});
