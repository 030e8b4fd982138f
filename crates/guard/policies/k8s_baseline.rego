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

# Kinds with a pod spec, checked above.
pod_kinds := template_kinds | {"Pod", "CronJob"}

# Kinds known to run no pods (Kubernetes' own API groups).
podless_kinds := {
	"APIService", "ClusterRole", "ClusterRoleBinding", "ConfigMap", "CustomResourceDefinition",
	"Endpoints", "EndpointSlice", "HorizontalPodAutoscaler", "Ingress", "IngressClass",
	"LimitRange", "MutatingWebhookConfiguration", "Namespace", "NetworkPolicy",
	"PersistentVolume", "PersistentVolumeClaim", "PodDisruptionBudget", "PriorityClass",
	"ResourceQuota", "Role", "RoleBinding", "Secret", "Service", "ServiceAccount",
	"StorageClass", "ValidatingWebhookConfiguration",
}

# `Kind/name` of any document, for the findings below.
label(doc) := sprintf("%s/%s", [doc.kind, object.get(doc.metadata, "name", "?")]) if is_object(doc.metadata)

label(doc) := sprintf("%s/?", [doc.kind]) if not is_object(doc.metadata)

spec_path(kind) := "spec" if kind == "Pod"

spec_path(kind) := "spec.template.spec" if kind in template_kinds

spec_path(kind) := "spec.jobTemplate.spec.template.spec" if kind == "CronJob"

readable_pod_spec(doc) if {
	[spec, _] := pod_spec(doc)
	is_object(spec)
}

# A workload whose pod spec is missing or not a mapping (e.g. a list) is
# not checked: never a quiet pass.
unknown contains lib.finding("pod_spec_unreadable", sprintf("%s: no pod spec (a mapping) at `%s`, so its containers cannot be checked", [label(doc), spec_path(doc.kind)]), "high", sprintf("write the pod spec as a mapping at `%s`", [spec_path(doc.kind)]), "manifests", mi, sprintf("/%d/spec", [d])) if {
	applies
	some mi, m in input.attachments.manifests
	some d, doc in m.documents
	doc.kind in pod_kinds
	not readable_pod_spec(doc)
}

# A `containers` key holding a list anywhere in the document (`walk` is not
# compiled by regorus' VM; in the JSON text, a quote inside a string is escaped).
has_containers(doc) if contains(json.marshal(doc), `"containers":[`)

# A kind this guardrail does not know (e.g. OpenShift's `DeploymentConfig`,
# Argo's `Rollout`) that has containers: they are not checked.
unknown contains lib.finding("unknown_kind", sprintf("%s: kind `%s` is not one k8s_baseline knows, so its containers were not checked", [label(doc), doc.kind]), "high", "check this kind with a custom Rego guardrail, or waive the rule `unknown_kind` for it", "manifests", mi, sprintf("/%d/kind", [d])) if {
	applies
	some mi, m in input.attachments.manifests
	some d, doc in m.documents
	is_string(doc.kind)
	not doc.kind in pod_kinds
	not doc.kind in podless_kinds
	has_containers(doc)
}
