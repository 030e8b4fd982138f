# `some i` bound only inside comprehensions (each comprehension's own `i` in
# OPA), in a rule whose statements OPA must reorder: regorus could not order
# them and ran the rule in source order (the message before the count).
package main

import rego.v1

deny contains msg if {
	some i
	msg := sprintf("%d teams name members without an account", [count(missing)])
	members := [m | input[i].contents.kind == "team"; m := input[i].contents.spec.member[_]]
	users := {u | input[i].contents.kind == "user"; u := input[i].contents.metadata.email}
	missing = {m | m := members[_]; not m in users}
	count(missing) > 0
}
