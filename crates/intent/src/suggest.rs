//! "Did you mean" suggestions for near-miss names.

/// The candidate closest to `input`, if it is close enough to be a typo.
pub fn suggest<'a>(input: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let lower = input.to_lowercase();
    let limit = (input.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .filter(|c| *c != input)
        .map(|c| {
            let d = if c.to_lowercase() == lower {
                0
            } else {
                strsim::damerau_levenshtein(&lower, &c.to_lowercase())
            };
            (d, c)
        })
        .filter(|(d, c)| *d <= limit || (c.len() > 3 && input.len() > 3 && c.starts_with(input)))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// "one of `a`, `b` or `c`" (or "`a`" for a single candidate).
pub fn one_of<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    let items: Vec<String> = items.into_iter().map(|s| format!("`{s}`")).collect();
    match items.as_slice() {
        [] => "nothing".into(),
        [one] => one.clone(),
        [rest @ .., last] => format!("one of {} or {last}", rest.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_typos_only() {
        let names = ["dora.lead_time", "dora.lead_time.p50", "cost.monthly"];
        assert_eq!(suggest("dora.lead_tim", names), Some("dora.lead_time"));
        assert_eq!(suggest("cost.montly", names), Some("cost.monthly"));
        assert_eq!(suggest("security", names), None);
        assert_eq!(suggest("Cost.Monthly", names), Some("cost.monthly"));
    }

    #[test]
    fn lists_alternatives() {
        assert_eq!(one_of(["a"]), "`a`");
        assert_eq!(one_of(["a", "b", "c"]), "one of `a`, `b` or `c`");
    }
}
