"""The state's Scan pages read with json.loads (aws.read_scan_fast) are what botocore's parser gives."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError

from cert_audit.aws import make_client
from cert_audit.emulator import inject_faults
from tests.integration.conftest import REGION, create_table


@pytest.fixture
def table(aws):
    dynamodb = create_table("state", "findingId")
    for n in range(7):
        item = {
            "findingId": {"S": f"f{n}"},
            "suppressed": {"BOOL": n % 2 == 0},
            "count": {"N": str(n)},
            "finding": {"S": '{"reason": "é \\"quoted\\""}'},
        }
        dynamodb.put_item(TableName="state", Item=item)
    return dynamodb


def test_fast_pages_equal_botocores_page_by_page(table):
    fast = make_client("dynamodb", boto3.Session(region_name=REGION))
    request = {"TableName": "state", "Limit": 3}
    while True:
        expected, got = table.scan(**request), fast.scan(**request)
        for page in (expected, got):
            page.pop("ResponseMetadata")
        assert got == expected
        if "LastEvaluatedKey" not in got:
            break
        request["ExclusiveStartKey"] = got["LastEvaluatedKey"]


def test_an_error_answer_is_still_parsed_by_botocore(table):
    fast = make_client("dynamodb", boto3.Session(region_name=REGION))
    inject_faults(fast, "Scan", lambda request: "ProvisionedThroughputExceededException")
    with pytest.raises(ClientError, match="ProvisionedThroughputExceededException"):
        fast.scan(TableName="state")
