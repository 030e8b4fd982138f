package main

deny[msg] {
	input.kind == "Deployment"
	image := input.spec.template.spec.containers[_].image
	not contains(image, ":")
	msg = sprintf("image %s has no tag", [image])
}

warn_replicas[msg] {
	input.kind == "Deployment"
	input.spec.replicas < 2
	msg = "fewer than two replicas"
}
