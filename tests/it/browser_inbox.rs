//! In Chromium at a phone's size: a customer asks for a person, staff open
//! the Bandeja, answer from the client page one-handed, and mark the
//! conversation "Resuelto". Skipped without chromium/chromedriver, except
//! with CI=true.

use crate::support;

use std::time::Duration;

use fantoccini::{Client, Locator};
use serde_json::json;
use support::app::{TestApp, WEBHOOK_SECRET};
use support::browser::{find_program, screenshot, start_driver};
use support::db::Backend;

use crate::browser_layout::{browser_at, log_in};

const ANA: &str = "+593991234567";

async fn customer_says(app: &TestApp, id: &str, text: &str) {
    let response = reqwest::Client::new()
        .post(app.url("/webhooks/wasender"))
        .header("X-Webhook-Signature", WEBHOOK_SECRET)
        .json(&json!({
            "event": "messages.received",
            "data": {"messages": {
                "key": {"id": id, "fromMe": false,
                        "remoteJid": "593991234567@s.whatsapp.net",
                        "cleanedSenderPn": "593991234567"},
                "messageBody": text,
                "message": {"conversation": text}}}
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

async fn fits(client: &Client, page: &str) {
    let widths = client
        .execute(
            "return [document.documentElement.scrollWidth, window.innerWidth];",
            vec![],
        )
        .await
        .unwrap();
    let scroll = widths[0].as_f64().unwrap_or(0.0);
    let inner = widths[1].as_f64().unwrap_or(0.0);
    assert!(scroll <= inner, "{page}: {scroll}px wide in {inner}px");
}

async fn wait_for_path(client: &Client, wanted: &str) {
    for _ in 0..100 {
        if client.current_url().await.unwrap().path() == wanted {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("never reached {wanted}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_answer_from_a_phone_and_resolve_the_inbox() {
    let (Some(chromium), Some(chromedriver)) =
        (find_program("chromium"), find_program("chromedriver"))
    else {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("chromium and chromedriver are required with CI=true (.ci/run installs them)");
        }
        eprintln!("skipped: chromium/chromedriver not installed");
        return;
    };
    let Some((app, _admin)) = support::panel::start(Backend::Sqlite).await else {
        return;
    };
    let ana = support::panel::seed(&app, "Ana María Ñúñez O'Connor", "0991234567", "Netflix").await;
    customer_says(&app, "3EB0BRW0001", "quiero hablar con un asesor").await;
    app.settle().await;

    let (_driver, driver_url) = start_driver(&chromedriver).await;
    let client = browser_at(&driver_url, &chromium, 390, 844).await;
    log_in(&client, &app).await;

    // The Bandeja lists her; "Responder" opens her reply box.
    client.goto(&app.url("/admin/inbox")).await.unwrap();
    let entry = client
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css("li.inbox-entry"))
        .await
        .unwrap();
    assert!(entry.text().await.unwrap().contains("Ñúñez"));
    screenshot(&client, "inbox-390").await;
    fits(&client, "inbox").await;
    entry
        .find(Locator::Css("a.button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for_path(&client, &format!("/admin/clients/{}", ana.client_id)).await;
    let text = "Hola Ana, soy Marta. Ya renové tu cuenta 👍";
    client
        .find(Locator::Id("reply-body"))
        .await
        .unwrap()
        .send_keys(text)
        .await
        .unwrap();
    screenshot(&client, "reply-390").await;
    fits(&client, "client page with the reply box").await;
    client
        .find(Locator::Css("button.send-reply"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    // Back on her page: the reply in the conversation, by this staff member.
    let conversation = client
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css("#conversation .msg-out .sender"))
        .await
        .unwrap();
    assert_eq!(conversation.text().await.unwrap(), support::panel::EMAIL);
    app.settle().await;
    let to_ana: Vec<String> = app
        .sent()
        .await
        .iter()
        .filter(|b| b["to"] == ANA)
        .map(|b| b["text"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(
        to_ana.iter().filter(|t| t.as_str() == text).count(),
        1,
        "sent once: {to_ana:?}"
    );

    // She writes again while staff have the chat: back in the Bandeja,
    // unanswered; "Resuelto" closes it.
    customer_says(&app, "3EB0BRW0002", "gracias!! y la clave?").await;
    app.settle().await;
    client.goto(&app.url("/admin/inbox")).await.unwrap();
    let resolve = client
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css("li.inbox-entry button.resolve"))
        .await
        .unwrap();
    resolve.click().await.unwrap();
    client
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Id("inbox-empty"))
        .await
        .expect("the inbox is empty after Resuelto");
    screenshot(&client, "inbox-resolved-390").await;
    fits(&client, "inbox resolved").await;
    client.close().await.unwrap();
    app.cleanup().await;
}
