"""The README's "Functions" section agrees with the code: its ``ekiden.toml`` example
loads, with the values it documents."""

from __future__ import annotations

import re
from pathlib import Path

from ekiden.config import Settings, load_settings

README = Path(__file__).resolve().parents[2] / "README.md"


def _functions_section() -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index("\n## Functions\n")
    end = text.index("\n## ", start + 1)
    return text[start:end]


def test_the_readme_functions_example_loads_with_the_values_it_documents(tmp_path: Path) -> None:
    example = re.search(r"```toml\n(.*?)```", _functions_section(), re.DOTALL)
    assert example is not None, "the Functions section has no toml example"
    config = tmp_path / "ekiden.toml"
    config.write_text(example.group(1), encoding="utf-8")

    settings = load_settings(config, {}, {})

    (hello,) = settings.functions
    assert (hello.name, hello.handler, hello.timeout_s) == ("hello", "handlers:lambda_handler", 30)
    assert hello.on_failure_queue == "hello-failures"
    (mapping,) = settings.event_source_mappings
    assert (mapping.function, mapping.queue, mapping.batch_size) == ("hello", "hello", 10)
    assert len(mapping.filters) == 2
    assert settings.runtime.enabled


def test_the_readme_documents_every_lambda_operation_ekiden_serves() -> None:
    section = _functions_section()
    for operation in (
        "ListFunctions",
        "GetFunction",
        "GetFunctionConfiguration",
        "Invoke",
        "Create/Get/List/Update/DeleteEventSourceMapping",
        "ekiden worker",
        "Not supported",
        "SNS to functions",
    ):
        assert operation in section


def test_the_cli_endpoint_variable_is_not_refused_as_an_unknown_setting() -> None:
    """``EKIDEN_ENDPOINT`` configures the ``queue``/``topic``/``function`` commands; a
    shell that exports it must still be able to run ``ekiden serve``."""
    settings = load_settings(None, {"EKIDEN_ENDPOINT": "http://127.0.0.1:9324"}, {})
    assert settings.port == Settings().port
