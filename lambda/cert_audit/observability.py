"""The one Logger, Tracer and Metrics of the function, shared by every module.

Service name and namespace come from POWERTOOLS_SERVICE_NAME and
POWERTOOLS_METRICS_NAMESPACE; the defaults below are the product's.
"""

from __future__ import annotations

import os

from aws_lambda_powertools import Logger, Metrics, Tracer

DEFAULT_SERVICE = "iot-cert-audit"
DEFAULT_NAMESPACE = "IoTCertificateAudit"

os.environ.setdefault("POWERTOOLS_SERVICE_NAME", DEFAULT_SERVICE)
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", DEFAULT_NAMESPACE)

logger = Logger()
# Only botocore is traced: every IoT page and the SNS publish appear as subsegments.
tracer = Tracer(patch_modules=["botocore"])
metrics = Metrics()
