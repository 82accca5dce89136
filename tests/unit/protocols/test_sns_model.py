"""The checked-in SNS model is what tools/gen_sns_model.py makes of botocore's SNS model."""

from __future__ import annotations

import importlib.resources
import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from ekiden.protocols.sns import XML_NAMESPACE, sns_model
from ekiden.protocols.sns.shapes import REQUEST_SHAPES

TOOL = Path(__file__).resolve().parents[3] / "tools/gen_sns_model.py"


@pytest.fixture(scope="module")
def tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_sns_model", TOOL)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _checked_in() -> dict[str, Any]:
    text = importlib.resources.files("ekiden.protocols.sns").joinpath("model.json").read_text()
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def test_the_checked_in_model_is_what_the_generator_makes_of_the_installed_botocore(
    tool: ModuleType,
) -> None:
    raw, origin = tool.load_model(None)
    generated, _ = tool.generate(raw, origin)
    expected = json.loads(tool.render(generated))
    actual = _checked_in()
    # Only the note of the botocore version may differ (regenerate when anything else does).
    expected["metadata"].pop("ekidenGenerated")
    actual["metadata"].pop("ekidenGenerated")
    assert actual == expected, "regenerate with: .venv/bin/python tools/gen_sns_model.py"


def test_the_model_keeps_no_documentation() -> None:
    assert '"documentation"' not in json.dumps(_checked_in())


def test_every_error_shape_has_an_explicit_code_status_and_fault() -> None:
    raw = _checked_in()["shapes"]
    for name, shape in raw.items():
        if shape.get("exception"):
            assert set(shape["error"]) == {"code", "httpStatusCode", "senderFault"}, name
    errors = {s.name: s.error for s in sns_model().error_shapes()}
    assert errors["InternalErrorException"] is not None
    assert not errors["InternalErrorException"].sender_fault
    assert errors["VerificationException"] is not None
    assert errors["VerificationException"].code == "VerificationException"


def test_the_model_is_the_query_protocol_in_the_sns_namespace() -> None:
    model = sns_model()
    assert model.metadata["protocol"] == "query"
    assert model.xml_namespace == XML_NAMESPACE
    assert model.api_version == "2010-03-31"


@pytest.mark.parametrize("action", sorted(REQUEST_SHAPES))
def test_every_supported_action_with_a_result_has_its_result_wrapper(action: str) -> None:
    op = sns_model().operation(action)
    if op.output_shape is not None:
        assert op.result_wrapper == f"{action}Result"


def test_structure_members_keep_the_declaration_order_of_botocore() -> None:
    members = list(_checked_in()["shapes"]["Subscription"]["members"])
    assert members == ["SubscriptionArn", "Owner", "Protocol", "Endpoint", "TopicArn"]
