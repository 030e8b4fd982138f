# change_risk: the change-risk score (0..1) from `bearing risk` above a
# threshold denies or warns, unless the change rolls out as a canary.

risk := input.context.risk

mitigated if {
	params.unless_canary
	input.strategy == "canary"
}

deny contains lib.change_finding("risk", sprintf("change risk %.2f is above %.2f", [risk, params.deny_above]), "high", "split the change, deploy it as a canary, or add tests to the risky files") if {
	applies
	is_number(risk)
	risk > params.deny_above
	not mitigated
}

warn contains lib.change_finding("risk", sprintf("change risk %.2f is above %.2f", [risk, params.warn_above]), "medium", "watch the rollout; consider a canary") if {
	applies
	is_number(risk)
	risk > params.warn_above
	not deny_level_unmitigated
}

deny_level_unmitigated if {
	risk > params.deny_above
	not mitigated
}

unknown contains lib.change_finding("risk_unknown", "the change risk is not known", "low", "train the model with `bearing risk train` or pass a risk score") if {
	applies
	params.on_missing == "unknown"
	not is_number(risk)
}
