# Conftest's combine example, second rule: every user a team names exists.
package main

import rego.v1

deny contains msg if {
	some t in input
	t.contents.kind == "team"
	existing := {email | some u in input; u.contents.kind == "user"; email := u.contents.metadata.email}
	configured := {user | some team in input; team.contents.kind == "team"; some user in array.concat(team.contents.spec.owner, team.contents.spec.member)}
	missing := configured - existing
	count(missing) > 0
	msg := sprintf("Existing users %s | Configured users %s | Missing users %s", [sort(existing), sort(configured), sort(missing)])
}
