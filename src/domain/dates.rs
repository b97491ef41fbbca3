//! Calendar dates: parsing what people type, long human text, month arithmetic.

use chrono::{Datelike, Months, NaiveDate};

use super::Locale;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DateError {
    #[error("date is empty")]
    Empty,
    #[error("`{0}` is not a date (use YYYY-MM-DD or DD/MM/YYYY)")]
    Malformed(String),
    #[error("`{0}` is not a real calendar date")]
    NotInCalendar(String),
}

/// Parses `YYYY-MM-DD` or `DD/MM/YYYY` (also `D/M/YYYY` and `DD-MM-YYYY`).
pub fn parse_date(input: &str) -> Result<NaiveDate, DateError> {
    let s = input.trim();
    if s.is_empty() {
        return Err(DateError::Empty);
    }
    let malformed = || DateError::Malformed(s.to_string());
    let parts: Vec<&str> = s.split(['-', '/']).collect();
    if parts.len() != 3
        || parts
            .iter()
            .any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(malformed());
    }
    let num = |p: &str| p.parse::<u32>().map_err(|_| malformed());
    let (year, month, day) = if parts[0].len() == 4 && !s.contains('/') {
        (num(parts[0])?, num(parts[1])?, num(parts[2])?)
    } else if parts[2].len() == 4 && parts[0].len() <= 2 && parts[1].len() <= 2 {
        (num(parts[2])?, num(parts[1])?, num(parts[0])?)
    } else {
        return Err(malformed());
    };
    let year = i32::try_from(year).map_err(|_| malformed())?;
    NaiveDate::from_ymd_opt(year, month, day).ok_or_else(|| DateError::NotInCalendar(s.to_string()))
}

/// Adds calendar months, clamping to the end of a shorter month
/// (31 January + 1 month = 28/29 February).
pub fn add_months(date: NaiveDate, months: u32) -> NaiveDate {
    date.checked_add_months(Months::new(months))
        .unwrap_or(NaiveDate::MAX)
}

/// A language's calendar words and date patterns: the one place dates get
/// their words.
///
/// Kept here as data rather than in the i18n catalog on purpose: these are
/// calendar facts (CLDR's month and weekday names and word order), not
/// wording anyone rewrites; they fill customer message templates as well as
/// panel pages and staff answers; and `domain` stays pure, below `i18n`
/// (which depends on `domain::Locale`). Each function below reads the table
/// for its locale, so adding a language is adding one `Calendar`.
struct Calendar {
    months: [&'static str; 12],
    /// Monday first.
    weekdays: [&'static str; 7],
    /// `{weekday}`, `{day}`, `{month}`, `{year}`.
    long: &'static str,
    short: &'static str,
    /// chrono format of a chart's day label.
    day_month: &'static str,
    today: &'static str,
    /// Days ahead and ago, one and other (CLDR's cardinal forms of both
    /// languages), `{n}` filled.
    ahead: [&'static str; 2],
    ago: [&'static str; 2],
}

const ES: Calendar = Calendar {
    months: [
        "enero",
        "febrero",
        "marzo",
        "abril",
        "mayo",
        "junio",
        "julio",
        "agosto",
        "septiembre",
        "octubre",
        "noviembre",
        "diciembre",
    ],
    weekdays: [
        "lunes",
        "martes",
        "miércoles",
        "jueves",
        "viernes",
        "sábado",
        "domingo",
    ],
    long: "{weekday} {day} de {month} de {year}",
    short: "{day} de {month}",
    day_month: "%d/%m",
    today: "hoy",
    ahead: ["en 1 día", "en {n} días"],
    ago: ["hace 1 día", "hace {n} días"],
};

const EN: Calendar = Calendar {
    months: [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ],
    weekdays: [
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
        "Sunday",
    ],
    long: "{weekday}, {month} {day}, {year}",
    short: "{month} {day}",
    day_month: "%m/%d",
    today: "today",
    ahead: ["in 1 day", "in {n} days"],
    ago: ["1 day ago", "{n} days ago"],
};

fn calendar(locale: Locale) -> &'static Calendar {
    match locale {
        Locale::Es => &ES,
        Locale::En => &EN,
    }
}

fn fill(pattern: &str, date: NaiveDate, names: &Calendar) -> String {
    let weekday = names.weekdays[date.weekday().num_days_from_monday() as usize];
    pattern
        .replace("{weekday}", weekday)
        .replace("{day}", &date.day().to_string())
        .replace("{month}", names.months[date.month0() as usize])
        .replace("{year}", &date.year().to_string())
}

/// "martes 1 de diciembre de 2026" / "Tuesday, December 1, 2026".
pub fn long_date(date: NaiveDate, locale: Locale) -> String {
    let names = calendar(locale);
    fill(names.long, date, names)
}

/// "1 de diciembre" / "December 1": for compact lists.
pub fn short_date(date: NaiveDate, locale: Locale) -> String {
    let names = calendar(locale);
    fill(names.short, date, names)
}

/// "01/12" / "12/01": a day on a chart's axis.
pub fn day_month(date: NaiveDate, locale: Locale) -> String {
    date.format(calendar(locale).day_month).to_string()
}

/// "10 de enero de 2027" / "January 10, 2027": a compact date with its year.
pub fn short_date_with_year(date: NaiveDate, locale: Locale) -> String {
    match locale {
        Locale::Es => format!("{} de {}", short_date(date, locale), date.year()),
        Locale::En => format!("{}, {}", short_date(date, locale), date.year()),
    }
}

/// "hoy", "en 1 día", "en 3 días", "hace 2 días" — the relative wording used in
/// messages, with correct plurals.
pub fn days_phrase(days_left: i64, locale: Locale) -> String {
    let names = calendar(locale);
    let forms = match days_left {
        0 => return names.today.to_string(),
        n if n > 0 => names.ahead,
        _ => names.ago,
    };
    let n = days_left.unsigned_abs();
    let form = if n == 1 { forms[0] } else { forms[1] };
    form.replace("{n}", &n.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn short_dates_with_their_year() {
        assert_eq!(
            short_date_with_year(d(2027, 1, 10), Locale::Es),
            "10 de enero de 2027"
        );
        assert_eq!(
            short_date_with_year(d(2027, 1, 10), Locale::En),
            "January 10, 2027"
        );
    }

    #[test]
    fn parses_iso_and_latin_american_formats() {
        assert_eq!(parse_date("2026-12-01"), Ok(d(2026, 12, 1)));
        assert_eq!(parse_date("01/12/2026"), Ok(d(2026, 12, 1)));
        assert_eq!(parse_date("1/12/2026"), Ok(d(2026, 12, 1)));
        assert_eq!(parse_date("01-12-2026"), Ok(d(2026, 12, 1)));
        assert_eq!(parse_date(" 2026-12-01 "), Ok(d(2026, 12, 1)));
    }

    #[test]
    fn leap_days() {
        assert_eq!(parse_date("29/02/2028"), Ok(d(2028, 2, 29)));
        assert!(matches!(
            parse_date("29/02/2027"),
            Err(DateError::NotInCalendar(_))
        ));
        assert!(matches!(
            parse_date("2026-13-01"),
            Err(DateError::NotInCalendar(_))
        ));
        assert!(matches!(
            parse_date("31/04/2026"),
            Err(DateError::NotInCalendar(_))
        ));
    }

    #[test]
    fn rejects_junk() {
        assert_eq!(parse_date(""), Err(DateError::Empty));
        for bad in [
            "mañana",
            "2026/12/01x",
            "12/2026",
            "2026-1",
            "1.12.2026",
            "26-12-01",
        ] {
            assert!(
                matches!(parse_date(bad), Err(DateError::Malformed(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn long_dates_in_both_languages() {
        assert_eq!(
            long_date(d(2026, 12, 1), Locale::Es),
            "martes 1 de diciembre de 2026"
        );
        assert_eq!(
            long_date(d(2026, 11, 30), Locale::Es),
            "lunes 30 de noviembre de 2026"
        );
        assert_eq!(
            long_date(d(2026, 11, 28), Locale::Es),
            "sábado 28 de noviembre de 2026"
        );
        assert_eq!(
            long_date(d(2026, 12, 1), Locale::En),
            "Tuesday, December 1, 2026"
        );
        assert_eq!(short_date(d(2026, 12, 1), Locale::Es), "1 de diciembre");
        assert_eq!(short_date(d(2026, 12, 1), Locale::En), "December 1");
        assert_eq!(day_month(d(2026, 12, 1), Locale::Es), "01/12");
        assert_eq!(day_month(d(2026, 12, 1), Locale::En), "12/01");
    }

    #[test]
    fn month_arithmetic_clamps_to_month_end() {
        assert_eq!(add_months(d(2027, 1, 31), 1), d(2027, 2, 28));
        assert_eq!(add_months(d(2028, 1, 31), 1), d(2028, 2, 29));
        assert_eq!(add_months(d(2026, 11, 25), 1), d(2026, 12, 25));
        assert_eq!(add_months(d(2026, 12, 15), 3), d(2027, 3, 15));
    }

    #[test]
    fn relative_days_have_correct_plurals() {
        assert_eq!(days_phrase(0, Locale::Es), "hoy");
        assert_eq!(days_phrase(1, Locale::Es), "en 1 día");
        assert_eq!(days_phrase(-1, Locale::Es), "hace 1 día");
        assert_eq!(days_phrase(1, Locale::En), "in 1 day");
        assert_eq!(days_phrase(3, Locale::Es), "en 3 días");
        assert_eq!(days_phrase(-3, Locale::Es), "hace 3 días");
        assert_eq!(days_phrase(7, Locale::En), "in 7 days");
        assert_eq!(days_phrase(-1, Locale::En), "1 day ago");
        assert_eq!(days_phrase(-2, Locale::En), "2 days ago");
        assert_eq!(days_phrase(0, Locale::En), "today");
    }
}
