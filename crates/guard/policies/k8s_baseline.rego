# k8s_baseline: Pod security basics for Pods, Deployments, StatefulSets,
# DaemonSets, ReplicaSets, Jobs and CronJobs.

template_kinds := {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "ReplicationController"}

pod_spec(doc) := [doc.spec, "/spec"] if doc.kind == "Pod"

pod_spec(doc) := [doc.spec.template.spec, "/spec/template/spec"] if doc.kind in template_kinds

pod_spec(doc) := [doc.spec.jobTemplate.spec.template.spec, "/spec/jobTemplate/spec/template/spec"] if doc.kind == "CronJob"

# [manifest index, document pointer, name, pod spec, spec pointer]
pods contains [mi, sprintf("/%d", [d]), name, spec, sprintf("/%d%s", [d, sp])] if {
	some mi, m in input.attachments.manifests
	some d, doc in m.documents
	[spec, sp] := pod_spec(doc)
	name := sprintf("%s/%s", [doc.kind, object.get(object.get(doc, "metadata", {}), "name", "?")])
}

containers contains [mi, name, spec, c, sprintf("%s/%s/%d", [sp, field, k])] if {
	some [mi, _, name, spec, sp] in pods
	some field in ["containers", "initContainers"]
	some k, c in object.get(spec, field, [])
}

deny contains lib.finding("privileged", sprintf("%s: container `%s` runs privileged", [name, c.name]), "critical", "remove `securityContext.privileged: true`; grant only the capabilities needed", "manifests", mi, sprintf("%s/securityContext/privileged", [cp])) if {
	applies
	params.privileged
	some [mi, name, _, c, cp] in containers
	c.securityContext.privileged == true
}

sc(spec, c, key) := c.securityContext[key]

sc(spec, c, key) := spec.securityContext[key] if not key in object.keys(object.get(c, "securityContext", {}))

runs_as_root(spec, c) if sc(spec, c, "runAsUser") == 0

runs_as_root(spec, c) if {
	not sc(spec, c, "runAsNonRoot") == true
	not positive_uid(spec, c)
}

positive_uid(spec, c) if {
	uid := sc(spec, c, "runAsUser")
	is_number(uid)
	uid > 0
}

deny contains lib.finding("run_as_root", sprintf("%s: container `%s` may run as root (no `runAsNonRoot: true` or non-zero `runAsUser`)", [name, c.name]), "high", "set `securityContext.runAsNonRoot: true` and a non-zero `runAsUser`", "manifests", mi, cp) if {
	applies
	params.run_as_root
	some [mi, name, spec, c, cp] in containers
	runs_as_root(spec, c)
}

missing_limits(c) := [r | some r in ["cpu", "memory"]; not c.resources.limits[r]]

deny contains lib.finding("no_resource_limits", sprintf("%s: container `%s` has no %s limit", [name, c.name, concat(" or ", missing)]), "medium", "set `resources.limits.cpu` and `resources.limits.memory`", "manifests", mi, cp) if {
	applies
	params.resource_limits
	some [mi, name, _, c, cp] in containers
	missing := missing_limits(c)
	count(missing) > 0
}

image_tag(image) := "" if contains(image, "@sha256:")

image_tag(image) := tag if {
	not contains(image, "@sha256:")
	parts := split(image, "/")
	last := parts[count(parts) - 1]
	contains(last, ":")
	segs := split(last, ":")
	tag := segs[count(segs) - 1]
}

image_tag(image) := "(none)" if {
	not contains(image, "@sha256:")
	parts := split(image, "/")
	not contains(parts[count(parts) - 1], ":")
}

deny contains lib.finding("latest_tag", sprintf("%s: container `%s` uses image `%s` without a pinned tag", [name, c.name, c.image]), "medium", "pin the image to a version tag or a digest", "manifests", mi, sprintf("%s/image", [cp])) if {
	applies
	params.latest_tag
	some [mi, name, _, c, cp] in containers
	image_tag(c.image) in {"latest", "(none)"}
}

deny contains lib.finding("host_path", sprintf("%s: volume `%s` mounts the host path %s", [name, v.name, v.hostPath.path]), "high", "use a persistent volume claim, configMap or emptyDir instead of hostPath", "manifests", mi, sprintf("%s/volumes/%d/hostPath", [sp, k])) if {
	applies
	params.host_path
	some [mi, _, name, spec, sp] in pods
	some k, v in object.get(spec, "volumes", [])
	v.hostPath
}

deny contains lib.finding("host_namespace", sprintf("%s shares the host's %s namespace (`%s: true`)", [name, ns, field]), "high", sprintf("remove `%s`", [field]), "manifests", mi, sprintf("%s/%s", [sp, field])) if {
	applies
	params.host_namespaces
	some [mi, _, name, spec, sp] in pods
	some field, ns in {"hostNetwork": "network", "hostPID": "process", "hostIPC": "IPC"}
	spec[field] == true
}

warn := set()

unknown := set()
