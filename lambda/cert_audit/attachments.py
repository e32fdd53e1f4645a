"""What is still attached to a flagged certificate (issue 13): its things and policies.

IoT refuses to delete a certificate that is still attached to a thing or a policy, so a REVOKED
certificate that is attached is clutter with one more step before it can go. For findings only
(never the fleet): ListPrincipalThingsV2 and ListAttachedPolicies of each flagged certificate, each
answer counted (following the pages, up to PAGES_MAX) with a sample of SAMPLE names, within the
inventory's rate limit and time budget. A finding whose lookup failed or found no time keeps
`attachedThings`/`attachedPolicies` null: unknown, not zero.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from cert_audit.aws import MalformedResponse, PageGuard
from cert_audit.calls import Deadline, RateLimiter, Stopped, call
from cert_audit.findings import CERTIFICATE_STATUS

# The statuses whose certificates can be deleted and should be (the defaults' flagged ones).
DETACH_STATUSES = frozenset({"REVOKED", "INACTIVE", "REGISTER_INACTIVE"})
SAMPLE = 5
PAGE_SIZE = 250  # both listings' maximum
PAGES_MAX = 4  # 1,000 attachments: more is counted as "at least"
WORKERS = 4


def wanted(finding: dict) -> bool:
    return (
        finding.get("type") == CERTIFICATE_STATUS
        and finding.get("status") in DETACH_STATUSES
        and isinstance(finding.get("certificateArn"), str)
    )


def _count(
    list_page: Callable[[str | None], dict], items_key: str, name_key: str, token_in: str, token_out: str, what: str
) -> tuple[int, list[str], bool]:
    """(count, sample, complete) of one listing, following its pages."""
    count, sample = 0, []
    guard = PageGuard(what, token_out)
    token = None
    for _ in range(PAGES_MAX):
        page = list_page(token)
        items = page.get(items_key, [])
        if not isinstance(items, list):
            raise MalformedResponse(f"{what} answered with {items_key} that is not a list")
        count += len(items)
        sample += [i[name_key] for i in items if isinstance(i, dict) and isinstance(i.get(name_key), str)][
            : SAMPLE - len(sample)
        ]
        token = page.get(token_out)
        if not token:
            return count, sample, True
        if not isinstance(token, str):
            raise MalformedResponse(f"{what} answered with a {token_out} that is not a string")
        guard.follow(token)
    return count, sample, False


def look_up(
    iot_client: Any, findings: list[dict], deadline: Deadline, limiter: RateLimiter, stats
) -> tuple[int, list[Exception]]:
    """Add the attachments to each wanted finding, worst first as given; returns (looked up, failures)."""
    failures: list[Exception] = []
    done = []

    def one(finding: dict) -> None:
        if deadline.stop_reason():
            return
        arn = finding["certificateArn"]
        try:
            things = _count(
                lambda token: call(
                    iot_client.list_principal_things_v2,
                    deadline,
                    limiter=limiter,
                    stats=stats,
                    principal=arn,
                    maxResults=PAGE_SIZE,
                    **({"nextToken": token} if token else {}),
                ),
                "principalThingObjects",
                "thingName",
                "nextToken",
                "nextToken",
                "ListPrincipalThingsV2",
            )
            policies = _count(
                lambda token: call(
                    iot_client.list_attached_policies,
                    deadline,
                    limiter=limiter,
                    stats=stats,
                    target=arn,
                    pageSize=PAGE_SIZE,
                    **({"marker": token} if token else {}),
                ),
                "policies",
                "policyName",
                "marker",
                "nextMarker",
                "ListAttachedPolicies",
            )
        except Stopped:
            return
        except (AttributeError, TypeError, ValueError) as problem:  # botocore tripped over the answer's shape
            failures.append(MalformedResponse(f"unreadable answer ({problem})"))
            return
        except Exception as problem:  # noqa: BLE001 - one finding's lookup costs no other
            failures.append(problem)
            return
        _describe(finding, things, policies)
        done.append(1)

    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        list(pool.map(one, [finding for finding in findings if wanted(finding)]))
    return len(done), failures


def _describe(finding: dict, things: tuple[int, list[str], bool], policies: tuple[int, list[str], bool]) -> None:
    (thing_count, thing_sample, things_whole), (policy_count, policy_sample, policies_whole) = things, policies
    finding.update(
        attachedThings=thing_count,
        attachedThingsSample=thing_sample,
        attachedPolicies=policy_count,
        attachedPoliciesSample=policy_sample,
        attachmentsComplete=things_whole and policies_whole,
    )
    if thing_count or policy_count:
        more = "" if things_whole and policies_whole else " at least"
        finding["remediation"] = (
            f"Still attached to{more} {thing_count} thing(s) and {policy_count} policy(ies): detach them "
            "(DetachThingPrincipal, DetachPolicy) before deleting the certificate; IoT refuses to delete an "
            "attached certificate."
        )
