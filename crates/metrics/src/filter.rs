//! Key-result filters as text: `severity=critical,high`, several joined by
//! `;`. The one syntax `bearing explain --filter`, the API's `filter`
//! parameter and the dashboard's links share, so a key result's figure is
//! the same on every surface.

use std::collections::BTreeMap;

use bearing_intent::{FilterValue, catalog};

/// Parses `KEY=VALUE[,VALUE…]` items (each may hold several joined by `;`)
/// for `metric`, refusing keys the metric cannot be filtered by.
pub fn parse_filters<'a>(
    metric: &str,
    items: impl IntoIterator<Item = &'a str>,
) -> Result<BTreeMap<String, FilterValue>, String> {
    let allowed = catalog::lookup(metric).map_or(&[][..], |m| m.filters);
    let mut out = BTreeMap::new();
    for item in items.into_iter().flat_map(|i| i.split(';')) {
        let item = item.trim();
        if item.is_empty() {
            continue;
        }
        let (k, v) = item
            .split_once('=')
            .ok_or_else(|| format!("invalid filter `{item}`: expected KEY=VALUE[,VALUE…]"))?;
        let k = k.trim();
        if !allowed.contains(&k) {
            return Err(if allowed.is_empty() {
                format!("`{metric}` takes no filter; `{k}` is not one")
            } else {
                format!(
                    "unknown filter `{k}` for `{metric}`: expected one of {}",
                    allowed.join(", ")
                )
            });
        }
        let values: Vec<String> = v
            .split(',')
            .map(|x| x.trim().to_string())
            .filter(|x| !x.is_empty())
            .collect();
        if values.is_empty() {
            return Err(format!("invalid filter `{item}`: no value after `=`"));
        }
        out.insert(k.to_string(), FilterValue::Any(values));
    }
    Ok(out)
}

/// The text form [`parse_filters`] reads back: `severity=critical,high;slo=x`.
pub fn filters_text(f: &BTreeMap<String, FilterValue>) -> String {
    f.iter()
        .map(|(k, v)| format!("{k}={}", v.values().join(",")))
        .collect::<Vec<_>>()
        .join(";")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_unknown_keys() {
        let f = parse_filters("security.findings_past_sla", ["severity=critical, high"]).unwrap();
        assert_eq!(f["severity"].values(), ["critical", "high"]);
        assert_eq!(filters_text(&f), "severity=critical,high");
        assert_eq!(
            parse_filters("security.findings_past_sla", [filters_text(&f).as_str()]).unwrap(),
            f
        );
        let e = parse_filters("security.findings_past_sla", ["sev=high"]).unwrap_err();
        assert!(e.contains("unknown filter `sev`"), "{e}");
        assert!(parse_filters("security.findings_past_sla", ["severity"]).is_err());
    }
}
