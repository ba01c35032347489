"""Map a classifier's own label names onto negative / neutral / positive."""

from __future__ import annotations

import re
from collections.abc import Mapping

_GENERIC = re.compile(r"label_(\d+)")
_BY_COUNT = {2: ("negative", "positive"), 3: ("negative", "neutral", "positive")}
_PREFIXES = (("neg", "negative"), ("neu", "neutral"), ("pos", "positive"))


def normalise_labels(id2label: Mapping[int, str]) -> list[str]:
    """Labels indexed by class id, each one of negative/neutral/positive.

    Names match on their prefix in any case ("NEG", "Negative"); generic "LABEL_k" names are read as
    negative/neutral/positive for three classes and negative/positive for two. Raises ValueError for
    a label that means none of these, or for gaps in the class ids.
    """
    count = len(id2label)
    if sorted(int(k) for k in id2label) != list(range(count)):
        raise ValueError(f"class ids are not 0..{count - 1}: {sorted(id2label)}")
    labels = []
    for index in range(count):
        name = str(id2label[index]).strip().lower()
        labels.append(_normalise_one(name, count))
    return labels


def _normalise_one(name: str, count: int) -> str:
    for prefix, label in _PREFIXES:
        if name.startswith(prefix):
            return label
    generic = _GENERIC.fullmatch(name)
    if generic and count in _BY_COUNT and int(generic.group(1)) < count:
        return _BY_COUNT[count][int(generic.group(1))]
    raise ValueError(f"cannot read label {name!r} as negative, neutral or positive")
