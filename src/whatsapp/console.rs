//! A provider that prints messages instead of sending them (no API key set).

use std::fmt;
use std::io::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;

use super::{Attachment, Provider, ProviderKind, SendError, Sent, SessionReport};
use crate::domain::Phone;

/// Prints each message to stdout (or a given writer) as a readable block and
/// answers with a synthetic id `console-<n>`, counting from 1 per process.
pub struct ConsoleProvider {
    counter: AtomicU64,
    out: Mutex<Box<dyn Write + Send>>,
}

impl ConsoleProvider {
    /// Prints to standard output.
    pub fn new() -> Self {
        Self::with_writer(Box::new(std::io::stdout()))
    }

    /// Prints to `out` instead (tests, or a log file).
    pub fn with_writer(out: Box<dyn Write + Send>) -> Self {
        ConsoleProvider {
            counter: AtomicU64::new(0),
            out: Mutex::new(out),
        }
    }
}

impl Default for ConsoleProvider {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for ConsoleProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConsoleProvider")
            .field("sent", &self.counter.load(Ordering::Relaxed))
            .finish()
    }
}

/// The block printed for one message.
fn render(id: &str, to: &Phone, text: &str) -> String {
    let header = format!("── WhatsApp (console) → {to} · {id} ");
    let width = header.chars().count().max(48);
    let mut block = String::with_capacity(text.len() + 2 * width + 8);
    block.push_str(&header);
    block.extend(std::iter::repeat_n('─', width - header.chars().count()));
    block.push('\n');
    for line in text.lines() {
        block.push_str("│ ");
        block.push_str(line);
        block.push('\n');
    }
    if text.is_empty() {
        block.push_str("│\n");
    }
    block.extend(std::iter::repeat_n('─', width));
    block.push_str("\n\n");
    block
}

#[async_trait]
impl Provider for ConsoleProvider {
    async fn send_text(&self, to: &Phone, text: &str) -> Result<Sent, SendError> {
        self.print(to, text)
    }

    /// The text, then the file's link (or its panel path).
    async fn send_media(
        &self,
        to: &Phone,
        text: &str,
        attachment: &Attachment,
    ) -> Result<Sent, SendError> {
        self.print(to, &format!("{text}\n📎 {}", attachment.url))
    }

    fn kind(&self) -> ProviderKind {
        ProviderKind::Console
    }

    async fn session_state(&self) -> Result<SessionReport, SendError> {
        Ok(SessionReport {
            connected: true,
            raw: "console".into(),
        })
    }
}

impl ConsoleProvider {
    fn print(&self, to: &Phone, text: &str) -> Result<Sent, SendError> {
        let n = self.counter.fetch_add(1, Ordering::Relaxed) + 1;
        let id = format!("console-{n}");
        let block = render(&id, to, text);
        // A poisoned lock only means another sender panicked mid-print.
        let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
        out.write_all(block.as_bytes())
            .and_then(|()| out.flush())
            .map_err(|e| SendError::Transient {
                message: format!("could not print the message: {e}"),
            })?;
        Ok(Sent {
            provider_id: Some(id),
            template: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::domain::Region;

    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn prints_each_message_and_numbers_the_ids() {
        let out = Shared::default();
        let provider = ConsoleProvider::with_writer(Box::new(out.clone()));
        let phone = Phone::parse("+593991234567", Region::default()).unwrap();
        assert!(provider.is_console());

        let first = provider
            .send_text(&phone, "Hola Ana\nvence hoy")
            .await
            .unwrap();
        let second = provider.send_text(&phone, "Gracias").await.unwrap();
        assert_eq!(first.provider_id.as_deref(), Some("console-1"));
        assert_eq!(second.provider_id.as_deref(), Some("console-2"));

        let printed = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        assert!(printed.contains("+593991234567 · console-1"));
        assert!(printed.contains("│ Hola Ana\n│ vence hoy\n"));
        assert!(printed.contains("│ Gracias\n"));
        assert!(format!("{provider:?}").contains("sent: 2"));

        // A file: its link printed under the text; nothing can be fetched.
        let receipt = Attachment {
            url: "/admin/media/7".into(),
            kind: crate::whatsapp::AttachmentKind::Image,
            file_name: "archivo.jpg".into(),
        };
        provider
            .send_media(&phone, "Comprobante", &receipt)
            .await
            .unwrap();
        let printed = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        assert!(
            printed.contains("│ Comprobante\n│ 📎 /admin/media/7\n"),
            "{printed}"
        );
        assert_eq!(
            provider.fetch_media("{}", 10).await,
            Err(crate::whatsapp::MediaError::Unsupported)
        );
    }
}
