use chrono::TimeZone;

use super::*;
use crate::domain::Locale;

mod states;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 14, 0, 0).unwrap()
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn sub(id: i64, service: &str, end: NaiveDate, cents: i64, active: bool) -> SubscriptionFact {
    SubscriptionFact {
        subscription_id: id,
        service: service.into(),
        end_date: end,
        price: Money::from_cents(cents),
        active,
    }
}

/// Ana: IPTV (12) ends after Netflix (11); Disney (13) is cancelled.
fn ana() -> ClientFacts {
    ClientFacts {
        client_id: 7,
        name: "Ana".into(),
        opted_out: false,
        subscriptions: vec![
            sub(12, "IPTV", date(2026, 12, 10), 1000, true),
            sub(11, "Netflix", date(2026, 11, 28), 750, true),
            sub(13, "Disney", date(2026, 11, 20), 500, false),
        ],
        pending_request: None,
    }
}

/// Ana with only Netflix active.
fn ana_one() -> ClientFacts {
    let mut c = ana();
    c.subscriptions.retain(|s| s.subscription_id != 12);
    c
}

fn input(
    client: Option<ClientFacts>,
    state: Option<ConversationState>,
    text: &str,
) -> CustomerInput {
    CustomerInput {
        state: state.map(|state| StoredState {
            state,
            updated_at: now() - Duration::minutes(5),
        }),
        now: now(),
        today: date(2026, 11, 25),
        message: InboundContent::Text(text.into()),
        client,
        handoff_hours: 12,
        unknown_already_answered_today: false,
    }
}

fn run(input: &CustomerInput) -> Outcome {
    handle(input, &Flows::load(Locale::Es, None).unwrap())
}

fn say(client: ClientFacts, state: Option<ConversationState>, text: &str) -> Outcome {
    run(&input(Some(client), state, text))
}

fn media(kind: MediaKind, caption: Option<&str>) -> InboundContent {
    InboundContent::Media {
        kind,
        caption: caption.map(str::to_string),
    }
}

fn line(id: i64, service: &str, end: NaiveDate, days_left: i64, cents: i64) -> SubscriptionLine {
    SubscriptionLine {
        subscription_id: id,
        service: service.into(),
        end_date: end,
        days_left,
        price: Money::from_cents(cents),
    }
}

fn netflix_line() -> SubscriptionLine {
    line(11, "Netflix", date(2026, 11, 28), 3, 750)
}

fn iptv_line() -> SubscriptionLine {
    line(12, "IPTV", date(2026, 12, 10), 15, 1000)
}

fn choosing() -> Option<ConversationState> {
    Some(ConversationState::ChoosingRenewal {
        options: vec![11, 12],
    })
}

fn handoff_until(hours: i64) -> Option<ConversationState> {
    Some(ConversationState::Handoff {
        until: now() + Duration::hours(hours),
    })
}

fn is_menu(out: &Outcome, expect_not_understood: bool) -> bool {
    matches!(
        out.replies.as_slice(),
        [Reply::Menu { not_understood, options, name }]
            if *not_understood == expect_not_understood && options.len() == 4 && name == "Ana"
    ) && out.effects.is_empty()
        && out.state
            == if expect_not_understood {
                ConversationState::NotUnderstood { times: 1 }
            } else {
                ConversationState::Idle
            }
}

fn renew_effects(sub_id: i64, service: &str, end: NaiveDate, cents: i64) -> Vec<Effect> {
    vec![
        Effect::CreateRenewalRequest {
            subscription_id: sub_id,
        },
        Effect::NotifyStaff(StaffNotice::RenewalRequested {
            client_id: 7,
            client_name: "Ana".into(),
            subscription_id: sub_id,
            service: service.into(),
            end_date: end,
            price: Money::from_cents(cents),
        }),
    ]
}

#[test]
fn greeting_and_menu_show_the_menu() {
    for text in ["hola", "Buenas", "menu", "Menú", "inicio"] {
        assert!(is_menu(&say(ana(), None, text), false), "{text}");
    }
}

#[test]
fn anything_not_understood_shows_the_menu_saying_so() {
    for text in ["asdf", "", "9", "👍", "tengo 2 cuentas"] {
        assert!(is_menu(&say(ana(), None, text), true), "{text}");
    }
}

#[test]
fn not_understood_twice_in_a_row_waits_for_a_person() {
    let once = Some(ConversationState::NotUnderstood { times: 1 });
    let out = say(ana(), once.clone(), "asdf");
    assert!(matches!(
        out.replies.as_slice(),
        [Reply::Menu {
            not_understood: true,
            ..
        }]
    ));
    assert_eq!(out.state, ConversationState::NotUnderstood { times: 2 });
    assert_eq!(
        out.effects,
        [Effect::WaitForPerson(WaitReason::NotUnderstood)]
    );
    // Understood in between: the count starts again.
    let out = say(ana(), once, "1");
    assert!(matches!(out.replies.as_slice(), [Reply::Expiry { .. }]));
    assert_eq!(out.state, ConversationState::Idle);
    assert!(out.effects.is_empty());
}

#[test]
fn expiry_lists_active_subscriptions_soonest_first() {
    for text in [
        "1",
        "uno",
        "vencimiento",
        "estado",
        "¿Cuándo vence?",
        "¿CUÁNDO vence?",
    ] {
        let out = say(ana(), None, text);
        assert_eq!(
            out.replies,
            [Reply::Expiry {
                items: vec![netflix_line(), iptv_line()]
            }],
            "{text}"
        );
        assert!(out.effects.is_empty());
        assert_eq!(out.state, ConversationState::Idle);
    }
}

#[test]
fn expiry_shows_expired_but_active_with_negative_days() {
    let mut c = ana_one();
    c.subscriptions[0].end_date = date(2026, 11, 23);
    let out = say(c, None, "1");
    assert_eq!(
        out.replies,
        [Reply::Expiry {
            items: vec![line(11, "Netflix", date(2026, 11, 23), -2, 750)]
        }]
    );
}

#[test]
fn expiry_without_active_subscriptions() {
    let mut c = ana();
    c.subscriptions.iter_mut().for_each(|s| s.active = false);
    let out = say(c, None, "vence");
    assert_eq!(out.replies, [Reply::NoActiveSubscriptions]);
    assert!(out.effects.is_empty());
}

#[test]
fn opt_out_confirms_and_opts_out_once() {
    for text in [
        "4",
        "cuatro",
        "baja",
        "BAJA",
        "stop",
        "No más mensajes",
        "quiero darme de baja",
    ] {
        let out = say(ana(), None, text);
        assert_eq!(out.replies, [Reply::OptedOut], "{text}");
        assert_eq!(out.effects, [Effect::OptOut], "{text}");
        assert_eq!(out.state, ConversationState::Idle);
    }
    let mut c = ana();
    c.opted_out = true;
    let out = say(c, None, "stop");
    assert_eq!(out.replies, [Reply::OptedOut]);
    assert!(out.effects.is_empty());
}

#[test]
fn opted_out_client_writing_alta_is_back_in() {
    let mut c = ana();
    c.opted_out = true;
    for text in ["alta", "ALTA", "start", "reactivar"] {
        let out = say(c.clone(), None, text);
        assert_eq!(out.replies, [Reply::OptedIn], "{text}");
        assert_eq!(out.effects, [Effect::OptIn], "{text}");
    }
    // Already in: confirmed, nothing to change.
    let out = say(ana(), None, "alta");
    assert_eq!(out.replies, [Reply::OptedIn]);
    assert!(out.effects.is_empty());
}

#[test]
fn opted_out_client_can_still_ask() {
    let mut c = ana();
    c.opted_out = true;
    assert!(matches!(
        say(c, None, "1").replies.as_slice(),
        [Reply::Expiry { .. }]
    ));
}

#[test]
fn media_from_a_client_is_a_receipt() {
    let mut inp = input(Some(ana()), None, "");
    inp.message = media(MediaKind::Image, Some("quiero renovar"));
    let out = run(&inp);
    assert_eq!(
        out.replies,
        [Reply::ReceiptAck {
            pending_request: false
        }]
    );
    assert_eq!(
        out.effects,
        [
            Effect::NotifyStaff(StaffNotice::ReceiptReceived {
                client_id: 7,
                client_name: "Ana".into(),
                kind: MediaKind::Image,
                caption: Some("quiero renovar".into()),
                pending_request: None,
                service: None,
            }),
            Effect::WaitForPerson(WaitReason::Receipt)
        ]
    );
    assert_eq!(out.state, ConversationState::Idle);

    let mut c = ana();
    c.pending_request = Some(12);
    inp.client = Some(c);
    inp.message = media(MediaKind::Document, None);
    let out = run(&inp);
    assert_eq!(
        out.replies,
        [Reply::ReceiptAck {
            pending_request: true
        }]
    );
    assert_eq!(
        out.effects,
        [
            Effect::NotifyStaff(StaffNotice::ReceiptReceived {
                client_id: 7,
                client_name: "Ana".into(),
                kind: MediaKind::Document,
                caption: None,
                pending_request: Some(12),
                service: Some("IPTV".into()),
            }),
            Effect::WaitForPerson(WaitReason::Receipt)
        ]
    );
}

#[test]
fn receipt_while_choosing_keeps_the_list() {
    let mut inp = input(Some(ana()), choosing(), "");
    inp.message = media(MediaKind::Image, None);
    let out = run(&inp);
    assert_eq!(
        out.replies,
        [Reply::ReceiptAck {
            pending_request: false
        }]
    );
    assert_eq!(out.state, choosing().unwrap());
}

#[test]
fn other_media_is_read_by_its_caption() {
    let mut inp = input(Some(ana()), None, "");
    inp.message = media(MediaKind::Other, None);
    assert!(is_menu(&run(&inp), true));
    inp.message = media(MediaKind::Other, Some("1"));
    assert!(matches!(
        run(&inp).replies.as_slice(),
        [Reply::Expiry { .. }]
    ));
}

#[test]
fn unknown_number_gets_one_reply_and_one_notice_per_day() {
    let inp = input(None, None, "hola, ¿precios?");
    let out = run(&inp);
    assert_eq!(out.replies, [Reply::UnknownNumber]);
    assert_eq!(
        out.effects,
        [Effect::NotifyStaff(StaffNotice::UnknownNumberWrote {
            message: InboundContent::Text("hola, ¿precios?".into())
        })]
    );
    assert_eq!(out.state, ConversationState::Idle);

    let mut again = inp.clone();
    again.unknown_already_answered_today = true;
    let out = run(&again);
    assert!(out.replies.is_empty());
    assert!(out.effects.is_empty());

    // Even "baja" or a photo from an unknown number changes nothing else.
    let mut photo = input(None, None, "");
    photo.message = media(MediaKind::Image, None);
    let out = run(&photo);
    assert_eq!(out.replies, [Reply::UnknownNumber]);
    assert_eq!(out.effects.len(), 1);
    assert_eq!(
        run(&input(None, None, "baja")).replies,
        [Reply::UnknownNumber]
    );
}

#[test]
fn english_flows_drive_the_same_machine() {
    let flows = Flows::load(Locale::En, None).unwrap();
    let out = handle(&input(Some(ana()), None, "When does it expire?"), &flows);
    assert!(matches!(out.replies.as_slice(), [Reply::Expiry { .. }]));
    let out = handle(&input(Some(ana()), choosing(), "two"), &flows);
    assert_eq!(
        out.replies,
        [Reply::RenewInstructions {
            item: iptv_line(),
            already_requested: false
        }]
    );
}

#[test]
fn state_is_stored_as_tagged_json() {
    let state = choosing().unwrap();
    let json = serde_json::to_value(&state).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"state": "choosing_renewal", "options": [11, 12]})
    );
    let back: ConversationState = serde_json::from_value(json).unwrap();
    assert_eq!(back, state);
    let handoff = handoff_until(12).unwrap();
    let text = serde_json::to_string(&handoff).unwrap();
    assert_eq!(
        serde_json::from_str::<ConversationState>(&text).unwrap(),
        handoff
    );
    assert_eq!(
        serde_json::to_string(&ConversationState::Idle).unwrap(),
        r#"{"state":"idle"}"#
    );
}

#[test]
fn replies_serialize_for_templates() {
    let reply = Reply::RenewInstructions {
        item: netflix_line(),
        already_requested: false,
    };
    assert_eq!(reply.kind(), "renew_instructions");
    let json = serde_json::to_value(&reply).unwrap();
    assert_eq!(json["reply"], "renew_instructions");
    assert_eq!(json["item"]["service"], "Netflix");
    assert_eq!(json["item"]["end_date"], "2026-11-28");
    assert_eq!(json["item"]["price"], 750);
    assert_eq!(Reply::HandoffAck { hours: 12 }.kind(), "handoff_ack");
}
