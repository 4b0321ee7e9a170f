"""The hand-written rule cases: one or more per SPEC.md rule, for both presets.

The cases live by SPEC section:

* :mod:`._cases_rules_identity`: R0 time, R1 identification, R2 baselines and shards;
* :mod:`._cases_rules_accounting`: R3 credit, R4 counter resets, R5 events;
* :mod:`._cases_rules_batching`: R6 batching and delivery;
* :mod:`._cases_rules_purge`: R7 garbage collection and purge;
* :mod:`._cases_rules_lifecycle`: R8 life cycle, R9 limits, R10 configuration,
  R11/R12 ledger and gauges.

:data:`RULE_CASES` lists them in the order ``seed.json`` and
``recommended.json`` publish them (a case added later goes at the end, so
the files stay stable); the shared helpers are in :mod:`._cases_rules_base`.
"""

from __future__ import annotations

from . import _cases_rules_accounting as accounting
from . import _cases_rules_batching as batching
from . import _cases_rules_identity as identity
from . import _cases_rules_lifecycle as lifecycle
from . import _cases_rules_purge as purge
from ._cases_rules_base import CaseFn
from ._vectors import Case

RULE_CASES: tuple[CaseFn, ...] = (
    identity.r0_same_second,
    identity.r1_bad_credential,
    identity.r1_query_passkey,
    identity.r2_two_peers,
    identity.r2_3_shards,
    accounting.r3_first_announce,
    accounting.r3_2_credit,
    accounting.r3_4_epochs,
    accounting.r4_1_decrease,
    accounting.r4_1_one_direction,
    accounting.r4_2_started_known,
    accounting.r5_1_stopped,
    accounting.r5_2_completed_zero,
    accounting.r5_2_completed_bytes,
    accounting.r5_2_started_first,
    accounting.r5_3_stopped_unknown,
    batching.r6_1_size_trigger,
    batching.r6_2_age_and_gc,
    batching.r6_3_flush_path,
    batching.r6_4_success,
    batching.r6_5_failed_batch,
    batching.r6_5_backoff,
    batching.r6_6_handler_failure,
    batching.r6_7_max_pending,
    purge.r7_gc_boundary,
    purge.r7_1_purge_on_announce,
    purge.r7_2_stale_on_announce,
    purge.r7_3_seed_panic,
    purge.r7_4_purge_records,
    lifecycle.r8_stop_delivers,
    lifecycle.r8_1_closing,
    lifecycle.r8_2_undelivered,
    lifecycle.r8_3_snapshot,
    lifecycle.r9_1_wrap,
    lifecycle.r9_2_limit,
    lifecycle.r10_policy_mix,
    lifecycle.r10_preset_defaults,
    lifecycle.r11_ledger,
    lifecycle.r12_users_gauge,
    identity.r1_2_no_allow_list,
    identity.r2_2_entries,
    accounting.r3_1_order,
    accounting.r3_3_records,
    lifecycle.r9_3_valid_extremes,
    lifecycle.r10_1_durations,
    lifecycle.r10_2_zero_means_default,
    lifecycle.r10_3_valid_edges,
    lifecycle.r11_1_attributed,
    lifecycle.r8_3_snapshot_retry_state,
    batching.r6_2_gc_only,
    batching.r6_7_purge_deferred,
    accounting.r5_1_stopped_zero,
    accounting.r4_2_started_lower,
)
"""Every rule case function, in published order."""


def rule_cases(preset: str) -> list[Case]:
    """Every rule case for ``preset``, in published order."""
    return [fn(preset) for fn in RULE_CASES]
