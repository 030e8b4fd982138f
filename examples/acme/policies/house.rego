# Custom house rule (Conftest conventions): every change names its owner.
package main

import rego.v1

deny contains msg if {
	not input.change.author
	msg := "a change must carry its author"
}
