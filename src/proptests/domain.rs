//! Money and phone numbers: any text either fails to parse or gives a value
//! that reads back the same from its own formats.

use proptest::prelude::*;

use super::{config, ec_mobile};
use crate::domain::{Money, MoneyError, Phone, Region};
use crate::whatsapp::SenderAddress;

/// `1234567` → `1.234.567` (or with `,`).
fn grouped(units: i64, separator: char) -> String {
    let digits = units.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(separator);
        }
        out.push(c);
    }
    out
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn money_parse_never_panics_and_what_it_reads_reads_back(input in "\\PC{0,24}|[0-9.,$ US-]{0,16}") {
        if let Ok(money) = Money::parse(&input) {
            prop_assert!(money.cents() >= 0, "{input:?} → {money:?}");
            prop_assert_eq!(Money::parse(&money.to_string()), Ok(money));
        }
    }

    #[test]
    fn money_written_in_any_accepted_spelling_parses_to_the_same_cents(cents in 0_i64..1_000_000_000_000) {
        let (units, rest) = (cents / 100, cents % 100);
        let money = Money::from_cents(cents);
        let spellings = [
            money.to_string(),
            format!("{units}.{rest:02}"),
            format!("{units},{rest:02}"),
            format!("USD {units}.{rest:02}"),
            format!("{}.{rest:02}", grouped(units, ',')),
            format!("{},{rest:02}", grouped(units, '.')),
        ];
        for spelling in spellings {
            prop_assert_eq!(Money::parse(&spelling), Ok(money), "{}", spelling);
        }
        if rest == 0 {
            prop_assert_eq!(Money::parse(&units.to_string()), Ok(money));
        }
    }

    #[test]
    fn three_digits_after_a_lone_separator_are_always_ambiguous(
        units in 0_i64..1_000_000,
        thousandths in 0_u32..1000,
        separator in prop::sample::select(vec!['.', ',']),
    ) {
        let input = format!("{units}{separator}{thousandths:03}");
        prop_assert_eq!(Money::parse(&input), Err(MoneyError::Ambiguous(input.clone())));
    }

    #[test]
    fn phone_parse_never_panics_and_e164_reads_back(input in "\\PC{0,20}|[0-9 +()./@-]{0,20}") {
        if let Ok(phone) = Phone::parse(&input, Region::default()) {
            prop_assert!(phone.as_str().starts_with('+'));
            prop_assert!(phone.digits().bytes().all(|b| b.is_ascii_digit()));
            prop_assert_eq!(Phone::parse(phone.as_str(), Region::default()), Ok(phone.clone()));
            prop_assert_eq!(Phone::from_e164(phone.to_string()), Ok(phone));
        }
    }

    #[test]
    fn a_mobile_in_every_usual_spelling_is_one_e164_number(local in ec_mobile()) {
        let phone = Phone::parse(&local, Region::default()).expect("a valid EC mobile");
        prop_assert_eq!(phone.as_str(), format!("+593{}", &local[1..]));
        let national = &local[1..];
        let spellings = [
            format!("+593 {} {} {}", &national[..2], &national[2..5], &national[5..]),
            format!("593{national}"),
            format!("{}-{}-{}", &local[..3], &local[3..6], &local[6..]),
            format!("({}) {}", &local[..3], &local[3..]),
            format!("593{national}@s.whatsapp.net"),
            phone.as_str().to_string(),
        ];
        for spelling in spellings {
            prop_assert_eq!(Phone::parse(&spelling, Region::default()), Ok(phone.clone()), "{}", spelling);
        }
        let sender = SenderAddress::Phone(phone.digits().to_string());
        prop_assert_eq!(sender.phone(Region::default()), Some(phone));
    }
}
