# A Conftest policy over `terraform show -json`: wildcards in IAM policies,
# and a warning for every resource created.
package main

import rego.v1

created contains rc if {
	some rc in input.resource_changes
	"create" in rc.change.actions
}

deny_iam_wildcard contains msg if {
	some rc in created
	rc.type == "aws_iam_policy"
	some st in json.unmarshal(rc.change.after.policy).Statement
	st.Effect == "Allow"
	some action in actions(st.Action)
	endswith(action, "*")
	msg := sprintf("%s allows `%s` on %v", [rc.address, action, st.Resource])
}

warn_created contains msg if {
	some rc in created
	msg := sprintf("%s will be created", [rc.address])
}

actions(a) := [a] if is_string(a)

actions(a) := a if is_array(a)
