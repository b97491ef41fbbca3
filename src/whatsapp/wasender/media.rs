//! Files through WaSender: an inbound file's one-hour link
//! (`POST {base}/decrypt-media` with the message's media fields →
//! `publicUrl`), its download (streamed, with a hard cap), and the body of
//! a send with a file (`imageUrl`, or `documentUrl` + `fileName`).

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use serde_json::Value;

use super::WasenderProvider;
use crate::domain::Phone;
use crate::whatsapp::http::{
    download_limited, file_link, media_refused as refused, media_transport as transport,
    read_limited,
};
use crate::whatsapp::{Attachment, AttachmentKind, MediaError};

/// `send-message` with a file: a photo, or a document with its name; the
/// text is the caption.
pub(super) fn send_body(to: &Phone, text: &str, attachment: &Attachment) -> Value {
    match attachment.kind {
        AttachmentKind::Image => serde_json::json!({
            "to": to.as_str(), "text": text, "imageUrl": attachment.url,
        }),
        AttachmentKind::Document => serde_json::json!({
            "to": to.as_str(), "text": text, "documentUrl": attachment.url,
            "fileName": attachment.file_name,
        }),
    }
}

impl WasenderProvider {
    /// The file's download link (it lives an hour).
    pub(super) async fn decrypt(&self, source: &str) -> Result<String, MediaError> {
        let response = self
            .client
            .post(self.decrypt_url.clone())
            .header(
                AUTHORIZATION,
                self.auth_header().map_err(|e| MediaError::Gone {
                    message: e.to_string(),
                })?,
            )
            .header(CONTENT_TYPE, "application/json")
            .body(source.to_string())
            .send()
            .await
            .map_err(|e| transport(&e))?;
        let status = response.status();
        let body = read_limited(response).await.map_err(|e| transport(&e))?;
        if !status.is_success() {
            return Err(refused("decrypt-media", status, &body));
        }
        let json: Option<Value> = serde_json::from_slice(&body).ok();
        let url = json.as_ref().and_then(|j| {
            j.get("publicUrl")
                .or_else(|| j.get("data").and_then(|d| d.get("publicUrl")))
                .and_then(Value::as_str)
        });
        file_link(url, "decrypt-media answered without a publicUrl", &body)
    }

    /// Reads the file at `url`, at most `limit` bytes.
    pub(super) async fn download(&self, url: &str, limit: usize) -> Result<Vec<u8>, MediaError> {
        download_limited(self.download.get(url), limit).await
    }
}

#[cfg(test)]
mod tests {
    use secrecy::SecretString;
    use serde_json::json;
    use wiremock::matchers::{body_json, header, method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    use super::*;
    use std::time::Duration;

    use crate::domain::Region;
    use crate::whatsapp::Provider;

    const KEY: &str = "wsk_test_media";

    async fn provider(server: &MockServer) -> WasenderProvider {
        WasenderProvider::new(
            reqwest::Url::parse(&format!("{}/api", server.uri())).unwrap(),
            SecretString::from(KEY.to_string()),
            Duration::from_secs(5),
        )
        .unwrap()
    }

    fn source(server: &MockServer) -> String {
        json!({"data": {"messages": {"key": {"id": "3EB0IMG"}, "message": {"imageMessage":
            {"url": format!("{}/enc", server.uri()), "mediaKey": "k"}}}}})
        .to_string()
    }

    async fn decrypt_answers(server: &MockServer, file_path: &str) {
        Mock::given(method("POST"))
            .and(path("/api/decrypt-media"))
            .and(header("authorization", format!("Bearer {KEY}").as_str()))
            .and(body_json(
                serde_json::from_str::<Value>(&source(server)).unwrap(),
            ))
            .respond_with(ResponseTemplate::new(200).set_body_json(
                json!({"success": true, "publicUrl": format!("{}{file_path}", server.uri())}),
            ))
            .mount(server)
            .await;
    }

    #[tokio::test]
    async fn a_file_is_decrypted_then_downloaded() {
        let server = MockServer::start().await;
        decrypt_answers(&server, "/files/a.jpg").await;
        Mock::given(method("GET"))
            .and(path("/files/a.jpg"))
            .respond_with(ResponseTemplate::new(200).set_body_bytes(b"\xFF\xD8\xFFhola".to_vec()))
            .mount(&server)
            .await;
        let provider = provider(&server).await;
        let bytes = provider.fetch_media(&source(&server), 1024).await.unwrap();
        assert_eq!(bytes, b"\xFF\xD8\xFFhola");
    }

    #[tokio::test]
    async fn too_large_expired_and_failing_links() {
        let server = MockServer::start().await;
        decrypt_answers(&server, "/files/big").await;
        Mock::given(method("GET"))
            .and(path("/files/big"))
            .respond_with(ResponseTemplate::new(200).set_body_bytes(vec![7u8; 2048]))
            .mount(&server)
            .await;
        let provider = provider(&server).await;
        assert_eq!(
            provider.fetch_media(&source(&server), 1024).await,
            Err(MediaError::TooLarge { limit: 1024 })
        );
        for (status, transient) in [(404, false), (403, false), (503, true), (429, true)] {
            let gone = format!("/files/{status}");
            Mock::given(method("GET"))
                .and(path(gone.as_str()))
                .respond_with(ResponseTemplate::new(status))
                .mount(&server)
                .await;
            let error = provider
                .download(&format!("{}{gone}", server.uri()), 1024)
                .await
                .unwrap_err();
            assert_eq!(
                matches!(error, MediaError::Transient { .. }),
                transient,
                "{status}: {error}"
            );
        }
    }

    #[tokio::test]
    async fn decrypt_refusals_are_classified() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/api/decrypt-media"))
            .respond_with(ResponseTemplate::new(422).set_body_json(json!({"message": "bad"})))
            .up_to_n_times(1)
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path("/api/decrypt-media"))
            .respond_with(ResponseTemplate::new(502))
            .up_to_n_times(1)
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path("/api/decrypt-media"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"success": true})))
            .mount(&server)
            .await;
        let provider = provider(&server).await;
        let source = source(&server);
        assert!(matches!(
            provider.decrypt(&source).await,
            Err(MediaError::Gone { .. })
        ));
        assert!(matches!(
            provider.decrypt(&source).await,
            Err(MediaError::Transient { .. })
        ));
        assert!(matches!(
            provider.decrypt(&source).await,
            Err(MediaError::Gone { .. })
        ));
    }

    #[test]
    fn sends_carry_a_photo_or_a_document() {
        let to = Phone::parse("+593991234567", Region::default()).unwrap();
        let photo = Attachment {
            url: "https://x/media/1?exp=1&sig=a".into(),
            kind: AttachmentKind::Image,
            file_name: "archivo.jpg".into(),
        };
        assert_eq!(
            send_body(&to, "Comprobante", &photo),
            json!({"to": "+593991234567", "text": "Comprobante",
                "imageUrl": "https://x/media/1?exp=1&sig=a"})
        );
        let document = Attachment {
            kind: AttachmentKind::Document,
            file_name: "recibo.pdf".into(),
            ..photo
        };
        assert_eq!(
            send_body(&to, "Comprobante", &document),
            json!({"to": "+593991234567", "text": "Comprobante",
                "documentUrl": "https://x/media/1?exp=1&sig=a", "fileName": "recibo.pdf"})
        );
    }
}
