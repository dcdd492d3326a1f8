"""Money and ISO codes: Given amounts in minor units and addresses as platforms write them, Then
exact major-unit decimals and the ISO codes the destinations expect."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from signbridge.iso import UnknownCode, country_alpha2, currency_exponent, subdivision_code, to_major_units

EXPONENTS = {"JPY": 0, "CLP": 0, "USD": 2, "EUR": 2, "KWD": 3, "BHD": 3}


# --------------------------------------------------------------------------- currencies
@pytest.mark.parametrize(("currency", "exponent"), sorted(EXPONENTS.items()))
def test_each_currency_has_its_iso_4217_minor_unit(currency, exponent):
    assert currency_exponent(currency) == exponent


@pytest.mark.parametrize(
    ("minor", "currency", "major"),
    [
        (8643, "USD", "86.43"),
        (8643, "JPY", "8643"),
        (8643, "KWD", "8.643"),
        (8643, "BHD", "8.643"),
        (8643, "CLP", "8643"),
        (1999, "USD", "19.99"),
        (5, "KWD", "0.005"),
        (0, "USD", "0.00"),
        (0, "JPY", "0"),
        (0, "KWD", "0.000"),
        (10**12, "USD", "10000000000.00"),
    ],
)
def test_minor_units_become_exact_major_units(minor, currency, major):
    result = to_major_units(minor, currency)
    assert str(result) == major
    assert result == Decimal(major)


def test_the_currency_code_is_case_insensitive():
    assert to_major_units(1999, "usd") == Decimal("19.99")


@pytest.mark.parametrize("currency", ["XXX", "XAU", "ZZZ", "US", "", "DOLLARS"])
def test_codes_that_are_not_chargeable_currencies_are_refused(currency):
    with pytest.raises(UnknownCode):
        to_major_units(100, currency)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(minor=st.integers(min_value=0, max_value=10**12), currency=st.sampled_from(sorted(EXPONENTS)))
def test_property_major_units_round_trip_exactly(minor, currency):
    exponent = EXPONENTS[currency]
    result = to_major_units(minor, currency)
    assert result == Decimal(minor) / 10**exponent
    assert result * 10**exponent == minor
    text = str(result)
    decimals = len(text.partition(".")[2])
    assert decimals == exponent
    assert "E" not in text.upper()


# --------------------------------------------------------------------------- countries
@pytest.mark.parametrize(
    ("written", "alpha2"),
    [
        ("Australia", "AU"),
        ("AU", "AU"),
        ("AUS", "AU"),
        ("australia", "AU"),
        ("United States", "US"),
        ("united states", "US"),
        ("US", "US"),
        ("USA", "US"),
        ("Germany", "DE"),
        ("DEU", "DE"),
        ("United Kingdom", "GB"),
        ("Côte d'Ivoire", "CI"),
        ("Türkiye", "TR"),
        ("Turkiye", "TR"),
        ("Vietnam", "VN"),
        ("  Australia ", "AU"),
    ],
)
def test_a_country_is_recognised_by_name_or_code(written, alpha2):
    assert country_alpha2(written) == alpha2


@pytest.mark.parametrize("written", ["Narnia", "nonsense", "Atlantis", "123", "N/A", "", "   ", "Deutschland"])
def test_what_is_not_a_country_name_or_code_is_refused(written):
    # pycountry knows English names and ISO codes only: the endonym "Deutschland" is not one.
    with pytest.raises(UnknownCode):
        country_alpha2(written)


@pytest.mark.parametrize("placeholder", ["-", "none", "x", "a", "xx"])
def test_a_placeholder_country_is_refused(placeholder):
    with pytest.raises(UnknownCode):
        country_alpha2(placeholder)


# --------------------------------------------------------------------------- subdivisions
@pytest.mark.parametrize(
    ("country", "province", "code"),
    [
        ("AU", "Queensland", "QLD"),
        ("AU", "QLD", "QLD"),
        ("AU", "qld", "QLD"),
        ("AU", "AU-QLD", "QLD"),
        ("AU", " queensland ", "QLD"),
        ("US", "California", "CA"),
        ("US", "california", "CA"),
        ("US", "CA", "CA"),
        ("US", "US-CA", "CA"),
        ("DE", "Bayern", "BY"),
    ],
)
def test_a_province_is_recognised_by_name_or_iso_3166_2_code(country, province, code):
    assert subdivision_code(country, province) == code


@pytest.mark.parametrize(
    ("country", "province"),
    [("US", "Narnia"), ("AU", "California"), ("US", "QLD"), ("US", ""), ("US", "   "), ("ZZ", "Anything")],
)
def test_an_unknown_province_is_refused(country, province):
    with pytest.raises(UnknownCode):
        subdivision_code(country, province)
