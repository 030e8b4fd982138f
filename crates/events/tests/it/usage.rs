//! Requests and usage read from real OpenCost allocation responses
//! (`$BEARING_FIXTURES/k8s-usage`) and the FOCUS commitment columns
//! (`$BEARING_FIXTURES/focus-cost`): every number equals the file's, read
//! independently here with `serde_json` / `csv`.

use std::path::PathBuf;

use bearing_events::{Format, ParseContext, Payload, ResourceUsage, detect, parse};
use chrono::{TimeZone, Utc};

fn root() -> Option<PathBuf> {
    let r = std::env::var_os("BEARING_FIXTURES").map(PathBuf::from);
    if r.is_none() {
        eprintln!("BEARING_FIXTURES is not set: skipping");
    }
    r
}

fn ctx() -> ParseContext {
    ParseContext::new(Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap())
}

fn usages(bytes: &[u8]) -> Vec<(String, ResourceUsage)> {
    parse(Format::OpenCost, bytes, &ctx())
        .unwrap()
        .into_iter()
        .map(|e| match e.payload {
            Payload::Cost(c) => (
                c.resource_name.clone().unwrap(),
                *c.usage.expect("allocation usage"),
            ),
            _ => panic!("not a cost row"),
        })
        .collect()
}

#[test]
fn opencost_allocation_requests_and_usage() {
    let Some(root) = root() else { return };
    for file in [
        "opencost-website__allocation-example-output.json",
        "opencost__swagger-allocation-compute-example.json",
    ] {
        let bytes = std::fs::read(root.join("k8s-usage").join(file)).unwrap();
        assert_eq!(detect(Some(file), &bytes), Some(Format::OpenCost), "{file}");
        let got = usages(&bytes);
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        let data = v["data"][0].as_object().unwrap();
        assert_eq!(got.len(), data.len(), "{file}");
        for (name, u) in &got {
            let r = &data[name];
            let f = |k: &str| r[k].as_f64().unwrap();
            assert_eq!(
                u.cpu_request_cores,
                f("cpuCoreRequestAverage"),
                "{file} {name}"
            );
            assert_eq!(u.cpu_usage_cores, f("cpuCoreUsageAverage"));
            assert_eq!(u.ram_request_bytes, f("ramByteRequestAverage"));
            assert_eq!(u.ram_usage_bytes, f("ramByteUsageAverage"));
            assert_eq!(u.cpu_cost, f("cpuCost"));
            assert_eq!(u.ram_cost, f("ramCost"));
            assert_eq!(u.minutes, f("minutes"));
            // aggregated by namespace: the workload is the namespace
            assert_eq!(&u.workload, name);
        }
    }
    // The documented figures of SOURCES.md, by hand.
    let bytes = std::fs::read(
        root.join("k8s-usage")
            .join("opencost-website__allocation-example-output.json"),
    )
    .unwrap();
    let got = usages(&bytes);
    let ks = &got.iter().find(|(n, _)| n == "kube-system").unwrap().1;
    assert_eq!(
        (ks.cpu_request_cores, ks.cpu_usage_cores),
        (0.44979, 0.00938)
    );
    let prom = &got.iter().find(|(n, _)| n == "prometheus").unwrap().1;
    assert_eq!(
        prom.cpu_request_cores, 0.0,
        "requests 0, usage > 0 kept as is"
    );
    assert!(prom.cpu_usage_cores > 0.0);
}

#[test]
fn opencost_usage_maxima_and_errors() {
    let rec = |extra: &str| {
        format!(
            r#"{{"code":200,"data":[{{"shop/checkout/api":{{"name":"shop/checkout/api","properties":{{"namespace":"shop","controller":"checkout","container":"api"}},
            "start":"2024-05-01T00:00:00Z","end":"2024-05-02T00:00:00Z","totalCost":3,"minutes":1440,
            "cpuCoreRequestAverage":2,"cpuCoreUsageAverage":0.5,"cpuCost":2,"ramByteRequestAverage":1000,"ramByteUsageAverage":400,"ramCost":1{extra}}}}}]}}"#
        )
    };
    let got = usages(
        rec(r#","rawAllocationOnly":{"cpuCoreUsageMax":1.25,"ramByteUsageMax":900}"#).as_bytes(),
    );
    let u = &got[0].1;
    assert_eq!(u.workload, "shop/checkout/api");
    assert_eq!(u.container.as_deref(), Some("api"));
    assert_eq!(
        (u.cpu_usage_max_cores, u.ram_usage_max_bytes),
        (Some(1.25), Some(900.0))
    );
    let e = parse(
        Format::OpenCost,
        rec(r#","cpuCoreUsageMax":"x""#).as_bytes(),
        &ctx(),
    )
    .unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("data[0].shop/checkout/api")
            && msg.contains("cpuCoreUsageMax")
            && msg.contains("expected a number of zero or more, found the string `x`"),
        "{msg}"
    );
}

#[test]
fn focus_commitment_columns() {
    let Some(root) = root() else { return };
    let path = root.join("focus-cost/focus-1.0_sample_part-a.csv");
    let bytes = std::fs::read(&path).unwrap();
    let events = parse(Format::Focus, &bytes, &ctx()).unwrap();
    let mut rdr = csv::Reader::from_reader(bytes.as_slice());
    let rows: Vec<csv::StringRecord> = rdr.records().map(Result::unwrap).collect();
    let h = rdr.headers().unwrap().clone();
    let col = |n: &str| h.iter().position(|x| x == n).unwrap();
    assert_eq!(events.len(), rows.len());
    let cell = |r: &csv::StringRecord, n: &str| {
        let v = r[col(n)].trim().to_owned();
        (!v.is_empty() && v != "NULL").then_some(v)
    };
    let mut used = 0;
    for (e, r) in events.iter().zip(&rows) {
        let Payload::Cost(c) = &e.payload else {
            panic!()
        };
        assert_eq!(c.commitment_status, cell(r, "CommitmentDiscountStatus"));
        assert_eq!(c.commitment_id, cell(r, "CommitmentDiscountId"));
        assert_eq!(
            c.pricing_quantity,
            cell(r, "PricingQuantity").map(|v| v.parse::<f64>().unwrap())
        );
        used += usize::from(c.commitment_status.as_deref() == Some("Used"));
    }
    assert_eq!(used, 1, "the sample has one row drawing on a savings plan");
}
