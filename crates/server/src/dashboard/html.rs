//! HTML helpers: escaping, the page layout and its stylesheet, status badges
//! and value formatting shared by the dashboard pages.

use std::fmt::Write;

/// Escapes text for HTML content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Escapes a URL path segment or query value.
pub fn url(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// The four statuses a key result (or objective) can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    OffTrack,
    AtRisk,
    NoData,
    Met,
}

impl Status {
    pub fn parse(s: &str) -> Status {
        match s.replace(['-', ' '], "_").to_lowercase().as_str() {
            "met" | "on_track" | "ok" => Status::Met,
            "at_risk" | "warn" | "warning" => Status::AtRisk,
            "off_track" | "missed" | "failed" => Status::OffTrack,
            _ => Status::NoData,
        }
    }
    pub fn word(self) -> &'static str {
        match self {
            Status::Met => "met",
            Status::AtRisk => "at risk",
            Status::OffTrack => "off track",
            Status::NoData => "no data",
        }
    }
    pub fn symbol(self) -> &'static str {
        match self {
            Status::Met => "✔",
            Status::AtRisk => "▲",
            Status::OffTrack => "✖",
            Status::NoData => "○",
        }
    }
    pub fn class(self) -> &'static str {
        match self {
            Status::Met => "met",
            Status::AtRisk => "risk",
            Status::OffTrack => "off",
            Status::NoData => "nodata",
        }
    }
    pub fn color(self) -> &'static str {
        match self {
            Status::Met => "#30a46c",
            Status::AtRisk => "#f5a623",
            Status::OffTrack => "#e5484d",
            Status::NoData => "#8b8d98",
        }
    }
    /// A badge with symbol and word (colour is never the only signal).
    pub fn badge(self) -> String {
        format!(
            r#"<span class="badge {}">{} {}</span>"#,
            self.class(),
            self.symbol(),
            self.word()
        )
    }
}

/// A decision result badge.
pub fn result_badge(result: &str) -> String {
    let (class, sym) = match result {
        "allow" => ("met", "✔"),
        "warn" => ("risk", "▲"),
        "deny" => ("off", "✖"),
        _ => ("nodata", "?"),
    };
    format!(
        r#"<span class="badge {class}">{sym} {}</span>"#,
        esc(result)
    )
}

/// Which navigation entry is current.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    Scorecard,
    Services,
    Cost,
    Pipelines,
    Security,
    Decisions,
    Plans,
}

/// The full page around a body.
pub fn page(title: &str, org: &str, nav: Nav, updated: &str, body: &str) -> String {
    let mut links = String::new();
    for (n, href, label) in [
        (Nav::Scorecard, "/", "Scorecard"),
        (Nav::Services, "/services", "Services"),
        (Nav::Cost, "/cost", "Cost"),
        (Nav::Pipelines, "/pipelines", "Pipelines"),
        (Nav::Security, "/security", "Security"),
        (Nav::Decisions, "/decisions", "Decisions"),
        (Nav::Plans, "/plans", "Plans &amp; actions"),
    ] {
        let cur = if n == nav {
            r#" aria-current="page""#
        } else {
            ""
        };
        let _ = write!(links, r#"<a href="{href}"{cur}>{label}</a>"#);
    }
    format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · Bearing</title><style>{CSS}</style></head>
<body><header><div class="brand"><span class="logo">◈</span> Bearing <span class="org">{org}</span></div><nav>{links}</nav><div class="updated">{updated}</div></header>
<main>{body}</main>
<footer>Bearing · intent → guardrails → outcomes → adapt · <a href="/openapi.json">API</a> · <a href="/metrics">metrics</a></footer>
</body></html>"#,
        title = esc(title),
        org = esc(org),
        updated = esc(updated),
    )
}

/// Formats seconds as a short duration.
pub fn duration(secs: f64) -> String {
    if !secs.is_finite() {
        return "–".into();
    }
    let s = secs.abs();
    let sign = if secs < 0.0 { "-" } else { "" };
    if s < 60.0 {
        format!("{sign}{s:.0}s")
    } else if s < 3600.0 {
        format!("{sign}{:.0}m", s / 60.0)
    } else if s < 86_400.0 * 2.0 {
        format!("{sign}{:.1}h", s / 3600.0)
    } else {
        format!("{sign}{:.1}d", s / 86_400.0)
    }
}

/// Formats a fraction as a percentage.
pub fn percent(f: f64) -> String {
    if !f.is_finite() {
        return "–".into();
    }
    let p = f * 100.0;
    if p.abs() >= 10.0 {
        format!("{p:.0}%")
    } else {
        format!("{p:.1}%")
    }
}

/// Formats an amount of money with thousands separators.
pub fn money(v: f64, currency: &str) -> String {
    if !v.is_finite() {
        return "–".into();
    }
    let whole = v.round() as i64;
    let digits = whole.abs().to_string();
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    let sign = if whole < 0 { "-" } else { "" };
    match currency {
        "USD" => format!("{sign}${grouped}"),
        "EUR" => format!("{sign}€{grouped}"),
        c => format!("{sign}{grouped} {c}"),
    }
}

/// Formats a plain number compactly.
pub fn number(v: f64) -> String {
    if !v.is_finite() {
        return "–".into();
    }
    if (v.fract().abs() < 1e-9 && v.abs() < 1e12) || v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.4}")
    }
}

const CSS: &str = r#"
:root{--bg:#f7f8fa;--card:#fff;--ink:#1c2024;--mute:#60646c;--line:#e4e6eb;--accent:#3e63dd;--met:#30a46c;--risk:#f5a623;--off:#e5484d;--nodata:#8b8d98}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:var(--ink);background:var(--bg)}
header{display:flex;align-items:center;gap:28px;padding:12px 28px;background:#111827;color:#fff}
.brand{font-weight:700;font-size:17px;white-space:nowrap}.brand .logo{color:#8da4ef}.brand .org{font-weight:400;color:#c7cbd3;margin-left:8px;font-size:14px}
nav{display:flex;gap:4px;flex-wrap:wrap}nav a{color:#d6d9e0;text-decoration:none;padding:6px 11px;border-radius:6px}nav a:hover{background:#1f2937}nav a[aria-current]{background:#3e63dd;color:#fff}
.updated{margin-left:auto;color:#9ca3af;font-size:12px;white-space:nowrap}
main{max-width:1320px;margin:0 auto;padding:22px 28px 40px}
footer{text-align:center;color:var(--mute);font-size:12px;padding:18px}footer a{color:var(--mute)}
h1{font-size:22px;margin:4px 0 4px}h2{font-size:16px;margin:0 0 10px}h3{font-size:14px;margin:0 0 6px}
.lede{color:var(--mute);margin:0 0 18px}
.grid{display:grid;gap:16px}.g2{grid-template-columns:repeat(2,minmax(0,1fr))}.g3{grid-template-columns:repeat(3,minmax(0,1fr))}.g4{grid-template-columns:repeat(4,minmax(0,1fr))}
@media (max-width:900px){.g2,.g3,.g4{grid-template-columns:1fr}}
.card{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:16px 18px;box-shadow:0 1px 2px rgba(16,24,40,.04)}
.kpi{display:flex;flex-direction:column;gap:2px}.kpi .v{font-size:26px;font-weight:650;letter-spacing:-.01em}.kpi .l{color:var(--mute);font-size:12px;text-transform:uppercase;letter-spacing:.04em}
.kpi.met .v{color:var(--met)}.kpi.risk .v{color:#b7791f}.kpi.off .v{color:var(--off)}
.badge{display:inline-flex;align-items:center;gap:4px;padding:1px 8px;border-radius:999px;font-size:12px;font-weight:600;white-space:nowrap}
.badge.met{background:#e6f6eb;color:#18794e}.badge.risk{background:#fff4d5;color:#ad5700}.badge.off{background:#ffe5e5;color:#ce2c31}.badge.nodata{background:#f0f0f3;color:#60646c}
.obj{border-left:5px solid var(--nodata)}.obj.met{border-left-color:var(--met)}.obj.risk{border-left-color:var(--risk)}.obj.off{border-left-color:var(--off)}
.obj-head{display:flex;align-items:baseline;gap:10px;justify-content:space-between}.obj-head .meta{color:var(--mute);font-size:12px}
.layer{font-size:11px;text-transform:uppercase;letter-spacing:.05em;color:var(--mute);border:1px solid var(--line);border-radius:4px;padding:0 5px;margin-right:6px}
table{width:100%;border-collapse:collapse}th,td{text-align:left;padding:7px 6px;border-bottom:1px solid var(--line);vertical-align:middle}
th{font-size:12px;color:var(--mute);font-weight:600;text-transform:uppercase;letter-spacing:.03em}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
tr:last-child td{border-bottom:none}
.mute{color:var(--mute)}.small{font-size:12px}.mono{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:12px}
a{color:var(--accent)}
.chart{width:100%;height:auto;display:block}.chart .grid{stroke:#eceef2;stroke-width:1}.chart .axis{fill:#80838d;font-size:11px}.chart .rule,.chart .marker{font-size:11px;font-weight:600}.chart .empty{fill:#80838d;font-size:13px}
.legend{display:flex;gap:14px;font-size:12px;color:var(--mute);margin:4px 0 0}.legend i{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:4px;vertical-align:-1px}
.pill{display:inline-block;padding:1px 8px;border-radius:999px;background:#eef1fd;color:#3451b2;font-size:12px;font-weight:600}
.pill.freeze{background:#ffe5e5;color:#ce2c31}.pill.canary{background:#fff4d5;color:#ad5700}
.sev{font-weight:650;text-transform:capitalize}.sev.critical{color:#ce2c31}.sev.high{color:#dc6b00}.sev.medium{color:#ad8a00}.sev.low{color:#60646c}
.strip{margin-bottom:16px}
details summary{cursor:pointer;color:var(--accent)}
.story{background:#eef1fd;border:1px solid #d0d9fb;color:#1f2d5c}
.svc-cards a{text-decoration:none;color:inherit}.svc-cards .card:hover{border-color:#b3c0f2}
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_and_formatting() {
        assert_eq!(
            esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        assert_eq!(url("a b/c"), "a%20b%2Fc");
        assert_eq!(duration(90.0), "2m");
        assert_eq!(duration(5400.0), "1.5h");
        assert_eq!(duration(3.0 * 86_400.0), "3.0d");
        assert_eq!(percent(0.153), "15%");
        assert_eq!(percent(0.032), "3.2%");
        assert_eq!(money(12345.6, "USD"), "$12,346");
        assert_eq!(money(-999.0, "EUR"), "-€999");
        assert_eq!(Status::parse("off_track"), Status::OffTrack);
        assert_eq!(Status::parse("at-risk"), Status::AtRisk);
    }
}
