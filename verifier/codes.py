"""Tag codes: random identifiers with a check character.

Format (documented in the README): ``PC-XXXX-XXXX-XXXX-XXXX-XC``.

* 17 random symbols from a 31-symbol alphabet (84.2 bits), then one check symbol.
* The alphabet is Crockford's base 32 without ``Z`` (so that it has a prime size,
  31): ``0123456789ABCDEFGHJKMNPQRSTVWXY``. It has no I, L, O or U, so typed
  look-alikes are folded: O -> 0, I and L -> 1.
* Check symbol: with the 18 symbol values d1..d18 (the check last), the code is valid
  when ``sum(i * d_i for i in 1..18) % 31 == 0``. Because 31 is prime and every
  weight 1..18 is non-zero mod 31, any single substituted symbol changes the sum by
  ``i * (a - b)`` which is never a multiple of 31; swapping neighbours changes it by
  ``(a - b) * ((i + 1) - i) = a - b``, never a multiple of 31 either.
* Typed input is case-insensitive; dashes, spaces and the ``PC`` prefix are optional.

The code carries no meaning: it is only a key into the registry.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from enum import StrEnum

__all__ = [
    "ALPHABET",
    "CodeError",
    "CodeProblem",
    "format_code",
    "is_valid",
    "new_code",
    "normalize",
    "parse",
]

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXY"
_VALUE = {ch: i for i, ch in enumerate(ALPHABET)}
_FOLD = str.maketrans({"O": "0", "I": "1", "L": "1"})
_DROP = str.maketrans("", "", "- \t\r\n")
_BODY = 17
_LENGTH = _BODY + 1
_MOD = len(ALPHABET)  # 31, prime
_PREFIX = "PC"
_MAX_INPUT = 64


class CodeProblem(StrEnum):
    """Why a text is not a valid tag code."""

    BAD_FORMAT = "bad_format"
    BAD_CHECK_CHARACTER = "bad_check_character"


class CodeError(ValueError):
    """Raised by :func:`parse` for a text that is not a valid tag code."""

    def __init__(self, problem: CodeProblem, message: str) -> None:
        super().__init__(message)
        self.problem = problem


def _check_symbol(body: str) -> str:
    total = sum((i + 1) * _VALUE[ch] for i, ch in enumerate(body))
    # Solve total + 18 * c == 0 (mod 31) for c.
    inverse = pow(_LENGTH, -1, _MOD)
    return ALPHABET[(-total * inverse) % _MOD]


def new_code(choice: Callable[[str], str] = secrets.choice) -> str:
    """Return a fresh random code in canonical form (no dashes).

    ``choice`` picks one symbol; tags use :func:`secrets.choice` (codes must not be
    guessable). Tests pass a seeded one so that a photo that fails to read fails again.
    """
    body = "".join(choice(ALPHABET) for _ in range(_BODY))
    return body + _check_symbol(body)


def normalize(text: str) -> str:
    """Fold typed or scanned text to the canonical 18-symbol form, without checking it.

    Upper-cases, drops dashes and white space, folds look-alike letters and strips the
    ``PC`` prefix. The result may still be invalid; see :func:`parse`.
    """
    # ASCII only: Unicode case rules would turn "ß" into "SS" or "ı" into "I".
    raw = text[:_MAX_INPUT]
    if not raw.isascii():
        return ""  # a non-ASCII character: not a code
    cleaned = raw.translate(_DROP).upper()
    if cleaned.startswith(_PREFIX) and len(cleaned) == _LENGTH + len(_PREFIX):
        cleaned = cleaned[len(_PREFIX) :]
    return cleaned.translate(_FOLD)


def parse(text: str) -> str:
    """Return the canonical code for ``text`` or raise :class:`CodeError`."""
    if len(text) > _MAX_INPUT:
        raise CodeError(CodeProblem.BAD_FORMAT, "This is far too long to be a propcheck tag code.")
    code = normalize(text)
    values = [_VALUE.get(ch, -1) for ch in code]
    if len(code) != _LENGTH or -1 in values:
        raise CodeError(
            CodeProblem.BAD_FORMAT,
            "This is not a propcheck tag code (expected PC- and 18 letters and digits).",
        )
    if sum(i * v for i, v in enumerate(values, 1)) % _MOD != 0:
        raise CodeError(
            CodeProblem.BAD_CHECK_CHARACTER,
            "The check character does not match: the code was mistyped or misread.",
        )
    return code


def is_valid(text: str) -> bool:
    """True when ``text`` parses as a tag code with a correct check character."""
    try:
        parse(text)
    except CodeError:
        return False
    return True


def format_code(code: str) -> str:
    """Show a canonical code grouped for people: ``PC-XXXX-XXXX-XXXX-XXXX-XC``."""
    c = normalize(code)
    groups = [c[i : i + 4] for i in range(0, 16, 4)] + [c[16:]]
    return "-".join([_PREFIX, *groups])
