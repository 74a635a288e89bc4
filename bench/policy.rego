# The rules of policies/engine.py in OPA's Rego, so that bench/decision_vs_rego.py can time
# the same decision made by both. It is a benchmark's counterpart, not a second engine: the
# gateway never loads it.
#
# input: the exchange facts as decision_vs_rego.rego_input() writes them (dates as ISO
# strings, instants as Unix nanoseconds, consents by subject key then purpose).
# data.policy: the settings of policies/policy.yaml as load_policy() reads them.
# data.gatehouse.decision: verdict, reasons, strip, drop, dropped_subjects and
# consent_event_ids, as in policies.decision.Decision.
#
# The TCF rule is left out: decoding a TC string in Rego is a project of its own, and the
# benchmark's inputs carry none (rego_input() refuses facts that do).
package gatehouse

import rego.v1

settings := data.policy

grant := input.grant

reason(rule, message) := {"rule": rule, "message": message}

# The fideslang hierarchy: a key covers itself and its dotted descendants.

covers(parent, key) if parent == key

covers(parent, key) if startswith(key, concat("", [parent, "."]))

covered_by_any(key, parents) if {
	some parent in parents
	covers(parent, key)
}

# The key, then each ancestor: a.b.c, a.b, a.
lineage(key) := [concat(".", array.slice(parts, 0, n)) |
	parts := split(key, ".")
	some n in numbers.range(count(parts), 1)
]

# The setting of the nearest of these ancestors (a lineage) that has one.
nearest_setting(by_key, ancestors) := by_key[ancestors[nearest]] if {
	nearest := min([i | some i; ancestor := ancestors[i]; by_key[ancestor]])
}

purpose_lineage := lineage(input.purpose)

# tool_status

deny contains reason("tool_status", message) if {
	input.tool.status != "approved"
	message := sprintf("tool '%s' is %s, not approved", [input.tool.slug, input.tool.status])
}

deny contains reason("tool_status", message) if {
	input.tool.status == "approved"
	input.tool.review_due != null
	input.tool.review_due < input.today
	message := sprintf(
		"tool '%s' was due for re-review on %s",
		[input.tool.slug, input.tool.review_due],
	)
}

# department_grant

grant_holder := sprintf("department '%s' for tool '%s'", [input.department, input.tool.slug])

grant_expired if {
	grant.expires != null
	grant.expires < input.today
}

deny contains reason("department_grant", message) if {
	grant == null
	message := sprintf("no grant to %s", [grant_holder])
}

deny contains reason("department_grant", message) if {
	grant_expired
	message := sprintf("the grant to %s expired on %s", [grant_holder, grant.expires])
}

deny contains reason("department_grant", message) if {
	grant != null
	not grant_expired
	not covered_by_any(input.purpose, grant.purposes)
	message := sprintf(
		"the grant to %s does not cover the purpose '%s'",
		[grant_holder, input.purpose],
	)
}

# minimisation and special_categories: a field is refused, or stripped in redact mode
# unless it identifies a person. Categories are judged once each, not once per field (a
# batch repeats a few), and per-field and per-subject findings are arrays, as the engine's
# are lists: rego-cpp builds a set of objects far more slowly than an array.

categories := {field.category | some field in input.data}

outside_grant contains category if {
	grant != null
	some category in categories
	not covered_by_any(category, grant.data_categories)
	not covered_by_any(category, settings.special_categories)
}

granted_categories := grant.data_categories if grant != null
else := []

named_special := [category |
	some category in granted_categories
	covered_by_any(category, settings.special_categories)
]

unnamed_special contains category if {
	some category in categories
	covered_by_any(category, settings.special_categories)
	not covered_by_any(category, named_special)
}

unnamed_why := "is a special category the grant does not name"

objections := array.concat(
	[{"rule": "minimisation", "field": field, "why": "is not in the grant"} |
		some field in input.data
		field.category in outside_grant
	],
	[{"rule": "special_categories", "field": field, "why": unnamed_why} |
		some field in input.data
		field.category in unnamed_special
	],
)

identifiers := [subject.location | some subject in input.subjects]

strippable(field) if {
	grant.mode == "redact"
	not field.pointer in identifiers
}

objection_reason(found) := reason(
	found.rule,
	sprintf("%s at %s %s", [found.field.category, found.field.pointer, found.why]),
)

strips := [{"pointer": found.field.pointer, "reason": objection_reason(found)} |
	some found in objections
	strippable(found.field)
]

refused_fields := [objection_reason(found) |
	some found in objections
	not strippable(found.field)
]

# transfers

personal_data if count(input.subjects) > 0

personal_data if {
	some category in categories
	startswith(category, "user")
}

transfer_basis := basis if {
	basis := input.tool.transfer_basis
	basis != null
	basis != ""
} else := "none"

valid_transfer_basis if transfer_basis == "scc"

valid_transfer_basis if {
	transfer_basis == "adequacy"
	input.tool.country in settings.transfers.adequacy
}

valid_transfer_basis if {
	transfer_basis == "dpf"
	input.tool.country in settings.transfers.dpf
}

deny contains reason("transfers", message) if {
	personal_data
	input.tool.country == null
	message := sprintf("tool '%s' has no processing country on record", [input.tool.slug])
}

deny contains reason("transfers", message) if {
	personal_data
	input.tool.country != null
	not input.tool.country in settings.transfers.eea
	not valid_transfer_basis
	message := sprintf(
		"personal data to %s needs a transfer basis; tool '%s' has %s",
		[input.tool.country, input.tool.slug, transfer_basis],
	)
}

# consent

lawful_basis := nearest_setting(settings.lawful_bases, purpose_lineage)

deny contains reason("consent", message) if {
	not lawful_basis
	message := sprintf("the policy gives no lawful basis for '%s'", [input.purpose])
}

# Unless the call only names a record the vendor holds (a lookup by id in the path).
sends_personal_data if {
	some subject in input.subjects
	not startswith(subject.location, "path:")
}

sends_personal_data if {
	some category in categories
	startswith(category, "user")
}

needs_consent if {
	lawful_basis == "consent"
	sends_personal_data
}

deny contains reason("consent", "personal data whose owner the connector cannot identify") if {
	needs_consent
	count(input.subjects) == 0
}

# The state for the purpose, or for its nearest parent purpose that has one; null if none.
current_consent(subject) := state if {
	subject.key != null
	state := nearest_setting(input.consents[subject.key], purpose_lineage)
} else := null

unreadable := "the identifier cannot be read, so consent cannot be checked"

consent_problem(subject, state) := unreadable if {
	subject.key == null
} else := sprintf("no consent on record for '%s'", [input.purpose]) if {
	state == null
} else := sprintf("consent for '%s' was withdrawn", [state.purpose]) if {
	not state.granted
} else := sprintf("consent for '%s' expired on %s", [state.purpose, day(state.expires_at)]) if {
	state.expires_at != null
	state.expires_at <= input.now
}

day(instant) := sprintf("%d-%02d-%02d", time.date(instant))

assessed := [{"subject": subject, "state": current_consent(subject)} |
	some subject in input.subjects
]

unconsented := [{"subject": found.subject, "reason": reason("consent", message)} |
	needs_consent
	some found in assessed
	problem := consent_problem(found.subject, found.state)
	message := sprintf("%s: %s", [found.subject.location, problem])
]

refused_subjects := [found.reason | some found in unconsented; found.subject.item == null]

drops := [found | some found in unconsented; found.subject.item != null]

# gpc

# The purpose is opted out, or is broader than one that is ("marketing" covers
# third-party advertising).
gpc_overlaps if covered_by_any(input.purpose, settings.gpc_opt_out)

gpc_overlaps if {
	some use in settings.gpc_opt_out
	covers(input.purpose, use)
}

deny contains reason("gpc", message) if {
	input.signals.gpc
	gpc_overlaps
	message := sprintf("Sec-GPC: 1 opts the person out of '%s' (sale or sharing)", [input.purpose])
}

# The decision

dropped_items := {found.subject.item | some found in drops}

dropped_keys := {found.subject.key | some found in drops}

someone_left if {
	some subject in input.subjects
	not subject.item in dropped_items
}

everyone_dropped if {
	count(drops) > 0
	not someone_left
}

batch_denials := array.concat(
	[found.reason | some found in drops],
	[reason("consent", "no person in the batch may receive this")],
) if everyone_dropped
else := []

denials := array.concat(
	array.concat([found | some found in deny], refused_fields),
	array.concat(refused_subjects, batch_denials),
)

verdict := "deny" if count(denials) > 0
else := "redact" if count(strips) + count(drops) > 0
else := "allow"

relied_on := {found.state.event_id |
	needs_consent
	some found in assessed
	found.state != null
	not found.subject.key in dropped_keys
}

decision := {
	"verdict": "deny",
	"reasons": denials,
	"strip": [],
	"drop": [],
	"dropped_subjects": [],
	"consent_event_ids": [],
} if verdict == "deny"
else := {
	"verdict": verdict,
	"reasons": array.concat(
		[found.reason | some found in strips],
		[found.reason | some found in drops],
	),
	"strip": [found.pointer | some found in strips],
	"drop": sort(dropped_items),
	"dropped_subjects": [found.subject.key | some found in drops],
	"consent_event_ids": sort(relied_on),
}
