//! Server-side SVG charts for the dashboard: pure functions from numbers to
//! markup (no JavaScript). Each chart has a `viewBox` and `width="100%"` so
//! it scales to a phone, axis labels, a legend, a line with today's and the
//! peak value (also written above their bars), and a `<title>` tooltip per
//! bar.
//!
//! Sizes: text is 16 units of a 440-unit-wide drawing, so it renders at
//! ≥ 11 px from 303 px of width up (a 390 px phone gives the chart ~330 px);
//! the panel's CSS caps the width at 36rem (576 px → 22 px text, 288 px tall).

use std::fmt::Write as _;

use chrono::NaiveDate;

use crate::domain::Locale;

const WIDTH: f64 = 440.0;
const HEIGHT: f64 = 220.0;
const LEFT: f64 = 40.0;
const RIGHT: f64 = 8.0;
/// Legend (first line), today/peak summary (second line), room for the
/// value written above the tallest bar.
const TOP: f64 = 64.0;
const BOTTOM: f64 = 26.0;
const FONT: f64 = 16.0;
/// Average advance of a character at [`FONT`], for laying out the legend.
const CHAR: f64 = 8.6;

/// Outbound messages created on one local day, by outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MessagesDay {
    pub day: NaiveDate,
    /// sent, delivered or read
    pub sent: i64,
    pub failed: i64,
    /// queued or sending
    pub queued: i64,
}

/// The words a chart shows (from the i18n catalog).
#[derive(Debug, Clone, Copy)]
pub struct MessageLabels<'a> {
    pub title: &'a str,
    pub sent: &'a str,
    pub failed: &'a str,
    pub queued: &'a str,
    pub empty: &'a str,
    /// "Hoy", before today's value.
    pub today: &'a str,
    /// "Máximo", before the highest day's value.
    pub peak: &'a str,
}

#[derive(Debug, Clone, Copy)]
pub struct ExpirationLabels<'a> {
    pub title: &'a str,
    pub series: &'a str,
    pub empty: &'a str,
    pub today: &'a str,
    pub peak: &'a str,
}

struct Words<'a> {
    title: &'a str,
    empty: &'a str,
    today: &'a str,
    peak: &'a str,
}

struct Series<'a> {
    label: &'a str,
    color: &'a str,
}

/// Stacked bars per day: sent/delivered/read, failed, queued. The last day
/// is today.
pub fn messages_chart(days: &[MessagesDay], labels: &MessageLabels, locale: Locale) -> String {
    let series = [
        Series {
            label: labels.sent,
            color: "#2e9d5b",
        },
        Series {
            label: labels.failed,
            color: "#c0392b",
        },
        Series {
            label: labels.queued,
            color: "#e0a526",
        },
    ];
    let rows: Vec<(NaiveDate, Vec<i64>)> = days
        .iter()
        .map(|d| (d.day, vec![d.sent, d.failed, d.queued]))
        .collect();
    let words = Words {
        title: labels.title,
        empty: labels.empty,
        today: labels.today,
        peak: labels.peak,
    };
    let today = rows.len().checked_sub(1);
    stacked_bars("chart-messages", &words, &series, &rows, today, locale)
}

/// Subscriptions ending on each day from `from` (today); `counts` may skip
/// days with none.
pub fn expirations_chart(
    from: NaiveDate,
    days: u32,
    counts: &[(NaiveDate, i64)],
    labels: &ExpirationLabels,
    locale: Locale,
) -> String {
    let rows: Vec<(NaiveDate, Vec<i64>)> = (0..days)
        .map(|i| {
            let day = from + chrono::Duration::days(i.into());
            let n = counts
                .iter()
                .filter(|(d, _)| *d == day)
                .map(|(_, n)| n)
                .sum();
            (day, vec![n])
        })
        .collect();
    let series = [Series {
        label: labels.series,
        color: "#0b63c5",
    }];
    let words = Words {
        title: labels.title,
        empty: labels.empty,
        today: labels.today,
        peak: labels.peak,
    };
    let today = (!rows.is_empty()).then_some(0);
    stacked_bars("chart-expirations", &words, &series, &rows, today, locale)
}

/// The smallest 1, 2 or 5 × 10ⁿ at or above `max` (at least 1).
pub fn nice_max(max: i64) -> i64 {
    let mut base = 1;
    loop {
        for step in [1, 2, 5] {
            if step * base >= max {
                return step * base;
            }
        }
        base *= 10;
    }
}

fn ticks(top: i64) -> Vec<i64> {
    let parts = if top % 4 == 0 {
        4
    } else if top % 2 == 0 {
        2
    } else {
        1
    };
    (0..=parts).map(|i| top / parts * i).collect()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn day_label(day: NaiveDate, locale: Locale) -> String {
    crate::domain::day_month(day, locale)
}

/// The first day with the highest total, if any day has one above zero.
fn peak_of(totals: &[i64]) -> Option<(usize, i64)> {
    let max = totals.iter().copied().max()?;
    let index = totals.iter().position(|t| *t == max)?;
    (max > 0).then_some((index, max))
}

fn stacked_bars(
    id: &str,
    words: &Words,
    series: &[Series],
    rows: &[(NaiveDate, Vec<i64>)],
    today: Option<usize>,
    locale: Locale,
) -> String {
    let totals: Vec<i64> = rows.iter().map(|(_, v)| v.iter().sum::<i64>()).collect();
    let max = totals.iter().copied().max().unwrap_or(0);
    let peak = peak_of(&totals);
    let top = nice_max(max);
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let base_y = TOP + plot_h;
    let y = |v: i64| base_y - plot_h * (v as f64) / (top as f64);
    let mut svg = String::new();
    // `write!` into a String cannot fail.
    let _ = write!(
        svg,
        "<svg id=\"{id}\" class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" \
         viewBox=\"0 0 {WIDTH} {HEIGHT}\" width=\"100%\" role=\"img\" \
         aria-labelledby=\"{id}-title\" font-family=\"system-ui, sans-serif\" font-size=\"{FONT}\">\
         <title id=\"{id}-title\">{}</title>",
        escape(words.title)
    );
    // Legend.
    let mut x = LEFT;
    for s in series {
        let _ = write!(
            svg,
            "<g class=\"legend\"><rect x=\"{x:.1}\" y=\"5\" width=\"12\" height=\"12\" fill=\"{}\"/>\
             <text x=\"{:.1}\" y=\"17\">{}</text></g>",
            s.color,
            x + 16.0,
            escape(s.label)
        );
        x += 28.0 + CHAR * s.label.chars().count() as f64;
    }
    // Today's and the peak value, in words.
    let today_total = today.and_then(|i| totals.get(i).copied());
    let mut summary = Vec::new();
    if let Some(n) = today_total {
        summary.push(format!("{}: {n}", words.today));
    }
    if let Some((i, n)) = peak {
        summary.push(format!(
            "{}: {n} ({})",
            words.peak,
            day_label(rows[i].0, locale)
        ));
    }
    if !summary.is_empty() {
        let _ = write!(
            svg,
            "<text class=\"chart-summary\" x=\"{LEFT}\" y=\"40\" font-weight=\"600\" fill=\"#1d232a\">{}</text>",
            escape(&summary.join(" · "))
        );
    }
    // Y axis: grid lines and values.
    for t in ticks(top) {
        let ty = y(t);
        let _ = write!(
            svg,
            "<line x1=\"{LEFT}\" y1=\"{ty:.1}\" x2=\"{:.1}\" y2=\"{ty:.1}\" stroke=\"#dde3e8\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"#5c6670\">{t}</text>",
            WIDTH - RIGHT,
            LEFT - 6.0,
            ty + 5.0
        );
    }
    let n = rows.len().max(1) as f64;
    let slot = plot_w / n;
    let bar = (slot * 0.7).max(1.0);
    let center = |i: usize| LEFT + slot * i as f64 + slot / 2.0;
    for (i, (day, values)) in rows.iter().enumerate() {
        let bx = LEFT + slot * i as f64 + (slot - bar) / 2.0;
        let label = day_label(*day, locale);
        let detail: Vec<String> = series
            .iter()
            .zip(values)
            .map(|(s, v)| format!("{}: {v}", s.label))
            .collect();
        let _ = write!(
            svg,
            "<g class=\"bar\"><title>{}</title>",
            escape(&format!("{label} — {}", detail.join(", ")))
        );
        // A transparent full-height target so the tooltip works on empty days.
        let _ = write!(
            svg,
            "<rect x=\"{:.1}\" y=\"{TOP}\" width=\"{slot:.1}\" height=\"{plot_h:.1}\" fill=\"transparent\"/>",
            LEFT + slot * i as f64
        );
        let mut acc = 0;
        for (s, v) in series.iter().zip(values) {
            if *v > 0 {
                let y1 = y(acc + v);
                let h = y(acc) - y1;
                let _ = write!(
                    svg,
                    "<rect x=\"{bx:.1}\" y=\"{y1:.1}\" width=\"{bar:.1}\" height=\"{h:.1}\" fill=\"{}\"/>",
                    s.color
                );
            }
            acc += v;
        }
        svg.push_str("</g>");
        // X axis labels: every fifth day from the first, and today's (the
        // fifth-day ones too close to today's give way).
        let near_today = today.is_some_and(|t| t != i && t.abs_diff(i) < 5);
        if (i % 5 == 0 && !near_today) || today == Some(i) {
            let _ = write!(
                svg,
                "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#5c6670\">{label}</text>",
                center(i).clamp(LEFT + 20.0, WIDTH - RIGHT - 20.0),
                HEIGHT - 6.0
            );
        }
    }
    // Values above the peak bar and today's bar (one of them when they
    // would overlap).
    let mut marks: Vec<(usize, i64, &str)> = Vec::new();
    if let Some((i, n)) = peak {
        marks.push((i, n, "peak-value"));
    }
    if let (Some(i), Some(n)) = (today, today_total)
        && n > 0
        && marks
            .iter()
            .all(|(p, _, _)| (slot * p.abs_diff(i) as f64) >= 3.0 * CHAR + 8.0)
    {
        marks.push((i, n, "today-value"));
    }
    for (i, n, class) in marks {
        let _ = write!(
            svg,
            "<text class=\"{class}\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-weight=\"600\" fill=\"#1d232a\">{n}</text>",
            center(i).clamp(LEFT + 12.0, WIDTH - RIGHT - 12.0),
            y(n) - 5.0
        );
    }
    let _ = write!(
        svg,
        "<line x1=\"{LEFT}\" y1=\"{base_y:.1}\" x2=\"{:.1}\" y2=\"{base_y:.1}\" stroke=\"#8a959f\"/>",
        WIDTH - RIGHT
    );
    if max == 0 {
        let _ = write!(
            svg,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#5c6670\" font-size=\"18\">{}</text>",
            LEFT + plot_w / 2.0,
            TOP + plot_h / 2.0,
            escape(words.empty)
        );
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, d).unwrap()
    }

    const LABELS: MessageLabels = MessageLabels {
        title: "Mensajes por día",
        sent: "Enviados",
        failed: "Fallidos",
        queued: "En cola",
        empty: "Sin datos",
        today: "Hoy",
        peak: "Máximo",
    };

    #[test]
    fn today_is_written_above_its_bar_unless_it_would_overlap_the_peak() {
        let labels = ExpirationLabels {
            title: "t",
            series: "s",
            empty: "e",
            today: "Hoy",
            peak: "Máximo",
        };
        let far = expirations_chart(
            day(1),
            30,
            &[(day(1), 3), (day(20), 9)],
            &labels,
            Locale::Es,
        );
        assert!(far.contains("class=\"today-value\""));
        assert!(far.contains(">Hoy: 3 · Máximo: 9 (20/11)</text>"));
        let near = expirations_chart(day(1), 30, &[(day(1), 3), (day(2), 9)], &labels, Locale::Es);
        assert!(!near.contains("class=\"today-value\""));
        assert!(near.contains("class=\"peak-value\""));
        // Today's date is labelled even off the every-fifth-day rhythm.
        let msgs: Vec<MessagesDay> = (1..=14)
            .map(|d| MessagesDay {
                day: day(d),
                ..MessagesDay::default()
            })
            .collect();
        let svg = messages_chart(&msgs, &LABELS, Locale::Es);
        assert!(svg.contains(">14/11</text>"));
        assert!(svg.contains(">06/11</text>"));
        assert!(!svg.contains(">11/11</text>"), "too close to today's label");
    }

    #[test]
    fn nice_maxima_and_ticks() {
        assert_eq!(nice_max(0), 1);
        assert_eq!(nice_max(1), 1);
        assert_eq!(nice_max(3), 5);
        assert_eq!(nice_max(7), 10);
        assert_eq!(nice_max(11), 20);
        assert_eq!(nice_max(120), 200);
        assert_eq!(ticks(20), vec![0, 5, 10, 15, 20]);
        assert_eq!(ticks(10), vec![0, 5, 10]);
        assert_eq!(ticks(5), vec![0, 5]);
    }

    #[test]
    fn message_bars_stack_and_carry_tooltips() {
        let days = [
            MessagesDay {
                day: day(1),
                sent: 3,
                failed: 1,
                queued: 0,
            },
            MessagesDay {
                day: day(2),
                sent: 0,
                failed: 0,
                queued: 0,
            },
            MessagesDay {
                day: day(3),
                sent: 1,
                failed: 0,
                queued: 4,
            },
        ];
        let svg = messages_chart(&days, &LABELS, Locale::Es);
        assert!(svg.starts_with("<svg id=\"chart-messages\" class=\"chart\""));
        assert!(svg.contains("viewBox=\"0 0 440 220\" width=\"100%\""));
        // Today (the last day) and the peak, in words and above their bars.
        assert!(svg.contains(">Hoy: 5 · Máximo: 5 (03/11)</text>"), "{svg}");
        assert!(svg.contains("class=\"peak-value\""));
        assert_eq!(
            svg.matches(">5</text>").count(),
            2,
            "the y axis top and the peak"
        );
        assert!(svg.contains("<title>01/11 — Enviados: 3, Fallidos: 1, En cola: 0</title>"));
        assert_eq!(svg.matches("<g class=\"bar\">").count(), 3);
        assert_eq!(svg.matches("<g class=\"legend\">").count(), 3);
        // 3 + 1 + 1 + 4 coloured segments… 4 segments plus 3 hover targets.
        assert_eq!(svg.matches("<rect").count(), 3 + 3 + 4);
        assert!(!svg.contains("Sin datos"));
        insta::assert_snapshot!("messages_chart", svg.replace("><", ">\n<"));
    }

    #[test]
    fn expirations_fill_missing_days_and_escape_labels() {
        let labels = ExpirationLabels {
            title: "Vencen <pronto>",
            series: "Vencimientos",
            empty: "Nada",
            today: "Today",
            peak: "Peak",
        };
        let svg = expirations_chart(day(1), 7, &[(day(3), 2), (day(7), 5)], &labels, Locale::En);
        assert!(svg.starts_with("<svg id=\"chart-expirations\" class=\"chart\""));
        assert_eq!(svg.matches("<g class=\"bar\">").count(), 7);
        assert!(svg.contains("<title>11/03 — Vencimientos: 2</title>"));
        assert!(svg.contains("Vencen &lt;pronto&gt;"));
        assert!(svg.contains(">Today: 0 · Peak: 5 (11/07)</text>"), "{svg}");
        insta::assert_snapshot!("expirations_chart", svg.replace("><", ">\n<"));
        let empty = expirations_chart(day(1), 30, &[], &labels, Locale::Es);
        assert!(empty.contains(">Nada</text>"));
        assert!(empty.contains(">Today: 0</text>"));
        assert!(!empty.contains("peak-value"));
        assert_eq!(empty.matches("<g class=\"bar\">").count(), 30);
    }
}
