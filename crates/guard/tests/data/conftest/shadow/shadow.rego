# The shape of Conftest's combine example's first rule: the `name :=` inside
# the comprehension declares a new variable (OPA), shadowing the rule's
# `name` that the comprehension compared against above it.
package main

import rego.v1

deny contains msg if {
	name := input[_].contents.metadata.name
	files := [name | some i; input[i].contents.metadata.name == name; name := input[i].path]
	count(files) > 1
	msg := sprintf("%s is defined in %v", [name, sort(files)])
}
