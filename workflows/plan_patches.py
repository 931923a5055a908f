"""The plan workflow's version gates: every ``workflow.patched`` name, with what it keeps for plans started before.

A running plan replays its history against today's code until its next run (continue-as-new), so a change to the
commands the workflow emits is taken only where its patch says so. Each name is asked at the one point where its
behaviour starts; never rename one (the committed histories in tests/histories carry them as markers).
"""

from __future__ import annotations

#: Plans started before the cadence analyzer keep their start-time rule and do not refresh the cadence after a ruck
#: (their histories would not replay otherwise); a plan's next run (continue-as-new) takes the new behaviour.
ADAPTIVE_CADENCE_PATCH = "adaptive-cadence"
#: Plans started before content preparation render every notification at delivery (their histories have no
#: prepare_content activities); their next run (continue-as-new) prepares copy ahead.
PREPARE_CONTENT_PATCH = "prepare-content-ahead"
#: A cancel or complete signal that arrived before a load finished used to be undone by the row it loaded.
TERMINAL_SIGNAL_PATCH = "terminal-signal-wins"
#: Snoozes taken before they were stored with the plan set only the workflow's state (no save_snooze activity).
STORED_SNOOZE_PATCH = "stored-snooze"
#: Plans from the robust-plans release on (one patch for the release's workflow changes): a completion whose values
#: make no sense is dropped and one a few minutes ahead of the clock counts as now; deliveries run side by side (one
#: retrying delivery holds up no other); a pause seen only in the database is read again before each reminder it
#: holds; the worker's configuration is taken at each load; a plan with nothing left ends 14 days after its last
#: session; a plan gone from the database at its first load ends with that reason instead of failing.
ROBUST_PATCH = "robust-plans"
#: Plans from the timing-rules release on evaluate with coaching.schedule.RULES_V2 (issue 11's timing rules) and
#: keep the plan's pause periods in their state; plans started before keep RULES_V1 until their next run.
TIMING_RULES_PATCH = "timing-rules-v2"
#: Workflows ending before the reconciler existed did not record their end (it learns of it by signalling them).
RECORD_END_PATCH = "record-plan-end"
