# error_budget: freeze deployments while the error budget is spent or the
# delivery plan says freeze; changes with an exempt label (hotfix, security)
# pass with a warning.

remaining := lib.service_outcomes.error_budget_remaining

spent if {
	is_number(remaining)
	remaining <= params.min_remaining
}

frozen if lib.plan.freeze == true

exempt if lib.has_label(params.exempt_labels)

reasons contains sprintf("the error budget of %s is spent (%.1f%% remaining)", [input.service, remaining * 100]) if spent

reasons contains sprintf("the delivery plan of %s says freeze%s", [input.service, why]) if {
	frozen
	why := plan_reasons
}

plan_reasons := sprintf(" (%s)", [concat(", ", lib.plan.reasons)]) if {
	count(object.get(lib.plan, "reasons", [])) > 0
} else := ""

deny contains lib.change_finding("freeze", sprintf("deployment frozen: %s", [r]), "high", sprintf("only changes labelled %s may deploy now; restore the error budget first", [concat(" or ", params.exempt_labels)])) if {
	applies
	not exempt
	some r in reasons
}

warn contains lib.change_finding("freeze_exempt", sprintf("deploying during a freeze as an exempt change: %s", [r]), "medium", "watch the rollout closely; the service has no error budget left") if {
	applies
	exempt
	some r in reasons
}

unknown contains lib.change_finding("error_budget_unknown", sprintf("the error budget of %s is not known", [input.service]), "medium", "ingest SLO metrics or pass `--outcomes`") if {
	applies
	params.on_missing == "unknown"
	not is_number(remaining)
	not exempt
}
