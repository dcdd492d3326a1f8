"""Secrets resolved through Powertools Parameters, cached for ``secrets_max_age_seconds``.

A setting pair ``<name>_param`` / ``<name>`` names the secret's parameter or (local runs and
tests only) carries the value itself. Values are never logged or put in errors.
"""

from __future__ import annotations

from aws_lambda_powertools.utilities import parameters

from signbridge.errors import ConfigurationError, problem
from signbridge.observability import logger


def resolve_secret(param_name: str, plain_value: str, *, max_age: int, setting: str) -> str:
    """The secret's value, or ``ConfigurationError`` naming the setting when there is none."""
    if param_name:
        try:
            value = parameters.get_parameter(param_name, decrypt=True, max_age=max_age)
        except parameters.exceptions.GetParameterError as exc:
            # The parameter's name and the reason go to the log, not to the (unauthenticated) caller.
            logger.error("secret unreadable", extra={"setting": setting, "parameter": param_name, "reason": str(exc)})
            raise ConfigurationError(
                f"The secret for {setting} could not be read.", details=[problem(setting, "could not be read")]
            ) from exc
        return str(value)
    return plain_value


def resolve_secret_list(param_name: str, plain_values: list[str], *, max_age: int, setting: str) -> list[str]:
    if param_name:
        raw = resolve_secret(param_name, "", max_age=max_age, setting=setting)
        return [part.strip() for part in raw.split(",") if part.strip()]
    return list(plain_values)
