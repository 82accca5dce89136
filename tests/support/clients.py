"""Real SQS clients for a running ekiden: boto3 over AWS JSON 1.0 and over Query/XML.

The Query client is botocore's own Query protocol implementation driven by the SQS
service model of botocore 1.29.165 (the last release whose SQS model said
``"protocol": "query"``), vendored under ``tests/support/query_model``. The pinned
boto3 1.26.165 itself is exercised separately (see ``tests/integration/test_old_boto3.py``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import botocore.config
import botocore.session

QUERY_MODEL_DIR = Path(__file__).parent / "query_model"
PROTOCOLS = ("json", "query")

_CONFIG = botocore.config.Config(retries={"max_attempts": 1}, read_timeout=60)


def sqs_client(endpoint: str, protocol: str = "json", **config: Any) -> Any:
    """A boto3 SQS client for ``endpoint`` speaking ``protocol`` ("json" or "query")."""
    session = botocore.session.get_session()
    if protocol == "query":
        session.get_component("data_loader").search_paths.insert(0, str(QUERY_MODEL_DIR))
    elif protocol != "json":
        raise ValueError(protocol)
    client = boto3.Session(botocore_session=session).client(
        "sqs",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="AKIDEKIDENTEST",
        aws_secret_access_key="secret",
        config=_CONFIG.merge(botocore.config.Config(**config)) if config else _CONFIG,
    )
    assert client.meta.service_model.protocol == protocol
    return client
