package main

import rego.v1

test_unselected_deployment_in_one_file if {
	count(deny) == 1 with input as parse_combined_config_files(["../inputs/deployment.yaml", "../inputs/service.yaml"])
}
