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

# The setting of the key or of its nearest ancestor that has one.
most_specific(by_key, key) := by_key[ancestors[nearest]] if {
	ancestors := lineage(key)
	nearest := min({i | some i; ancestor := ancestors[i]; by_key[ancestor]})
}

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

deny contains reason("department_grant", sprintf("no grant to %s", [grant_holder])) if grant == null

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
# unless it identifies a person.

outside_grant contains field if {
	grant != null
	some field in input.data
	not covered_by_any(field.category, grant.data_categories)
	not covered_by_any(field.category, settings.special_categories)
}

granted_categories := grant.data_categories if grant != null
else := []

named_special := {category |
	some category in granted_categories
	covered_by_any(category, settings.special_categories)
}

unnamed_special contains field if {
	some field in input.data
	covered_by_any(field.category, settings.special_categories)
	not covered_by_any(field.category, named_special)
}

objection contains {"rule": "minimisation", "field": field, "why": "is not in the grant"} if {
	some field in outside_grant
}

objection contains {
	"rule": "special_categories",
	"field": field,
	"why": "is a special category the grant does not name",
} if {
	some field in unnamed_special
}

identifiers := {subject.location | some subject in input.subjects}

strippable(field) if {
	grant.mode == "redact"
	not field.pointer in identifiers
}

objection_message(found) := sprintf(
	"%s at %s %s",
	[found.field.category, found.field.pointer, found.why],
)

strip contains {"pointer": found.field.pointer, "rule": found.rule, "message": message} if {
	some found in objection
	strippable(found.field)
	message := objection_message(found)
}

deny contains reason(found.rule, objection_message(found)) if {
	some found in objection
	not strippable(found.field)
}

# transfers

personal_data if count(input.subjects) > 0

personal_data if {
	some field in input.data
	startswith(field.category, "user")
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

lawful_basis := most_specific(settings.lawful_bases, input.purpose)

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
	some field in input.data
	startswith(field.category, "user")
}

needs_consent if {
	lawful_basis == "consent"
	sends_personal_data
}

deny contains reason("consent", "personal data whose owner the connector cannot identify") if {
	needs_consent
	count(input.subjects) == 0
}

# The state for the purpose, or for its nearest parent purpose that has one.
current_consent(key) := most_specific(input.consents[key], input.purpose)

consent_problem(subject) := "the identifier cannot be read, so consent cannot be checked" if {
	subject.key == null
} else := sprintf("no consent on record for '%s'", [input.purpose]) if {
	not current_consent(subject.key)
} else := sprintf("consent for '%s' was withdrawn", [state.purpose]) if {
	state := current_consent(subject.key)
	not state.granted
} else := sprintf("consent for '%s' expired", [state.purpose]) if {
	state := current_consent(subject.key)
	state.expires_at != null
	state.expires_at <= input.now
}

unconsented contains {"subject": subject, "message": message} if {
	needs_consent
	some subject in input.subjects
	message := sprintf("%s: %s", [subject.location, consent_problem(subject)])
}

deny contains reason("consent", found.message) if {
	some found in unconsented
	found.subject.item == null
}

drop contains {"item": s.item, "key": s.key, "rule": "consent", "message": found.message} if {
	some found in unconsented
	s := found.subject
	s.item != null
}

# gpc

deny contains reason("gpc", message) if {
	input.signals.gpc
	covered_by_any(input.purpose, settings.gpc_opt_out)
	message := sprintf("Sec-GPC: 1 opts the person out of '%s' (sale or sharing)", [input.purpose])
}

# The decision

dropped_items := {found.item | some found in drop}

dropped_keys := {found.key | some found in drop}

everyone_dropped if {
	count(drop) > 0
	count({subject.item | some subject in input.subjects} - dropped_items) == 0
}

batch_denials := {reason(found.rule, found.message) | some found in drop} | {reason(
	"consent",
	"no person in the batch may receive this",
)} if everyone_dropped
else := set()

denials := deny | batch_denials

verdict := "deny" if count(denials) > 0
else := "redact" if count(strip) + count(drop) > 0
else := "allow"

redactions := {reason(found.rule, found.message) | some found in strip} | {reason(
	found.rule,
	found.message,
) | some found in drop}

relied_on := {state.event_id |
	some subject in input.subjects
	subject.key != null
	not subject.key in dropped_keys
	state := current_consent(subject.key)
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
	"reasons": redactions,
	"strip": [found.pointer | some found in strip],
	"drop": sort(dropped_items),
	"dropped_subjects": [found.key | some found in drop],
	"consent_event_ids": sort(relied_on),
}
