package main

import data.kubernetes
import rego.v1

name := input.metadata.name

deny contains msg if {
	kubernetes.is_deployment
	not input.spec.template.spec.securityContext.runAsNonRoot
	msg := sprintf("Containers must not run as root in Deployment %s", [name])
}

deny contains msg if {
	kubernetes.is_deployment
	not input.spec.selector.matchLabels.app
	msg := sprintf("Deployment %s must provide an app label for pod selectors", [name])
}
