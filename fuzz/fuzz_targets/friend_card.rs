//! `FriendCard::parse`: whatever a user pastes or scans as a friend card.
//!
//! Properties of an accepted card: the name is already clean (trimmed, valid display name); the
//! card written back by `to_link` parses to the same value and is a fixed point.

#![no_main]

use libfuzzer_sys::fuzz_target;
use salon_core::store::FriendCard;
use salon_protocol::clean_display_name;

fuzz_target!(|data: &[u8]| {
    // Pasted or scanned text reaches the parser as a Rust string, so always UTF-8.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(card) = FriendCard::parse(text) else {
        return;
    };

    assert_eq!(
        clean_display_name("name", &card.name).as_deref(),
        Ok(card.name.as_str()),
        "the parsed name is not in its cleaned form"
    );
    let link = card.to_link();
    let again = FriendCard::parse(&link).unwrap_or_else(|e| {
        panic!(
            "card written by to_link does not parse: {e}\n  input: {} bytes\n  to_link: {} bytes, starts {:?}",
            text.len(),
            link.len(),
            link.chars().take(200).collect::<String>()
        )
    });
    assert_eq!(again, card, "to_link {link:?} parses to another card");
    assert_eq!(again.to_link(), link, "to_link is not a fixed point");
});
