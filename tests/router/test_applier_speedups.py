"""The applier's shortcuts give exactly what the general code gives."""

from __future__ import annotations

import json
import random

import pytest

from observability.router.alert import fingerprint, one_label_fingerprint
from observability.router.alert_store import json_text
from observability.router.incident import legacy_incident_fingerprint

_CHARS = 'abcXYZ_09 "\\\n=,{}üé✓\U0001f600\x00\x7f'


def _text(rnd: random.Random, longest: int) -> str:
    return "".join(rnd.choice(_CHARS) for _ in range(rnd.randint(0, longest)))


@pytest.mark.parametrize("seed", range(5))
def test_one_label_fingerprint_is_the_label_set_fingerprint(seed: int) -> None:
    rnd = random.Random(seed)
    for _ in range(200):
        name, value = _text(rnd, 8) or "n", _text(rnd, 30)
        assert one_label_fingerprint(name, value) == fingerprint({name: value})
        assert legacy_incident_fingerprint(value) == fingerprint({"incident_id": value})


def testjson_text_is_json_dumps() -> None:
    rnd = random.Random(7)
    for _ in range(500):
        values = {_text(rnd, 8): _text(rnd, 20) for _ in range(rnd.randint(0, 6))}
        assert json_text(values) == json.dumps(values)
