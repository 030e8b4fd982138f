# deploy_strategy: a change must deploy at least as carefully as the
# service's delivery plan says (direct < blue-green < canary).

rank := {"direct": 0, "blue-green": 1, "canary": 2}

required := object.get(lib.plan, "strategy", "direct")

declared := input.strategy if is_string(input.strategy)

declared := "direct" if not is_string(input.strategy)

deny contains lib.change_finding("strategy", sprintf("the delivery plan of %s requires `%s`; this change deploys `%s`%s", [input.service, required, declared, note]), "high", sprintf("deploy with `--strategy %s` (a %s rollout)", [required, required])) if {
	applies
	rank[declared] < rank[required]
	note := declared_note
}

deny contains lib.change_finding("strategy_unknown", sprintf("unknown deployment strategy `%s` (expected direct, blue-green or canary)", [input.strategy]), "medium", "declare direct, blue-green or canary") if {
	applies
	is_string(input.strategy)
	not rank[input.strategy]
	input.strategy != "direct"
}

declared_note := "" if is_string(input.strategy)

declared_note := " (no strategy declared)" if not is_string(input.strategy)

warn := set()

unknown := set()
