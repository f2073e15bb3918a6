"""Tag code format: what a person types or a decoder reads must parse, and a misread
or mistyped code must be rejected rather than resolve to some other item."""

from __future__ import annotations

import math
import random

import pytest

from verifier import codes
from verifier.codes import ALPHABET, CodeError, CodeProblem

# Seeded so that a failure names codes that can be replayed.
_RNG = random.Random(20250601)
SAMPLE = 200


def _sample_codes(n: int) -> list[str]:
    return [codes.new_code() for _ in range(n)]


def test_new_codes_parse_to_themselves() -> None:
    for code in _sample_codes(500):
        assert len(code) == 18
        assert set(code) <= set(ALPHABET)
        assert codes.parse(code) == code
        assert codes.is_valid(code)


def test_new_codes_are_not_repeated() -> None:
    batch = _sample_codes(5000)
    assert len(set(batch)) == len(batch)


def test_grouped_form_fits_on_a_small_tag() -> None:
    for code in _sample_codes(50):
        shown = codes.format_code(code)
        assert len(shown) <= 25
        assert shown.startswith("PC-")
        assert shown.count("-") == 5


def test_codes_carry_at_least_80_bits_of_randomness() -> None:
    assert len(ALPHABET) == 31
    assert len(set(ALPHABET)) == 31
    assert 17 * math.log2(len(ALPHABET)) >= 80
    # Every position takes every symbol: nothing in the body is fixed or derived.
    batch = _sample_codes(3000)
    for position in range(17):
        assert {c[position] for c in batch} == set(ALPHABET), position


def test_alphabet_has_no_look_alike_letters() -> None:
    assert not set("ILOUZ") & set(ALPHABET)


def test_every_single_substitution_is_rejected() -> None:
    for code in _sample_codes(SAMPLE):
        for position, original in enumerate(code):
            for symbol in ALPHABET:
                if symbol == original:
                    continue
                wrong = code[:position] + symbol + code[position + 1 :]
                with pytest.raises(CodeError) as caught:
                    codes.parse(wrong)
                assert caught.value.problem is CodeProblem.BAD_CHECK_CHARACTER, wrong


def test_every_adjacent_transposition_is_rejected() -> None:
    tried = 0
    for code in _sample_codes(SAMPLE):
        for i in range(len(code) - 1):
            if code[i] == code[i + 1]:
                continue  # swapping equal symbols changes nothing
            swapped = code[:i] + code[i + 1] + code[i] + code[i + 2 :]
            assert not codes.is_valid(swapped), swapped
            tried += 1
    assert tried > SAMPLE * 15


def test_typed_input_is_forgiving() -> None:
    for code in _sample_codes(50):
        grouped = codes.format_code(code)
        variants = [
            grouped,
            grouped.lower(),
            grouped[3:],
            grouped.replace("-", ""),
            grouped.replace("-", " "),
            "  " + grouped.lower().replace("-", " ") + "\n",
            "pc" + code.lower(),
            "Pc-" + code,
            "\t".join(code),
        ]
        for text in variants:
            assert codes.parse(text) == code, text


def test_look_alike_letters_are_folded() -> None:
    code = next(c for c in iter(codes.new_code, None) if "0" in c and "1" in c)
    typed = code.replace("0", "O").replace("1", "I", 1).replace("1", "l")
    assert typed != code
    assert codes.parse(typed) == code
    assert codes.parse(typed.lower()) == code


def test_prefix_is_only_stripped_from_a_full_length_code() -> None:
    # A body that itself starts with P and C must not lose its first two symbols.
    body = "PC" + "".join(_RNG.choice(ALPHABET) for _ in range(15))
    code = body + codes._check_symbol(body)
    assert codes.parse(code) == code
    assert codes.parse("PC-" + code) == code
    assert codes.format_code(code) == "PC-" + "-".join(
        [code[0:4], code[4:8], code[8:12], code[12:16], code[16:]]
    )


@pytest.mark.parametrize(
    "text",
    [
        "",
        "PC-",
        "hello",
        "PC-0000-0000-0000-0000-0",  # one symbol short
        "PC-0000-0000-0000-0000-000",  # one symbol long
        "PC-UUUU-UUUU-UUUU-UUUU-UU",  # U is not in the alphabet
        "PC-ZZZZ-ZZZZ-ZZZZ-ZZZZ-ZZ",  # nor is Z
        "PC_0000_0000_0000_0000_00",
        "https://example.com/t/0000000000000000",
    ],
)
def test_bad_format_is_named(text: str) -> None:
    with pytest.raises(CodeError) as caught:
        codes.parse(text)
    assert caught.value.problem is CodeProblem.BAD_FORMAT
    assert not codes.is_valid(text)


def test_nul_bytes_are_rejected() -> None:
    code = codes.new_code()
    for text in (code + "\x00", "\x00" + code, code[:9] + "\x00" + code[9:]):
        with pytest.raises(CodeError) as caught:
            codes.parse(text)
        assert caught.value.problem is CodeProblem.BAD_FORMAT


def test_over_long_input_is_rejected_without_reading_it_all() -> None:
    code = codes.new_code()
    for text in (code + " " * 100, "-" * 64 + code, code * 1000, "x" * 10_000_000):
        with pytest.raises(CodeError) as caught:
            codes.parse(text)
        assert caught.value.problem is CodeProblem.BAD_FORMAT
    # Padding up to the limit is still fine.
    padded = code + " " * (64 - len(code))
    assert codes.parse(padded) == code


def test_format_round_trip() -> None:
    for code in _sample_codes(200):
        shown = codes.format_code(code)
        assert codes.parse(shown) == code
        assert codes.format_code(shown) == shown
        assert codes.normalize(shown) == code


def test_code_error_is_a_value_error_with_a_sentence() -> None:
    with pytest.raises(ValueError, match="propcheck tag code"):
        codes.parse("nope")
