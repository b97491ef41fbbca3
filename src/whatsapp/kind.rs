//! Which provider carries the messages (`AVISA_PROVIDER`).

/// The providers avisa can send through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProviderKind {
    /// WaSender, a hosted gateway (`WASENDER_*`).
    Wasender,
    /// Meta's official WhatsApp Cloud API (`WHATSAPP_*`).
    Cloud,
    /// A self-hosted WAHA gateway (`WAHA_*`).
    Waha,
    /// Prints messages instead of sending them.
    Console,
}

impl ProviderKind {
    pub const ALL: [ProviderKind; 4] = [
        ProviderKind::Wasender,
        ProviderKind::Cloud,
        ProviderKind::Waha,
        ProviderKind::Console,
    ];

    /// The setting's value (`wasender`, `cloud`, `waha`, `console`).
    pub fn code(self) -> &'static str {
        match self {
            ProviderKind::Wasender => "wasender",
            ProviderKind::Cloud => "cloud",
            ProviderKind::Waha => "waha",
            ProviderKind::Console => "console",
        }
    }

    pub fn parse(value: &str) -> Option<ProviderKind> {
        let value = value.trim();
        Self::ALL
            .into_iter()
            .find(|kind| kind.code().eq_ignore_ascii_case(value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for kind in ProviderKind::ALL {
            assert_eq!(ProviderKind::parse(kind.code()), Some(kind));
        }
        assert_eq!(ProviderKind::parse(" Cloud "), Some(ProviderKind::Cloud));
        assert_eq!(ProviderKind::parse("twilio"), None);
    }
}
