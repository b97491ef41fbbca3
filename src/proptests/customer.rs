//! The customer state machine on any stored state, message and client: it
//! always answers with a state that can be stored, and never offers,
//! requests or changes what the client does not have.

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use proptest::prelude::*;

use super::{config, typed_text};
use crate::conversation::{
    ClientFacts, ConversationState, CustomerInput, Effect, Flows, InboundContent, MediaKind,
    StaffNotice, StoredState, SubscriptionFact, WaitReason, handle,
};
use crate::domain::{Locale, Money};

/// "Now" anywhere in 2020–2040, to the second.
fn now() -> impl Strategy<Value = DateTime<Utc>> {
    let start = Utc
        .with_ymd_and_hms(2020, 1, 1, 0, 0, 0)
        .single()
        .expect("a time");
    (0_i64..20 * 365 * 86_400).prop_map(move |s| start + Duration::seconds(s))
}

fn subscription() -> impl Strategy<Value = SubscriptionFact> {
    (
        1_i64..12,
        prop::sample::select(vec!["Netflix", "IPTV", "Disney Plus", "Spotify"]),
        -60_i64..400,
        0_i64..100_000,
        any::<bool>(),
    )
        .prop_map(|(id, service, offset, cents, active)| SubscriptionFact {
            subscription_id: id,
            service: service.to_string(),
            // Relative to 2030-01-01; `today` varies, so all orders occur.
            end_date: NaiveDate::from_ymd_opt(2030, 1, 1).expect("a date")
                + Duration::days(offset * 30),
            price: Money::from_cents(cents),
            active,
        })
}

fn client() -> impl Strategy<Value = ClientFacts> {
    (
        prop::collection::vec(subscription(), 0..5),
        any::<bool>(),
        prop::option::of(1_i64..12),
        typed_text(),
    )
        .prop_map(|(mut subscriptions, opted_out, pending_request, name)| {
            // Ids are unique per client, as in the database.
            subscriptions.sort_by_key(|s| s.subscription_id);
            subscriptions.dedup_by_key(|s| s.subscription_id);
            ClientFacts {
                client_id: 7,
                name,
                opted_out,
                subscriptions,
                pending_request,
            }
        })
}

fn state(now: DateTime<Utc>) -> impl Strategy<Value = ConversationState> {
    prop_oneof![
        Just(ConversationState::Idle),
        prop::collection::vec(-3_i64..14, 0..5)
            .prop_map(|options| ConversationState::ChoosingRenewal { options }),
        (-48_i64..48).prop_map(move |h| ConversationState::Handoff {
            until: now + Duration::hours(h)
        }),
        (1_u32..4).prop_map(|times| ConversationState::NotUnderstood { times }),
    ]
}

fn message() -> impl Strategy<Value = InboundContent> {
    prop_oneof![
        3 => typed_text().prop_map(InboundContent::Text),
        1 => (
            prop::sample::select(vec![MediaKind::Image, MediaKind::Document, MediaKind::Other]),
            prop::option::of(typed_text()),
        )
            .prop_map(|(kind, caption)| InboundContent::Media { kind, caption }),
    ]
}

fn input() -> impl Strategy<Value = CustomerInput> {
    now().prop_flat_map(|now| {
        (
            prop::option::of((state(now), 0_i64..72 * 3600)),
            message(),
            prop::option::of(client()),
            // AVISA_HANDOFF_HOURS is checked to 0..=720 at start-up.
            0_u32..=720,
            any::<bool>(),
            -400_i64..400,
        )
            .prop_map(
                move |(stored, message, client, handoff_hours, answered, today_offset)| {
                    CustomerInput {
                        state: stored.map(|(state, age)| StoredState {
                            state,
                            updated_at: now - Duration::seconds(age),
                        }),
                        now,
                        today: NaiveDate::from_ymd_opt(2030, 1, 1).expect("a date")
                            + Duration::days(today_offset),
                        message,
                        client,
                        handoff_hours,
                        unknown_already_answered_today: answered,
                    }
                },
            )
    })
}

fn check(input: &CustomerInput, flows: &Flows) -> Result<(), TestCaseError> {
    let outcome = handle(input, flows);
    prop_assert_eq!(
        &handle(input, flows),
        &outcome,
        "the same input, the same outcome"
    );

    // The caller stores the state as JSON: it must read back.
    let json = serde_json::to_string(&outcome.state).expect("serializes");
    let stored: ConversationState = serde_json::from_str(&json).expect("deserializes");
    prop_assert_eq!(&stored, &outcome.state);
    prop_assert!(outcome.replies.len() <= 1, "{outcome:?}");

    let Some(client) = &input.client else {
        prop_assert_eq!(&outcome.state, &ConversationState::Idle);
        if input.unknown_already_answered_today {
            prop_assert!(outcome.replies.is_empty() && outcome.effects.is_empty());
        }
        for effect in &outcome.effects {
            prop_assert!(
                matches!(
                    effect,
                    Effect::NotifyStaff(StaffNotice::UnknownNumberWrote { .. })
                ),
                "{effect:?}"
            );
        }
        return Ok(());
    };
    let active = |id: i64| {
        client
            .subscriptions
            .iter()
            .any(|s| s.subscription_id == id && s.active)
    };
    match &outcome.state {
        ConversationState::Idle => {}
        // Counted from the stored count, one more each time.
        ConversationState::NotUnderstood { times } => {
            let before = match input.state.as_ref().map(|s| &s.state) {
                Some(ConversationState::NotUnderstood { times }) => *times,
                _ => 0,
            };
            prop_assert!(
                *times == before + 1 || *times == 1,
                "{times} after {before}"
            );
            let waits = outcome
                .effects
                .contains(&Effect::WaitForPerson(WaitReason::NotUnderstood));
            prop_assert_eq!(waits, *times >= 2);
        }
        // A receipt while choosing keeps the list as it was (a number is
        // checked against the client's subscriptions when it comes).
        ConversationState::ChoosingRenewal { .. }
            if input.state.as_ref().map(|s| &s.state) == Some(&outcome.state) => {}
        ConversationState::ChoosingRenewal { options } => {
            prop_assert!(!options.is_empty());
            prop_assert!(options.iter().all(|id| active(*id)), "{options:?}");
            let mut unique = options.clone();
            unique.sort_unstable();
            unique.dedup();
            prop_assert_eq!(unique.len(), options.len());
        }
        ConversationState::Handoff { until } => {
            let kept = matches!(
                input.state.as_ref().map(|s| &s.state),
                Some(ConversationState::Handoff { until: before }) if before == until
            );
            let new = *until == input.now + Duration::hours(i64::from(input.handoff_hours));
            prop_assert!(kept || new, "{until} from {:?}", input.state);
            prop_assert!(*until >= input.now);
        }
    }
    for effect in &outcome.effects {
        match effect {
            Effect::CreateRenewalRequest { subscription_id } => {
                prop_assert!(active(*subscription_id));
                prop_assert_ne!(client.pending_request, Some(*subscription_id));
            }
            Effect::OptOut => prop_assert!(!client.opted_out),
            Effect::OptIn => prop_assert!(client.opted_out),
            Effect::NotifyStaff(StaffNotice::UnknownNumberWrote { .. }) => {
                return Err(TestCaseError::fail("a client is not an unknown number"));
            }
            Effect::NotifyStaff(_) | Effect::WaitForPerson(_) => {}
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn every_message_in_every_state_yields_a_storable_state(input in input(), english in any::<bool>()) {
        let locale = if english { Locale::En } else { Locale::Es };
        let flows = Flows::load(locale, None).expect("embedded flows");
        check(&input, &flows)?;
    }
}
