"""The suppressions file (context key `suppressionsFile`), checked at synth and stored in SSM for the function.

The file is parsed by the engine's own loader (cert_audit.suppressions), so `cdk synth`
refuses exactly what the function and the CLI would refuse, naming the file and the line.
What the function reads is the JSON of the parsed entries, in one SSM String parameter
that the stack creates and that only the function may read (ssm:GetParameter on it).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

from aws_cdk import Stack
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from cert_audit.config import ConfigError
from cert_audit.suppressions import SuppressionError, load_suppressions_file

# SSM's value limits: 4 KB in the standard tier (free), 8 KB in the advanced tier.
STANDARD_TIER_BYTES = 4096
ADVANCED_TIER_BYTES = 8192


@dataclass(frozen=True)
class Suppressions:
    source: str  # the file as the user named it
    value: str  # the parameter's value: the parsed entries as compact JSON
    count: int

    @property
    def size(self) -> int:
        return len(self.value.encode("utf-8"))

    @property
    def tier(self) -> ssm.ParameterTier:
        # Advanced only when the value does not fit the free standard tier: an advanced
        # parameter costs $0.05 a month (and its API calls are charged), a standard one nothing.
        return ssm.ParameterTier.STANDARD if self.size <= STANDARD_TIER_BYTES else ssm.ParameterTier.ADVANCED


def load_suppressions(value: object) -> Suppressions | None:
    """Parse the file `suppressionsFile` names (None when the key is empty); raise ConfigError on any problem."""
    path = "" if value is None else str(value).strip()
    if not path:
        return None
    if not os.path.isfile(path):
        raise ConfigError(
            f"suppressionsFile: {path!r} is not a file (relative paths start from {os.getcwd()}, where cdk runs); "
            "give the path of a JSON or YAML suppressions file, or leave the key empty for none"
        )
    try:
        entries = load_suppressions_file(path)
    except SuppressionError as error:  # its message names the file, the line and the problem
        raise ConfigError(f"suppressionsFile: {error}") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"suppressionsFile: {path!r} cannot be read ({error}); give a readable UTF-8 file") from None
    suppressions = Suppressions(
        source=path,
        value=json.dumps([entry.as_dict() for entry in entries], separators=(",", ":")),
        count=len(entries),
    )
    if suppressions.size > ADVANCED_TIER_BYTES:
        raise ConfigError(
            f"suppressionsFile: {path!r} holds {suppressions.count} suppressions, {suppressions.size} bytes as JSON, "
            f"more than the {ADVANCED_TIER_BYTES} bytes an SSM parameter can hold; suppress by CA "
            "(caCertificateId, with a type if only some findings are accepted) instead of certificate by "
            "certificate, remove expired entries, or shorten the reasons"
        )
    return suppressions


def suppressions_parameter(scope: Construct, suppressions: Suppressions) -> ssm.StringParameter:
    """The SSM parameter the function reads its suppressions from (SUPPRESSIONS_PARAMETER).

    SSM cannot move a parameter from the advanced tier back to the standard one, and
    CloudFormation would try exactly that in place when a file shrinks below 4 KB. So each
    tier has its own construct ID and name: a change of tier creates the new parameter,
    points the function at it, and deletes the old one.
    """
    advanced = suppressions.tier == ssm.ParameterTier.ADVANCED
    # Under the stack's name, so it is easy to find and two stacks in one region never collide.
    name = f"/{Stack.of(scope).stack_name}/suppressions" + ("-advanced" if advanced else "")
    return ssm.StringParameter(
        scope,
        "SuppressionsAdvanced" if advanced else "Suppressions",
        parameter_name=name,
        string_value=suppressions.value,
        tier=suppressions.tier,
        description=(
            f"IoT certificate audit suppressions ({suppressions.count}) from {os.path.basename(suppressions.source)}; "
            "edit that file and redeploy to change them"
        ),
    )
