//! How each of Meta's answers is classified.

use super::*;

async fn send_with(response: ResponseTemplate) -> SendError {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(response)
        .mount(&server)
        .await;
    let provider = provider(&server, TemplateMap::new());
    provider.send_text(&phone(), "Hola").await.unwrap_err()
}

#[tokio::test]
async fn every_error_class() {
    let limited = |secs| {
        move |e: &SendError| {
            matches!(e, SendError::RateLimited { .. })
                && e.retry_after() == Some(Duration::from_secs(secs))
        }
    };
    let transient = |e: &SendError| matches!(e, SendError::Transient { .. });
    let unauthorized = |e: &SendError| matches!(e, SendError::Unauthorized { .. });
    type Check = Box<dyn Fn(&SendError) -> bool>;
    let cases: Vec<(ResponseTemplate, Check)> = vec![
        (ResponseTemplate::new(429), Box::new(limited(60))),
        (
            ResponseTemplate::new(429).insert_header("Retry-After", "7"),
            Box::new(limited(7)),
        ),
        (
            meta_error(
                400,
                130429,
                "(#130429) Rate limit hit",
                "Cloud API message throughput has been reached.",
            ),
            Box::new(limited(60)),
        ),
        (
            meta_error(
                400,
                131056,
                "(#131056) (Business Account, Consumer Account) pair rate limit hit",
                "",
            ),
            Box::new(limited(10)),
        ),
        (
            meta_error(400, 131056, "pair rate limit hit", "").insert_header("Retry-After", "3"),
            Box::new(limited(3)),
        ),
        (
            meta_error(400, 80007, "Rate limit issues", ""),
            Box::new(limited(60)),
        ),
        (
            meta_error(403, 4, "(#4) Application request limit reached", ""),
            Box::new(limited(60)),
        ),
        (
            ResponseTemplate::new(500).set_body_string("oops"),
            Box::new(transient),
        ),
        (ResponseTemplate::new(503), Box::new(transient)),
        (
            meta_error(400, 131000, "Something went wrong", ""),
            Box::new(transient),
        ),
        (
            meta_error(400, 131016, "Service unavailable", ""),
            Box::new(transient),
        ),
        (ResponseTemplate::new(401), Box::new(unauthorized)),
        (
            meta_error(
                401,
                190,
                "Error validating access token: Session has expired",
                "",
            ),
            Box::new(unauthorized),
        ),
        (
            meta_error(400, 190, "Invalid OAuth access token", ""),
            Box::new(unauthorized),
        ),
        (
            meta_error(403, 200, "(#200) Permissions error", ""),
            Box::new(unauthorized),
        ),
    ];
    for (i, (response, expected)) in cases.into_iter().enumerate() {
        let error = send_with(response).await;
        assert!(expected(&error), "case {i}: {error:?}");
    }
    let error = send_with(meta_error(
        400,
        100,
        "(#100) Invalid parameter",
        "Parameter value is not valid: to <script>",
    ))
    .await;
    assert_eq!(
        error,
        SendError::Rejected {
            status: 400,
            message: "(#100) Invalid parameter: Parameter value is not valid: to <script>".into(),
        }
    );
}

#[tokio::test]
async fn an_unreadable_success_is_still_sent() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_string("<html>ok</html>"))
        .mount(&server)
        .await;
    let provider = provider(&server, TemplateMap::new());
    let sent = provider.send_text(&phone(), "Hola").await.unwrap();
    assert_eq!(sent, Sent::default());
}

#[tokio::test]
async fn connection_refused_is_transient_and_a_hang_is_unknown() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let provider = CloudProvider::new(settings(
        &format!("http://127.0.0.1:{port}"),
        TemplateMap::new(),
    ))
    .unwrap();
    let error = provider.send_text(&phone(), "Hola").await.unwrap_err();
    assert!(matches!(error, SendError::Transient { .. }), "{error:?}");
    assert!(!error.message().contains(TOKEN));

    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(accepted("wamid.LATE").set_delay(Duration::from_secs(3)))
        .mount(&server)
        .await;
    let mut hanging = settings(&server.uri(), TemplateMap::new());
    hanging.timeout = Duration::from_millis(300);
    let provider = CloudProvider::new(hanging).unwrap();
    let started = Instant::now();
    let error = provider.send_text(&phone(), "Hola").await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(matches!(error, SendError::Unknown { .. }), "{error:?}");
}

#[test]
fn metas_words_are_kept_without_repeating_the_code() {
    use classify::MetaError;
    let describe = |v: Value| MetaError::from_json(&v).unwrap().describe();
    assert_eq!(
        describe(
            json!({"error": {"code": 131047, "message": "Re-engagement message",
            "error_data": {"details": "24 hours"}}})
        ),
        "(#131047) Re-engagement message: 24 hours"
    );
    assert_eq!(
        describe(
            json!({"error": {"code": "100", "message": "(#100) Invalid parameter",
            "error_data": {"details": "(#100) Invalid parameter"}}})
        ),
        "(#100) Invalid parameter"
    );
    assert_eq!(describe(json!({"error": {"code": 2}})), "(#2)");
    assert!(MetaError::from_json(&json!({"error": "nope"})).is_none());
}
