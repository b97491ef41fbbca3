//! Renewal choice, handoff and state-expiry transitions.

use super::*;

#[test]
fn renew_with_one_subscription_gives_instructions_and_opens_a_request() {
    for text in ["2", "dos", "renovar", "pagar", "Quiero renovar"] {
        let out = say(ana_one(), None, text);
        assert_eq!(
            out.replies,
            [Reply::RenewInstructions {
                item: netflix_line(),
                already_requested: false
            }],
            "{text}"
        );
        assert_eq!(
            out.effects,
            renew_effects(11, "Netflix", date(2026, 11, 28), 750)
        );
        assert_eq!(out.state, ConversationState::Idle);
    }
}

#[test]
fn renew_again_while_pending_does_not_duplicate_the_request() {
    let mut c = ana_one();
    c.pending_request = Some(11);
    let out = say(c, None, "renovar");
    assert_eq!(
        out.replies,
        [Reply::RenewInstructions {
            item: netflix_line(),
            already_requested: true
        }]
    );
    assert!(out.effects.is_empty());
}

#[test]
fn renew_without_active_subscriptions_tells_staff() {
    let mut c = ana();
    c.subscriptions.iter_mut().for_each(|s| s.active = false);
    let out = say(c, None, "2");
    assert_eq!(out.replies, [Reply::NoActiveSubscriptions]);
    assert_eq!(
        out.effects,
        [Effect::NotifyStaff(
            StaffNotice::RenewalWithoutSubscription {
                client_id: 7,
                client_name: "Ana".into()
            }
        )]
    );
}

#[test]
fn renew_with_several_asks_which_one() {
    let out = say(ana(), None, "2");
    assert_eq!(
        out.replies,
        [Reply::RenewChoose {
            items: vec![netflix_line(), iptv_line()]
        }]
    );
    assert!(out.effects.is_empty());
    assert_eq!(out.state, choosing().unwrap());
}

#[test]
fn while_choosing_numbers_pick_from_the_list_not_the_menu() {
    // "1" would be Expiry on the menu; here it is Netflix.
    let out = say(ana(), choosing(), "1");
    assert_eq!(
        out.replies,
        [Reply::RenewInstructions {
            item: netflix_line(),
            already_requested: false
        }]
    );
    assert_eq!(
        out.effects,
        renew_effects(11, "Netflix", date(2026, 11, 28), 750)
    );
    assert_eq!(out.state, ConversationState::Idle);
    // "dos" would be Renew on the menu; here it is IPTV.
    let out = say(ana(), choosing(), "dos");
    assert_eq!(
        out.replies,
        [Reply::RenewInstructions {
            item: iptv_line(),
            already_requested: false
        }]
    );
    assert_eq!(
        out.effects,
        renew_effects(12, "IPTV", date(2026, 12, 10), 1000)
    );
}

#[test]
fn invalid_choice_repeats_the_list_and_keeps_waiting() {
    for text in ["3", "4", "0", "diez"] {
        let out = say(ana(), choosing(), text);
        assert_eq!(
            out.replies,
            [Reply::InvalidChoice {
                items: vec![netflix_line(), iptv_line()]
            }],
            "{text}"
        );
        assert!(out.effects.is_empty());
        assert_eq!(out.state, choosing().unwrap());
    }
}

#[test]
fn choice_of_a_subscription_cancelled_meanwhile_shows_the_current_list() {
    let out = say(ana_one(), choosing(), "2");
    assert_eq!(
        out.replies,
        [Reply::InvalidChoice {
            items: vec![netflix_line()]
        }]
    );
    assert_eq!(
        out.state,
        ConversationState::ChoosingRenewal { options: vec![11] }
    );
    assert!(out.effects.is_empty());
}

#[test]
fn words_while_choosing_leave_the_list() {
    assert!(is_menu(&say(ana(), choosing(), "menu"), false));
    assert!(is_menu(&say(ana(), choosing(), "hola"), false));
    let out = say(ana(), choosing(), "¿cuándo vence?");
    assert!(matches!(out.replies.as_slice(), [Reply::Expiry { .. }]));
    assert_eq!(out.state, ConversationState::Idle);
}

#[test]
fn state_is_forgotten_after_24_hours() {
    let mut inp = input(Some(ana()), choosing(), "1");
    // Exactly 24 h: still remembered, "1" picks Netflix.
    inp.state.as_mut().unwrap().updated_at = now() - Duration::hours(24);
    assert!(matches!(
        run(&inp).replies.as_slice(),
        [Reply::RenewInstructions { .. }]
    ));
    // A second later: forgotten, "1" is the menu's Expiry.
    inp.state.as_mut().unwrap().updated_at = now() - Duration::hours(24) - Duration::seconds(1);
    let out = run(&inp);
    assert!(matches!(out.replies.as_slice(), [Reply::Expiry { .. }]));
    assert_eq!(out.state, ConversationState::Idle);
}

#[test]
fn human_hands_off_and_tells_staff() {
    for text in [
        "3",
        "tres",
        "asesor",
        "humano",
        "quiero hablar con una persona",
        "agente",
    ] {
        let out = say(ana(), None, text);
        assert_eq!(out.replies, [Reply::HandoffAck { hours: 12 }], "{text}");
        assert_eq!(
            out.effects,
            [
                Effect::NotifyStaff(StaffNotice::HandoffRequested {
                    client_id: 7,
                    client_name: "Ana".into()
                }),
                Effect::WaitForPerson(WaitReason::AskedPerson)
            ]
        );
        assert_eq!(out.state, handoff_until(12).unwrap());
    }
    let mut inp = input(Some(ana()), None, "asesor");
    inp.handoff_hours = 2;
    assert_eq!(run(&inp).state, handoff_until(2).unwrap());
}

#[test]
fn handoff_keeps_the_bot_silent() {
    for text in [
        "hola", "1", "2", "renovar", "asesor", "baja", "alta", "gracias",
    ] {
        let out = say(ana(), handoff_until(3), text);
        assert!(out.replies.is_empty(), "{text}");
        // Logged and left for the person: the chat waits in the Bandeja.
        assert_eq!(
            out.effects,
            [Effect::WaitForPerson(WaitReason::DuringTakeover)],
            "{text}"
        );
        assert_eq!(out.state, handoff_until(3).unwrap(), "{text}");
    }
    let mut inp = input(Some(ana()), handoff_until(3), "");
    inp.message = media(MediaKind::Other, Some("audio"));
    assert!(run(&inp).replies.is_empty());
}

#[test]
fn menu_ends_the_handoff() {
    for text in ["menu", "MENÚ", "inicio"] {
        assert!(
            is_menu(&say(ana(), handoff_until(3), text), false),
            "{text}"
        );
    }
}

#[test]
fn handoff_ends_when_its_time_is_up() {
    assert!(is_menu(&say(ana(), handoff_until(0), "hola"), false));
    let out = say(ana(), handoff_until(-1), "1");
    assert!(matches!(out.replies.as_slice(), [Reply::Expiry { .. }]));
}

#[test]
fn long_handoff_outlives_the_24_hour_rule() {
    let mut inp = input(Some(ana()), handoff_until(10), "hola");
    inp.state.as_mut().unwrap().updated_at = now() - Duration::hours(38);
    let out = run(&inp);
    assert!(out.replies.is_empty());
    assert_eq!(out.state, handoff_until(10).unwrap());
}

#[test]
fn receipts_during_handoff_still_reach_staff_without_a_reply() {
    let mut inp = input(Some(ana()), handoff_until(3), "");
    inp.message = media(MediaKind::Image, None);
    let out = run(&inp);
    assert!(out.replies.is_empty());
    assert!(matches!(
        out.effects.as_slice(),
        [
            Effect::NotifyStaff(StaffNotice::ReceiptReceived {
                kind: MediaKind::Image,
                ..
            }),
            Effect::WaitForPerson(WaitReason::Receipt)
        ]
    ));
    assert_eq!(out.state, handoff_until(3).unwrap());
}
