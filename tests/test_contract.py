"""The helpers and the sandbox agree on the API's facts.

Each side keeps its own copy on purpose (the sandbox never imports the helpers, and the helpers
must work against Sinch without the sandbox), so this test is what keeps the two copies equal.
"""

from __future__ import annotations

import random

from sinch_helpers_machinery import api_facts
from sinch_helpers_machinery.sandbox_controls import NEW_PLAN_NAME, suggested_plan_name
from sinch_helpers_machinery.sandbox_controls import phones_key as printed
from xms_sandbox import lifecycle, substitution, validation
from xms_sandbox.models.plans import NEW_PLAN_NAME as MADE
from xms_sandbox.models.plans import suggested_plan_name as suggested
from xms_sandbox.tokens import phones_key as accepted
from xms_sandbox.tokens import token_hash


def test_final_statuses_agree():
    assert api_facts.FINAL_STATUSES == lifecycle.FINAL_STATUSES


def test_size_limits_agree():
    assert api_facts.MAX_BATCH_RECIPIENTS == validation.MAX_RECIPIENTS
    assert api_facts.MAX_BODY_LENGTH == validation.MAX_BODY
    assert api_facts.MAX_PARAMETER_VALUE == validation.MAX_PARAMETER_VALUE


def test_parameter_keys_and_placeholders_agree():
    assert api_facts.PARAMETER_KEY.pattern == substitution.VALID_KEY.pattern
    assert api_facts.PLACEHOLDER.pattern == substitution.PLACEHOLDER.pattern
    samples = ["name", "first.name", "a-b_c", "x" * 16, "x" * 17, "bad key", "", "ünï", "${x}"]
    for key in samples:
        ours = bool(api_facts.PARAMETER_KEY.fullmatch(key))
        assert ours == bool(substitution.VALID_KEY.fullmatch(key)), key


def test_every_number_the_sandbox_treats_as_fictional_is_refused_live():
    """The sandbox's drama range (its outcome table) must all count as fictional to the helpers,
    so a live send can never go to a number that only the sandbox can answer."""
    for last in range(1000):
        number = f"+{lifecycle.DRAMA_PREFIX}{last:03d}"
        assert api_facts.FICTIONAL.fullmatch(number), number
        assert lifecycle.outcome_for(number[1:]) is not None


def test_real_looking_numbers_are_not_fictional():
    rng = random.Random(7)
    for _ in range(200):
        number = f"+4670{rng.randrange(10**7):07d}"
        assert not api_facts.FICTIONAL.fullmatch(number)


def test_the_phones_key_the_helpers_print_is_the_one_the_sandbox_accepts():
    """Written twice on purpose (the helpers never import the sandbox): they must agree."""
    for token in ("t", "0123456789abcdef0123456789abcdef", "jupyterhub-token-éü"):
        assert printed(token) == accepted(token_hash(token))


def test_the_plan_names_the_helpers_allow_are_the_ones_a_shared_sandbox_makes():
    assert NEW_PLAN_NAME.pattern == MADE.pattern
    for name in ("Ada Lovelace", "a/b", "..", "zoë  x", "%2e%2e", "x" * 70):
        assert suggested_plan_name(name) == suggested(name)
        assert MADE.fullmatch(suggested(name))
