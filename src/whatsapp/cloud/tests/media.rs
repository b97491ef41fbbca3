//! Inbound files and the number's state.

use super::*;

const MEDIA_ID: &str = "1037543291543636";

async fn media_server(file_size: usize) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/v24.0/{MEDIA_ID}")))
        .and(header("authorization", BEARER))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "url": format!("{}/lookaside/whatsapp_business/attachments/?mid={MEDIA_ID}&ext=1&hash=x", server.uri()),
            "mime_type": "image/jpeg",
            "sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "file_size": file_size,
            "id": MEDIA_ID,
            "messaging_product": "whatsapp",
        })))
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn media_is_looked_up_then_downloaded_with_the_token() {
    let server = media_server(7).await;
    Mock::given(method("GET"))
        .and(path("/lookaside/whatsapp_business/attachments/"))
        .and(query_param("mid", MEDIA_ID))
        .and(header("authorization", BEARER))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(b"\xFF\xD8\xFFhola".to_vec()))
        .expect(1)
        .mount(&server)
        .await;
    let provider = provider(&server, TemplateMap::new());
    let bytes = provider.fetch_media(MEDIA_ID, 1024).await.unwrap();
    assert_eq!(bytes, b"\xFF\xD8\xFFhola");
    server.verify().await;
}

#[tokio::test]
async fn media_over_the_limit_is_not_downloaded() {
    let server = media_server(5_000_000).await;
    Mock::given(method("GET"))
        .and(path("/lookaside/whatsapp_business/attachments/"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(vec![0u8; 16]))
        .expect(0)
        .mount(&server)
        .await;
    let provider = provider(&server, TemplateMap::new());
    assert_eq!(
        provider.fetch_media(MEDIA_ID, 1024).await,
        Err(MediaError::TooLarge { limit: 1024 })
    );
    server.verify().await;
}

#[tokio::test]
async fn gone_and_failing_media() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v24.0/404404"))
        .respond_with(meta_error(404, 100, "Unsupported get request.", ""))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v24.0/500500"))
        .respond_with(ResponseTemplate::new(500))
        .mount(&server)
        .await;
    let provider = provider(&server, TemplateMap::new());
    assert!(matches!(
        provider.fetch_media("404404", 1024).await,
        Err(MediaError::Gone { .. })
    ));
    assert!(matches!(
        provider.fetch_media("500500", 1024).await,
        Err(MediaError::Transient { .. })
    ));
    // Not a media id: no request at all.
    assert!(matches!(
        provider
            .fetch_media("../106540352242922/messages", 1024)
            .await,
        Err(MediaError::Gone { .. })
    ));
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
}

#[tokio::test]
async fn session_state_reads_the_quality_rating() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/v24.0/{NUMBER}")))
        .and(query_param("fields", "display_phone_number,quality_rating"))
        .and(header("authorization", BEARER))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "display_phone_number": "+593 99 123 4567", "quality_rating": "GREEN", "id": NUMBER,
        })))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": NUMBER})))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(meta_error(401, 190, "Error validating access token", ""))
        .mount(&server)
        .await;
    let provider = provider(&server, TemplateMap::new());
    let report = |raw: &str| SessionReport {
        connected: true,
        raw: raw.into(),
    };
    assert_eq!(
        provider.session_state().await,
        Ok(report("quality_rating GREEN"))
    );
    assert_eq!(provider.session_state().await, Ok(report("ok")));
    let error = provider.session_state().await.unwrap_err();
    assert_eq!(
        error,
        SendError::Unauthorized {
            message: "(#190) Error validating access token".into()
        }
    );
}
