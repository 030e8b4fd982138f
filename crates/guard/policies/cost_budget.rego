# cost_budget: the Infracost estimate against the service's budget and a
# maximum monthly increase.

unknown contains lib.finding("cost_unknown", u.reason, "medium", "fix the Infracost run so every project is priced", "cost", i, u.pointer) if {
	applies
	some i, c in input.attachments.cost
	some u in c.unknown
}

unknown contains lib.finding("cost_increase_unknown", "the monthly cost increase is unknown (no past estimate to compare with)", "medium", "run `infracost diff` against the base branch", "cost", i, "/diffTotalMonthlyCost") if {
	applies
	params.max_monthly_increase != null
	some i, c in input.attachments.cost
	c.diff_monthly_cost == null
}

deny contains lib.finding("cost_increase", sprintf("monthly cost rises by %.2f %s, more than the allowed %.2f %s", [c.diff_monthly_cost, c.currency, params.max_monthly_increase, c.currency]), "high", "reduce the change's cost or raise `max_monthly_increase` with the budget owner", "cost", i, "/diffTotalMonthlyCost") if {
	applies
	params.max_monthly_increase != null
	some i, c in input.attachments.cost
	c.diff_monthly_cost != null
	c.diff_monthly_cost > params.max_monthly_increase
}

deny contains lib.finding("cost_increase_percent", sprintf("monthly cost rises by %.1f%%, more than the allowed %.1f%%", [pct, params.max_increase_percent]), "high", "reduce the change's cost or raise `max_increase_percent`", "cost", i, "/diffTotalMonthlyCost") if {
	applies
	params.max_increase_percent != null
	some i, c in input.attachments.cost
	c.diff_monthly_cost != null
	c.past_total_monthly_cost != null
	c.past_total_monthly_cost > 0
	pct := (c.diff_monthly_cost * 100) / c.past_total_monthly_cost
	pct > params.max_increase_percent
}

budget := params.monthly_budget if params.monthly_budget != null

budget := params.budgets[input.service] if {
	params.monthly_budget == null
	params.budgets[input.service] != null
}

# Spend before this change: the live forecast when known, else the estimate's past total.
base_spend(c) := lib.service_outcomes.forecast_monthly_cost if {
	is_number(lib.service_outcomes.forecast_monthly_cost)
} else := lib.service_outcomes.monthly_cost if {
	is_number(lib.service_outcomes.monthly_cost)
} else := c.past_total_monthly_cost if {
	c.past_total_monthly_cost != null
}

projected(c) := base_spend(c) + c.diff_monthly_cost if c.diff_monthly_cost != null

projected(c) := c.total_monthly_cost if {
	c.diff_monthly_cost == null
	c.total_monthly_cost != null
}

deny contains lib.finding("over_budget", sprintf("projected monthly cost %.2f %s exceeds the budget of %.2f %s", [p, c.currency, budget, c.currency]), "high", "cut cost elsewhere or agree a higher `monthly_budget` for the service", "cost", i, "/totalMonthlyCost") if {
	applies
	some i, c in input.attachments.cost
	p := projected(c)
	p > budget
}

warn contains lib.change_finding("spend_over_budget", sprintf("the service already spends %.0f%% of its budget", [lib.service_outcomes.spend_vs_budget * 100]), "medium", "review the service's spend before adding cost") if {
	applies
	count(input.attachments.cost) > 0
	is_number(lib.service_outcomes.spend_vs_budget)
	lib.service_outcomes.spend_vs_budget > 1
}

