"""The suppressions file (`-c suppressionsFile=...`): checked at synth, stored in SSM, readable by the function only."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from aws_cdk import aws_ssm as ssm

from cert_audit.config import ConfigError
from infra.config import load_stack_config
from infra.suppressions import Suppressions

SAMPLE = Path(__file__).parent / "fixtures" / "suppressions.yaml"
FUNCTION = "AuditFunctionD052CD6C"
# The sample file's entries as the function reads them: the date `expires: 2027-03-31` is
# valid through that day, so it ends at the next midnight UTC.
SAMPLE_ENTRIES = [
    {
        "certificateId": "3f2a0c4e5d6b7a8f9e0d1c2b3a4f5e6d7c8b9a0f1e2d3c4b5a6f7e8d9c0b1a2f",
        "type": "CERTIFICATE_STATUS",
        "reason": "Lab bench devices, kept revoked for the forensics team",
        "expires": "2027-04-01T00:00:00Z",
    },
    {
        "caCertificateId": "9b1d0000000000000000000000000000000000000000000000000000000004aa",
        "reason": "Legacy CA being decommissioned (CHG-1234)",
    },
]


def _write_certificate_suppressions(path: Path, count: int) -> Path:
    """A YAML file of `count` certificate suppressions, about 200 bytes each as JSON."""
    lines = ["suppressions:"]
    for number in range(count):
        lines += [
            f"  - certificateId: c{number:063x}",  # a letter first: YAML would read all digits as a number
            "    type: CERTIFICATE_STATUS",
            f"    reason: Bench device {number} kept revoked for the forensics team until the case is closed",
        ]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def synth(synthesize):
    return synthesize({"suppressionsFile": str(SAMPLE)})


@pytest.fixture(scope="module")
def synth_large(synthesize, tmp_path_factory):
    # 25 certificates: more than the 4 KB of a standard parameter, less than the 8 KB of an advanced one
    path = _write_certificate_suppressions(tmp_path_factory.mktemp("large") / "suppressions.yaml", 25)
    return synthesize({"suppressionsFile": str(path)})


def _parameter(synth) -> tuple[str, dict]:
    ((logical_id, parameter),) = synth.resources("AWS::SSM::Parameter").items()
    return logical_id, parameter["Properties"]


def test_parameter_holds_the_files_suppressions_as_json_in_the_free_tier(synth):
    # Given the parameter the stack made from the sample file
    _, parameter = _parameter(synth)

    # Then it holds exactly the file's entries, as the function will parse them
    assert json.loads(parameter["Value"]) == SAMPLE_ENTRIES
    assert (parameter["Name"], parameter["Type"], parameter["Tier"]) == (
        "/IoTCertificateAudit/suppressions",
        "String",
        "Standard",
    )
    assert "suppressions.yaml" in parameter["Description"]


def test_function_is_told_the_parameter_and_may_read_exactly_it(synth):
    # Given the parameter and the function
    logical_id, _ = _parameter(synth)
    variables = synth.template_json["Resources"][FUNCTION]["Properties"]["Environment"]["Variables"]

    # Then the function's environment names it
    assert variables["SUPPRESSIONS_PARAMETER"] == {"Ref": logical_id}

    # And the role may GetParameter on that parameter's ARN, and nothing else of SSM
    statements = synth.only("AWS::IAM::Policy")["Properties"]["PolicyDocument"]["Statement"]
    ssm_statements = [statement for statement in statements if "ssm:" in json.dumps(statement["Action"])]
    assert ssm_statements == [
        {
            "Sid": "ReadTheSuppressions",
            "Action": "ssm:GetParameter",
            "Effect": "Allow",
            "Resource": {
                "Fn::Join": [
                    "",
                    [
                        "arn:",
                        {"Ref": "AWS::Partition"},
                        ":ssm:",
                        {"Ref": "AWS::Region"},
                        ":",
                        {"Ref": "AWS::AccountId"},
                        ":parameter",  # the name ({"Ref"}) starts with a slash
                        {"Ref": logical_id},
                    ],
                ]
            },
        }
    ]


def test_more_than_4_kb_uses_the_advanced_tier_under_its_own_name(synth, synth_large):
    # Given 25 certificate suppressions
    logical_id, parameter = _parameter(synth_large)

    # Then the value is over the standard tier's 4 KB, so the advanced tier holds it
    assert 4096 < len(parameter["Value"]) <= 8192
    assert len(json.loads(parameter["Value"])) == 25
    assert parameter["Tier"] == "Advanced"

    # And under another logical ID and name than a standard one: SSM cannot take a parameter
    # back to the standard tier, so a file that shrinks gets a new parameter, not a failed update
    assert parameter["Name"] == "/IoTCertificateAudit/suppressions-advanced"
    assert logical_id != _parameter(synth)[0]
    variables = synth_large.template_json["Resources"][FUNCTION]["Properties"]["Environment"]["Variables"]
    assert variables["SUPPRESSIONS_PARAMETER"] == {"Ref": logical_id}


def test_an_output_names_the_parameter(synth):
    logical_id, _ = _parameter(synth)
    assert synth.template_json["Outputs"]["SuppressionsParameter"]["Value"] == {"Ref": logical_id}


@pytest.mark.parametrize(("size", "tier"), [(4096, ssm.ParameterTier.STANDARD), (4097, ssm.ParameterTier.ADVANCED)])
def test_tier_changes_just_above_4096_bytes(size, tier):
    assert Suppressions(source="s.yaml", value="x" * size, count=1).tier == tier


def test_more_than_8_kb_stops_synth_and_suggests_suppressing_by_ca(tmp_path):
    # Given 60 certificate suppressions: about 12 KB as JSON
    path = _write_certificate_suppressions(tmp_path / "many.yaml", 60)

    # When the context is loaded
    with pytest.raises(ConfigError) as error:
        load_stack_config({"suppressionsFile": str(path)})

    # Then the message names the file, the size and the limit, and what to do instead
    message = str(error.value)
    assert f"suppressionsFile: {str(path)!r} holds 60 suppressions" in message
    assert "more than the 8192 bytes an SSM parameter can hold" in message
    assert "suppress by CA (caCertificateId" in message


def test_a_malformed_entry_stops_synth_naming_the_file_and_line(tmp_path):
    # Given a file whose second entry (line 5) has a typo'd field and no reason
    path = tmp_path / "suppressions.yaml"
    path.write_text(
        "suppressions:\n"
        f"  - caCertificateId: {'a' * 64}\n"
        "    reason: Accepted\n"
        "\n"
        f"  - certificatId: {'b' * 64}\n"
        "    reason: Typo in the key\n"
    )

    # When the context is loaded
    with pytest.raises(ConfigError) as error:
        load_stack_config({"suppressionsFile": str(path)})

    # Then the synth error is the key, the file, the line and the problem (with the likely fix)
    assert f"suppressionsFile: {path}, line 5: unknown field 'certificatId' (did you mean 'certificateId'?)" in str(
        error.value
    )


def test_a_file_that_is_not_yaml_stops_synth_naming_the_line(tmp_path):
    path = tmp_path / "suppressions.json"
    path.write_text('[\n  {"caCertificateId": "x",\n   "reason": "unclosed"\n')

    with pytest.raises(ConfigError) as error:
        load_stack_config({"suppressionsFile": str(path)})

    assert f"suppressionsFile: {path}, line 4: not valid JSON or YAML" in str(error.value)


def test_a_missing_file_stops_synth_with_where_it_was_looked_for(tmp_path):
    missing = tmp_path / "nowhere.yaml"

    with pytest.raises(ConfigError) as error:
        load_stack_config({"suppressionsFile": str(missing)})

    assert f"suppressionsFile: {str(missing)!r} is not a file" in str(error.value)
    assert "give the path of a JSON or YAML suppressions file, or leave the key empty" in str(error.value)


def test_a_json_file_gives_the_same_suppressions_as_its_yaml_twin(tmp_path):
    # Given the sample's entries written as JSON instead of YAML
    path = tmp_path / "suppressions.json"
    path.write_text(json.dumps({"suppressions": SAMPLE_ENTRIES}))

    # When both are loaded / Then the parameter would hold the same value
    from_json = load_stack_config({"suppressionsFile": str(path)}).suppressions
    from_yaml = load_stack_config({"suppressionsFile": str(SAMPLE)}).suppressions
    assert from_json.value == from_yaml.value
    assert from_json.count == 2


@pytest.mark.parametrize("empty", ["", "  ", None])
def test_an_empty_key_means_no_suppressions(empty):
    assert load_stack_config({"suppressionsFile": empty}).suppressions is None
