# required_checks: named pipeline checks present and passing, and security
# scans attached and completed.

deny contains lib.change_finding("check_missing", sprintf("required check `%s` is missing", [name]), "high", sprintf("run `%s` and pass `--check %s=passed`", [name, name])) if {
	applies
	some name in params.checks
	not input.checks[name]
}

deny contains lib.change_finding("check_failed", sprintf("required check `%s` is `%s`", [name, status]), "high", sprintf("fix `%s` before deploying", [name])) if {
	applies
	some name in params.checks
	status := input.checks[name]
	not lower(status) in params.passing
}

deny contains lib.change_finding("scan_missing", "no security scan is attached", "high", "attach a Trivy, Grype or SARIF report with `--scan`") if {
	applies
	params.scans
	count(input.attachments.scans) == 0
}

deny contains lib.finding("scan_failed", sprintf("the scan %s did not complete", [s.file]), "high", "rerun the scanner until it completes", "scans", i, "") if {
	applies
	params.scans
	some i, s in input.attachments.scans
	not s.ok
}

warn := set()

unknown := set()
