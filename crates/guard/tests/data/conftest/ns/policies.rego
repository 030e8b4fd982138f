package main

import rego.v1

deny contains "main says no" if input.kind == "Service"
