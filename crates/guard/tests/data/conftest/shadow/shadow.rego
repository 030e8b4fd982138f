# OPA accepts this (the `name :=` inside the comprehension declares a new
# variable); regorus cannot schedule it. Bearing refuses it at load.
package main

import rego.v1

deny contains msg if {
	name := input[_].contents.metadata.name
	seen := [name | some i; input[i].contents.metadata.name == name; name := input[i].metadata.name]
	count(seen) > 1
	msg := sprintf("duplicate name %s", [name])
}
