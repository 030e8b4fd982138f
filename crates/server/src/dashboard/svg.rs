//! Server-side SVG charts: line and area charts over time, bars, a
//! deployment/incident timeline, sparklines and a budget bar. Plain strings,
//! no JavaScript; sized by `viewBox` so they scale with the page.

use std::fmt::Write;

use chrono::{DateTime, Utc};

use super::html::esc;

/// One line on a chart.
pub struct Series {
    pub name: String,
    pub color: &'static str,
    pub points: Vec<(DateTime<Utc>, f64)>,
    /// Drawn dashed (forecasts).
    pub dashed: bool,
    /// Fill the area under the line.
    pub area: bool,
}

/// A horizontal reference line (a target or a budget).
pub struct Rule {
    pub label: String,
    pub value: f64,
    pub color: &'static str,
}

/// A vertical marker (a release, a flag flip).
pub struct Marker {
    pub label: String,
    pub time: DateTime<Utc>,
    pub color: &'static str,
}

pub struct TimeChart<'a> {
    pub title: &'a str,
    pub series: Vec<Series>,
    pub rules: Vec<Rule>,
    pub markers: Vec<Marker>,
    /// Formats a y value for the axis.
    pub fmt: &'a dyn Fn(f64) -> String,
    pub height: u32,
    /// Forces the y axis to start at zero.
    pub zero: bool,
    /// Drawn for a full-width card (wider view box, same text size).
    pub wide: bool,
    /// Y values are seconds: ticks fall on whole minutes, hours or days.
    pub seconds: bool,
}

const NARROW: f64 = 640.0;
const WIDE: f64 = 1280.0;
const PAD_L: f64 = 56.0;
const PAD_R: f64 = 16.0;
const PAD_T: f64 = 14.0;
const PAD_B: f64 = 26.0;

/// "Nice" tick step for a range, 1/2/5 × 10^k.
fn nice_step(range: f64, ticks: f64) -> f64 {
    if range <= 0.0 || !range.is_finite() {
        return 1.0;
    }
    let raw = range / ticks;
    let mag = 10f64.powf(raw.log10().floor());
    let norm = raw / mag;
    let n = if norm < 1.5 {
        1.0
    } else if norm < 3.5 {
        2.0
    } else if norm < 7.5 {
        5.0
    } else {
        10.0
    };
    n * mag
}

/// A tick step for durations in seconds: 1/5/15/30 min, 1/2/6/12 h, 1/2/7 d.
fn duration_step(range: f64, ticks: f64) -> f64 {
    const STEPS: [f64; 12] = [
        60.0,
        300.0,
        900.0,
        1800.0,
        3600.0,
        7200.0,
        21600.0,
        43200.0,
        86400.0,
        172800.0,
        604800.0,
        2_592_000.0,
    ];
    let raw = range / ticks;
    STEPS
        .iter()
        .copied()
        .find(|s| *s >= raw)
        .unwrap_or_else(|| nice_step(range, ticks))
}

impl TimeChart<'_> {
    pub fn render(&self) -> String {
        #[allow(non_snake_case)]
        let W = if self.wide { WIDE } else { NARROW };
        let h = f64::from(self.height);
        let all: Vec<(DateTime<Utc>, f64)> = self
            .series
            .iter()
            .flat_map(|s| s.points.iter().copied())
            .filter(|(_, v)| v.is_finite())
            .collect();
        let mut out = String::new();
        let _ = write!(
            out,
            r#"<svg class="chart" viewBox="0 0 {W} {h}" role="img" aria-label="{}" xmlns="http://www.w3.org/2000/svg">"#,
            esc(self.title)
        );
        let _ = write!(out, "<title>{}</title>", esc(self.title));
        if all.is_empty() {
            let _ = write!(
                out,
                r#"<text x="{}" y="{}" class="empty" text-anchor="middle">no data in this window</text></svg>"#,
                W / 2.0,
                h / 2.0
            );
            return out;
        }
        let t0 = all.iter().map(|p| p.0).min().unwrap_or_default();
        let mut t1 = all.iter().map(|p| p.0).max().unwrap_or_default();
        for m in &self.markers {
            t1 = t1.max(m.time);
        }
        let t0s = t0.timestamp() as f64;
        let span = ((t1.timestamp() as f64) - t0s).max(1.0);
        let mut lo = all.iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
        let mut hi = all.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
        for r in &self.rules {
            lo = lo.min(r.value);
            hi = hi.max(r.value);
        }
        if self.zero {
            lo = lo.min(0.0);
        }
        if (hi - lo).abs() < f64::EPSILON {
            hi = lo + 1.0;
        }
        let step = if self.seconds {
            duration_step(hi - lo, 4.0)
        } else {
            nice_step(hi - lo, 4.0)
        };
        let lo = (lo / step).floor() * step;
        let hi = (hi / step).ceil() * step;
        let x =
            |t: DateTime<Utc>| PAD_L + ((t.timestamp() as f64 - t0s) / span) * (W - PAD_L - PAD_R);
        let y = |v: f64| PAD_T + (1.0 - (v - lo) / (hi - lo)) * (h - PAD_T - PAD_B);
        // Grid and y labels.
        let mut v = lo;
        while v <= hi + step * 0.01 {
            let yy = y(v);
            let _ = write!(
                out,
                r#"<line class="grid" x1="{PAD_L}" x2="{}" y1="{yy:.1}" y2="{yy:.1}"/><text class="axis" x="{}" y="{:.1}" text-anchor="end">{}</text>"#,
                W - PAD_R,
                PAD_L - 6.0,
                yy + 4.0,
                esc(&(self.fmt)(v))
            );
            v += step;
        }
        // X labels: about five dates.
        let days = span / 86_400.0;
        let label_every = (days / 5.0).ceil().max(1.0);
        let mut d = 0.0;
        while d <= days {
            let t = t0 + chrono::Duration::seconds((d * 86_400.0) as i64);
            let _ = write!(
                out,
                r#"<text class="axis" x="{:.1}" y="{}" text-anchor="middle">{}</text>"#,
                x(t),
                h - 8.0,
                t.format("%b %-d")
            );
            d += label_every;
        }
        for m in &self.markers {
            let xx = x(m.time);
            let _ = write!(
                out,
                r#"<line x1="{xx:.1}" x2="{xx:.1}" y1="{PAD_T}" y2="{:.1}" stroke="{}" stroke-width="1.5" stroke-dasharray="3 3"/><text class="marker" x="{:.1}" y="{}" fill="{}">{}</text>"#,
                h - PAD_B,
                m.color,
                xx + 4.0,
                PAD_T + 10.0,
                m.color,
                esc(&m.label)
            );
        }
        for r in &self.rules {
            let yy = y(r.value);
            let _ = write!(
                out,
                r#"<line x1="{PAD_L}" x2="{}" y1="{yy:.1}" y2="{yy:.1}" stroke="{}" stroke-width="1.5" stroke-dasharray="6 4"/><text class="rule" x="{}" y="{:.1}" text-anchor="end" fill="{}">{}</text>"#,
                W - PAD_R,
                r.color,
                W - PAD_R - 2.0,
                yy - 4.0,
                r.color,
                esc(&r.label)
            );
        }
        for s in &self.series {
            let pts: Vec<String> = s
                .points
                .iter()
                .filter(|(_, v)| v.is_finite())
                .map(|(t, v)| format!("{:.1},{:.1}", x(*t), y(*v)))
                .collect();
            if pts.is_empty() {
                continue;
            }
            if s.area && pts.len() > 1 {
                let first = s.points.first().map_or(PAD_L, |p| x(p.0));
                let last = s.points.last().map_or(W - PAD_R, |p| x(p.0));
                let base = y(lo.max(0.0).min(hi));
                let _ = write!(
                    out,
                    r#"<path d="M{first:.1},{base:.1} L{} L{last:.1},{base:.1} Z" fill="{}" fill-opacity="0.12" stroke="none"/>"#,
                    pts.join(" L"),
                    s.color
                );
            }
            let dash = if s.dashed {
                r#" stroke-dasharray="5 4""#
            } else {
                ""
            };
            let _ = write!(
                out,
                r#"<polyline class="series" points="{}" fill="none" stroke="{}" stroke-width="2" stroke-linejoin="round"{dash}><title>{}</title></polyline>"#,
                pts.join(" "),
                s.color,
                esc(&s.name)
            );
            if pts.len() == 1 {
                let _ = write!(
                    out,
                    r#"<circle r="3" cx="{}" fill="{}"/>"#,
                    pts[0].replace(',', "\" cy=\""),
                    s.color
                );
            }
        }
        out.push_str("</svg>");
        out
    }
}

/// Vertical bars with labels under them (e.g. deployments per week).
/// The opening of a chart `w` × `h` with its accessible title.
fn open(w: f64, h: f64, title: &str) -> String {
    format!(
        r#"<svg class="chart" viewBox="0 0 {w} {h}" role="img" aria-label="{}" xmlns="http://www.w3.org/2000/svg"><title>{}</title>"#,
        esc(title),
        esc(title)
    )
}

/// Closes `out` with `message` in the middle: a chart with nothing to draw.
fn empty(mut out: String, w: f64, h: f64, message: &str) -> String {
    let _ = write!(
        out,
        r#"<text x="{}" y="{}" class="empty" text-anchor="middle">{message}</text></svg>"#,
        w / 2.0,
        h / 2.0
    );
    out
}

pub fn bars(
    title: &str,
    data: &[(String, f64, &'static str)],
    fmt: &dyn Fn(f64) -> String,
    height: u32,
) -> String {
    #[allow(non_snake_case)]
    let W = NARROW;
    let h = f64::from(height);
    let mut out = open(W, h, title);
    if data.is_empty() {
        return empty(out, W, h, "no data");
    }
    let max = data.iter().map(|d| d.1).fold(0.0f64, f64::max).max(1e-9);
    let step = nice_step(max, 4.0);
    let top = (max / step).ceil() * step;
    let y = |v: f64| PAD_T + (1.0 - v / top) * (h - PAD_T - PAD_B);
    let mut v = 0.0;
    while v <= top + step * 0.01 {
        let _ = write!(
            out,
            r#"<line class="grid" x1="{PAD_L}" x2="{}" y1="{:.1}" y2="{:.1}"/><text class="axis" x="{}" y="{:.1}" text-anchor="end">{}</text>"#,
            W - PAD_R,
            y(v),
            y(v),
            PAD_L - 6.0,
            y(v) + 4.0,
            esc(&fmt(v))
        );
        v += step;
    }
    let slot = (W - PAD_L - PAD_R) / data.len() as f64;
    let label_every = (data.len() as f64 / 8.0).ceil().max(1.0) as usize;
    for (i, (label, value, color)) in data.iter().enumerate() {
        let x = PAD_L + slot * i as f64 + slot * 0.15;
        let yy = y(*value);
        let _ = write!(
            out,
            r#"<rect class="bar" x="{x:.1}" y="{yy:.1}" width="{:.1}" height="{:.1}" rx="2" fill="{color}"><title>{}: {}</title></rect>"#,
            slot * 0.7,
            (h - PAD_B - yy).max(0.0),
            esc(label),
            esc(&fmt(*value))
        );
        if i % label_every == 0 {
            let _ = write!(
                out,
                r#"<text class="axis" x="{:.1}" y="{}" text-anchor="middle">{}</text>"#,
                x + slot * 0.35,
                h - 8.0,
                esc(label)
            );
        }
    }
    out.push_str("</svg>");
    out
}

/// One item on a timeline.
pub struct Mark {
    pub time: DateTime<Utc>,
    /// Lane index (0: deployments, 1: incidents, …).
    pub lane: usize,
    pub color: &'static str,
    pub label: String,
    /// For spans (an incident from open to resolved).
    pub until: Option<DateTime<Utc>>,
}

/// Lanes of ticks and spans over a time range.
pub fn timeline(
    title: &str,
    lanes: &[&str],
    marks: &[Mark],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> String {
    #[allow(non_snake_case)]
    let W = WIDE;
    let lane_h = 30.0;
    let h = PAD_T + lane_h * lanes.len() as f64 + PAD_B;
    let span = ((to - from).num_seconds() as f64).max(1.0);
    let x = |t: DateTime<Utc>| {
        PAD_L
            + 40.0
            + ((t - from).num_seconds() as f64 / span).clamp(0.0, 1.0) * (W - PAD_L - 40.0 - PAD_R)
    };
    let mut out = String::new();
    let _ = write!(
        out,
        r#"<svg class="chart timeline" viewBox="0 0 {W} {h}" role="img" aria-label="{}" xmlns="http://www.w3.org/2000/svg"><title>{}</title>"#,
        esc(title),
        esc(title)
    );
    for (i, lane) in lanes.iter().enumerate() {
        let yy = PAD_T + lane_h * i as f64 + lane_h / 2.0;
        let _ = write!(
            out,
            r#"<line class="grid" x1="{}" x2="{}" y1="{yy}" y2="{yy}"/><text class="axis lane" x="{}" y="{}" text-anchor="end">{}</text>"#,
            PAD_L + 40.0,
            W - PAD_R,
            PAD_L + 34.0,
            yy + 4.0,
            esc(lane)
        );
    }
    let days = span / 86_400.0;
    let every = (days / 6.0).ceil().max(1.0);
    let mut d = 0.0;
    while d <= days {
        let t = from + chrono::Duration::seconds((d * 86_400.0) as i64);
        let _ = write!(
            out,
            r#"<text class="axis" x="{:.1}" y="{}" text-anchor="middle">{}</text>"#,
            x(t),
            h - 8.0,
            t.format("%b %-d")
        );
        d += every;
    }
    for m in marks {
        let yy = PAD_T + lane_h * m.lane as f64 + lane_h / 2.0;
        match m.until {
            Some(until) => {
                let x0 = x(m.time);
                let x1 = x(until).max(x0 + 4.0);
                let _ = write!(
                    out,
                    r#"<rect x="{x0:.1}" y="{:.1}" width="{:.1}" height="12" rx="3" fill="{}" fill-opacity="0.85"><title>{}</title></rect>"#,
                    yy - 6.0,
                    x1 - x0,
                    m.color,
                    esc(&m.label)
                );
            }
            None => {
                let _ = write!(
                    out,
                    r#"<line x1="{x:.1}" x2="{x:.1}" y1="{:.1}" y2="{:.1}" stroke="{}" stroke-width="2"><title>{}</title></line>"#,
                    yy - 8.0,
                    yy + 8.0,
                    m.color,
                    esc(&m.label),
                    x = x(m.time)
                );
            }
        }
    }
    out.push_str("</svg>");
    out
}

/// A tiny line without axes, for tables.
pub fn sparkline(values: &[f64], color: &str) -> String {
    let vals: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if vals.len() < 2 {
        return String::new();
    }
    let (w, h) = (90.0, 22.0);
    let lo = vals.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = vals.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let range = (hi - lo).max(1e-12);
    let pts: Vec<String> = vals
        .iter()
        .enumerate()
        .map(|(i, v)| {
            format!(
                "{:.1},{:.1}",
                2.0 + (w - 4.0) * i as f64 / (vals.len() - 1) as f64,
                2.0 + (h - 4.0) * (1.0 - (v - lo) / range)
            )
        })
        .collect();
    format!(
        r#"<svg class="spark" viewBox="0 0 {w} {h}" width="{w}" height="{h}" xmlns="http://www.w3.org/2000/svg"><polyline points="{}" fill="none" stroke="{color}" stroke-width="1.6"/></svg>"#,
        pts.join(" ")
    )
}

/// Spend against budget: month-to-date bar, forecast bar, budget line.
pub fn budget_bar(spent: f64, forecast: f64, budget: f64) -> String {
    let (w, h) = (260.0, 18.0);
    let max = spent.max(forecast).max(budget).max(1e-9) * 1.05;
    let sx = w * spent / max;
    let fx = w * forecast / max;
    let bx = w * budget / max;
    let over = forecast > budget;
    let fcolor = if over { "#e5484d" } else { "#8da4ef" };
    format!(
        r##"<svg class="budget" viewBox="0 0 {w} {h}" width="{w}" height="{h}" xmlns="http://www.w3.org/2000/svg"><rect x="0" y="3" width="{w}" height="12" rx="3" fill="#eef0f3"/><rect x="0" y="3" width="{fx:.1}" height="12" rx="3" fill="{fcolor}" fill-opacity="0.45"/><rect x="0" y="3" width="{sx:.1}" height="12" rx="3" fill="#3e63dd"/><line x1="{bx:.1}" x2="{bx:.1}" y1="0" y2="{h}" stroke="#1c2024" stroke-width="2"/></svg>"##
    )
}

/// One job of a Gantt chart: seconds from the run's start.
pub struct GanttBar<'a> {
    pub label: &'a str,
    pub queued: f64,
    pub started: f64,
    pub finished: f64,
    pub critical: bool,
}

/// A run's jobs on a time axis: the wait for a runner as a pale bar, the
/// job itself as a solid one, jobs on the critical path in `hot`.
pub fn gantt(title: &str, bars: &[GanttBar<'_>], hot: &str, cold: &str) -> String {
    #[allow(non_snake_case)]
    let W = WIDE;
    const ROW: f64 = 22.0;
    const LABEL: f64 = 180.0;
    let h = PAD_T + ROW * bars.len().max(1) as f64 + PAD_B;
    let mut out = open(W, h, title);
    if bars.is_empty() {
        return empty(out, W, h, "no finished run in this window");
    }
    let end = bars.iter().map(|b| b.finished).fold(1.0f64, f64::max);
    let step = duration_step(end, 6.0);
    let x = |t: f64| LABEL + (t.max(0.0) / end) * (W - LABEL - PAD_R);
    let bottom = h - PAD_B;
    let mut t = 0.0;
    while t <= end + step * 0.01 {
        let _ = write!(
            out,
            r#"<line class="grid" x1="{:.1}" x2="{:.1}" y1="{PAD_T}" y2="{bottom:.1}"/><text class="axis" x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            x(t),
            x(t),
            x(t),
            h - 8.0,
            super::html::duration(t)
        );
        t += step;
    }
    for (i, b) in bars.iter().enumerate() {
        let y = PAD_T + ROW * i as f64;
        let color = if b.critical { hot } else { cold };
        let _ = write!(
            out,
            r#"<text class="axis" x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
            LABEL - 8.0,
            y + ROW * 0.65,
            esc(b.label)
        );
        if b.started > b.queued {
            let _ = write!(
                out,
                r#"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" rx="2" fill="{color}" fill-opacity="0.22"><title>{}: waited {} for a runner</title></rect>"#,
                x(b.queued),
                y + 4.0,
                (x(b.started) - x(b.queued)).max(1.0),
                ROW - 8.0,
                esc(b.label),
                super::html::duration(b.started - b.queued)
            );
        }
        let _ = write!(
            out,
            r#"<rect class="bar" x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" rx="2" fill="{color}"><title>{}: {}{}</title></rect>"#,
            x(b.started),
            y + 4.0,
            (x(b.finished) - x(b.started)).max(1.0),
            ROW - 8.0,
            esc(b.label),
            super::html::duration(b.finished - b.started),
            if b.critical { " (critical path)" } else { "" }
        );
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn nice_steps() {
        assert_eq!(nice_step(10.0, 4.0), 2.0);
        assert_eq!(nice_step(100.0, 4.0), 20.0);
        assert_eq!(nice_step(0.03, 4.0), 0.01);
    }

    #[test]
    fn line_chart_has_series_rule_and_labels() {
        let t = |d| Utc.with_ymd_and_hms(2026, 1, d, 0, 0, 0).unwrap();
        let c = TimeChart {
            title: "lead <time>",
            series: vec![Series {
                name: "p50".into(),
                color: "#000",
                points: vec![(t(1), 1.0), (t(2), 3.0), (t(9), 2.0)],
                dashed: false,
                area: true,
            }],
            rules: vec![Rule {
                label: "target".into(),
                value: 2.5,
                color: "#f00",
            }],
            markers: vec![],
            fmt: &|v| format!("{v:.0}"),
            height: 200,
            zero: true,
            wide: false,
            seconds: false,
        }
        .render();
        assert!(c.starts_with("<svg") && c.ends_with("</svg>"));
        assert!(c.contains("lead &lt;time&gt;"));
        assert!(c.contains("<polyline class=\"series\""));
        assert!(c.contains(">target</text>"));
        assert!(c.contains("Jan 1"));
    }

    #[test]
    fn empty_chart_says_so() {
        let c = TimeChart {
            title: "x",
            series: vec![],
            rules: vec![],
            markers: vec![],
            fmt: &|v| v.to_string(),
            height: 100,
            zero: false,
            wide: false,
            seconds: false,
        }
        .render();
        assert!(c.contains("no data"));
    }

    #[test]
    fn gantt_marks_the_critical_path_and_the_wait() {
        let bars = [
            GanttBar {
                label: "build",
                queued: 0.0,
                started: 30.0,
                finished: 270.0,
                critical: true,
            },
            GanttBar {
                label: "lint",
                queued: 0.0,
                started: 0.0,
                finished: 180.0,
                critical: false,
            },
        ];
        let c = gantt("run", &bars, "#e5484d", "#3e63dd");
        assert!(c.contains("build: 4m (critical path)"), "{c}");
        assert!(c.contains("build: waited 30s for a runner"), "{c}");
        // lint started at once: no wait bar.
        assert!(!c.contains("lint: waited"), "{c}");
        assert_eq!(c.matches(r##"fill="#e5484d""##).count(), 2);
        assert!(gantt("run", &[], "#e5484d", "#3e63dd").contains("no finished run"));
    }
}
