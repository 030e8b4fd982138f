# Conftest's exceptions example in Rego v1 syntax.
package main

import rego.v1

deny_run_as_root contains msg if {
	input.kind == "Deployment"
	not input.spec.template.spec.securityContext.runAsNonRoot
	msg := sprintf("Containers must not run as root in Deployment %s", [input.metadata.name])
}

exception contains rules if {
	input.kind == "Deployment"
	input.metadata.name == "can-run-as-root"
	rules := ["run_as_root"]
}

warn contains msg if {
	input.kind == "Service"
	msg := sprintf("Service %s is exposed", [input.metadata.name])
}

violation contains {"msg": msg, "severity": "critical", "remediation": "add an app label"} if {
	input.kind == "Deployment"
	not input.metadata.labels.app
	msg := sprintf("Deployment %s has no app label", [input.metadata.name])
}

# Not a Conftest rule name: ignored.
denylist := ["ubuntu"]
