//! The staff panel's messages log: the filters of `MessageFilter` plus a
//! search in the message text (case and accents ignored), each row with its
//! client's name; one page of it, or every matching row for the CSV.
//!
//! The text search is a scan of `body` in the log's newest-first order:
//! SQLite's `GLOB` and PostgreSQL's `~` with one character class per letter
//! holding its cases and accented forms (`[eEéÉèÈ…]`), every other character
//! taken literally; on SQLite a plain `LIKE` picks the candidates first
//! (`GLOB` with classes is ~20 times slower per row). No index: a page stops
//! at its `LIMIT`; with a text search the count stops at [`COUNT_CAP`].

use async_trait::async_trait;
use serde::Serialize;

use super::backend::{PoolRef, SqlStore};
use super::{MessageFilter, MessageRow, StoreResult};

/// The log's filters and the text to look for (trimmed; `None`: any).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MessageSearch {
    pub filter: MessageFilter,
    pub text: Option<String>,
}

/// A message of the log and the name of its client, if it has one.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, Serialize)]
pub struct MessageLogRow {
    #[sqlx(flatten)]
    #[serde(flatten)]
    pub message: MessageRow,
    pub client_name: Option<String>,
}

/// One page of the log, newest first, and how many rows match in all.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MessageLogPage {
    pub rows: Vec<MessageLogRow>,
    pub total: i64,
    /// A text search matched more than `total` (= [`COUNT_CAP`]) rows.
    pub more: bool,
}

/// Letters that also match their accented forms (lowercase base → variants).
const ACCENTED: [(char, &str); 7] = [
    ('a', "aáàâäãå"),
    ('e', "eéèêë"),
    ('i', "iíìîï"),
    ('o', "oóòôöõ"),
    ('u', "uúùûü"),
    ('n', "nñ"),
    ('c', "cç"),
];

/// Every spelling of one character of the folded needle: its accented
/// forms in both cases for a letter, else the character alone.
fn variants(c: char) -> Vec<char> {
    let lower: Vec<char> = match ACCENTED.iter().find(|(base, _)| *base == c) {
        Some((_, forms)) => forms.chars().collect(),
        None => vec![c],
    };
    let mut all = Vec::new();
    for form in lower {
        let mut upper = form.to_uppercase();
        let upper = match (upper.next(), upper.next()) {
            (Some(u), None) => Some(u),
            _ => None,
        };
        for v in std::iter::once(form).chain(upper) {
            if !all.contains(&v) {
                all.push(v);
            }
        }
    }
    all
}

/// `needle` as a SQLite `GLOB` pattern matching it anywhere, case and
/// accents ignored; `*`, `?` and `[` are literal.
pub fn glob_pattern(needle: &str) -> String {
    let mut out = String::from("*");
    for c in super::fold(needle).chars() {
        let forms = variants(c);
        if forms.len() > 1 {
            out.push('[');
            out.extend(forms);
            out.push(']');
        } else if matches!(c, '*' | '?' | '[') {
            out.push('[');
            out.push(c);
            out.push(']');
        } else {
            out.push(c);
        }
    }
    out.push('*');
    out
}

/// `needle` as a PostgreSQL regular expression matching it anywhere, case
/// and accents ignored; every character that is not a letter or digit is
/// escaped (literal).
pub fn regex_pattern(needle: &str) -> String {
    let mut out = String::new();
    for c in super::fold(needle).chars() {
        let forms = variants(c);
        if forms.len() > 1 {
            out.push('[');
            out.extend(forms);
            out.push(']');
        } else if c.is_alphanumeric() {
            out.push(c);
        } else {
            out.push('\\');
            out.push(c);
        }
    }
    out
}

macro_rules! log_where {
    ($text:literal) => {
        concat!(
            " WHERE ($1 IS NULL OR m.phone = $1) AND ($2 IS NULL OR m.kind = $2) \
             AND ($3 IS NULL OR m.status = $3) AND ($4 IS NULL OR m.direction = $4) \
             AND ($5 IS NULL OR m.created_at >= $5) AND ($6 IS NULL OR m.created_at < $6) \
             AND ",
            $text
        )
    };
}
macro_rules! log_rows {
    ($text:literal, $limit:literal) => {
        concat!(
            "SELECT m.id, m.direction, m.phone, m.client_id, m.kind, m.body, m.media_kind, \
             m.status, m.automatic, m.priority, m.provider_message_id, m.wa_message_id, \
             m.attempts, m.error, m.permanent_failure, m.next_attempt_at, m.created_at, \
             m.updated_at, m.sent_at, m.rate_limits, c.name AS client_name \
             FROM messages m LEFT JOIN clients c ON c.id = m.client_id",
            log_where!($text),
            " ORDER BY m.id DESC ",
            $limit
        )
    };
}
/// The exact count without a text search; with one, counting stops at
/// `COUNT_CAP + 1` matches (a scan of every row per page is what a text
/// search costs; the page itself stops at its `LIMIT`).
macro_rules! log_counts {
    ($text:literal) => {
        (
            concat!("SELECT COUNT(*) FROM messages m", log_where!($text)),
            concat!(
                "SELECT COUNT(*) FROM (SELECT 1 FROM messages m",
                log_where!($text),
                " LIMIT 1001) t"
            ),
        )
    };
}

/// With a text search the total is counted up to this many (and
/// [`MessageLogPage::more`] says there are more).
pub const COUNT_CAP: i64 = 1000;

/// SQLite: a cheap `LIKE` first (ASCII case ignored, any letter that has
/// accented forms and any other non-ASCII character as `_`), then the
/// exact `GLOB` on the rows it lets through.
const SQLITE_ROWS: &str = log_rows!(
    "($7 IS NULL OR (m.body LIKE $8 ESCAPE '\\' AND m.body GLOB $7))",
    "LIMIT $9 OFFSET $10"
);
const SQLITE_COUNTS: (&str, &str) =
    log_counts!("($7 IS NULL OR (m.body LIKE $8 ESCAPE '\\' AND m.body GLOB $7))");
const PG_ROWS: &str = log_rows!("($7::text IS NULL OR m.body ~ $7)", "LIMIT $8 OFFSET $9");
const PG_COUNTS: (&str, &str) = log_counts!("($7::text IS NULL OR m.body ~ $7)");

/// `needle` as the `LIKE` pattern that pre-selects rows for
/// [`glob_pattern`]: `%`, `_` and `\` escaped.
pub fn like_prefilter(needle: &str) -> String {
    let mut out = String::from("%");
    for c in super::fold(needle).chars() {
        if !c.is_ascii() || variants(c).len() > 2 {
            out.push('_');
        } else {
            if matches!(c, '%' | '_' | '\\') {
                out.push('\\');
            }
            out.push(c);
        }
    }
    out.push('%');
    out
}

/// The total when the first page already holds every match (a short first
/// page): no second scan to count them.
fn counted(rows: &[MessageLogRow], limit: i64, offset: i64) -> Option<i64> {
    let n = i64::try_from(rows.len()).unwrap_or(i64::MAX);
    (offset == 0 && n < limit).then_some(n)
}

/// Binds the search's values as `$1`…`$7` to a query.
macro_rules! bind_search {
    ($query:expr, $search:expr, $pattern:expr) => {
        $query
            .bind(&$search.filter.phone)
            .bind(&$search.filter.kind)
            .bind(&$search.filter.status)
            .bind(&$search.filter.direction)
            .bind($search.filter.from)
            .bind($search.filter.until)
            .bind($pattern)
    };
}

#[async_trait]
pub trait MessageLogStore {
    /// Messages matching `search`, newest first, `limit` from `offset`,
    /// with the total number that match.
    async fn message_log_search(
        &self,
        search: &MessageSearch,
        limit: i64,
        offset: i64,
    ) -> StoreResult<MessageLogPage>;
    /// The first `limit` messages matching `search`, newest first (the CSV).
    async fn message_log_rows(
        &self,
        search: &MessageSearch,
        limit: i64,
    ) -> StoreResult<Vec<MessageLogRow>>;
}

#[async_trait]
impl<S: SqlStore> MessageLogStore for S {
    async fn message_log_search(
        &self,
        search: &MessageSearch,
        limit: i64,
        offset: i64,
    ) -> StoreResult<MessageLogPage> {
        let text = search.text.as_deref();
        let pick = |(exact, capped): (&'static str, &'static str)| {
            if text.is_some() { capped } else { exact }
        };
        let (rows, total) = match self.pool_ref() {
            PoolRef::Sqlite(pool) => {
                let pattern = text.map(glob_pattern);
                let like = text.map(like_prefilter);
                let rows: Vec<MessageLogRow> =
                    bind_search!(sqlx::query_as(SQLITE_ROWS), search, &pattern)
                        .bind(&like)
                        .bind(limit)
                        .bind(offset)
                        .fetch_all(pool)
                        .await?;
                let total = match counted(&rows, limit, offset) {
                    Some(total) => total,
                    None => {
                        let count = sqlx::query_scalar(pick(SQLITE_COUNTS));
                        bind_search!(count, search, &pattern)
                            .bind(&like)
                            .fetch_one(pool)
                            .await?
                    }
                };
                (rows, total)
            }
            PoolRef::Postgres(pool) => {
                let pattern = text.map(regex_pattern);
                let rows: Vec<MessageLogRow> =
                    bind_search!(sqlx::query_as(PG_ROWS), search, &pattern)
                        .bind(limit)
                        .bind(offset)
                        .fetch_all(pool)
                        .await?;
                let total = match counted(&rows, limit, offset) {
                    Some(total) => total,
                    None => {
                        let count = sqlx::query_scalar(pick(PG_COUNTS));
                        bind_search!(count, search, &pattern)
                            .fetch_one(pool)
                            .await?
                    }
                };
                (rows, total)
            }
        };
        let more = text.is_some() && total > COUNT_CAP;
        Ok(MessageLogPage {
            rows,
            total: if more { COUNT_CAP } else { total },
            more,
        })
    }

    async fn message_log_rows(
        &self,
        search: &MessageSearch,
        limit: i64,
    ) -> StoreResult<Vec<MessageLogRow>> {
        let text = search.text.as_deref();
        Ok(match self.pool_ref() {
            PoolRef::Sqlite(pool) => {
                let pattern = text.map(glob_pattern);
                let like = text.map(like_prefilter);
                bind_search!(sqlx::query_as(SQLITE_ROWS), search, &pattern)
                    .bind(&like)
                    .bind(limit)
                    .bind(0_i64)
                    .fetch_all(pool)
                    .await?
            }
            PoolRef::Postgres(pool) => {
                let pattern = text.map(regex_pattern);
                bind_search!(sqlx::query_as(PG_ROWS), search, &pattern)
                    .bind(limit)
                    .bind(0_i64)
                    .fetch_all(pool)
                    .await?
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_ignore_case_and_accents_and_take_the_rest_literally() {
        assert_eq!(
            glob_pattern("Año"),
            "*[aAáÁàÀâÂäÄãÃåÅ][nNñÑ][oOóÓòÒôÔöÖõÕ]*"
        );
        assert_eq!(glob_pattern("5*?[%_'"), "*5[*][?][[]%_'*");
        assert_eq!(regex_pattern("b.%_'<"), "[bB]\\.\\%\\_\\'\\<");
        assert_eq!(regex_pattern("x 1"), "[xX]\\ 1");
        assert!(regex_pattern("É").starts_with("[eE"));
        assert_eq!(like_prefilter("Mañana 50%_\\x"), "%m_____ 50\\%\\_\\\\x%");
        assert_eq!(like_prefilter("Brr"), "%brr%");
    }
}
