//! `Config::try_parse_from`: the server's command line. One argument per line of the input
//! (bytes, so arguments that are not UTF-8 are tried too). Property: never panics, whatever
//! the arguments; errors (including `--help` and `--version`) come back as `Err`.

#![no_main]

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;

use clap::Parser;
use libfuzzer_sys::fuzz_target;
use salon_server::config::Config;

fuzz_target!(|data: &[u8]| {
    let args = std::iter::once(OsString::from("salon-server")).chain(
        data.split(|&b| b == b'\n')
            .map(|arg| OsString::from_vec(arg.to_vec())),
    );
    let _ = Config::try_parse_from(args);
});
