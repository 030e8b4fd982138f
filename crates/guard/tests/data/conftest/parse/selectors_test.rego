package main

import rego.v1

test_unselected_deployment_in_one_file if {
	count(deny) == 1 with input as parse_combined_config_files(["../inputs/deployment.yaml", "../inputs/service.yaml"])
}

test_unselected_service_from_one_file if {
	svc := parse_config_file("../inputs/service.yaml")
	count(deny) == 1 with input as [{"path": "s.yaml", "contents": svc}]
}

test_documents_of_a_text if {
	docs := parse_config("yaml", "kind: Service\n---\nkind: Deployment\n")
	[d.kind | some d in docs] == ["Service", "Deployment"]
	parse_config("json", `{"kind": "Pod"}`).kind == "Pod"
}
