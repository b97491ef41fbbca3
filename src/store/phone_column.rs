//! [`Phone`] as a TEXT column: bound as its E.164 text and decoded once
//! from the row, so nothing above the store parses a stored number again.
//!
//! Every row is written from a `Phone`, so a stored number is always E.164.
//! A value that is not (a row edited by hand) is a decode error naming the
//! column and the text: the read fails loudly instead of acting on a number
//! that cannot be right.

use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;

use crate::domain::Phone;

impl<DB: sqlx::Database> sqlx::Type<DB> for Phone
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

impl<'q, DB: sqlx::Database> sqlx::Encode<'q, DB> for Phone
where
    String: sqlx::Encode<'q, DB>,
{
    fn encode_by_ref(
        &self,
        buf: &mut <DB as sqlx::Database>::ArgumentBuffer,
    ) -> Result<IsNull, BoxDynError> {
        <String as sqlx::Encode<'q, DB>>::encode(self.as_str().to_string(), buf)
    }
}

impl<'r, DB: sqlx::Database> sqlx::Decode<'r, DB> for Phone
where
    &'r str: sqlx::Decode<'r, DB>,
{
    fn decode(value: DB::ValueRef<'r>) -> Result<Self, BoxDynError> {
        let text = <&'r str as sqlx::Decode<'r, DB>>::decode(value)?;
        Ok(Phone::from_e164(text.to_string())?)
    }
}

#[cfg(test)]
mod tests {
    use crate::domain::Phone;

    #[tokio::test]
    async fn a_stored_number_is_decoded_once_and_a_bad_one_is_a_clear_error() {
        let pool = sqlx::SqlitePool::connect("sqlite::memory:").await.unwrap();
        let phone = Phone::from_e164("+593991234567".into()).unwrap();
        let back: Phone = sqlx::query_scalar("SELECT CAST($1 AS TEXT)")
            .bind(&phone)
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(back, phone);
        let error = sqlx::query_scalar::<_, Phone>("SELECT '0991234567'")
            .fetch_one(&pool)
            .await
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("`0991234567` could not be read as a phone number"),
            "{error}"
        );
    }
}
