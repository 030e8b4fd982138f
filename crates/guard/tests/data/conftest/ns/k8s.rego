package kubernetes.services

import rego.v1

deny contains msg if {
	input.kind == "Service"
	input.spec.type == "LoadBalancer"
	msg := sprintf("Service %s is a LoadBalancer", [input.metadata.name])
}
