//! Server-side SVG charts for the dashboard: pure functions from numbers to
//! markup (no JavaScript). Each chart has a `viewBox` and `width="100%"` so
//! it scales to a phone, axis labels, a legend, and a `<title>` tooltip per
//! bar.

use std::fmt::Write as _;

use chrono::NaiveDate;

use crate::domain::Locale;

const WIDTH: f64 = 440.0;
const HEIGHT: f64 = 230.0;
const LEFT: f64 = 34.0;
const RIGHT: f64 = 8.0;
const TOP: f64 = 34.0;
const BOTTOM: f64 = 26.0;

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
}

#[derive(Debug, Clone, Copy)]
pub struct ExpirationLabels<'a> {
    pub title: &'a str,
    pub series: &'a str,
    pub empty: &'a str,
}

struct Series<'a> {
    label: &'a str,
    color: &'a str,
}

/// Stacked bars per day: sent/delivered/read, failed, queued.
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
    stacked_bars(
        "chart-messages",
        labels.title,
        labels.empty,
        &series,
        &rows,
        locale,
    )
}

/// Subscriptions ending on each day; `counts` may skip days with none.
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
    stacked_bars(
        "chart-expirations",
        labels.title,
        labels.empty,
        &series,
        &rows,
        locale,
    )
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

fn stacked_bars(
    id: &str,
    title: &str,
    empty: &str,
    series: &[Series],
    rows: &[(NaiveDate, Vec<i64>)],
    locale: Locale,
) -> String {
    let max = rows
        .iter()
        .map(|(_, v)| v.iter().sum::<i64>())
        .max()
        .unwrap_or(0);
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
         aria-labelledby=\"{id}-title\" font-family=\"system-ui, sans-serif\" font-size=\"13\">\
         <title id=\"{id}-title\">{}</title>",
        escape(title)
    );
    // Legend.
    let mut x = LEFT;
    for s in series {
        let _ = write!(
            svg,
            "<g class=\"legend\"><rect x=\"{x:.1}\" y=\"7\" width=\"12\" height=\"12\" fill=\"{}\"/>\
             <text x=\"{:.1}\" y=\"17\">{}</text></g>",
            s.color,
            x + 16.0,
            escape(s.label)
        );
        x += 28.0 + 7.5 * s.label.chars().count() as f64;
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
            ty + 4.0
        );
    }
    let n = rows.len().max(1) as f64;
    let slot = plot_w / n;
    let bar = (slot * 0.7).max(1.0);
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
        // X axis labels: first day and every fifth.
        if i % 5 == 0 {
            let _ = write!(
                svg,
                "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#5c6670\">{label}</text>",
                bx + bar / 2.0,
                HEIGHT - 8.0
            );
        }
    }
    let _ = write!(
        svg,
        "<line x1=\"{LEFT}\" y1=\"{base_y:.1}\" x2=\"{:.1}\" y2=\"{base_y:.1}\" stroke=\"#8a959f\"/>",
        WIDTH - RIGHT
    );
    if max == 0 {
        let _ = write!(
            svg,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#5c6670\" font-size=\"16\">{}</text>",
            LEFT + plot_w / 2.0,
            TOP + plot_h / 2.0,
            escape(empty)
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
    };

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
        assert!(svg.contains("viewBox=\"0 0 440 230\" width=\"100%\""));
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
        };
        let svg = expirations_chart(day(1), 7, &[(day(3), 2), (day(7), 5)], &labels, Locale::En);
        assert!(svg.starts_with("<svg id=\"chart-expirations\" class=\"chart\""));
        assert_eq!(svg.matches("<g class=\"bar\">").count(), 7);
        assert!(svg.contains("<title>11/03 — Vencimientos: 2</title>"));
        assert!(svg.contains("Vencen &lt;pronto&gt;"));
        insta::assert_snapshot!("expirations_chart", svg.replace("><", ">\n<"));
        let empty = expirations_chart(day(1), 30, &[], &labels, Locale::Es);
        assert!(empty.contains(">Nada</text>"));
        assert_eq!(empty.matches("<g class=\"bar\">").count(), 30);
    }
}
