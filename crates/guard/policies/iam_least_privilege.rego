# iam_least_privilege: in Terraform plans, IAM statements with wildcard
# actions or resources, admin policies, plus public or unencrypted S3 buckets
# and security groups open to the internet.

policy_types := {"aws_iam_policy", "aws_iam_role_policy", "aws_iam_user_policy", "aws_iam_group_policy"}

attachment_types := {"aws_iam_role_policy_attachment", "aws_iam_user_policy_attachment", "aws_iam_group_policy_attachment", "aws_iam_policy_attachment"}

resources contains [pi, r] if {
	some pi, p in input.attachments.terraform_plans
	some r in p.resources
}

# Policy documents: [plan index, resource, pointer, parsed document].
documents contains [pi, r, sprintf("%s/policy", [r.pointer]), doc] if {
	some [pi, r] in resources
	r.type in policy_types
	is_string(r.values.policy)
	doc := json.unmarshal(r.values.policy)
}

documents contains [pi, r, sprintf("%s/inline_policy/%d/policy", [r.pointer, k]), doc] if {
	some [pi, r] in resources
	r.type == "aws_iam_role"
	some k, ip in r.values.inline_policy
	is_string(ip.policy)
	ip.policy != ""
	doc := json.unmarshal(ip.policy)
}

documents contains [pi, r, sprintf("%s/json", [r.pointer]), doc] if {
	some [pi, r] in resources
	r.type == "aws_iam_policy_document"
	is_string(r.values.json)
	doc := json.unmarshal(r.values.json)
}

# A policy document data source read without its rendered JSON: use its statement blocks.
documents contains [pi, r, sprintf("%s/statement", [r.pointer]), doc] if {
	some [pi, r] in resources
	r.type == "aws_iam_policy_document"
	not is_string(r.values.json)
	doc := {"Statement": [{"Effect": object.get(s, "effect", "Allow"), "Action": object.get(s, "actions", []), "Resource": object.get(s, "resources", [])} | some s in r.values.statement]}
}

statements(doc) := doc.Statement if is_array(doc.Statement)

statements(doc) := [doc.Statement] if is_object(doc.Statement)

allows contains [pi, r, ptr, s] if {
	some [pi, r, ptr, doc] in documents
	some s in statements(doc)
	object.get(s, "Effect", "Allow") == "Allow"
}

wildcard_action(a) if a == "*"

wildcard_action(a) if endswith(a, ":*")

read_only(a) if regex.match(`^[a-zA-Z0-9-]+:(Get|List|Describe|BatchGet)`, a)

deny contains lib.finding("iam_wildcard_action", sprintf("%s allows `%s` (wildcard action)", [r.address, a]), "high", "list the exact actions the service needs instead of a wildcard", "terraform_plans", pi, ptr) if {
	applies
	params.wildcard_actions
	some [pi, r, ptr, s] in allows
	some a in lib.as_list(object.get(s, "Action", []))
	wildcard_action(a)
	not a in params.allowed_actions
}

deny contains lib.finding("iam_wildcard_resource", sprintf("%s allows `%s` on every resource (`*`)", [r.address, a]), "high", "scope the statement's Resource to the ARNs it needs", "terraform_plans", pi, ptr) if {
	applies
	params.wildcard_resources
	some [pi, r, ptr, s] in allows
	"*" in lib.as_list(object.get(s, "Resource", []))
	some a in lib.as_list(object.get(s, "Action", []))
	not wildcard_action(a)
	not read_only(a)
	not a in params.allowed_actions
}

unknown contains lib.finding("iam_policy_unknown", sprintf("the policy of %s is known only after apply", [r.address]), "medium", "make the policy document computable at plan time (e.g. a data source), or waive", "terraform_plans", pi, r.pointer) if {
	applies
	some [pi, r] in resources
	r.type in (policy_types | {"aws_iam_policy_document"})
	r.unknown.policy == true
}

unknown contains lib.finding("iam_policy_unknown", sprintf("the resources of statement %d in %s are known only after apply", [k, r.address]), "medium", "make the statement's resources computable at plan time, or waive", "terraform_plans", pi, sprintf("%s/statement/%d/resources", [r.pointer, k])) if {
	applies
	params.wildcard_resources
	some [pi, r] in resources
	r.type == "aws_iam_policy_document"
	not is_string(r.values.json)
	some k, su in r.unknown.statement
	true in object.get(su, "resources", [])
	s := r.values.statement[k]
	object.get(s, "effect", "Allow") == "Allow"
	some a in object.get(s, "actions", [])
	not read_only(a)
}

unknown contains lib.finding("s3_policy_unknown", sprintf("the bucket policy of %s is known only after apply", [r.address]), "medium", "make the bucket policy computable at plan time, or waive", "terraform_plans", pi, r.pointer) if {
	applies
	params.public_s3
	some [pi, r] in resources
	r.type == "aws_s3_bucket_policy"
	r.unknown.policy == true
}

admin_arn(arn) if {
	some name in params.admin_policies
	endswith(arn, sprintf("policy/%s", [name]))
}

deny contains lib.finding("iam_admin_policy", sprintf("%s attaches the admin policy %s", [r.address, r.values.policy_arn]), "critical", "attach a policy with only the permissions the service needs", "terraform_plans", pi, sprintf("%s/policy_arn", [r.pointer])) if {
	applies
	some [pi, r] in resources
	r.type in attachment_types
	admin_arn(r.values.policy_arn)
}

deny contains lib.finding("iam_admin_policy", sprintf("%s attaches the admin policy %s", [r.address, arn]), "critical", "attach a policy with only the permissions the service needs", "terraform_plans", pi, sprintf("%s/managed_policy_arns/%d", [r.pointer, k])) if {
	applies
	some [pi, r] in resources
	r.type == "aws_iam_role"
	some k, arn in r.values.managed_policy_arns
	admin_arn(arn)
}

unknown contains lib.finding("iam_policy_unknown", sprintf("the policy ARN attached by %s is known only after apply", [r.address]), "medium", "attach a policy whose ARN is known at plan time, or waive", "terraform_plans", pi, r.pointer) if {
	applies
	some [pi, r] in resources
	r.type in attachment_types
	r.unknown.policy_arn == true
}

# --- S3 ---

public_acls := {"public-read", "public-read-write", "authenticated-read"}

deny contains lib.finding("s3_public", sprintf("%s has the public ACL `%s`", [r.address, r.values.acl]), "high", "use a private ACL and grant access through a bucket policy", "terraform_plans", pi, sprintf("%s/acl", [r.pointer])) if {
	applies
	params.public_s3
	some [pi, r] in resources
	r.type in {"aws_s3_bucket", "aws_s3_bucket_acl"}
	r.values.acl in public_acls
}

deny contains lib.finding("s3_public", sprintf("%s turns off `%s`", [r.address, flag]), "high", "set all four public access block flags to true", "terraform_plans", pi, sprintf("%s/%s", [r.pointer, flag])) if {
	applies
	params.public_s3
	some [pi, r] in resources
	r.type in {"aws_s3_bucket_public_access_block", "aws_s3_account_public_access_block"}
	some flag in ["block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets"]
	r.values[flag] == false
}

deny contains lib.finding("s3_public", sprintf("%s grants access to any principal (`*`)", [r.address]), "high", "name the principals that need access", "terraform_plans", pi, sprintf("%s/policy", [r.pointer])) if {
	applies
	params.public_s3
	some [pi, r] in resources
	r.type == "aws_s3_bucket_policy"
	is_string(r.values.policy)
	doc := json.unmarshal(r.values.policy)
	some s in statements(doc)
	object.get(s, "Effect", "Allow") == "Allow"
	public_principal(object.get(s, "Principal", null))
	not s.Condition
}

public_principal(p) if p == "*"

public_principal(p) if "*" in lib.as_list(object.get(p, "AWS", null))

sse_resources contains [pi, r.values.bucket] if {
	some [pi, r] in resources
	r.type == "aws_s3_bucket_server_side_encryption_configuration"
}

sse_resources contains [pi, "(unknown)"] if {
	some [pi, r] in resources
	r.type == "aws_s3_bucket_server_side_encryption_configuration"
	r.unknown.bucket == true
}

has_sse(pi, r) if count(object.get(r.values, "server_side_encryption_configuration", [])) > 0

has_sse(pi, r) if r.unknown.server_side_encryption_configuration == true

has_sse(pi, r) if [pi, r.values.bucket] in sse_resources

# A separate encryption resource whose bucket is known only after apply may be for this bucket.
has_sse(pi, r) if [pi, "(unknown)"] in sse_resources

deny contains lib.finding("s3_unencrypted", sprintf("%s has no server-side encryption configured", [r.address]), "medium", "add an aws_s3_bucket_server_side_encryption_configuration (SSE-KMS or AES256)", "terraform_plans", pi, r.pointer) if {
	applies
	params.unencrypted_s3
	some [pi, r] in resources
	r.type == "aws_s3_bucket"
	r.mode == "managed"
	not has_sse(pi, r)
}

# --- Security groups ---

world(rule) if "0.0.0.0/0" in lib.as_list(object.get(rule, "cidr_blocks", []))

world(rule) if "::/0" in lib.as_list(object.get(rule, "ipv6_cidr_blocks", []))

world(rule) if object.get(rule, "cidr_ipv4", "") == "0.0.0.0/0"

world(rule) if object.get(rule, "cidr_ipv6", "") == "::/0"

all_ports(rule) if object.get(rule, "protocol", object.get(rule, "ip_protocol", "")) in {"-1", "all"}

public_port_only(rule) if {
	not all_ports(rule)
	rule.from_port == rule.to_port
	rule.from_port in params.public_ports
}

port_text(rule) := "all ports" if all_ports(rule)

port_text(rule) := sprintf("port %v", [rule.from_port]) if {
	not all_ports(rule)
	rule.from_port == rule.to_port
}

port_text(rule) := sprintf("ports %v-%v", [rule.from_port, rule.to_port]) if {
	not all_ports(rule)
	rule.from_port != rule.to_port
}

ingress_rules contains [pi, r, sprintf("%s/ingress/%d", [r.pointer, k]), rule] if {
	some [pi, r] in resources
	r.type == "aws_security_group"
	some k, rule in r.values.ingress
}

ingress_rules contains [pi, r, r.pointer, r.values] if {
	some [pi, r] in resources
	r.type == "aws_security_group_rule"
	r.values.type == "ingress"
}

ingress_rules contains [pi, r, r.pointer, r.values] if {
	some [pi, r] in resources
	r.type == "aws_vpc_security_group_ingress_rule"
}

deny contains lib.finding("sg_open_ingress", sprintf("%s opens %s to the internet", [r.address, port_text(rule)]), "high", "restrict the ingress CIDR to known ranges or put the service behind a load balancer", "terraform_plans", pi, ptr) if {
	applies
	params.open_security_groups
	some [pi, r, ptr, rule] in ingress_rules
	world(rule)
	not public_port_only(rule)
}

warn := set()
