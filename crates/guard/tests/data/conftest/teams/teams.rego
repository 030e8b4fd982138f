# The shape of Conftest's combine example's second rule: `some i` declared
# after loops over the input (regorus ran it again per iteration and failed;
# Bearing moves it to the start of the rule).
package main

import rego.v1

deny contains msg if {
	kind := input[_].contents.kind
	kind == "team"
	some i
	existing := {email | some i; input[i].contents.kind == "user"; email := input[i].contents.metadata.email}
	members := [user | input[i].contents.kind == "team"; user := input[i].contents.spec.member]
	configured := {u | u := members[_][_]}
	missing := configured - existing
	count(missing) > 0
	msg := sprintf("Missing users %s", [sort(missing)])
}
