# vulnerabilities: block scan findings by severity, fixability and age, and
# findings past their fix SLA; with `deny`, open findings known or likely
# to be exploited.

age_days(f) := (input.context.now_ns - time.parse_rfc3339_ns(f.published)) / ((24 * 3600) * 1000000000) if {
	is_string(f.published)
}

old_enough(f) if params.max_age_days == null

old_enough(f) if {
	params.max_age_days != null
	age_days(f) > params.max_age_days
}

# Without a publication date the age is unknown: block.
old_enough(f) if {
	params.max_age_days != null
	not is_string(f.published)
}

blocked(f) if {
	f.severity in params.block
	not params.fixable_only
	old_enough(f)
}

blocked(f) if {
	f.severity in params.block
	params.fixable_only
	f.fixable
	old_enough(f)
}

remedy(f) := sprintf("upgrade %s to %s", [f.package, f.fixed_version]) if {
	f.fixed_version != ""
	is_string(f.package)
} else := "fix or suppress the finding, or add a waiver with a ticket"


deny contains lib.finding("vulnerability", sprintf("%s %s in %s %s", [upper(f.severity), f.id, f.package, object.get(f, "installed", "")]), f.severity, remedy(f), "scans", i, f.pointer) if {
	applies
	some i, s in input.attachments.scans
	some f in s.findings
	blocked(f)
	is_string(f.package)
}

deny contains lib.finding("vulnerability", sprintf("%s %s at %v", [upper(f.severity), f.id, f.target]), f.severity, remedy(f), "scans", i, f.pointer) if {
	applies
	some i, s in input.attachments.scans
	some f in s.findings
	blocked(f)
	not is_string(f.package)
}

deny contains lib.change_finding("past_sla", sprintf("%d %s finding(s) of %s are past their fix SLA", [n, sev, input.service]), sev, "fix the overdue findings first (`bearing explain security.findings_past_sla`)") if {
	applies
	params.sla
	some sev in params.block
	n := object.get(object.get(lib.service_outcomes, "findings_past_sla", {}), sev, 0)
	n > 0
}

# deny: {kev, epss_at_least}: open findings of the service that are known
# exploited (CISA KEV) or likely to be (EPSS), from the live outcomes.
threats := object.get(lib.service_outcomes, "threats", [])

deny contains lib.change_finding("kev", sprintf("%s in %s (%s) is known exploited: added to KEV on %s", [f.id, f.package, f.target, f.kev_added]), f.severity, "fix it first: CISA lists it as exploited in the wild (`bearing security priorities`)") if {
	applies
	object.get(params.deny, "kev", false) == true
	some f in threats
	is_string(f.kev_added)
}

deny contains lib.change_finding("epss", sprintf("%s in %s (%s) is likely to be exploited: EPSS %.2f (at least %.2f)", [f.id, f.package, f.target, f.epss, params.deny.epss_at_least]), f.severity, "fix it soon: it is likely to be exploited within 30 days (`bearing security priorities`)") if {
	applies
	is_number(object.get(params.deny, "epss_at_least", null))
	some f in threats
	is_number(f.epss)
	f.epss >= params.deny.epss_at_least
}

warn := set()

unknown := set()
