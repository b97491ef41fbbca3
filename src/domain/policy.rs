//! Which reminder tier is due for a subscription on a given day.

use std::fmt;

use chrono::{NaiveDate, NaiveTime};

/// Reminder tiers in days before expiry (negative = after), held sorted
/// ascending and without duplicates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tiers(Vec<i32>);

impl Tiers {
    /// Parses `7,3,1,0` or `7, 3, 1, 0, -3`.
    pub fn parse(input: &str) -> Result<Tiers, String> {
        let mut days = Vec::new();
        for part in input.split(',') {
            let part = part.trim();
            let value: i32 = part
                .parse()
                .map_err(|_| format!("`{part}` is not a whole number of days"))?;
            if !(-365..=365).contains(&value) {
                return Err(format!("`{value}` is outside -365..=365"));
            }
            if days.contains(&value) {
                return Err(format!("`{value}` is listed twice; list each day once"));
            }
            days.push(value);
        }
        Tiers::new(days)
    }

    pub fn new(mut days: Vec<i32>) -> Result<Tiers, String> {
        if days.is_empty() {
            return Err("at least one tier is needed".into());
        }
        days.sort_unstable();
        days.dedup();
        Ok(Tiers(days))
    }

    pub fn min(&self) -> i32 {
        self.0[0]
    }

    pub fn max(&self) -> i32 {
        self.0[self.0.len() - 1]
    }

    pub fn as_slice(&self) -> &[i32] {
        &self.0
    }

    /// The tier due when `days_left` days remain: the smallest tier
    /// `t >= days_left`, provided `days_left >= min(tiers)`.
    pub fn due_tier(&self, days_left: i64) -> Option<i32> {
        if days_left < i64::from(self.min()) {
            return None;
        }
        self.0.iter().copied().find(|&t| i64::from(t) >= days_left)
    }
}

impl Default for Tiers {
    fn default() -> Self {
        Tiers(vec![0, 1, 3, 7])
    }
}

impl fmt::Display for Tiers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut desc = self.0.clone();
        desc.reverse();
        let text: Vec<String> = desc.iter().map(i32::to_string).collect();
        f.write_str(&text.join(","))
    }
}

pub fn days_left(end_date: NaiveDate, today: NaiveDate) -> i64 {
    (end_date - today).num_days()
}

/// The window in which automatic reminders are *not* sent, e.g. 21:00-08:00.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuietHours {
    pub start: NaiveTime,
    pub end: NaiveTime,
}

impl QuietHours {
    /// `21:00-08:00`; `off` gives `None`.
    pub fn parse(input: &str) -> Result<Option<QuietHours>, String> {
        let s = input.trim();
        if s.eq_ignore_ascii_case("off") || s.is_empty() {
            return Ok(None);
        }
        let (a, b) = s
            .split_once('-')
            .ok_or_else(|| format!("`{s}` is not a range like 21:00-08:00 (or `off`)"))?;
        let start = parse_hhmm(a)?;
        let end = parse_hhmm(b)?;
        if start == end {
            return Err(format!("`{s}` is an empty range"));
        }
        Ok(Some(QuietHours { start, end }))
    }

    pub fn contains(&self, t: NaiveTime) -> bool {
        if self.start < self.end {
            t >= self.start && t < self.end
        } else {
            t >= self.start || t < self.end
        }
    }
}

/// `09:00` or `9:30`, 24-hour clock.
pub fn parse_hhmm(input: &str) -> Result<NaiveTime, String> {
    let s = input.trim();
    let bad = || format!("`{s}` is not a time of day (HH:MM, 00:00-23:59)");
    let (h, m) = s.split_once(':').ok_or_else(bad)?;
    if h.is_empty() || h.len() > 2 || m.len() != 2 {
        return Err(bad());
    }
    let h: u32 = h.parse().map_err(|_| bad())?;
    let m: u32 = m.parse().map_err(|_| bad())?;
    NaiveTime::from_hms_opt(h, m, 0).ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiers(s: &str) -> Tiers {
        Tiers::parse(s).unwrap()
    }

    #[test]
    fn due_tier_for_every_day_with_default_tiers() {
        let t = tiers("7,3,1,0");
        let expected: Vec<(i64, Option<i32>)> = vec![
            (-5, None),
            (-4, None),
            (-3, None),
            (-2, None),
            (-1, None),
            (0, Some(0)),
            (1, Some(1)),
            (2, Some(3)),
            (3, Some(3)),
            (4, Some(7)),
            (5, Some(7)),
            (6, Some(7)),
            (7, Some(7)),
            (8, None),
            (9, None),
            (10, None),
            (11, None),
            (12, None),
        ];
        for (days, due) in expected {
            assert_eq!(t.due_tier(days), due, "days_left={days}");
        }
    }

    #[test]
    fn due_tier_for_every_day_with_an_after_expiry_tier() {
        let t = tiers("7,3,1,0,-3");
        let expected: Vec<(i64, Option<i32>)> = vec![
            (-5, None),
            (-4, None),
            (-3, Some(-3)),
            (-2, Some(0)),
            (-1, Some(0)),
            (0, Some(0)),
            (1, Some(1)),
            (2, Some(3)),
            (3, Some(3)),
            (4, Some(7)),
            (7, Some(7)),
            (8, None),
            (12, None),
        ];
        for (days, due) in expected {
            assert_eq!(t.due_tier(days), due, "days_left={days}");
        }
    }

    #[test]
    fn tiers_parse_and_reject() {
        assert_eq!(tiers("0,7, 3,1").as_slice(), &[0, 1, 3, 7]);
        assert_eq!(tiers("7,3,1,0").to_string(), "7,3,1,0");
        assert!(Tiers::parse("7,x").unwrap_err().contains("`x`"));
        assert!(Tiers::parse("").is_err());
        assert!(Tiers::parse("7,,3").is_err());
        assert!(Tiers::parse("1000").is_err());
        assert_eq!(
            Tiers::parse("7,7,3").unwrap_err(),
            "`7` is listed twice; list each day once"
        );
        assert!(Tiers::parse("0, -3, 1, -3").unwrap_err().contains("`-3`"));
        assert_eq!(Tiers::parse("3,7,0").unwrap().as_slice(), [0, 3, 7]);
    }

    #[test]
    fn quiet_hours_wrap_midnight() {
        let q = QuietHours::parse("21:00-08:00").unwrap().unwrap();
        let t = |h, m| NaiveTime::from_hms_opt(h, m, 0).unwrap();
        assert!(q.contains(t(21, 0)));
        assert!(q.contains(t(23, 59)));
        assert!(q.contains(t(3, 0)));
        assert!(q.contains(t(7, 59)));
        assert!(!q.contains(t(8, 0)));
        assert!(!q.contains(t(12, 0)));
        let day = QuietHours::parse("12:00-14:00").unwrap().unwrap();
        assert!(day.contains(t(13, 0)));
        assert!(!day.contains(t(14, 0)));
        assert_eq!(QuietHours::parse("off"), Ok(None));
        assert!(QuietHours::parse("25:00-08:00").is_err());
        assert!(QuietHours::parse("21:00").is_err());
    }

    #[test]
    fn times_of_day() {
        assert_eq!(
            parse_hhmm("09:00"),
            Ok(NaiveTime::from_hms_opt(9, 0, 0).unwrap())
        );
        assert_eq!(
            parse_hhmm("9:30"),
            Ok(NaiveTime::from_hms_opt(9, 30, 0).unwrap())
        );
        for bad in ["25:00", "9", "09:0", "ab:cd", "12:60", ""] {
            assert!(parse_hhmm(bad).is_err(), "{bad}");
        }
    }
}
