# `walk` over the input, with a path and with `_` (regorus' `graph`
# builtins, which Bearing had left out: `could not find function walk`).
package main

import rego.v1

deny contains msg if {
	walk(input, [path, value])
	value.runAsNonRoot == false
	msg := sprintf("%s: runAsNonRoot is false at %v", [input.metadata.name, path])
}

strings_found := [v | walk(input, [_, v]); is_string(v)]

warn contains msg if {
	count(strings_found) > 5
	msg := sprintf("%s has %d strings", [input.metadata.name, count(strings_found)])
}
