#!/usr/bin/env python3
"""CDK entry point (`npx cdk synth|diff|deploy`): validate the context, build the stack, synthesize."""

from __future__ import annotations

import os
import sys
from pathlib import Path

# jsii's Node runs as a child of this process. The README asks for Node 22 or 24 (what jsii
# supports); Node 20 still synthesizes but is end of life, and jsii prints a banner on every
# synth unless this variable lists the major version ("20"; "1" or "true" do not silence it).
_SILENCE = "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION"
os.environ[_SILENCE] = ",".join(filter(None, (os.environ.get(_SILENCE, ""), "20")))

# The function's package lives in lambda/ (a keyword, so not importable as a package);
# the stack reuses its validators, so synth works without installing the project.
sys.path.insert(0, str(Path(__file__).resolve().parent / "lambda"))

from aws_cdk import App  # noqa: E402

from cert_audit.config import ConfigError  # noqa: E402
from infra.application import build  # noqa: E402

app = App()
try:
    build(app)
except ConfigError as error:
    sys.exit(f"Cannot synthesize the stack. {error}")
app.synth()
