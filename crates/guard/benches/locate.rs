//! Reading an attachment from a file (decoding, parsing and indexing every
//! value's `line:column`) on minified, single-line input of growing size:
//! `terraform show -json` writes one line, and so do many SARIF writers.
//! Time per megabyte should stay flat as the file grows (linear work); it
//! grew with the size while every column was counted from the line start.

use std::hint::black_box;

use bearing_guard::Attachment;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group};

/// A minified Terraform plan of about `bytes` bytes: IAM policies and
/// security groups, as `terraform show -json` prints them.
fn plan(bytes: usize) -> String {
    let mut changes = Vec::new();
    let mut len = 0;
    let mut i = 0;
    while len < bytes {
        let rc = format!(
            r#"{{"address":"aws_iam_policy.p{i}","mode":"managed","type":"aws_iam_policy","name":"p{i}","provider_name":"registry.terraform.io/hashicorp/aws","change":{{"actions":["create"],"before":null,"after":{{"description":"policy {i} — ünïcode","name":"p{i}","path":"/","policy":"{{\"Version\":\"2012-10-17\",\"Statement\":[{{\"Effect\":\"Allow\",\"Action\":[\"s3:GetObject\",\"s3:ListBucket\"],\"Resource\":\"arn:aws:s3:::bucket-{i}/*\"}}]}}","tags":{{"app":"checkout","team":"payments"}}}},"after_unknown":{{"arn":true,"id":true,"policy_id":true}}}}}}"#
        );
        len += rc.len() + 1;
        changes.push(rc);
        i += 1;
    }
    format!(
        r#"{{"format_version":"1.2","terraform_version":"1.9.5","resource_changes":[{}]}}"#,
        changes.join(",")
    )
}

/// A minified SARIF 2.1.0 report of about `bytes` bytes.
fn sarif(bytes: usize) -> String {
    let mut results = Vec::new();
    let mut len = 0;
    let mut i = 0;
    while len < bytes {
        let r = format!(
            r#"{{"ruleId":"js/sql-injection","ruleIndex":0,"level":"error","message":{{"text":"This query depends on a user-provided value ({i})."}},"locations":[{{"physicalLocation":{{"artifactLocation":{{"uri":"src/routes/r{i}.js","uriBaseId":"%SRCROOT%"}},"region":{{"startLine":{},"startColumn":9,"endColumn":42}}}}}}],"partialFingerprints":{{"primaryLocationLineHash":"{i:016x}:1"}}}}"#,
            i % 500 + 1
        );
        len += r.len() + 1;
        results.push(r);
        i += 1;
    }
    format!(
        r#"{{"$schema":"https://json.schemastore.org/sarif-2.1.0.json","version":"2.1.0","runs":[{{"tool":{{"driver":{{"name":"CodeQL","rules":[{{"id":"js/sql-injection","properties":{{"security-severity":"8.8"}}}}]}}}},"results":[{}]}}]}}"#,
        results.join(",")
    )
}

fn bench(c: &mut Criterion) {
    for (name, make) in [
        ("minified-plan", plan as fn(usize) -> String),
        ("minified-sarif", sarif),
    ] {
        let mut group = c.benchmark_group(format!("locate/{name}"));
        group.sample_size(10);
        for kb in [100, 400, 1600] {
            let text = make(kb * 1000);
            assert!(!text.contains('\n'));
            group.throughput(Throughput::Bytes(text.len() as u64));
            group.bench_with_input(
                BenchmarkId::from_parameter(format!("{kb}KB")),
                &text,
                |b, t| {
                    b.iter(|| {
                        let a = Attachment::from_json_bytes("f.json", black_box(t.as_bytes()));
                        black_box(a.map(|a| a.has_locations()).unwrap_or(false))
                    })
                },
            );
        }
        group.finish();
    }
}

criterion_group!(benches, bench);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
}
