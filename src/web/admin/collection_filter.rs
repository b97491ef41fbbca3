//! The Cobranza filter form (a GET form) → what the store filters on, the
//! page number, and the query string that keeps the filter in pager links,
//! the CSV link, the row and bulk actions' way back, and the dashboard's
//! links. A value the form never offers is ignored (that filter is off),
//! so a hand-written address still shows a list.

use chrono::{Duration, NaiveDate};
use serde::{Deserialize, Serialize};

use super::session::encode_component;
use crate::store::{CollectionFilter, CollectionSort};

/// The list's address.
pub const LIST_PATH: &str = "/admin/subscriptions";

/// The form's fields as typed (all text: nothing is refused).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default)]
pub struct CollectionsQuery {
    /// `vencidas`, `hoy`, `7`, `30`, or empty for any end date.
    pub vence: String,
    /// A service id.
    pub servicio: String,
    /// `active` or `cancelled`.
    pub estado: String,
    /// `1`: only clients who opted out of reminders.
    pub sin_recordatorios: String,
    /// `vence` (default), `nombre`, `precio`.
    pub orden: String,
    pub page: String,
}

/// When the subscriptions end.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Due {
    #[default]
    Any,
    /// Before today.
    Expired,
    Today,
    /// Today and the next 6 days (the dashboard's "7 days").
    Next7,
    /// Today and the next 29 days.
    Next30,
}

impl Due {
    pub const ALL: [Due; 4] = [Due::Expired, Due::Today, Due::Next7, Due::Next30];

    pub fn parse(text: &str) -> Due {
        match text.trim() {
            "vencidas" => Due::Expired,
            "hoy" => Due::Today,
            "7" => Due::Next7,
            "30" => Due::Next30,
            _ => Due::Any,
        }
    }

    /// The form value ("" for any).
    pub fn code(self) -> &'static str {
        match self {
            Due::Any => "",
            Due::Expired => "vencidas",
            Due::Today => "hoy",
            Due::Next7 => "7",
            Due::Next30 => "30",
        }
    }

    /// End dates from and to (both included).
    pub fn bounds(self, today: NaiveDate) -> (Option<NaiveDate>, Option<NaiveDate>) {
        match self {
            Due::Any => (None, None),
            Due::Expired => (None, Some(today - Duration::days(1))),
            Due::Today => (Some(today), Some(today)),
            Due::Next7 => (Some(today), Some(today + Duration::days(6))),
            Due::Next30 => (Some(today), Some(today + Duration::days(29))),
        }
    }
}

/// The subscription states the form offers.
pub const STATUSES: [&str; 2] = ["active", "cancelled"];

fn sort_code(sort: CollectionSort) -> &'static str {
    match sort {
        CollectionSort::EndDate => "vence",
        CollectionSort::Name => "nombre",
        CollectionSort::Price => "precio",
    }
}

/// The sort choices in the form, by value.
pub const SORTS: [&str; 3] = ["vence", "nombre", "precio"];

/// A filter as understood.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Collections {
    pub due: Due,
    pub service_id: Option<i64>,
    pub status: Option<&'static str>,
    pub opted_out: bool,
    pub sort: CollectionSort,
    /// 1-based.
    pub page: i64,
}

/// The filter's values for the form (`values.vence == "hoy"` …).
#[derive(Debug, Clone, Serialize)]
pub struct FormValues {
    pub vence: &'static str,
    pub servicio: String,
    pub estado: &'static str,
    pub sin_recordatorios: bool,
    pub orden: &'static str,
}

impl Collections {
    pub fn parse(query: &CollectionsQuery) -> Collections {
        let sort = match query.orden.trim() {
            "nombre" => CollectionSort::Name,
            "precio" => CollectionSort::Price,
            _ => CollectionSort::EndDate,
        };
        let estado = query.estado.trim();
        Collections {
            due: Due::parse(&query.vence),
            service_id: query.servicio.trim().parse().ok().filter(|id| *id > 0),
            status: STATUSES.into_iter().find(|s| *s == estado),
            opted_out: matches!(query.sin_recordatorios.trim(), "1" | "on" | "true"),
            sort,
            page: query.page.trim().parse::<i64>().unwrap_or(1).max(1),
        }
    }

    /// What the store filters on, for `today` (local).
    pub fn filter(&self, today: NaiveDate) -> CollectionFilter {
        let (from, to) = self.due.bounds(today);
        CollectionFilter {
            from,
            to,
            service_id: self.service_id,
            status: self.status.map(str::to_string),
            opted_out: self.opted_out,
            sort: self.sort,
        }
    }

    /// The filter (not the page) as a query string, only what differs from
    /// the defaults: `vence=hoy&orden=nombre`; empty when nothing does.
    pub fn query_string(&self) -> String {
        let mut pairs: Vec<(&str, String)> = Vec::new();
        if self.due != Due::Any {
            pairs.push(("vence", self.due.code().to_string()));
        }
        if let Some(id) = self.service_id {
            pairs.push(("servicio", id.to_string()));
        }
        if let Some(status) = self.status {
            pairs.push(("estado", status.to_string()));
        }
        if self.opted_out {
            pairs.push(("sin_recordatorios", "1".to_string()));
        }
        if self.sort != CollectionSort::EndDate {
            pairs.push(("orden", sort_code(self.sort).to_string()));
        }
        pairs
            .iter()
            .map(|(name, value)| format!("{name}={}", encode_component(value)))
            .collect::<Vec<_>>()
            .join("&")
    }

    /// The list with this filter (first page), e.g. for the dashboard.
    pub fn list_path(&self) -> String {
        with_query(LIST_PATH, &self.query_string())
    }

    /// The list with this filter, ending in `?` or `&` for `page=`.
    pub fn pager_base(&self) -> String {
        match self.query_string().as_str() {
            "" => format!("{LIST_PATH}?"),
            query => format!("{LIST_PATH}?{query}&"),
        }
    }

    /// The CSV download of this filter.
    pub fn csv_path(&self) -> String {
        with_query(&format!("{LIST_PATH}.csv"), &self.query_string())
    }

    /// The list at this filter and page: where actions come back to.
    pub fn back_path(&self) -> String {
        let query = self.query_string();
        match (self.page, query.as_str()) {
            (1, _) => with_query(LIST_PATH, &query),
            (page, "") => format!("{LIST_PATH}?page={page}"),
            (page, query) => format!("{LIST_PATH}?{query}&page={page}"),
        }
    }

    pub fn values(&self) -> FormValues {
        FormValues {
            vence: self.due.code(),
            servicio: self.service_id.map(|id| id.to_string()).unwrap_or_default(),
            estado: self.status.unwrap_or(""),
            sin_recordatorios: self.opted_out,
            orden: sort_code(self.sort),
        }
    }
}

fn with_query(path: &str, query: &str) -> String {
    if query.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{query}")
    }
}

/// Whether `path` is the list (any filter) and safe to redirect to: a
/// local address of plain visible ASCII, so a form's `back` field can
/// neither leave the panel nor break the `Location` header.
pub fn is_list_path(path: &str) -> bool {
    let rest = path.strip_prefix(LIST_PATH).unwrap_or("/");
    (rest.is_empty() || rest.starts_with('?')) && path.bytes().all(|b| b.is_ascii_graphic())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(pairs: &[(&str, &str)]) -> CollectionsQuery {
        let mut q = CollectionsQuery::default();
        for (name, value) in pairs {
            let value = value.to_string();
            match *name {
                "vence" => q.vence = value,
                "servicio" => q.servicio = value,
                "estado" => q.estado = value,
                "sin_recordatorios" => q.sin_recordatorios = value,
                "orden" => q.orden = value,
                "page" => q.page = value,
                _ => panic!("{name}"),
            }
        }
        q
    }

    fn d(m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, m, day).unwrap()
    }

    #[test]
    fn due_filters_are_date_bounds_around_today() {
        let today = d(11, 25);
        assert_eq!(Due::Expired.bounds(today), (None, Some(d(11, 24))));
        assert_eq!(Due::Today.bounds(today), (Some(today), Some(today)));
        assert_eq!(Due::Next7.bounds(today), (Some(today), Some(d(12, 1))));
        assert_eq!(Due::Next30.bounds(today), (Some(today), Some(d(12, 24))));
        assert_eq!(Due::Any.bounds(today), (None, None));
        for due in Due::ALL {
            assert_eq!(Due::parse(due.code()), due);
        }
    }

    #[test]
    fn every_field_is_read_and_kept_in_links() {
        let parsed = Collections::parse(&query(&[
            ("vence", "vencidas"),
            ("servicio", " 3 "),
            ("estado", "active"),
            ("sin_recordatorios", "1"),
            ("orden", "nombre"),
            ("page", "2"),
        ]));
        assert_eq!(parsed.due, Due::Expired);
        assert_eq!(parsed.service_id, Some(3));
        assert_eq!(parsed.status, Some("active"));
        assert!(parsed.opted_out);
        assert_eq!(parsed.sort, CollectionSort::Name);
        assert_eq!(parsed.page, 2);
        let qs = "vence=vencidas&servicio=3&estado=active&sin_recordatorios=1&orden=nombre";
        assert_eq!(parsed.query_string(), qs);
        assert_eq!(parsed.pager_base(), format!("/admin/subscriptions?{qs}&"));
        assert_eq!(parsed.csv_path(), format!("/admin/subscriptions.csv?{qs}"));
        assert_eq!(
            parsed.back_path(),
            format!("/admin/subscriptions?{qs}&page=2")
        );
        let filter = parsed.filter(d(11, 25));
        assert_eq!((filter.from, filter.to), (None, Some(d(11, 24))));
        assert_eq!(filter.status.as_deref(), Some("active"));
        // The same filter read back from its own query string.
        let again = Collections::parse(&query(&[
            ("vence", "vencidas"),
            ("servicio", "3"),
            ("estado", "active"),
            ("sin_recordatorios", "1"),
            ("orden", "nombre"),
        ]));
        assert_eq!(again.query_string(), qs);
    }

    #[test]
    fn unknown_values_turn_the_filter_off() {
        let parsed = Collections::parse(&query(&[
            ("vence", "mañana"),
            ("servicio", "netflix"),
            ("estado", "<b>"),
            ("sin_recordatorios", "no"),
            ("orden", "'; DROP TABLE"),
            ("page", "-4"),
        ]));
        assert_eq!(
            parsed,
            Collections {
                page: 1,
                ..Collections::default()
            }
        );
        assert_eq!(parsed.query_string(), "");
        assert_eq!(parsed.pager_base(), "/admin/subscriptions?");
        assert_eq!(parsed.csv_path(), "/admin/subscriptions.csv");
        assert_eq!(parsed.back_path(), "/admin/subscriptions");
        assert_eq!(
            Collections::parse(&query(&[("servicio", "0")])).service_id,
            None
        );
    }

    #[test]
    fn only_the_list_is_a_way_back() {
        assert!(is_list_path("/admin/subscriptions"));
        assert!(is_list_path("/admin/subscriptions?vence=hoy&page=2"));
        for bad in [
            "",
            "//evil.example",
            "https://evil.example/admin/subscriptions",
            "/admin/subscriptions.csv",
            "/admin/subscriptionsx",
            "/admin/subscriptions?x=\r\nSet-Cookie: a",
            "/admin/subscriptions?q=á",
            "/admin/clients",
        ] {
            assert!(!is_list_path(bad), "{bad}");
        }
    }
}
