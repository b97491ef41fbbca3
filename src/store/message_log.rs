//! The staff panel's messages log: the filters of `MessageFilter` plus a
//! search in the message text (case and accents ignored), each row with its
//! client's name; one page of it, or every matching row for the CSV.
//!
//! The text search is a scan of `body` in the log's newest-first order:
//! SQLite's `GLOB` and PostgreSQL's `~` with one character class per letter
//! holding its cases and accented forms (`[eEéÉèÈ…]`), every other character
//! taken literally; on SQLite a plain `LIKE` picks the candidates first
//! (`GLOB` with classes is ~20 times slower per row). No index: a page stops
//! at its `LIMIT`; counts stop at [`COUNT_CAP`] ([`TEXT_COUNT_CAP`] with a
//! text search).

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

/// The log's columns, each message with its client's name.
const SELECT_ROWS: &str = "SELECT m.id, m.direction, m.phone, m.client_id, m.kind, m.body, \
     m.media_kind, m.status, m.automatic, m.priority, m.provider_message_id, m.wa_message_id, \
     m.attempts, m.error, m.permanent_failure, m.next_attempt_at, m.created_at, m.updated_at, \
     m.sent_at, m.rate_limits, m.media_id, m.sent_by, c.name AS client_name \
     FROM messages m LEFT JOIN clients c ON c.id = m.client_id";

/// Counting stops at this many matches (and [`MessageLogPage::more`] says
/// there are more): the log shows at most `COUNT_CAP / page size` pages.
pub const COUNT_CAP: i64 = 10_000;
/// With a text search, counting stops sooner: each row costs a pattern match.
pub const TEXT_COUNT_CAP: i64 = 1_000;

/// Appends ` WHERE …` with only the filters that are set, so each backend's
/// planner sees plain equalities and can use the indexes on phone, status
/// and created_at (an `$n IS NULL OR …` per filter hides them).
///
/// The text search: on SQLite a cheap `LIKE` first (ASCII case ignored, any
/// letter that has accented forms and any other non-ASCII character as
/// `_`), then the exact `GLOB` on the rows it lets through; on PostgreSQL
/// a regular expression.
macro_rules! push_where {
    ($qb:expr, $search:expr, $text:expr, sqlite) => {{
        push_where!(@filters $qb, $search);
        if let Some(text) = $text {
            $qb.push(" AND m.body LIKE ")
                .push_bind(like_prefilter(text))
                .push(" ESCAPE '\\' AND m.body GLOB ")
                .push_bind(glob_pattern(text));
        }
    }};
    ($qb:expr, $search:expr, $text:expr, postgres) => {{
        push_where!(@filters $qb, $search);
        if let Some(text) = $text {
            $qb.push(" AND m.body ~ ").push_bind(regex_pattern(text));
        }
    }};
    (@filters $qb:expr, $search:expr) => {{
        let filter = &$search.filter;
        $qb.push(" WHERE TRUE");
        if let Some(phone) = &filter.phone {
            $qb.push(" AND m.phone = ").push_bind(phone.clone());
        }
        if let Some(kind) = filter.kind {
            $qb.push(" AND m.kind = ").push_bind(kind);
        }
        if let Some(status) = filter.status {
            $qb.push(" AND m.status = ").push_bind(status);
        }
        if let Some(direction) = filter.direction {
            $qb.push(" AND m.direction = ").push_bind(direction);
        }
        if let Some(from) = filter.from {
            $qb.push(" AND m.created_at >= ").push_bind(from);
        }
        if let Some(until) = filter.until {
            $qb.push(" AND m.created_at < ").push_bind(until);
        }
    }};
}

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

/// Runs the log's query on one backend: a page of rows (`offset: None`
/// lists the first `limit`), or with `count` the number of matches up to
/// `cap + 1`.
macro_rules! log_query {
    ($pool:expr, $db:ty, $dialect:ident, $search:expr, rows($limit:expr, $offset:expr)) => {{
        let mut qb = sqlx::QueryBuilder::<$db>::new(SELECT_ROWS);
        push_where!(qb, $search, $search.text.as_deref(), $dialect);
        qb.push(" ORDER BY m.id DESC LIMIT ")
            .push_bind($limit)
            .push(" OFFSET ")
            .push_bind($offset);
        let rows: Vec<MessageLogRow> = qb.build_query_as().fetch_all($pool).await?;
        rows
    }};
    ($pool:expr, $db:ty, $dialect:ident, $search:expr, count($cap:expr)) => {{
        let mut qb =
            sqlx::QueryBuilder::<$db>::new("SELECT COUNT(*) FROM (SELECT 1 FROM messages m");
        push_where!(qb, $search, $search.text.as_deref(), $dialect);
        qb.push(" LIMIT ").push_bind($cap + 1).push(") t");
        let count: i64 = qb.build_query_scalar().fetch_one($pool).await?;
        count
    }};
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
        let cap = if search.text.is_some() {
            TEXT_COUNT_CAP
        } else {
            COUNT_CAP
        };
        let (rows, total) = match self.pool_ref() {
            PoolRef::Sqlite(pool) => {
                let rows = log_query!(pool, sqlx::Sqlite, sqlite, search, rows(limit, offset));
                let total = match counted(&rows, limit, offset) {
                    Some(total) => total,
                    None => log_query!(pool, sqlx::Sqlite, sqlite, search, count(cap)),
                };
                (rows, total)
            }
            PoolRef::Postgres(pool) => {
                let rows = log_query!(pool, sqlx::Postgres, postgres, search, rows(limit, offset));
                let total = match counted(&rows, limit, offset) {
                    Some(total) => total,
                    None => log_query!(pool, sqlx::Postgres, postgres, search, count(cap)),
                };
                (rows, total)
            }
        };
        let more = total > cap;
        Ok(MessageLogPage {
            rows,
            total: total.min(cap),
            more,
        })
    }

    async fn message_log_rows(
        &self,
        search: &MessageSearch,
        limit: i64,
    ) -> StoreResult<Vec<MessageLogRow>> {
        Ok(match self.pool_ref() {
            PoolRef::Sqlite(pool) => {
                log_query!(pool, sqlx::Sqlite, sqlite, search, rows(limit, 0_i64))
            }
            PoolRef::Postgres(pool) => {
                log_query!(pool, sqlx::Postgres, postgres, search, rows(limit, 0_i64))
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
