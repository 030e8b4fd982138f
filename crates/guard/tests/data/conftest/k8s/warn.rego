package main

import data.kubernetes
import rego.v1

name := input.metadata.name

warn contains msg if {
	kubernetes.is_service
	msg := sprintf("Found service %s but services are not allowed", [name])
}
