# Helpers shared by the built-in guardrail modules.
package bearing.lib

import rego.v1

# A finding located in an attachment (kind: terraform_plans, manifests, scans, cost).
finding(rule, msg, severity, remediation, kind, index, pointer) := {
	"rule": rule,
	"msg": msg,
	"severity": severity,
	"remediation": remediation,
	"at": {"kind": kind, "index": index, "pointer": pointer},
}

# A finding about the change itself (no file location).
change_finding(rule, msg, severity, remediation) := {
	"rule": rule,
	"msg": msg,
	"severity": severity,
	"remediation": remediation,
}

as_list(x) := x if is_array(x)

as_list(x) := [x] if is_string(x)

as_list(x) := [] if x == null

has_label(labels) if {
	some l in input.labels
	l in labels
}

service_outcomes := object.get(object.get(input.context.outcomes, "services", {}), input.service, {})

plan := object.get(input.context.plans, input.service, {})
