//! Property tests (proptest): the parsers that read what people and
//! WhatsApp send, and the customer state machine, never panic on any input
//! and keep their invariants; where a value can be written and read back
//! (money, phone numbers, webhook texts, CSV rows, staff commands) it reads
//! back as written. 256 cases a property, so the suite stays fast.

mod customer;
mod domain;
mod import;
mod staff;
mod webhook;

use proptest::prelude::*;
use proptest::test_runner::Config;

/// Cases per property.
const CASES: u32 = 256;

fn config() -> Config {
    Config {
        cases: CASES,
        ..Config::default()
    }
}

/// A local Ecuadorian mobile number as people type it (`0991234567`).
fn ec_mobile() -> impl Strategy<Value = String> {
    "09[89][0-9]{7}"
}

/// Text as people type it: any characters, NULs and controls included,
/// with the words the conversation and the commands react to mixed in.
fn typed_text() -> impl Strategy<Value = String> {
    let words = prop::sample::select(vec![
        "hola",
        "menu",
        "menú",
        "1",
        "2",
        "3",
        "4",
        "9",
        "0",
        "renovar",
        "pagar",
        "asesor",
        "humano",
        "baja",
        "stop",
        "alta",
        "start",
        "vencimiento",
        "estado",
        "meses",
        "#",
        "/",
        "\"",
        "“",
        " ",
        "\n",
        "\u{0}",
        "0991234567",
        "+593 99 123 4567",
        "01/12/2026",
        "2026-12-01",
        "7.50",
        "$7,50",
        "Netflix",
    ]);
    prop_oneof![
        any::<String>(),
        prop::collection::vec(words, 0..8).prop_map(|w| w.join(" ")),
        prop::collection::vec(prop_oneof![any::<String>(), "[a-z0-9 /#$.,-]{0,12}"], 0..4)
            .prop_map(|w| w.join(" ")),
    ]
}
