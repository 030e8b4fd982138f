//! Parser throughput on generated inputs: Bearing JSONL (streaming and whole
//! file), CDEvents, SARIF, Trivy and FOCUS. Reported as elements (events) per
//! second; run with `cargo bench -p bearing-events --bench parsers`.

use std::fmt::Write as _;
use std::hint::black_box;

use bearing_events::{Format, JsonlReader, ParseContext, parse};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const N: usize = 10_000;

fn ctx() -> ParseContext {
    ParseContext::new(chrono::DateTime::from_timestamp(1_735_689_600, 0).unwrap_or_default())
}

/// A realistic mix: deployments, changes with commits, pipeline runs, metric points.
fn jsonl(n: usize) -> String {
    let mut s = String::with_capacity(n * 300);
    for i in 0..n {
        let t = format!("2024-05-{:02}T{:02}:{:02}:00Z", 1 + i % 28, i % 24, i % 60);
        let svc = ["checkout", "search", "payments", "catalog"][i % 4];
        let line = match i % 4 {
            0 => format!(
                r#"{{"id":"dep-{i}","source":"bench","time":"{t}","service":"{svc}","environment":"prod","kind":"deployment","data":{{"deployment_id":"{i}","version":"1.{i}.0","commit":"{i:040x}","status":"success","finished_at":"{t}","strategy":"canary"}}}}"#
            ),
            1 => format!(
                r#"{{"id":"chg-{i}","source":"bench","time":"{t}","service":"{svc}","kind":"change","data":{{"change_id":"pr-{i}","repo":"acme/{svc}","commits":[{{"sha":"{i:040x}","authored_at":"{t}"}},{{"sha":"{:040x}","authored_at":"{t}"}}],"merged_at":"{t}","additions":12,"deletions":3}}}}"#,
                i + 1
            ),
            2 => format!(
                r#"{{"id":"run-{i}","source":"bench","time":"{t}","service":"{svc}","kind":"pipeline_run","data":{{"run_id":"{i}","pipeline":"ci","status":"failure","started_at":"{t}","finished_at":"{t}"}}}}"#
            ),
            _ => format!(
                r#"{{"id":"m-{i}","source":"bench","time":"{t}","service":"{svc}","kind":"metric_point","data":{{"name":"http.requests","value":{i}.5,"dimensions":{{"route":"/api"}}}}}}"#
            ),
        };
        s.push_str(&line);
        s.push('\n');
    }
    s
}

fn cdevents(n: usize) -> String {
    let items: Vec<String> = (0..n)
        .map(|i| {
            format!(
                r#"{{"context":{{"specversion":"0.4.1","id":"{i}","source":"/argo","type":"dev.cdevents.service.deployed.0.2.0","timestamp":"2024-05-01T12:00:00Z"}},"subject":{{"id":"svc-{}","source":"/argo","content":{{"environment":{{"id":"prod"}},"artifactId":"pkg:oci/app@sha256%3A{i:064x}"}}}}}}"#,
                i % 10
            )
        })
        .collect();
    format!("[{}]", items.join(","))
}

fn sarif(n: usize) -> String {
    let mut results = String::new();
    for i in 0..n {
        if i > 0 {
            results.push(',');
        }
        let _ = write!(
            results,
            r#"{{"ruleId":"r{}","ruleIndex":{},"level":"warning","message":{{"text":"problem {i}"}},"locations":[{{"physicalLocation":{{"artifactLocation":{{"uri":"src/file{}.py"}},"region":{{"startLine":{},"startColumn":3}}}}}}]}}"#,
            i % 20,
            i % 20,
            i % 100,
            1 + i % 500
        );
    }
    let rules: Vec<String> = (0..20)
        .map(|r| format!(r#"{{"id":"r{r}","properties":{{"security-severity":"{}.5","tags":["security"]}}}}"#, r % 10))
        .collect();
    format!(
        r#"{{"version":"2.1.0","runs":[{{"tool":{{"driver":{{"name":"Semgrep","rules":[{}]}}}},"results":[{results}]}}]}}"#,
        rules.join(",")
    )
}

fn trivy(n: usize) -> String {
    let vulns: Vec<String> = (0..n)
        .map(|i| {
            format!(
                r#"{{"VulnerabilityID":"CVE-2024-{i}","PkgName":"pkg{}","InstalledVersion":"1.0","FixedVersion":"1.1","Severity":"HIGH","Title":"bad thing {i}"}}"#,
                i % 300
            )
        })
        .collect();
    format!(
        r#"{{"SchemaVersion":2,"ArtifactName":"web:1.2","CreatedAt":"2024-05-01T12:00:00Z","Results":[{{"Target":"web:1.2 (alpine 3.19)","Class":"os-pkgs","Vulnerabilities":[{}]}}]}}"#,
        vulns.join(",")
    )
}

fn focus(n: usize) -> String {
    let mut s = String::from(
        "BilledCost,EffectiveCost,ListCost,BillingCurrency,ChargePeriodStart,ChargePeriodEnd,ProviderName,ServiceName,ResourceId,RegionId,ChargeCategory,Tags\n",
    );
    for i in 0..n {
        let _ = writeln!(
            s,
            "{}.25,{}.2,{}.5,USD,2024-09-{:02} 10:00:00,2024-09-{:02} 11:00:00,AWS,Amazon S3,arn:aws:s3:::bucket-{i},us-east-1,Usage,\"{{\"\"app\"\": \"\"svc{}\"\"}}\"",
            i % 7,
            i % 7,
            i % 7,
            1 + i % 28,
            1 + i % 28,
            i % 9
        );
    }
    s
}

fn bench(c: &mut Criterion) {
    let ctx = ctx();
    let mut g = c.benchmark_group("parse");
    g.sample_size(10);

    let input = jsonl(N);
    g.throughput(Throughput::Elements(N as u64));
    g.bench_function("bearing_jsonl_stream", |b| {
        b.iter(|| {
            let n = JsonlReader::new(black_box(input.as_bytes()))
                .filter(Result::is_ok)
                .count();
            assert_eq!(n, N);
        })
    });
    // Reference: the cost of only tokenising the same lines into untyped JSON.
    g.bench_function("jsonl_baseline_serde_json_value", |b| {
        b.iter(|| {
            black_box(input.as_bytes())
                .split(|c| *c == b'\n')
                .filter(|l| !l.is_empty())
                .filter(|l| serde_json::from_slice::<serde_json::Value>(l).is_ok())
                .count()
        })
    });
    g.bench_function("bearing_jsonl_parse", |b| {
        b.iter(|| parse(Format::Bearing, black_box(input.as_bytes()), &ctx).map(|v| v.len()))
    });

    for (name, format, input) in [
        ("cdevents", Format::CdEvents, cdevents(N / 10)),
        ("sarif", Format::Sarif, sarif(N / 10)),
        ("trivy", Format::Trivy, trivy(N / 10)),
        ("focus", Format::Focus, focus(N / 10)),
    ] {
        g.throughput(Throughput::Elements((N / 10) as u64));
        g.bench_function(name, |b| {
            b.iter(|| {
                let events = parse(format, black_box(input.as_bytes()), &ctx).map(|v| v.len());
                assert_eq!(events, Ok(N / 10), "{name}");
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
