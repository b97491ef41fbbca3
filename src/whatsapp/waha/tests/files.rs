//! `fetch_media`: WAHA's own file links with the key, foreign ones without.

use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use super::{KEY, provider_at};
use crate::whatsapp::{MediaError, Provider};

#[tokio::test]
async fn files_are_fetched_from_waha_with_the_key() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/files/default/3EB0.jpeg"))
        .and(header("x-api-key", KEY))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(b"\xFF\xD8\xFFhola".to_vec()))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/files/default/big.pdf"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(vec![7u8; 2048]))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/files/default/gone.jpeg"))
        .respond_with(ResponseTemplate::new(404).set_body_string("Not Found"))
        .mount(&server)
        .await;
    let provider = provider_at(&server.uri(), Some(KEY));
    let file = |name: &str| format!("{}/api/files/default/{name}", server.uri());
    assert_eq!(
        provider
            .fetch_media(&file("3EB0.jpeg"), 1024)
            .await
            .unwrap(),
        b"\xFF\xD8\xFFhola"
    );
    assert_eq!(
        provider.fetch_media(&file("big.pdf"), 1024).await,
        Err(MediaError::TooLarge { limit: 1024 })
    );
    assert!(matches!(
        provider.fetch_media(&file("gone.jpeg"), 1024).await,
        Err(MediaError::Gone { .. })
    ));
    for source in ["file:///etc/passwd", "ftp://waha/x", "not a url", ""] {
        assert!(
            matches!(
                provider.fetch_media(source, 1024).await,
                Err(MediaError::Gone { .. })
            ),
            "{source}"
        );
    }
}

#[tokio::test]
async fn the_key_never_goes_to_another_host() {
    let waha = MockServer::start().await;
    let storage = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/bucket/a.jpeg"))
        .respond_with(|request: &Request| {
            if request.headers.contains_key("x-api-key") {
                ResponseTemplate::new(500)
            } else {
                ResponseTemplate::new(200).set_body_bytes(b"s3".to_vec())
            }
        })
        .mount(&storage)
        .await;
    // Same host, other port: another origin.
    let provider = provider_at(&waha.uri(), Some(KEY));
    let bytes = provider
        .fetch_media(&format!("{}/bucket/a.jpeg", storage.uri()), 1024)
        .await
        .unwrap();
    assert_eq!(bytes, b"s3");
}

#[tokio::test]
async fn waha_links_to_its_own_localhost_are_read_from_the_configured_address() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/files/default/3EB0LOCAL.jpeg"))
        .and(header("x-api-key", KEY))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(b"\xFF\xD8\xFFlocal".to_vec()))
        .expect(1)
        .mount(&server)
        .await;
    let provider = provider_at(&server.uri(), Some(KEY));
    let link = "http://localhost:3000/api/files/default/3EB0LOCAL.jpeg";
    assert_eq!(
        provider.fetch_media(link, 1024).await.unwrap(),
        b"\xFF\xD8\xFFlocal"
    );
    // Anything else on localhost is not WAHA's file API: left alone (and
    // nothing listens there in this test).
    let other = "http://localhost:1/elsewhere/3EB0LOCAL.jpeg";
    assert!(provider.fetch_media(other, 1024).await.is_err());
}
