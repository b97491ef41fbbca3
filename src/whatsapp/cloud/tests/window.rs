//! Free text or template: the 24-hour window and the 131047 fallback.

use super::*;

#[tokio::test]
async fn text_goes_with_the_exact_request() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(MESSAGES))
        .and(header("authorization", BEARER))
        .and(header("content-type", "application/json"))
        .and(body_json(text_body("Hola José 👋 ¿renovamos?")))
        .respond_with(accepted("wamid.HBgLNTkzOTkxMjM0NTY3FQIAERgS"))
        .expect(1)
        .mount(&server)
        .await;
    let provider = provider(&server, TemplateMap::new());
    let to = phone();
    let sent = provider
        .send(&outgoing(&to, "Hola José 👋 ¿renovamos?", None, Some(1)))
        .await
        .unwrap();
    assert_eq!(
        sent,
        Sent {
            provider_id: Some("wamid.HBgLNTkzOTkxMjM0NTY3FQIAERgS".into()),
            template: None
        }
    );
    server.verify().await;
}

#[tokio::test]
async fn files_go_as_image_or_document_with_the_caption() {
    let server = MockServer::start().await;
    let url = "https://avisa.example/media/1?exp=1&sig=a";
    Mock::given(method("POST"))
        .and(path(MESSAGES))
        .and(header("authorization", BEARER))
        .and(body_json(json!({
            "messaging_product": "whatsapp", "recipient_type": "individual",
            "to": "593991234567", "type": "image",
            "image": {"link": url, "caption": "Tu comprobante"},
        })))
        .respond_with(accepted("wamid.IMG"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(MESSAGES))
        .and(body_json(json!({
            "messaging_product": "whatsapp", "recipient_type": "individual",
            "to": "593991234567", "type": "document",
            "document": {"link": url, "caption": "Tu recibo", "filename": "recibo_José.pdf"},
        })))
        .respond_with(accepted("wamid.DOC"))
        .expect(1)
        .mount(&server)
        .await;
    let provider = provider(&server, TemplateMap::new());
    let to = phone();
    let photo = Attachment {
        url: url.into(),
        kind: AttachmentKind::Image,
        file_name: "foto.jpg".into(),
    };
    let mut message = outgoing(&to, "Tu comprobante", None, Some(2));
    message.attachment = Some(&photo);
    let sent = provider.send(&message).await.unwrap();
    assert_eq!(sent.provider_id.as_deref(), Some("wamid.IMG"));
    let document = Attachment {
        kind: AttachmentKind::Document,
        file_name: "recibo_José.pdf".into(),
        ..photo
    };
    let sent = provider
        .send_media(&to, "Tu recibo", &document)
        .await
        .unwrap();
    assert_eq!(sent.provider_id.as_deref(), Some("wamid.DOC"));
    server.verify().await;
}

#[tokio::test]
async fn outside_the_window_only_the_template_goes() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(MESSAGES))
        .and(header("authorization", BEARER))
        .respond_with(accepted("wamid.TPL"))
        .mount(&server)
        .await;
    let provider = provider(&server, reminder_template());
    let (to, args) = (phone(), reminder_args());
    let sent = provider
        .send(&outgoing(&to, "Hola José", Some(&args), Some(25)))
        .await
        .unwrap();
    assert_eq!(
        sent,
        Sent {
            provider_id: Some("wamid.TPL".into()),
            template: Some("avisa_recordatorio".into())
        }
    );
    assert_eq!(received(&server).await, [reminder_template_body()]);
}

#[tokio::test]
async fn a_template_without_variables_has_no_components() {
    let server = accepting_server("wamid.N").await;
    let spec = TemplateSpec::parse(TemplateKind::Notice, "avisa_aviso:es").unwrap();
    let provider = provider(&server, [(TemplateKind::Notice, spec)].into());
    let to = phone();
    let args = TemplateArgs {
        kind: TemplateKind::Notice,
        vars: Default::default(),
    };
    // Never wrote at all: outside the window.
    let sent = provider
        .send(&outgoing(&to, "Aviso", Some(&args), None))
        .await
        .unwrap();
    assert_eq!(sent.template.as_deref(), Some("avisa_aviso"));
    assert_eq!(
        received(&server).await,
        [json!({
            "messaging_product": "whatsapp", "recipient_type": "individual",
            "to": "593991234567", "type": "template",
            "template": {"name": "avisa_aviso", "language": {"code": "es"}},
        })]
    );
}

#[tokio::test]
async fn inside_the_window_free_text_goes_even_with_a_template() {
    let server = accepting_server("wamid.T").await;
    let provider = provider(&server, reminder_template());
    let (to, args) = (phone(), reminder_args());
    let sent = provider
        .send(&outgoing(&to, "Hola José", Some(&args), Some(1)))
        .await
        .unwrap();
    assert_eq!(sent.template, None);
    assert_eq!(received(&server).await, [text_body("Hola José")]);
}

/// Every send accepted with WhatsApp id `id`.
async fn accepting_server(id: &str) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(accepted(id))
        .mount(&server)
        .await;
    server
}

/// Free text refused with 131047, templates accepted.
async fn closing_window_server() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(body_partial_json(json!({"type": "text"})))
        .respond_with(re_engagement())
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(body_partial_json(json!({"type": "template"})))
        .respond_with(accepted("wamid.FALLBACK"))
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn outside_the_window_without_a_template_says_why() {
    let server = closing_window_server().await;
    // A template for another kind does not help a reminder.
    let spec = TemplateSpec::parse(TemplateKind::Notice, "avisa_aviso:es").unwrap();
    let provider = provider(&server, [(TemplateKind::Notice, spec)].into());
    let (to, args) = (phone(), reminder_args());
    let error = provider
        .send(&outgoing(&to, "Hola José", Some(&args), Some(25)))
        .await
        .unwrap_err();
    assert_eq!(
        error,
        SendError::Rejected {
            status: 400,
            message: format!(
                "outside WhatsApp's 24-hour window and no approved template is configured for reminder: (#131047) Re-engagement message: {REENGAGEMENT_DETAILS}"
            ),
        }
    );
    assert_eq!(received(&server).await, [text_body("Hola José")]);

    // A reply or manual message has no template at all.
    let error = provider
        .send(&outgoing(&to, "¿Sigues ahí?", None, None))
        .await
        .unwrap_err();
    assert_eq!(
        error.message(),
        format!(
            "outside WhatsApp's 24-hour window: (#131047) Re-engagement message: {REENGAGEMENT_DETAILS}"
        )
    );
}

#[tokio::test]
async fn outside_the_window_free_text_may_still_go() {
    let server = accepting_server("wamid.OK").await;
    let provider = provider(&server, TemplateMap::new());
    let to = phone();
    let sent = provider
        .send(&outgoing(&to, "Hola", None, Some(30)))
        .await
        .unwrap();
    assert_eq!(sent.provider_id.as_deref(), Some("wamid.OK"));
    assert_eq!(received(&server).await, [text_body("Hola")]);
}

#[tokio::test]
async fn a_window_that_closed_meanwhile_falls_back_to_the_template_once() {
    let server = closing_window_server().await;
    let provider = provider(&server, reminder_template());
    let (to, args) = (phone(), reminder_args());
    let sent = provider
        .send(&outgoing(&to, "Hola José", Some(&args), Some(23)))
        .await
        .unwrap();
    assert_eq!(
        sent,
        Sent {
            provider_id: Some("wamid.FALLBACK".into()),
            template: Some("avisa_recordatorio".into())
        }
    );
    assert_eq!(
        received(&server).await,
        [text_body("Hola José"), reminder_template_body()]
    );
}

#[tokio::test]
async fn a_closed_window_without_a_template_keeps_metas_refusal() {
    let server = closing_window_server().await;
    let provider = provider(&server, TemplateMap::new());
    let (to, args) = (phone(), reminder_args());
    let error = provider
        .send(&outgoing(&to, "Hola José", Some(&args), Some(1)))
        .await
        .unwrap_err();
    assert_eq!(
        error,
        SendError::Rejected {
            status: 400,
            message: format!("(#131047) Re-engagement message: {REENGAGEMENT_DETAILS}"),
        }
    );
    assert_eq!(received(&server).await.len(), 1);
}

#[tokio::test]
async fn a_failing_fallback_template_is_that_error_and_nothing_more() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(body_partial_json(json!({"type": "text"})))
        .respond_with(re_engagement())
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(body_partial_json(json!({"type": "template"})))
        .respond_with(meta_error(
            404,
            132001,
            "(#132001) Template name does not exist in the translation",
            "template name (avisa_recordatorio) does not exist in es_MX",
        ))
        .mount(&server)
        .await;
    let provider = provider(&server, reminder_template());
    let (to, args) = (phone(), reminder_args());
    let error = provider
        .send(&outgoing(&to, "Hola José", Some(&args), Some(1)))
        .await
        .unwrap_err();
    assert_eq!(
        error,
        SendError::Rejected {
            status: 404,
            message: "(#132001) Template name does not exist in the translation: template name (avisa_recordatorio) does not exist in es_MX".into(),
        }
    );
    assert_eq!(received(&server).await.len(), 2);
}
