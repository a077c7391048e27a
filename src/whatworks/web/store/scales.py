"""The rating scales offered as filters, read from the current rating scheme (one registry)."""

from whatworks.ratings.schemes import get_scheme

_SCHEME = get_scheme()

#: (code, label) pairs for the effectiveness scale, best first ("no evidence" last).
EFFECTIVENESS_LEVELS = [(lv.code, lv.label) for lv in _SCHEME.effectiveness_levels]
EFFECTIVENESS_CODES = {code for code, _ in EFFECTIVENESS_LEVELS}
#: (value, label) pairs for the five-point strength-of-evidence scale, strongest first.
STRENGTH_LEVELS = sorted(((lv.value, lv.label) for lv in _SCHEME.strength_levels
                          if lv.value is not None), reverse=True)
