# change_risk: the change-risk score (0..1) from `bearing risk` above a
# threshold denies or warns, unless the change rolls out as a canary. The
# score's reasons (`context.risk_reasons`) are shown in the message; an
# advisory score (`context.risk_advisory`: the model's held-out AUC is too
# low) warns where it would deny, and says why.

risk := input.context.risk

advisory := input.context.risk_advisory

why := sprintf(" (%s)", [input.context.risk_reasons]) if {
	is_string(input.context.risk_reasons)
} else := ""

mitigated if {
	params.unless_canary
	input.strategy == "canary"
}

deny contains lib.change_finding("risk", sprintf("change risk %.2f is above %.2f%s", [risk, params.deny_above, why]), "high", "split the change, deploy it as a canary, or add tests to the risky files") if {
	applies
	is_number(risk)
	deny_level_unmitigated
	not is_string(advisory)
}

warn contains lib.change_finding("risk", sprintf("change risk %.2f is above %.2f%s; advisory: %s", [risk, params.deny_above, why, advisory]), "high", "split the change, deploy it as a canary, or add tests to the risky files") if {
	applies
	is_number(risk)
	deny_level_unmitigated
	is_string(advisory)
}

warn contains lib.change_finding("risk", sprintf("change risk %.2f is above %.2f%s", [risk, params.warn_above, why]), "medium", "watch the rollout; consider a canary") if {
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
