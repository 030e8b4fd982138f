//! Semantic checks on a merged intent: references, ids, units against the
//! metric catalog, scopes, filters, adaptation expressions, waivers.
//!
//! Each check places its message at the node it is about, using the source
//! map the loader built; a message says what was found and what is expected.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;

use crate::catalog::{self, MetricDef, ScopeKind};
use crate::expr;
use crate::load::{Diags, Sources, Src};
use crate::model::{GuardrailKind, Intent, RepoRef, RuleAction, Scope};
use crate::suggest::{one_of, suggest};
use crate::units::{Quantity, Unit};
use crate::yaml::Node;

/// Guardrail parameters that are durations, by kind: each is a duration of
/// at most `36500d`, refused at its line otherwise. (`vulnerabilities`'
/// `max_age` is the only one; add any new one here.)
pub const DURATION_PARAMS: &[(GuardrailKind, &str)] =
    &[(GuardrailKind::Vulnerabilities, "max_age")];

/// A `change_window` blackout's day: `YYYY-MM-DD` exactly (the guardrail
/// compares days as text), from 1970-01-01 to 9999-12-31.
fn blackout_date(v: &serde_json::Value) -> Result<NaiveDate, String> {
    let text = match v {
        serde_json::Value::String(t) => t.as_str(),
        other => {
            return Err(format!(
                "expected a date written YYYY-MM-DD, found `{other}`"
            ));
        }
    };
    let d = NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .filter(|d| d.format("%Y-%m-%d").to_string() == text)
        .ok_or_else(|| {
            format!("invalid date `{text}`; expected a date written YYYY-MM-DD, e.g. `2027-03-31`")
        })?;
    crate::units::check_date(d).map_err(|e| e.message)
}

/// A `change_window` window's end: `HH:MM` from `00:00` to `24:00` (the
/// guardrail compares times as text).
fn time_of_day(v: &serde_json::Value) -> Result<(), String> {
    let bad = |found: &str| {
        format!(
            "invalid time of day `{found}`; expected `HH:MM` from `00:00` to `24:00`, e.g. `09:00`"
        )
    };
    let serde_json::Value::String(t) = v else {
        return Err(bad(&v.to_string()));
    };
    let ok = match t.as_bytes() {
        [h1, h2, b':', m1, m2] if [h1, h2, m1, m2].iter().all(|b| b.is_ascii_digit()) => {
            let h = (h1 - b'0') * 10 + (h2 - b'0');
            let m = (m1 - b'0') * 10 + (m2 - b'0');
            (h < 24 && m < 60) || (h == 24 && m == 0)
        }
        _ => false,
    };
    if ok { Ok(()) } else { Err(bad(t)) }
}

/// One step of a path into a node.
#[derive(Clone, Copy)]
enum P<'s> {
    /// The value under a key.
    K(&'s str),
    /// The key itself.
    Key(&'s str),
    /// A list item.
    I(usize),
}

use P::{I, K, Key};

impl Src<'_> {
    /// Position of the node at `path`, or of the deepest node that exists.
    fn at(&self, path: &[P<'_>]) -> (usize, usize) {
        let mut n = self.node;
        for p in path {
            let next = match *p {
                K(k) => n.get(k),
                Key(k) => n.key(k),
                I(i) => n.idx(i),
            };
            match next {
                Some(x) => n = x,
                None => break,
            }
        }
        (n.line, n.col)
    }

    fn node_at(&self, path: &[P<'_>]) -> Option<&Node> {
        let mut n = self.node;
        for p in path {
            n = match *p {
                K(k) => n.get(k)?,
                Key(k) => n.key(k)?,
                I(i) => n.idx(i)?,
            };
        }
        Some(n)
    }
}

struct Checker<'i, 's, 'o, 'f> {
    intent: &'i Intent,
    src: &'s Sources<'s>,
    out: &'o mut Diags<'f>,
    teams: HashSet<&'i str>,
    services: HashSet<&'i str>,
    objectives: HashSet<&'i str>,
    guardrails: HashSet<&'i str>,
    broken: HashMap<&'static str, HashSet<&'s str>>,
}

pub(crate) fn run(intent: &Intent, src: &Sources<'_>, today: NaiveDate, out: &mut Diags<'_>) {
    let broken = src
        .broken
        .iter()
        .map(|(k, v)| (*k, v.iter().map(String::as_str).collect()))
        .collect();
    let mut c = Checker {
        intent,
        src,
        out,
        teams: intent.teams.iter().map(|t| t.id.as_str()).collect(),
        services: intent.services.iter().map(|s| s.id.as_str()).collect(),
        objectives: intent.objectives.iter().map(|o| o.id.as_str()).collect(),
        guardrails: intent.guardrails.iter().map(|g| g.id.as_str()).collect(),
        broken,
    };
    c.duplicate_ids();
    c.services();
    c.objectives();
    c.guardrails();
    c.waivers(today);
    c.adaptation();
    c.settings();
    c.notifications();
}

impl Checker<'_, '_, '_, '_> {
    fn err(&mut self, s: Src<'_>, path: &[P<'_>], msg: String) {
        let pos = s.at(path);
        self.out.error(s.file, pos, msg);
    }

    /// An SLO names its points (`sli`) or where to read them (`source`); a
    /// Prometheus source has a URL that parses, exactly one of `good` and
    /// `bad`, and a non-zero resolution.
    fn slo_source(&mut self, s: Src<'_>, base: &[P<'_>; 2], slo: &crate::model::Slo) {
        let Some(src) = &slo.source else {
            if slo.sli.is_none() {
                self.err(
                    s,
                    base,
                    format!(
                        "SLO `{}` has neither `sli` nor `source`; expected `sli: {{good: <metric>, total: <metric>}}` or `source: {{prometheus: {{url, good, total}}}}`",
                        slo.id
                    ),
                );
            }
            return;
        };
        let p = &src.prometheus;
        let at = |k: &'static str| [base[0], base[1], K("source"), K("prometheus"), K(k)];
        self.prometheus_url(s, &at("url"), &p.url);
        match (&p.good, &p.bad) {
            (Some(_), Some(_)) => self.err(
                s,
                &at("bad"),
                "both `good` and `bad` are set; expected exactly one of them".into(),
            ),
            (None, None) => self.err(
                s,
                &[base[0], base[1], K("source"), K("prometheus")],
                "neither `good` nor `bad` is set; expected exactly one PromQL query for good or for bad events".into(),
            ),
            _ => {}
        }
        for (key, q) in [
            ("good", p.good.as_deref()),
            ("bad", p.bad.as_deref()),
            ("total", Some(p.total.as_str())),
        ] {
            if q.is_some_and(|q| q.trim().is_empty()) {
                self.err(
                    s,
                    &at(key),
                    format!("`{key}` is an empty query; expected PromQL"),
                );
            }
        }
        let r = p.resolution();
        if r.as_secs() == 0 {
            self.err(
                s,
                &at("resolution"),
                "resolution is zero; expected a duration such as `1m`".into(),
            );
        } else if r > slo.window {
            self.err(
                s,
                &at("resolution"),
                format!(
                    "resolution `{r}` is longer than the SLO window `{}`; expected at most the window",
                    slo.window
                ),
            );
        }
    }

    /// A Prometheus URL parses, is http(s) and names a host.
    fn prometheus_url(&mut self, s: Src<'_>, path: &[P<'_>], url: &str) {
        match url::Url::parse(url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.has_host() => {}
            Ok(_) => self.err(
                s,
                path,
                format!(
                    "Prometheus URL `{url}` is not an http(s) URL; expected e.g. `http://prometheus:9090`"
                ),
            ),
            Err(e) => self.err(
                s,
                path,
                format!(
                    "invalid Prometheus URL `{url}`: {e}; expected e.g. `http://prometheus:9090`"
                ),
            ),
        }
    }

    /// The canary analysis' Prometheus: a URL that parses, at least one
    /// metric, each with a name used once and two non-empty queries.
    fn canary_prometheus(&mut self, s: Src<'_>, cp: &crate::model::CanaryPrometheus) {
        let base = [K("delivery"), K("canary_prometheus")];
        self.prometheus_url(s, &[base[0], base[1], K("url")], &cp.url);
        if cp.metrics.is_empty() {
            self.err(
                s,
                &[base[0], base[1], K("metrics")],
                "no metrics; expected at least one `{name, baseline: <PromQL>, canary: <PromQL>}`"
                    .into(),
            );
        }
        if cp.step().as_secs() == 0 {
            self.err(
                s,
                &[base[0], base[1], K("step")],
                "step is zero; expected a duration such as `15s`".into(),
            );
        }
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for (i, m) in cp.metrics.iter().enumerate() {
            let at = |k: &'static str| [base[0], base[1], K("metrics"), I(i), K(k)];
            let name = m.name.trim();
            if name.is_empty() {
                self.err(
                    s,
                    &at("name"),
                    "the metric's name is empty; expected e.g. `error_rate`".into(),
                );
            } else if let Some(first) = seen.get(name) {
                let first = s.at(&[base[0], base[1], K("metrics"), I(*first), K("name")]);
                let first = self.out.place(s.file, first);
                self.err(
                    s,
                    &at("name"),
                    format!("duplicate canary metric `{name}`; it is already defined at {first}"),
                );
            } else {
                seen.insert(name, i);
            }
            for (key, q) in [("baseline", &m.baseline), ("canary", &m.canary)] {
                if q.trim().is_empty() {
                    self.err(
                        s,
                        &at(key),
                        format!("`{key}` is an empty query; expected PromQL"),
                    );
                }
            }
        }
    }

    fn duplicate_ids(&mut self) {
        let sections: [(&str, Vec<&str>, &[Src<'_>]); 4] = [
            (
                "team",
                self.intent.teams.iter().map(|t| t.id.as_str()).collect(),
                &self.src.teams,
            ),
            (
                "service",
                self.intent.services.iter().map(|t| t.id.as_str()).collect(),
                &self.src.services,
            ),
            (
                "objective",
                self.intent
                    .objectives
                    .iter()
                    .map(|t| t.id.as_str())
                    .collect(),
                &self.src.objectives,
            ),
            (
                "guardrail",
                self.intent
                    .guardrails
                    .iter()
                    .map(|t| t.id.as_str())
                    .collect(),
                &self.src.guardrails,
            ),
        ];
        let mut found = Vec::new();
        for (what, ids, srcs) in sections {
            let mut first: HashMap<&str, Src<'_>> = HashMap::new();
            for (id, s) in ids.into_iter().zip(srcs.iter().copied()) {
                match first.get(id) {
                    Some(f) => found.push((what, id.to_string(), *f, s, "id")),
                    None => {
                        first.insert(id, s);
                    }
                }
            }
        }
        let mut first: HashMap<&str, Src<'_>> = HashMap::new();
        for (rule, s) in self
            .intent
            .adaptation
            .iter()
            .zip(self.src.adaptation.iter())
        {
            if let Some(id) = rule.id.as_deref() {
                match first.get(id) {
                    Some(f) => found.push(("adaptation rule", id.to_string(), *f, *s, "id")),
                    None => {
                        first.insert(id, *s);
                    }
                }
            }
        }
        for (what, id, f, s, key) in found {
            let at = self.out.place(f.file, f.at(&[K(key)]));
            self.err(
                s,
                &[K(key)],
                format!("duplicate {what} id `{id}`; it is already defined at {at}; expected ids to be unique"),
            );
        }
    }

    /// Reports `name` if it is not one of `known` (nor a broken item's id).
    fn reference(
        &mut self,
        s: Src<'_>,
        path: &[P<'_>],
        what: &str,
        section: &'static str,
        name: &str,
        known: &HashSet<&str>,
    ) -> bool {
        if known.contains(name) || self.broken.get(section).is_some_and(|b| b.contains(name)) {
            return true;
        }
        let mut m = format!("unknown {what} `{name}`");
        let mut candidates: Vec<&str> = known.iter().copied().collect();
        candidates.sort_unstable();
        if let Some(s) = suggest(name, candidates.iter().copied()) {
            m.push_str(&format!("; did you mean `{s}`?"));
        } else if candidates.is_empty() {
            m.push_str(&format!("; no {what} is defined under `{section}`"));
        } else if candidates.len() <= 8 {
            m.push_str(&format!("; expected {}", one_of(candidates)));
        } else {
            m.push_str(&format!("; expected the id of one of the {section}"));
        }
        self.err(s, path, m);
        false
    }

    /// Checks the team, service and environment a scope names; `base` is the
    /// path of the `scope` node.
    fn scope(&mut self, s: Src<'_>, base: &[P<'_>], scope: &Scope) {
        let with = |p: P<'static>| -> Vec<P<'_>> {
            let mut v = base.to_vec();
            v.push(p);
            v
        };
        let teams = self.teams.clone();
        let services = self.services.clone();
        if let Some(t) = &scope.team {
            self.reference(s, &with(K("team")), "team", "teams", t, &teams);
        }
        let mut service_ok = None;
        if let Some(name) = &scope.service
            && self.reference(
                s,
                &with(K("service")),
                "service",
                "services",
                name,
                &services,
            )
        {
            service_ok = self.intent.service(name);
        }
        if let (Some(t), Some(svc)) = (&scope.team, service_ok)
            && self.teams.contains(t.as_str())
            && &svc.team != t
        {
            self.err(
                s,
                &with(K("service")),
                format!(
                    "service `{}` belongs to team `{}`, not `{t}`; expected a service of team `{t}` or no `team` in the scope",
                    svc.id, svc.team
                ),
            );
        }
        if let Some(env) = &scope.environment {
            let envs: Vec<&str> = match (service_ok, &scope.service) {
                (Some(svc), _) => svc.environments.iter().map(String::as_str).collect(),
                (None, Some(_)) => return,
                (None, None) => {
                    let mut all: Vec<&str> = self
                        .intent
                        .services
                        .iter()
                        .flat_map(|s| s.environments.iter().map(String::as_str))
                        .collect();
                    all.sort_unstable();
                    all.dedup();
                    all
                }
            };
            if envs.is_empty() || envs.contains(&env.as_str()) {
                return;
            }
            let whose = match service_ok {
                Some(svc) => format!("service `{}`", svc.id),
                None => "any service".to_string(),
            };
            let mut m = format!("unknown environment `{env}` for {whose}");
            match suggest(env, envs.iter().copied()) {
                Some(x) => m.push_str(&format!("; did you mean `{x}`?")),
                None => m.push_str(&format!("; expected {}", one_of(envs))),
            }
            self.err(s, &with(K("environment")), m);
        }
    }

    /// A monorepo claim's directories: relative prefixes, not patterns.
    fn repo_paths(&mut self, s: Src<'_>, i: usize, paths: &[String]) {
        if paths.is_empty() {
            self.err(
                s,
                &[K("repos"), I(i), K("paths")],
                "`paths` is empty: list the service's directories, or give the repository alone (a string) to claim all of it".into(),
            );
        }
        for (j, path) in paths.iter().enumerate() {
            let at = [K("repos"), I(i), K("paths"), I(j)];
            let p = path.trim().trim_start_matches("./").trim_matches('/');
            if p.is_empty() || p == "." {
                self.err(
                    s,
                    &at,
                    format!(
                        "`{path}` is the repository's root; give the repository alone (a string) to claim all of it"
                    ),
                );
            } else if p.contains(['*', '?', '[', '{']) {
                self.err(
                    s,
                    &at,
                    format!(
                        "`{path}` is a pattern; paths are directory prefixes, e.g. `services/alpha`"
                    ),
                );
            } else if p.split('/').any(|seg| seg == "..") {
                self.err(
                    s,
                    &at,
                    format!("`{path}` leaves the repository; paths are relative to its root"),
                );
            }
        }
    }

    fn services(&mut self) {
        let intent = self.intent;
        let mut budget_currency: Option<(String, Src<'_>)> = None;
        // Repository → the first service that claims it.
        let mut repo_owner: std::collections::HashMap<String, &str> = Default::default();
        for (svc, s) in intent
            .services
            .iter()
            .zip(self.src.services.iter().copied())
        {
            let teams = self.teams.clone();
            self.reference(s, &[K("team")], "team", "teams", &svc.team, &teams);
            for (i, claim) in svc.repos.iter().enumerate() {
                let repo = claim.repo();
                let r = repo.trim().trim_end_matches('/');
                let r = r.strip_suffix(".git").unwrap_or(r);
                let r = r.split_once("://").map_or(r, |x| x.1).to_ascii_lowercase();
                if let RepoRef::Paths(p) = claim {
                    self.repo_paths(s, i, &p.paths);
                    continue;
                }
                match repo_owner.get(&r) {
                    Some(first) if *first != svc.id => self.out.warning(
                        s.file,
                        s.at(&[K("repos"), I(i)]),
                        format!(
                            "repository `{repo}` is also claimed by service `{first}`; its deliveries count for `{first}` only"
                        ),
                    ),
                    Some(_) => {}
                    None => {
                        repo_owner.insert(r, &svc.id);
                    }
                }
            }

            let mut seen = HashSet::new();
            for (i, env) in svc.environments.iter().enumerate() {
                if !seen.insert(env.as_str()) {
                    self.err(
                        s,
                        &[K("environments"), I(i)],
                        format!(
                            "environment `{env}` is listed twice in service `{}`",
                            svc.id
                        ),
                    );
                }
            }
            if let Some(p) = &svc.production
                && !svc.environments.is_empty()
                && !svc.environments.contains(p)
            {
                let envs = svc.environments.iter().map(String::as_str);
                self.err(
                    s,
                    &[K("production")],
                    format!(
                        "production environment `{p}` is not among the service's environments; expected {}",
                        one_of(envs)
                    ),
                );
            }

            if let Some(cost) = &svc.cost {
                if cost.matcher.tags.is_empty() && cost.matcher.resource_ids.is_empty() {
                    self.err(
                        s,
                        &[K("cost"), K("match")],
                        "cost `match` selects nothing; expected `tags` or `resource_ids`".into(),
                    );
                }
                if let Some(b) = &cost.monthly_budget {
                    let path = [K("cost"), K("monthly_budget")];
                    if b.amount <= 0.0 {
                        self.err(
                            s,
                            &path,
                            format!("monthly budget `{b}` is not positive; expected an amount above zero"),
                        );
                    }
                    match &budget_currency {
                        Some((c, first)) if *c != b.currency => {
                            let at = self.out.place(first.file, first.at(&path));
                            let c = c.clone();
                            self.err(
                                s,
                                &path,
                                format!(
                                    "budget currency `{}` differs from `{c}` used at {at}; expected one currency across the organisation",
                                    b.currency
                                ),
                            );
                        }
                        Some(_) => {}
                        None => budget_currency = Some((b.currency.clone(), s)),
                    }
                }
            }

            let mut slo_ids: HashMap<&str, usize> = HashMap::new();
            for (i, slo) in svc.slos.iter().enumerate() {
                let base = [K("slos"), I(i)];
                if let Some(&j) = slo_ids.get(slo.id.as_str()) {
                    let at = self.out.place(s.file, s.at(&[K("slos"), I(j), K("id")]));
                    self.err(
                        s,
                        &[base[0], base[1], K("id")],
                        format!(
                            "duplicate SLO id `{}` in service `{}`; it is already defined at {at}",
                            slo.id, svc.id
                        ),
                    );
                } else {
                    slo_ids.insert(&slo.id, i);
                }
                let t = slo.target.0;
                if !(t > 0.0 && t < 100.0) {
                    self.err(
                        s,
                        &[base[0], base[1], K("target")],
                        format!(
                            "SLO target `{}` is out of range; expected a percentage above 0% and below 100%, e.g. `99.9%`",
                            slo.target
                        ),
                    );
                }
                if slo.window.as_secs() == 0 {
                    self.err(
                        s,
                        &[base[0], base[1], K("window")],
                        "SLO window is zero; expected a duration such as `28d`".into(),
                    );
                }
                self.slo_source(s, &base, slo);
            }

            if let Some(d) = &svc.delivery {
                let mut prev = 0.0;
                for (i, step) in d.canary_steps.iter().enumerate() {
                    let path = [K("delivery"), K("canary_steps"), I(i)];
                    if !(step.0 > 0.0 && step.0 <= 100.0) {
                        self.err(
                            s,
                            &path,
                            format!("canary step `{step}` is out of range; expected a percentage above 0% and at most 100%"),
                        );
                    } else if step.0 <= prev {
                        self.err(
                            s,
                            &path,
                            format!("canary step `{step}` does not increase; expected each step larger than the one before"),
                        );
                    }
                    prev = step.0;
                }
                if let Some(cp) = &d.canary_prometheus {
                    self.canary_prometheus(s, cp);
                }
            }
        }
    }

    fn objectives(&mut self) {
        let intent = self.intent;
        for (obj, s) in intent
            .objectives
            .iter()
            .zip(self.src.objectives.iter().copied())
        {
            if let Some(owner) = &obj.owner {
                let teams = self.teams.clone();
                self.reference(s, &[K("owner")], "team", "teams", owner, &teams);
            }
            if obj.key_results.is_empty() {
                self.out.warning(
                    s.file,
                    s.at(&[K("key_results")]),
                    format!(
                        "objective `{}` has no key results; expected at least one metric with a target",
                        obj.id
                    ),
                );
            }
            for (i, kr) in obj.key_results.iter().enumerate() {
                let base = [K("key_results"), I(i)];
                let sub = |p: P<'static>| [base[0], base[1], p];
                self.scope(s, &sub(K("scope")), &kr.scope);
                if kr.window.is_some_and(|w| w.as_secs() == 0) {
                    self.err(
                        s,
                        &sub(K("window")),
                        "window is zero; expected a duration such as `30d`".into(),
                    );
                }
                let Some(def) = self.metric(s, &sub(K("metric")), &kr.metric) else {
                    continue;
                };
                if let Err(m) = unit_fits(def, &kr.metric, &kr.target.value) {
                    self.err(s, &sub(K("target")), format!("target `{}`: {m}", kr.target));
                }
                let kind = if kr.scope.environment.is_some() {
                    ScopeKind::Environment
                } else if kr.scope.service.is_some() {
                    ScopeKind::Service
                } else if kr.scope.team.is_some() {
                    ScopeKind::Team
                } else {
                    ScopeKind::Org
                };
                if !def.scopes.contains(&kind) {
                    self.err(
                        s,
                        &sub(K("scope")),
                        format!(
                            "`{}` cannot be measured per {}; expected a scope of {}",
                            kr.metric,
                            scope_name(kind),
                            one_of(def.scopes.iter().map(|k| scope_name(*k)))
                        ),
                    );
                }
                for (key, value) in &kr.filter {
                    if def.filters.contains(&key.as_str()) {
                        self.filter_values(s, &base, kr, key, value);
                        continue;
                    }
                    let mut m = format!("`{}` cannot be filtered by `{key}`", kr.metric);
                    if def.filters.is_empty() {
                        m.push_str("; it accepts no filters");
                    } else if let Some(x) = suggest(key, def.filters.iter().copied()) {
                        m.push_str(&format!("; did you mean `{x}`?"));
                    } else {
                        m.push_str(&format!(
                            "; expected {}",
                            one_of(def.filters.iter().copied())
                        ));
                    }
                    self.err(s, &[base[0], base[1], K("filter"), Key(key)], m);
                }
            }
        }
    }

    /// Filters that name things in the intent (`slo`, `guardrail`) must name
    /// existing ones: an SLO of the scoped service(s), a guardrail id.
    fn filter_values(
        &mut self,
        s: Src<'_>,
        base: &[P<'_>; 2],
        kr: &crate::model::KeyResult,
        key: &str,
        value: &crate::model::FilterValue,
    ) {
        if key == "window" {
            // `slo.burn_rate`'s window: a non-zero duration, bounded like every other.
            let single = matches!(value, crate::model::FilterValue::One(_));
            for (i, w) in value.values().into_iter().enumerate() {
                let problem = match w.parse::<crate::units::Duration>() {
                    Ok(d) if d.as_secs() == 0 => {
                        format!("`filter.window` `{w}` is zero; expected a duration such as `1h`")
                    }
                    Ok(_) => continue,
                    Err(e) => format!("`filter.window`: {}", e.message),
                };
                let mut path = vec![base[0], base[1], K("filter"), K(key)];
                if !single {
                    path.push(I(i));
                }
                self.err(s, &path, problem);
            }
            return;
        }
        let known: Vec<&str> = match key {
            "slo" => {
                let team = kr.scope.team.as_deref();
                let service = kr.scope.service.as_deref();
                let mut v: Vec<&str> = self
                    .intent
                    .services
                    .iter()
                    .filter(|svc| service.is_none_or(|x| x == svc.id))
                    .filter(|svc| team.is_none_or(|x| x == svc.team))
                    .flat_map(|svc| svc.slos.iter().map(|o| o.id.as_str()))
                    .collect();
                v.sort_unstable();
                v.dedup();
                v
            }
            "guardrail" => {
                let mut v: Vec<&str> = self.guardrails.iter().copied().collect();
                v.sort_unstable();
                v
            }
            _ => return,
        };
        let what = if key == "slo" { "SLO" } else { "guardrail" };
        let single = matches!(value, crate::model::FilterValue::One(_));
        for (i, name) in value.values().into_iter().enumerate() {
            if known.contains(&name) {
                continue;
            }
            let mut m = format!("unknown {what} `{name}` in `filter.{key}`");
            match suggest(name, known.iter().copied()) {
                Some(x) => m.push_str(&format!("; did you mean `{x}`?")),
                None if known.is_empty() => {
                    m.push_str(&format!("; no {what} is defined in this scope"))
                }
                None if known.len() <= 8 => {
                    m.push_str(&format!("; expected {}", one_of(known.iter().copied())))
                }
                None => m.push_str(&format!("; expected the id of a {what} in this scope")),
            }
            let mut path = vec![base[0], base[1], K("filter"), K(key)];
            if !single {
                path.push(I(i));
            }
            self.err(s, &path, m);
        }
    }

    /// Looks a metric up in the catalog, reporting an unknown name.
    fn metric(&mut self, s: Src<'_>, path: &[P<'_>], name: &str) -> Option<&'static MetricDef> {
        if let Some(d) = catalog::lookup(name) {
            return Some(d);
        }
        let msg = unknown_metric(name);
        self.err(s, path, msg);
        None
    }

    fn guardrails(&mut self) {
        let intent = self.intent;
        for (g, s) in intent
            .guardrails
            .iter()
            .zip(self.src.guardrails.iter().copied())
        {
            if let Some(p) = &g.protects {
                let objectives = self.objectives.clone();
                self.reference(
                    s,
                    &[K("protects")],
                    "objective",
                    "objectives",
                    p,
                    &objectives,
                );
            }
            if g.kind == GuardrailKind::Rego && g.path.as_deref().is_none_or(str::is_empty) {
                self.err(
                    s,
                    &[K("kind")],
                    format!(
                        "guardrail `{}` of kind `rego` has no `path`; expected `path:` naming a policy file or folder relative to the intent file",
                        g.id
                    ),
                );
            }
            if g.kind != GuardrailKind::Rego && g.path.is_some() {
                self.out.warning(
                    s.file,
                    s.at(&[K("path")]),
                    format!(
                        "`path` is only read for `rego` guardrails; guardrail `{}` is `{}`, so it is ignored",
                        g.id,
                        g.kind.name()
                    ),
                );
            }
            self.guardrail_times(s, g);
            self.scope(s, &[K("scope")], &g.scope);
        }
    }

    /// The durations, dates and times of day among a built-in guardrail's
    /// `params`, bounded like every other of the intent and named at their line.
    fn guardrail_times(&mut self, s: Src<'_>, g: &crate::model::Guardrail) {
        for &(kind, name) in DURATION_PARAMS {
            if g.kind != kind {
                continue;
            }
            let problem = match g.params.get(name) {
                None | Some(serde_json::Value::Null) => continue,
                Some(serde_json::Value::String(v)) => match v.parse::<crate::units::Duration>() {
                    Ok(_) => continue,
                    Err(e) => e.message,
                },
                Some(other) => format!("expected a duration such as `30d`, found `{other}`"),
            };
            self.err(s, &[K("params"), K(name)], format!("`{name}`: {problem}"));
        }
        if g.kind != GuardrailKind::ChangeWindow {
            return;
        }
        let list = |key: &str| match g.params.get(key) {
            Some(serde_json::Value::Array(items)) => items.as_slice(),
            _ => &[],
        };
        for (i, b) in list("blackouts").iter().enumerate() {
            let mut dates = [None, None];
            for (j, end) in ["from", "to"].into_iter().enumerate() {
                let path = [K("params"), K("blackouts"), I(i), K(end)];
                match b.get(end).map(blackout_date) {
                    Some(Ok(d)) => dates[j] = Some(d),
                    Some(Err(m)) => self.err(s, &path, format!("`blackouts[{i}].{end}`: {m}")),
                    None => self.err(
                        s,
                        &path[..3],
                        format!(
                            "`blackouts[{i}]` has no `{end}`; expected a date written YYYY-MM-DD"
                        ),
                    ),
                }
            }
            if let [Some(from), Some(to)] = dates
                && from > to
            {
                self.err(
                    s,
                    &[K("params"), K("blackouts"), I(i), K("to")],
                    format!("`blackouts[{i}]` ends on {to}, before it starts on {from}; expected `to` on or after `from`"),
                );
            }
        }
        for (i, w) in list("windows").iter().enumerate() {
            for end in ["from", "to"] {
                if let Some(Err(m)) = w.get(end).map(time_of_day) {
                    self.err(
                        s,
                        &[K("params"), K("windows"), I(i), K(end)],
                        format!("`windows[{i}].{end}`: {m}"),
                    );
                }
            }
        }
    }

    fn waivers(&mut self, today: NaiveDate) {
        let intent = self.intent;
        for (w, s) in intent.waivers.iter().zip(self.src.waivers.iter().copied()) {
            let guardrails = self.guardrails.clone();
            self.reference(
                s,
                &[K("guardrail")],
                "guardrail",
                "guardrails",
                &w.guardrail,
                &guardrails,
            );
            self.scope(s, &[K("scope")], &w.scope);
            if w.is_expired(today) {
                self.out.warning(
                    s.file,
                    s.at(&[K("expires")]),
                    format!(
                        "waiver of `{}` expired on {} and no longer applies; expected a later `expires` date or the waiver removed",
                        w.guardrail, w.expires
                    ),
                );
            }
        }
    }

    fn adaptation(&mut self) {
        let intent = self.intent;
        for (rule, s) in intent
            .adaptation
            .iter()
            .zip(self.src.adaptation.iter().copied())
        {
            self.when(s, &rule.when);
            let then = &rule.then;
            if then.strategy.is_none()
                && then.freeze.is_none()
                && then.extra_gates.is_empty()
                && then.action.is_none()
            {
                self.err(
                    s,
                    &[K("then")],
                    "`then` changes nothing; expected at least one of `strategy`, `freeze`, `extra_gates` or `action`".into(),
                );
            }
            if then.action == Some(RuleAction::Scale) {
                if !then
                    .demand
                    .as_deref()
                    .is_some_and(|d| d.starts_with(catalog::BUSINESS_PREFIX))
                {
                    self.err(
                        s,
                        &[K("then"), K("demand")],
                        "`action: scale` needs `demand`, a `business.<name>` metric".into(),
                    );
                }
                if !then.per_replica.is_some_and(|p| p.is_finite() && p > 0.0) {
                    self.err(
                        s,
                        &[K("then"), K("per_replica")],
                        "`action: scale` needs `per_replica`, the demand one replica serves (above 0)".into(),
                    );
                }
            }
            for (i, gate) in then.extra_gates.iter().enumerate() {
                let is_kind = GuardrailKind::ALL.iter().any(|k| k.name() == gate);
                if is_kind || self.guardrails.contains(gate.as_str()) {
                    continue;
                }
                let mut names: Vec<&str> = self.guardrails.iter().copied().collect();
                names.sort_unstable();
                names.extend(GuardrailKind::ALL.iter().map(|k| k.name()));
                let mut m = format!("unknown gate `{gate}`");
                match suggest(gate, names.iter().copied()) {
                    Some(x) => m.push_str(&format!("; did you mean `{x}`?")),
                    None => m.push_str(
                        "; expected a guardrail id from `guardrails` or a guardrail kind such as `required_checks`",
                    ),
                }
                self.err(s, &[K("then"), K("extra_gates"), I(i)], m);
            }
            self.scope(s, &[K("scope")], &rule.scope);
            if rule.evaluate_after.is_some_and(|d| d.as_secs() == 0) {
                self.err(
                    s,
                    &[K("evaluate_after")],
                    "`evaluate_after` is zero; expected a duration such as `7d`".into(),
                );
            }
        }
    }

    /// Parses a `when` expression and checks the metrics and units it names.
    fn when(&mut self, s: Src<'_>, when: &str) {
        let node = s.node_at(&[K("when")]);
        let pos_of = |offset: usize| match node {
            Some(n) => n.position_of(offset),
            None => (s.node.line, s.node.col),
        };
        let e = match expr::parse(when) {
            Ok(e) => e,
            Err(err) => {
                self.out.error(
                    s.file,
                    pos_of(err.offset),
                    format!("invalid `when` expression: {}", err.message),
                );
                return;
            }
        };
        let mut from = 0;
        for c in e.comparisons() {
            let offset = find_from(when, from, &c.metric).unwrap_or(0);
            from = offset + c.metric.len();
            let Some(def) = catalog::lookup(&c.metric) else {
                self.out
                    .error(s.file, pos_of(offset), unknown_metric(&c.metric));
                continue;
            };
            if let Err(m) = unit_fits(def, &c.metric, &c.value) {
                let vpos = find_from(when, from, &c.value.to_string()).unwrap_or(offset);
                self.out.error(
                    s.file,
                    pos_of(vpos),
                    format!("comparison with `{}`: {m}", c.value),
                );
            }
            if c.window.is_some_and(|w| w.as_secs() == 0) {
                self.out.error(
                    s.file,
                    pos_of(offset),
                    format!(
                        "window of `{}` is zero; expected a duration such as `30d`",
                        c.metric
                    ),
                );
            }
        }
    }

    fn settings(&mut self) {
        let (Some(settings), Some(s)) = (&self.intent.settings, self.src.settings) else {
            return;
        };
        if settings.incident_window.is_some_and(|d| d.as_secs() == 0) {
            self.err(
                s,
                &[K("incident_window")],
                "`incident_window` is zero; expected a duration such as `24h`".into(),
            );
        }
        if let Some(sla) = &settings.security_sla {
            for (name, d) in [
                ("critical", sla.critical),
                ("high", sla.high),
                ("medium", sla.medium),
                ("low", sla.low),
            ] {
                if d.as_secs() == 0 {
                    self.err(
                        s,
                        &[K("security_sla"), K(name)],
                        format!(
                            "security SLA for `{name}` is zero; expected a duration such as `30d`"
                        ),
                    );
                }
            }
            if sla.kev.is_some_and(|d| d.as_secs() == 0) {
                self.err(
                    s,
                    &[K("security_sla"), K("kev")],
                    "security SLA for `kev` is zero; expected a duration such as `7d`".into(),
                );
            }
            if let Some(e) = &sla.epss {
                if !(e.at_least > 0.0 && e.at_least <= 1.0) {
                    self.err(
                        s,
                        &[K("security_sla"), K("epss"), K("at_least")],
                        format!(
                            "`at_least` is {}; expected an EPSS probability above 0 and at most 1, such as `0.5`",
                            e.at_least
                        ),
                    );
                }
                if e.within.as_secs() == 0 {
                    self.err(
                        s,
                        &[K("security_sla"), K("epss"), K("within")],
                        "security SLA for `epss` is zero; expected a duration such as `15d`".into(),
                    );
                }
            }
        }
        for (runner, price) in &settings.ci_prices {
            if !price.is_finite() || *price < 0.0 {
                self.err(
                    s,
                    &[K("ci_prices"), K(runner)],
                    format!(
                        "CI price of `{runner}` is {price}; expected a price per minute such as `0.008`"
                    ),
                );
            }
        }
    }
}

impl Checker<'_, '_, '_, '_> {
    /// Destinations have unique ids, one URL source and a secret only where
    /// it is used; routes name destinations, teams and services that exist.
    fn notifications(&mut self) {
        let (Some(n), Some(s)) = (&self.intent.notifications, self.src.notifications) else {
            return;
        };
        let mut ids = HashSet::new();
        for (i, d) in n.destinations.iter().enumerate() {
            let at = |k: &'static str| [K("destinations"), I(i), K(k)];
            if !ids.insert(d.id.as_str()) {
                self.err(
                    s,
                    &at("id"),
                    format!("destination `{}` is defined twice", d.id),
                );
            }
            match (&d.url, &d.url_env) {
                (Some(_), Some(_)) => self.err(
                    s,
                    &at("url_env"),
                    "both `url` and `url_env` are set; expected exactly one of them".into(),
                ),
                (None, None) => self.err(
                    s,
                    &[K("destinations"), I(i)],
                    format!(
                        "destination `{}` has neither `url` nor `url_env`; expected one of them",
                        d.id
                    ),
                ),
                (Some(u), None) => match url::Url::parse(u) {
                    Ok(p) if matches!(p.scheme(), "http" | "https") && p.has_host() => {}
                    _ => self.err(
                        s,
                        &at("url"),
                        format!("`{u}` is not an http(s) URL; expected e.g. `https://hooks.example.com/T000/B000`"),
                    ),
                },
                (None, Some(_)) => {}
            }
            match (d.kind, &d.secret_env) {
                (crate::model::DestinationKind::Webhook, None) => self.err(
                    s,
                    &[K("destinations"), I(i)],
                    format!(
                        "webhook destination `{}` has no `secret_env`; expected the name of an environment variable holding its signing secret",
                        d.id
                    ),
                ),
                (crate::model::DestinationKind::Slack, Some(_)) => self.err(
                    s,
                    &at("secret_env"),
                    "a `slack` destination is not signed; `secret_env` applies to `webhook` destinations".into(),
                ),
                _ => {}
            }
        }
        for (i, r) in n.routes.iter().enumerate() {
            if !ids.contains(r.to.as_str()) {
                let mut m = format!("route to unknown destination `{}`", r.to);
                match suggest(&r.to, ids.iter().copied()) {
                    Some(x) => m.push_str(&format!("; did you mean `{x}`?")),
                    None => m.push_str(
                        "; expected the id of a destination in `notifications.destinations`",
                    ),
                }
                self.err(s, &[K("routes"), I(i), K("to")], m);
            }
            for (j, t) in r.teams.iter().enumerate() {
                if !self.teams.contains(t.as_str()) {
                    self.err(
                        s,
                        &[K("routes"), I(i), K("teams"), I(j)],
                        format!("unknown team `{t}`"),
                    );
                }
            }
            for (j, v) in r.services.iter().enumerate() {
                if !self.services.contains(v.as_str()) {
                    self.err(
                        s,
                        &[K("routes"), I(i), K("services"), I(j)],
                        format!("unknown service `{v}`"),
                    );
                }
            }
        }
    }
}

/// Byte offset of `needle` in `hay` at or after `from`.
fn find_from(hay: &str, from: usize, needle: &str) -> Option<usize> {
    hay.get(from..)?.find(needle).map(|i| from + i)
}

fn scope_name(k: ScopeKind) -> &'static str {
    match k {
        ScopeKind::Org => "org",
        ScopeKind::Team => "team",
        ScopeKind::Service => "service",
        ScopeKind::Environment => "environment",
    }
}

fn unknown_metric(name: &str) -> String {
    let mut m = format!("unknown metric `{name}`");
    match suggest(name, catalog::names()) {
        Some(x) => m.push_str(&format!("; did you mean `{x}`?")),
        None => m.push_str(
            "; expected a name from `bearing metrics`, or `business.<series>` for an ingested business metric",
        ),
    }
    m
}

/// Whether a value's unit fits what a metric measures. Zero fits every unit;
/// counts and ratios take plain numbers; `business.*` takes anything.
fn unit_fits(def: &MetricDef, metric: &str, q: &Quantity) -> Result<(), String> {
    if metric.starts_with(catalog::BUSINESS_PREFIX) {
        return Ok(());
    }
    let ok = match (def.unit, q) {
        (_, Quantity::Number(n)) if *n == 0.0 => true,
        (Unit::Count | Unit::Ratio, Quantity::Number(_)) => true,
        (Unit::Duration, Quantity::Duration(_)) => true,
        (Unit::Percent, Quantity::Percent(_)) => true,
        (Unit::Money, Quantity::Money(_)) => true,
        (Unit::Rate, Quantity::Rate(_)) => true,
        _ => false,
    };
    if ok {
        return Ok(());
    }
    let found = match q {
        Quantity::Number(_) => "a plain number",
        other => unit_noun(other.unit()),
    };
    let n = match q {
        Quantity::Number(n) => *n,
        Quantity::Percent(p) => p.0,
        Quantity::Money(m) => m.amount,
        Quantity::Rate(r) => r.count,
        Quantity::Duration(_) => 1.0,
    };
    let expected = match def.unit {
        Unit::Duration => "a duration such as `1d` or `4h`".to_string(),
        Unit::Percent => format!("a percentage such as `{n}%`"),
        Unit::Money => format!("a money amount such as `{n} USD`"),
        Unit::Rate => format!("a rate such as `{n}/week`"),
        Unit::Count | Unit::Ratio => format!("a plain number such as `{n}`"),
    };
    Err(format!(
        "`{metric}` measures {}, but this is {found}; expected {expected}",
        unit_noun(def.unit)
    ))
}

fn unit_noun(u: Unit) -> &'static str {
    match u {
        Unit::Duration => "a duration",
        Unit::Percent => "a percentage",
        Unit::Money => "a money amount",
        Unit::Rate => "a rate",
        Unit::Count => "a count",
        Unit::Ratio => "a ratio",
    }
}
