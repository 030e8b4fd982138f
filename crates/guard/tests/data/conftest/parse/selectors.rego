# Conftest's --combine example: every Service selects a Deployment.
package main

import rego.v1

deployments := {d.contents.metadata.name: d.contents | some d in input; d.contents.kind == "Deployment"}

deny contains msg if {
	some s in input
	s.contents.kind == "Service"
	some key, value in s.contents.spec.selector
	not any_match(key, value)
	msg := sprintf("Service %s selects %s=%s but no Deployment has that label (%s)", [s.contents.metadata.name, key, value, s.path])
}

any_match(key, value) if {
	some d in deployments
	d.spec.template.metadata.labels[key] == value
}
