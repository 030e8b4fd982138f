//! Cost adapters: FOCUS CSV (1.0, with the 0.5 column names accepted) and
//! OpenCost API responses (allocation and assets), one cost row per record.
//!
//! FOCUS: headers are trimmed (exports with `BilledCost, ProviderName` work); the
//! literal `NULL` and empty cells are absent values; timestamps may be RFC 3339
//! or `2024-09-18 22:00:00` (UTC). Required columns: `BilledCost`,
//! `ChargePeriodStart`, `ChargePeriodEnd`, `BillingCurrency`. The Bearing service
//! and environment come from the `Tags` JSON (`service`/`app`/`application`,
//! `environment`/`env`), else from `--service`/`--env`. Id: a digest of the row.

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;

use crate::model::*;

use super::bearing_csv::{csv_error, quote_list};
use super::json::{Get, parse_value};
use super::{ParseContext, ParseError, Parsed, RecordRef, utf8};

/// Every FOCUS column name Bearing knows (1.0 and 0.5), used for detection.
const FOCUS_COLUMNS: &[&str] = &[
    "AvailabilityZone",
    "BilledCost",
    "BillingAccountId",
    "BillingAccountName",
    "BillingCurrency",
    "BillingPeriodEnd",
    "BillingPeriodStart",
    "ChargeCategory",
    "ChargeClass",
    "ChargeDescription",
    "ChargeFrequency",
    "ChargePeriodEnd",
    "ChargePeriodStart",
    "CommitmentDiscountCategory",
    "CommitmentDiscountId",
    "CommitmentDiscountName",
    "CommitmentDiscountStatus",
    "CommitmentDiscountType",
    "ConsumedQuantity",
    "ConsumedUnit",
    "ContractedCost",
    "ContractedUnitPrice",
    "EffectiveCost",
    "InvoiceIssuerName",
    "ListCost",
    "ListUnitPrice",
    "PricingCategory",
    "PricingQuantity",
    "PricingUnit",
    "ProviderName",
    "PublisherName",
    "RegionId",
    "RegionName",
    "ResourceId",
    "ResourceName",
    "ResourceType",
    "ServiceCategory",
    "ServiceName",
    "SkuId",
    "SkuPriceId",
    "SubAccountId",
    "SubAccountName",
    "Tags",
    // FOCUS 0.5 names.
    "AmortizedCost",
    "ChargeType",
    "Region",
    "UsageQuantity",
    "UsageUnit",
    "Provider",
    "Publisher",
    "InvoiceIssuer",
];

const REQUIRED: [&str; 4] = [
    "BilledCost",
    "ChargePeriodStart",
    "ChargePeriodEnd",
    "BillingCurrency",
];

pub(super) fn is_focus_column(c: &str) -> bool {
    FOCUS_COLUMNS.contains(&c)
}

pub(super) fn parse_focus(bytes: &[u8], ctx: &ParseContext) -> Result<Parsed, ParseError> {
    let text = utf8(bytes)?;
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(text.as_bytes());
    let headers = rdr
        .headers()
        .map_err(|e| csv_error(&e, "cannot read the header row").with_record(RecordRef::Row(1)))?;
    let index: HashMap<String, usize> = headers
        .iter()
        .enumerate()
        .map(|(i, h)| (h.trim().to_owned(), i))
        .collect();
    let missing: Vec<&str> = REQUIRED
        .iter()
        .copied()
        .filter(|c| !index.contains_key(*c))
        .collect();
    if !missing.is_empty() {
        let known = index.keys().filter(|k| is_focus_column(k)).count();
        let what = if known == 0 {
            "not a FOCUS cost file"
        } else {
            "incomplete FOCUS cost file"
        };
        return Err(ParseError::at(
            RecordRef::Row(1),
            format!(
                "{what}: missing required column(s) {}; FOCUS rows need {}",
                quote_list(&missing),
                quote_list(&REQUIRED)
            ),
        ));
    }
    let col = |names: &[&str]| names.iter().find_map(|n| index.get(*n).copied());
    let c = Cols {
        billed: col(&["BilledCost"]),
        effective: col(&["EffectiveCost", "AmortizedCost"]),
        list: col(&["ListCost"]),
        currency: col(&["BillingCurrency"]),
        start: col(&["ChargePeriodStart"]),
        end: col(&["ChargePeriodEnd"]),
        provider: col(&["ProviderName", "Provider"]),
        service_name: col(&["ServiceName"]),
        service_category: col(&["ServiceCategory"]),
        resource_id: col(&["ResourceId"]),
        resource_name: col(&["ResourceName"]),
        region: col(&["RegionId", "RegionName", "Region"]),
        charge_category: col(&["ChargeCategory", "ChargeType"]),
        sub_account: col(&["SubAccountName", "SubAccountId"]),
        quantity: col(&["ConsumedQuantity", "UsageQuantity"]),
        unit: col(&["ConsumedUnit", "UsageUnit"]),
        tags: col(&["Tags"]),
        pricing_quantity: col(&["PricingQuantity"]),
        commitment_id: col(&["CommitmentDiscountId"]),
        commitment_status: col(&["CommitmentDiscountStatus"]),
    };
    let names: Vec<String> = headers.iter().map(|h| h.trim().to_owned()).collect();

    let mut parsed = Parsed::default();
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut rec = csv::StringRecord::new();
    let mut row = 1;
    loop {
        match rdr.read_record(&mut rec) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                return Err(
                    csv_error(&e, "cannot read the row").with_record(RecordRef::Row(row + 1))
                );
            }
        }
        row += 1;
        let event = focus_row(&c, &names, &rec, ctx, &mut seen)
            .map_err(|e| e.with_record(RecordRef::Row(row)))?;
        parsed.push(event, Some(RecordRef::Row(row)));
    }
    Ok(parsed)
}

struct Cols {
    billed: Option<usize>,
    effective: Option<usize>,
    list: Option<usize>,
    currency: Option<usize>,
    start: Option<usize>,
    end: Option<usize>,
    provider: Option<usize>,
    service_name: Option<usize>,
    service_category: Option<usize>,
    resource_id: Option<usize>,
    resource_name: Option<usize>,
    region: Option<usize>,
    charge_category: Option<usize>,
    sub_account: Option<usize>,
    quantity: Option<usize>,
    unit: Option<usize>,
    tags: Option<usize>,
    pricing_quantity: Option<usize>,
    commitment_id: Option<usize>,
    commitment_status: Option<usize>,
}

fn focus_row(
    c: &Cols,
    names: &[String],
    rec: &csv::StringRecord,
    ctx: &ParseContext,
    seen: &mut HashMap<String, usize>,
) -> Result<Event, ParseError> {
    let cell = |i: Option<usize>| -> Option<&str> {
        let v = rec.get(i?)?.trim();
        (!v.is_empty() && v != "NULL").then_some(v)
    };
    let name = |i: Option<usize>| {
        i.and_then(|i| names.get(i))
            .map_or("?", String::as_str)
            .to_owned()
    };
    let text = |i: Option<usize>| cell(i).map(str::to_owned);
    let number = |i: Option<usize>| -> Result<Option<f64>, ParseError> {
        match cell(i) {
            None => Ok(None),
            Some(v) => match v.parse::<f64>() {
                Ok(f) if f.is_finite() => Ok(Some(f)),
                _ => Err(ParseError::new(format!(
                    "expected a decimal number, found `{}`",
                    super::truncate(v, 40)
                ))
                .with_field(name(i))),
            },
        }
    };
    let required = |i: Option<usize>| -> Result<&str, ParseError> {
        cell(i).ok_or_else(|| {
            ParseError::new("empty; this FOCUS column is required").with_field(name(i))
        })
    };
    let time = |i: Option<usize>| -> Result<chrono::DateTime<chrono::Utc>, ParseError> {
        let v = required(i)?;
        crate::timestamp::parse_lenient(v).ok_or_else(|| {
            ParseError::new(crate::timestamp::expected_timestamp(v)).with_field(name(i))
        })
    };
    let billed = number(c.billed)?.ok_or_else(|| {
        ParseError::new("empty; this FOCUS column is required").with_field("BilledCost")
    })?;
    let currency = required(c.currency)?.to_owned();
    let start = time(c.start)?;
    let end = time(c.end)?;
    if end < start {
        return Err(ParseError::new(format!(
            "ends before it starts (`ChargePeriodStart` is {start})"
        ))
        .with_field(name(c.end)));
    }
    let mut tags = BTreeMap::new();
    if let Some(t) = cell(c.tags) {
        match serde_json::from_str::<Value>(t) {
            Ok(Value::Object(m)) => {
                for (k, v) in m {
                    let v = match v {
                        Value::String(s) => s,
                        other => other.to_string(),
                    };
                    tags.insert(k.trim().to_owned(), v);
                }
            }
            _ => {
                return Err(ParseError::new(format!(
                    "expected a JSON object of tags, found `{}`",
                    super::truncate(t, 60)
                ))
                .with_field("Tags"));
            }
        }
    }
    let row = CostRow {
        billed_cost: billed,
        effective_cost: number(c.effective)?.unwrap_or(billed),
        list_cost: number(c.list)?,
        currency,
        charge_period_start: start,
        charge_period_end: end,
        provider: text(c.provider),
        service_name: text(c.service_name),
        service_category: text(c.service_category),
        resource_id: text(c.resource_id),
        resource_name: text(c.resource_name),
        region: text(c.region),
        charge_category: text(c.charge_category),
        sub_account: text(c.sub_account),
        consumed_quantity: number(c.quantity)?,
        consumed_unit: text(c.unit),
        tags,
        pricing_quantity: number(c.pricing_quantity)?,
        commitment_id: text(c.commitment_id),
        commitment_status: text(c.commitment_status),
        usage: None,
    };
    let fields: Vec<&[u8]> = rec.iter().map(str::as_bytes).collect();
    let digest = super::digest(&fields)[..20].to_owned();
    let k = seen.entry(digest.clone()).or_insert(0);
    *k += 1;
    let id = if *k == 1 {
        format!("focus:{digest}")
    } else {
        format!("focus:{digest}:{k}")
    };
    let mut e = Event::new(id, "focus", start, Payload::Cost(row));
    apply_tag_scope(&mut e, ctx);
    Ok(e)
}

/// Service and environment from cost tags/labels, when present.
fn apply_tag_scope(e: &mut Event, _ctx: &ParseContext) {
    let Payload::Cost(row) = &e.payload else {
        return;
    };
    let find = |keys: &[&str]| {
        row.tags
            .iter()
            .find(|(k, v)| keys.contains(&k.to_ascii_lowercase().as_str()) && !v.is_empty())
            .map(|(_, v)| v.clone())
    };
    e.service = find(&[
        "bearing:service",
        "bearing.service",
        "service",
        "app",
        "application",
        "app.kubernetes.io/name",
    ]);
    e.environment = find(&[
        "bearing:environment",
        "bearing.environment",
        "environment",
        "env",
    ]);
}

// ---------------------------------------------------------------- OpenCost

/// OpenCost `/allocation` and `/assets` responses: `{"code":200,"data":…}` where
/// `data` is a map of name → record, or a list of such maps (one per step).
/// Each record with `start`, `end` and `totalCost` is one cost row (currency USD:
/// OpenCost responses do not carry it). Labels become tags.
pub(super) fn parse_opencost(bytes: &[u8], ctx: &ParseContext) -> Result<Parsed, ParseError> {
    let v = parse_value(bytes)?;
    if let Some(code) = v.u64_at("code").filter(|c| *c != 200) {
        let msg = v.str_at("message").unwrap_or("no message");
        return Err(ParseError::new(format!(
            "OpenCost returned code {code}: {}",
            super::truncate(msg, 200)
        ))
        .with_field("code"));
    }
    let steps: Vec<(String, &serde_json::Map<String, Value>)> = match v.get("data") {
        Some(Value::Object(m)) => vec![("data".to_owned(), m)],
        Some(Value::Array(a)) => {
            let mut out = Vec::new();
            for (i, s) in a.iter().enumerate() {
                match s {
                    Value::Object(m) => out.push((format!("data[{i}]"), m)),
                    Value::Null => {}
                    other => {
                        return Err(ParseError::new(format!(
                            "expected an object of records, found {}",
                            super::json::kind_of(other)
                        ))
                        .with_field(format!("data[{i}]")));
                    }
                }
            }
            out
        }
        _ => {
            return Err(ParseError::new(
                "not an OpenCost response: expected `data` with allocation or asset records",
            ));
        }
    };
    let mut parsed = Parsed::default();
    for (path, step) in steps {
        for (name, rec) in step {
            let at = |e: ParseError| e.with_field(format!("{path}.{name}"));
            if !rec.is_object() {
                return Err(at(ParseError::new(format!(
                    "expected a record object, found {}",
                    super::json::kind_of(rec)
                ))));
            }
            let start = super::json::req_time(rec, "start")
                .or_else(|_| super::json::req_time(rec, "window.start"))
                .map_err(at)?;
            let end = super::json::req_time(rec, "end")
                .or_else(|_| super::json::req_time(rec, "window.end"))
                .map_err(at)?;
            let total = match rec.path("totalCost") {
                Some(x) => x.as_f64().filter(|f| f.is_finite()).ok_or_else(|| {
                    at(ParseError::new(format!(
                        "expected a number, found {}",
                        super::json::kind_of(x)
                    ))
                    .with_field("totalCost"))
                })?,
                None => {
                    return Err(at(ParseError::new(
                        "missing; each record needs `totalCost`",
                    )
                    .with_field("totalCost")));
                }
            };
            let mut tags = BTreeMap::new();
            for labels in ["properties.labels", "properties.namespaceLabels", "labels"] {
                if let Some(Value::Object(m)) = rec.path(labels) {
                    for (k, v) in m {
                        if let Some(s) = v.as_str() {
                            tags.entry(k.clone()).or_insert_with(|| s.to_owned());
                        }
                    }
                }
            }
            for key in [
                "cluster",
                "namespace",
                "controller",
                "pod",
                "container",
                "node",
            ] {
                if let Some(s) = rec.str_at(&format!("properties.{key}")) {
                    tags.entry(format!("opencost:{key}"))
                        .or_insert_with(|| s.to_owned());
                }
            }
            let row = CostRow {
                billed_cost: total,
                effective_cost: total,
                list_cost: None,
                currency: "USD".to_owned(),
                charge_period_start: start,
                charge_period_end: end,
                provider: rec.str_at("properties.provider").map(str::to_owned),
                service_name: rec
                    .str_at("properties.service")
                    .map(str::to_owned)
                    .or_else(|| Some("Kubernetes".to_owned())),
                service_category: rec.str_at("properties.category").map(str::to_owned),
                resource_id: rec.str_at("properties.providerID").map(str::to_owned),
                resource_name: rec
                    .str_at("properties.name")
                    .or_else(|| rec.str_at("name"))
                    .or(Some(name.as_str()))
                    .map(str::to_owned),
                region: rec.str_at("properties.region").map(str::to_owned),
                charge_category: Some("Usage".to_owned()),
                sub_account: rec.str_at("properties.cluster").map(str::to_owned),
                consumed_quantity: None,
                consumed_unit: None,
                tags,
                pricing_quantity: None,
                commitment_id: None,
                commitment_status: None,
                usage: opencost_usage(rec, name).map_err(at)?.map(Box::new),
            };
            let kind = rec.str_at("type").unwrap_or("allocation");
            let mut e = Event::new(
                format!("opencost:{kind}:{name}:{}", start.to_rfc3339()),
                "opencost",
                start,
                Payload::Cost(row),
            );
            apply_tag_scope(&mut e, ctx);
            if e.service.is_none() && kind == "allocation" {
                // Aggregated by namespace or controller, the name is the workload.
                e.service = rec.str_at("properties.controller").map(str::to_owned);
            }
            parsed.events.push(e);
        }
    }
    Ok(parsed)
}

/// A number at `path`, absent when missing or null; anything else is an error.
fn opt_number(rec: &Value, path: &str) -> Result<Option<f64>, ParseError> {
    match rec.path(path) {
        None | Some(Value::Null) => Ok(None),
        Some(x) => x
            .as_f64()
            .filter(|f| f.is_finite() && *f >= 0.0)
            .map(Some)
            .ok_or_else(|| {
                ParseError::new(format!(
                    "expected a number of zero or more, found {}",
                    super::json::kind_of(x)
                ))
                .with_field(path)
            }),
    }
}

/// Requests and usage of an allocation record (`cpuCoreRequestAverage` …);
/// `None` for records without them (assets, older responses).
fn opencost_usage(rec: &Value, name: &str) -> Result<Option<ResourceUsage>, ParseError> {
    let Some(cpu_request_cores) = opt_number(rec, "cpuCoreRequestAverage")? else {
        return Ok(None);
    };
    let need = |path: &str| -> Result<f64, ParseError> {
        opt_number(rec, path)?.ok_or_else(|| {
            ParseError::new("missing; an allocation with `cpuCoreRequestAverage` needs it")
                .with_field(path)
        })
    };
    let max = |path: &str| -> Result<Option<f64>, ParseError> {
        match opt_number(rec, path)? {
            Some(v) => Ok(Some(v)),
            None => opt_number(rec, &format!("rawAllocationOnly.{path}")),
        }
    };
    Ok(Some(ResourceUsage {
        workload: name.to_owned(),
        container: rec.str_at("properties.container").map(str::to_owned),
        minutes: need("minutes")?,
        cpu_request_cores,
        cpu_usage_cores: need("cpuCoreUsageAverage")?,
        cpu_usage_max_cores: max("cpuCoreUsageMax")?,
        cpu_cost: need("cpuCost")?,
        ram_request_bytes: need("ramByteRequestAverage")?,
        ram_usage_bytes: need("ramByteUsageAverage")?,
        ram_usage_max_bytes: max("ramByteUsageMax")?,
        ram_cost: need("ramCost")?,
        // OpenCost keeps a property only when every pod aggregated shares it
        pods: rec.str_at("properties.pod").map(|_| 1.0),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> ParseContext {
        ParseContext::new(chrono::Utc::now())
    }

    #[test]
    fn focus_rows_with_tags_and_nulls() {
        let csv = "BilledCost, EffectiveCost, BillingCurrency, ChargePeriodStart, ChargePeriodEnd, ServiceName, Tags\n\
                   1.5,NULL,USD,2024-09-18 22:00:00,2024-09-18 23:00:00,S3,\"{\"\"app\"\": \"\"checkout\"\", \"\"env\"\": \"\"prod\"\"}\"\n\
                   1.5,NULL,USD,2024-09-18 22:00:00,2024-09-18 23:00:00,S3,\"{\"\"app\"\": \"\"checkout\"\", \"\"env\"\": \"\"prod\"\"}\"\n";
        let p = parse_focus(csv.as_bytes(), &ctx()).unwrap();
        assert_eq!(p.events.len(), 2);
        assert_ne!(
            p.events[0].id, p.events[1].id,
            "identical rows are both kept"
        );
        assert_eq!(p.events[0].service.as_deref(), Some("checkout"));
        let Payload::Cost(r) = &p.events[0].payload else {
            panic!()
        };
        assert_eq!((r.billed_cost, r.effective_cost), (1.5, 1.5));
    }

    #[test]
    fn focus_errors() {
        let e = parse_focus(b"x_foo\nbar", &ctx()).unwrap_err();
        assert!(
            e.message
                .starts_with("not a FOCUS cost file: missing required column(s) `BilledCost`"),
            "{e}"
        );
        let csv = "BilledCost,BillingCurrency,ChargePeriodStart,ChargePeriodEnd\nabc,USD,2024-01-01,2024-01-02\n";
        let e = parse_focus(csv.as_bytes(), &ctx()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "row 2, field `BilledCost`: expected a decimal number, found `abc`"
        );
        let csv =
            "BilledCost,BillingCurrency,ChargePeriodStart,ChargePeriodEnd\n1,USD,2024-01-01\n";
        let e = parse_focus(csv.as_bytes(), &ctx()).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("row 2: the row has 3 field(s) but the header has 4"),
            "{e}"
        );
    }

    #[test]
    fn opencost_allocation() {
        let body = r#"{"code":200,"data":[{"checkout":{"name":"checkout","properties":{"cluster":"c1","namespace":"shop","labels":{"app":"checkout"}},
            "window":{"start":"2024-05-01T00:00:00Z","end":"2024-05-02T00:00:00Z"},"start":"2024-05-01T00:00:00Z","end":"2024-05-02T00:00:00Z","totalCost":4.2}}]}"#;
        let p = parse_opencost(body.as_bytes(), &ctx()).unwrap();
        assert_eq!(p.events[0].service.as_deref(), Some("checkout"));
        let Payload::Cost(r) = &p.events[0].payload else {
            panic!()
        };
        assert_eq!(r.billed_cost, 4.2);
        assert_eq!(r.tags["opencost:namespace"], "shop");
    }
}
