# `data.conftest.file` (the name and folder of the file an input came from)
# and boolean rules (true rather than a set of messages).
package main

import rego.v1

deny contains msg if {
	not endswith(data.conftest.file.name, ".yaml")
	msg := sprintf("%s: name manifests *.yaml", [data.conftest.file.name])
}

warn contains msg if {
	folders := split(data.conftest.file.dir, "/")
	msg := sprintf("%s (a %s) in %s", [data.conftest.file.name, input.kind, folders[count(folders) - 1]])
}

deny_privileged if input.spec.privileged

warn_no_owner if not input.metadata.labels.owner

violation_never if input.kind == "CronJob"
