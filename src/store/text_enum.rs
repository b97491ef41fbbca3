//! Enums stored as text (`status`, `kind`, `direction`): decoded once from
//! the row, compared and matched as values everywhere above the store, and
//! serialized as their text for templates and JSON.

/// Declares `enum $name { $variant => "text", … }` with `as_str`,
/// `FromStr`, `Display`, `Serialize`, and sqlx
/// encoding to / decoding from a TEXT column on every backend (an unknown
/// text is a decode error naming it).
macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;

            fn from_str(text: &str) -> Result<Self, Self::Err> {
                match text {
                    $($text => Ok($name::$variant),)+
                    other => Err(format!("`{other}` is not a {}", stringify!($name))),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        // Only for the integration tests' assertions on stored text; code
        // in `src` compares enums (no literal is compared anywhere there).
        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }

        impl<DB: sqlx::Database> sqlx::Type<DB> for $name
        where
            str: sqlx::Type<DB>,
        {
            fn type_info() -> DB::TypeInfo {
                <str as sqlx::Type<DB>>::type_info()
            }

            fn compatible(ty: &DB::TypeInfo) -> bool {
                <str as sqlx::Type<DB>>::compatible(ty)
            }
        }

        impl<'q, DB: sqlx::Database> sqlx::Encode<'q, DB> for $name
        where
            &'q str: sqlx::Encode<'q, DB>,
        {
            fn encode_by_ref(
                &self,
                buf: &mut <DB as sqlx::Database>::ArgumentBuffer,
            ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
                let text: &'q str = self.as_str();
                <&'q str as sqlx::Encode<'q, DB>>::encode(text, buf)
            }
        }

        impl<'r, DB: sqlx::Database> sqlx::Decode<'r, DB> for $name
        where
            &'r str: sqlx::Decode<'r, DB>,
        {
            fn decode(value: DB::ValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
                let text = <&'r str as sqlx::Decode<'r, DB>>::decode(value)?;
                Ok(text.parse::<$name>()?)
            }
        }
    };
}

pub(crate) use text_enum;

#[cfg(test)]
mod tests {
    use crate::store::{Direction, MessageKind, MessageStatus, RequestStatus, SubscriptionStatus};

    #[test]
    fn every_value_round_trips_through_its_text() {
        for status in MessageStatus::ALL {
            assert_eq!(status.as_str().parse::<MessageStatus>(), Ok(*status));
            assert_eq!(serde_json::to_value(status).unwrap(), status.as_str());
        }
        for kind in MessageKind::ALL {
            assert_eq!(kind.as_str().parse::<MessageKind>(), Ok(*kind));
        }
        assert_eq!("in".parse::<Direction>(), Ok(Direction::In));
        assert_eq!(MessageStatus::Unknown.as_str(), "unknown");
    }

    #[test]
    fn an_unknown_text_is_an_error_naming_it() {
        let error = "sideways".parse::<Direction>().unwrap_err();
        assert!(
            error.contains("sideways") && error.contains("Direction"),
            "{error}"
        );
    }

    /// Binds each value, reads it back from a TEXT column and checks that a
    /// text outside the enum is a decode error naming the text and the type.
    async fn round_trips_through_sqlite<T>(pool: &sqlx::SqlitePool, all: &[T], name: &str)
    where
        T: Copy
            + PartialEq
            + std::fmt::Debug
            + Send
            + Unpin
            + for<'q> sqlx::Encode<'q, sqlx::Sqlite>
            + for<'r> sqlx::Decode<'r, sqlx::Sqlite>
            + sqlx::Type<sqlx::Sqlite>
            + 'static,
    {
        for value in all {
            let back: T = sqlx::query_scalar("SELECT CAST($1 AS TEXT)")
                .bind(*value)
                .fetch_one(pool)
                .await
                .unwrap();
            assert_eq!(back, *value);
        }
        let error = sqlx::query_scalar::<_, T>("SELECT 'sideways'")
            .fetch_one(pool)
            .await
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("`sideways` is not a") && error.contains(name),
            "{error}"
        );
    }

    #[tokio::test]
    async fn every_enum_is_decoded_from_its_stored_text() {
        let pool = sqlx::SqlitePool::connect("sqlite::memory:").await.unwrap();
        round_trips_through_sqlite(&pool, MessageStatus::ALL, "MessageStatus").await;
        round_trips_through_sqlite(&pool, MessageKind::ALL, "MessageKind").await;
        round_trips_through_sqlite(&pool, Direction::ALL, "Direction").await;
        round_trips_through_sqlite(&pool, SubscriptionStatus::ALL, "SubscriptionStatus").await;
        round_trips_through_sqlite(&pool, RequestStatus::ALL, "RequestStatus").await;
    }
}
