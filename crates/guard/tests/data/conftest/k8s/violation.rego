package main

import data.kubernetes
import rego.v1

name := input.metadata.name

violation := [{"msg": msg, "details": {}}] if {
	kubernetes.is_deployment
	msg := sprintf("Found deployment %s but deployments are not allowed", [name])
}
