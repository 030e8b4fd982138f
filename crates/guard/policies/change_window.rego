# change_window: changes only inside allowed windows and never during a
# blackout; exempt labels (hotfix) pass with a warning.

clock := input.context.clocks[params.timezone]

in_window(w) if {
	clock.weekday in object.get(w, "days", ["mon", "tue", "wed", "thu", "fri", "sat", "sun"])
	clock.time >= object.get(w, "from", "00:00")
	clock.time < object.get(w, "to", "24:00")
}

outside_windows if {
	count(params.windows) > 0
	not any_window
}

any_window if {
	some w in params.windows
	in_window(w)
}

blackout contains b if {
	some b in params.blackouts
	clock.date >= b.from
	clock.date <= b.to
}

exempt if lib.has_label(params.exempt_labels)

reasons contains sprintf("%s %s %s is outside the change windows", [clock.weekday, clock.time, params.timezone]) if outside_windows

reasons contains sprintf("%s is in the blackout %s to %s%s", [clock.date, b.from, b.to, why]) if {
	some b in blackout
	why := blackout_reason(b)
}

blackout_reason(b) := sprintf(" (%s)", [b.reason]) if is_string(b.reason)

blackout_reason(b) := "" if not is_string(b.reason)

deny contains lib.change_finding("change_window", r, "medium", "deploy inside a change window, or label the change as an exempt hotfix") if {
	applies
	not exempt
	some r in reasons
}

warn contains lib.change_finding("change_window_exempt", sprintf("exempt change: %s", [r]), "low", "") if {
	applies
	exempt
	some r in reasons
}

unknown := set()
