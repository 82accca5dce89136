"""Functions, event source mappings and [runtime] in ekiden.toml, and every way to get them
wrong; also their conversion into the core vocabulary (ekiden.cli.functions)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import pytest

from ekiden.cli.functions import (
    declared_functions,
    declared_mappings,
    function_spec,
    mapping_from_declaration,
)
from ekiden.config import (
    ConfigError,
    FunctionDeclaration,
    MappingDeclaration,
    RuntimeSettings,
    Settings,
    load_settings,
)
from ekiden.core.functions import EventSourceMapping, FunctionSpec

NO_ENV: Mapping[str, str] = {}
NO_OVERRIDES: Mapping[str, object] = {}

HELLO = '[functions.hello]\nhandler = "handlers:lambda_handler"\n'


def write_config(directory: Path, text: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "ekiden.toml"
    path.write_text(text, encoding="utf-8")
    return path


def load(path: Path, env: Mapping[str, str] = NO_ENV, **overrides: object) -> Settings:
    return load_settings(path, env, overrides)


def config_error(path: Path | None, env: Mapping[str, str] = NO_ENV, **overrides: object) -> str:
    with pytest.raises(ConfigError) as excinfo:
        load_settings(path, env, overrides)
    return excinfo.value.message


# --- functions ------------------------------------------------------------------------------


def test_a_fully_written_function_is_read_with_every_key(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        """
        [functions.hello]
        handler = "handlers:lambda_handler"
        code = "./functions"
        timeout_s = 30
        memory_mb = 256
        concurrency = 10
        description = "says hello"
        environment = { GREETING = "hi", RETRIES = 3, VERBOSE = true }
        maximum_retry_attempts = 1
        async_retry_delay_s = 2.5
        on_failure_queue = "hello-failures"
        """,
    )

    settings = load(path)

    assert settings.functions == (
        FunctionDeclaration(
            name="hello",
            handler="handlers:lambda_handler",
            code=tmp_path / "functions",
            timeout_s=30,
            memory_mb=256,
            environment={"GREETING": "hi", "RETRIES": "3", "VERBOSE": "true"},
            reserved_concurrency=10,
            description="says hello",
            maximum_retry_attempts=1,
            async_retry_delay_s=2.5,
            on_failure_queue="hello-failures",
        ),
    )


def test_a_function_with_only_a_handler_gets_lambdas_defaults(tmp_path: Path) -> None:
    settings = load(write_config(tmp_path, HELLO))

    (hello,) = settings.functions
    assert hello == FunctionDeclaration(
        name="hello", handler="handlers:lambda_handler", code=hello.code
    )
    assert (hello.timeout_s, hello.memory_mb, hello.reserved_concurrency) == (3, 128, None)
    assert (hello.maximum_retry_attempts, hello.async_retry_delay_s) == (2, 60.0)
    assert hello.on_failure_queue is None
    assert dict(hello.environment) == {}


def test_code_defaults_to_the_directory_of_the_config_file(tmp_path: Path) -> None:
    settings = load(write_config(tmp_path / "etc", HELLO))

    assert settings.functions[0].code == tmp_path / "etc"


def test_relative_code_is_relative_to_the_config_file_not_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_config(tmp_path / "etc", HELLO + 'code = "../functions"\n')
    monkeypatch.chdir(tmp_path / "etc")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    from_inside = load(Path("ekiden.toml")).functions[0].code
    monkeypatch.chdir(elsewhere)
    from_elsewhere = load(path).functions[0].code

    assert from_inside == from_elsewhere == tmp_path / "functions"
    assert from_inside.is_absolute()


def test_absolute_code_and_home_directory_are_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", "/home/someone")
    path = write_config(
        tmp_path,
        '[functions.a]\nhandler = "m:f"\ncode = "/srv/code"\n'
        '[functions.b]\nhandler = "m:f"\ncode = "~/code"\n',
    )

    assert [f.code for f in load(path).functions] == [Path("/srv/code"), Path("/home/someone/code")]


def test_functions_keep_file_order_and_accept_lambda_style_handlers(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        '[functions.zeta]\nhandler = "pkg.mod.handle"\n'
        '[functions.alpha-1_x]\nhandler = "pkg.mod:handle"\n',
    )

    functions = load(path).functions

    assert [(f.name, f.handler) for f in functions] == [
        ("zeta", "pkg.mod.handle"),
        ("alpha-1_x", "pkg.mod:handle"),
    ]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("", "function 'hello' in config file {path}: handler is required"),
        ('handler = "handlers"', "handler must name a module and a function"),
        ('handler = "handlers:"', "handler must name a module and a function"),
        ('handler = ":f"', "handler must name a module and a function"),
        ('handler = "my-mod:f"', "handler must name a module and a function"),
        ("handler = 3", "handler must be a string, got 3 (int)"),
    ],
)
def test_a_handler_without_module_and_function_is_refused(
    tmp_path: Path, body: str, expected: str
) -> None:
    path = write_config(tmp_path, f"[functions.hello]\n{body}\n")

    assert expected.format(path=path) in config_error(path)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("timeout_s = 0", "timeout_s must be between 1 and 900, got 0"),
        ("timeout_s = 901", "timeout_s must be between 1 and 900, got 901"),
        ("timeout_s = 2.5", "timeout_s must be an integer, got 2.5 (float)"),
        ('timeout_s = "30"', "timeout_s must be an integer, got '30'"),
        ("memory_mb = 127", "memory_mb must be between 128 and 10240, got 127"),
        ("memory_mb = 10241", "memory_mb must be between 128 and 10240, got 10241"),
        ("concurrency = 0", "concurrency must be at least 1, got 0"),
        ("maximum_retry_attempts = 3", "maximum_retry_attempts must be between 0 and 2, got 3"),
        ("async_retry_delay_s = 0", "async_retry_delay_s must be more than 0, got 0"),
        ("async_retry_delay_s = true", "async_retry_delay_s must be a number, got True (bool)"),
        ('description = "' + "x" * 257 + '"', "description must be at most 256 characters"),
        ('on_failure_queue = "bad name"', "on_failure_queue must be a queue name"),
        ("environment = { A = [1] }", "environment.A: must be a string, integer or boolean"),
        ('environment = { "1A" = "x" }', "environment variable name '1A' must match"),
        ('environment = "A=1"', "environment: must be a table, got 'A=1'"),
        ('code = ""', "code must be a file path, got an empty string"),
        ("timeout = 3", "unknown key 'timeout' in function 'hello' in config file"),
    ],
)
def test_a_function_value_of_the_wrong_type_or_range_is_refused_naming_function_and_key(
    tmp_path: Path, line: str, expected: str
) -> None:
    path = write_config(tmp_path, f"{HELLO}{line}\n")

    message = config_error(path)

    assert f"function 'hello' in config file {path}" in message
    assert expected in message


@pytest.mark.parametrize("name", ["has space", "x" * 65, "dot.ted", ""])
def test_a_function_name_outside_the_lambda_alphabet_is_refused(tmp_path: Path, name: str) -> None:
    path = write_config(tmp_path, f'[functions."{name}"]\nhandler = "m:f"\n')

    assert "the name must be 1-64 of A-Z a-z 0-9 _ -" in config_error(path)


def test_functions_that_are_not_tables_are_refused(tmp_path: Path) -> None:
    path = write_config(tmp_path, '[functions]\nhello = "m:f"\n')

    assert "function 'hello' in config file" in config_error(path)
    assert "must be a table, got 'm:f'" in config_error(path)
    assert "must be tables" in config_error(write_config(tmp_path, 'functions = ["a"]\n'))


def test_an_arn_is_accepted_as_the_on_failure_queue(tmp_path: Path) -> None:
    arn = "arn:aws:sqs:eu-west-1:123456789012:hello-failures.fifo"
    path = write_config(tmp_path, f'{HELLO}on_failure_queue = "{arn}"\n')

    assert load(path).functions[0].on_failure_queue == arn


# --- event source mappings -----------------------------------------------------------------


def test_a_fully_written_mapping_is_read_with_every_key(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        HELLO
        + """
        [[event_source_mappings]]
        function = "hello"
        queue = "hello"
        batch_size = 100
        maximum_batching_window_s = 5
        report_batch_item_failures = true
        filters = ['{"body": {"kind": ["order"]}}', { body = { kind = ["refund"] } }]
        maximum_concurrency = 50
        enabled = false
        """,
    )

    settings = load(path)

    assert settings.event_source_mappings == (
        MappingDeclaration(
            function="hello",
            queue="hello",
            batch_size=100,
            maximum_batching_window_s=5,
            report_batch_item_failures=True,
            filters=('{"body": {"kind": ["order"]}}', '{"body":{"kind":["refund"]}}'),
            maximum_concurrency=50,
            enabled=False,
        ),
    )


def test_a_mapping_with_function_and_queue_gets_lambdas_defaults(tmp_path: Path) -> None:
    path = write_config(
        tmp_path, HELLO + '[[event_source_mappings]]\nfunction = "hello"\nqueue = "q"\n'
    )

    assert load(path).event_source_mappings == (MappingDeclaration(function="hello", queue="q"),)


def test_a_mapping_naming_an_undeclared_function_is_refused(tmp_path: Path) -> None:
    path = write_config(
        tmp_path, HELLO + '[[event_source_mappings]]\nfunction = "helo"\nqueue = "q"\n'
    )

    assert config_error(path) == (
        f"event_source_mappings[0] in config file {path}: function 'helo' is not declared "
        "as [functions.helo] (declared: hello)"
    )


def test_a_second_mapping_of_the_same_function_and_queue_is_refused(tmp_path: Path) -> None:
    mapping = '[[event_source_mappings]]\nfunction = "hello"\nqueue = "q"\n'
    path = write_config(tmp_path, HELLO + mapping + mapping.replace('"q"', '"r"') + mapping)

    assert "event_source_mappings[2]" in config_error(path)
    assert "function 'hello' is already mapped to queue 'q'" in config_error(path)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("batch_size = 0", "batch_size must be between 1 and 10000, got 0"),
        ("batch_size = 10001", "batch_size must be between 1 and 10000, got 10001"),
        ("maximum_batching_window_s = 301", "maximum_batching_window_s must be between 0 and 300"),
        ("maximum_batching_window_s = 0.5", "maximum_batching_window_s must be an integer"),
        ("maximum_concurrency = 1", "maximum_concurrency must be between 2 and 1000, got 1"),
        ("maximum_concurrency = 1001", "maximum_concurrency must be between 2 and 1000"),
        ('report_batch_item_failures = "yes"', "report_batch_item_failures must be true or false"),
        ("enabled = 1", "enabled must be true or false, got 1 (int)"),
        ('filters = "{}"', "filters must be an array of patterns, got '{}'"),
        ("filters = [1]", "filters [0] must be a JSON pattern string or a table, got 1 (int)"),
        ('filters = [""]', "filters [0] must be a JSON pattern string or a table"),
        ("filters = [{}, {}, {}, {}, {}, {}]", "filters must hold at most 5 patterns, got 6"),
        ("batch = 10", "unknown key 'batch' in event_source_mappings[0]"),
    ],
)
def test_a_mapping_value_of_the_wrong_type_or_range_is_refused_naming_mapping_and_key(
    tmp_path: Path, line: str, expected: str
) -> None:
    path = write_config(
        tmp_path, HELLO + f'[[event_source_mappings]]\nfunction = "hello"\nqueue = "q"\n{line}\n'
    )

    message = config_error(path)

    assert f"event_source_mappings[0] in config file {path}" in message
    assert expected in message


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ('function = "hello"', "queue is required"),
        ('queue = "q"', "function is required"),
        ('function = "hello"\nqueue = "no spaces"', "queue must be a queue name"),
        ('function = "hello"\nqueue = "arn:aws:sqs:x:1:q"', "queue must be a queue name"),
        ('function = "hello"\nqueue = "' + "q" * 81 + '"', "queue must be a queue name"),
    ],
)
def test_a_mapping_without_a_usable_function_or_queue_is_refused(
    tmp_path: Path, entry: str, expected: str
) -> None:
    path = write_config(tmp_path, HELLO + f"[[event_source_mappings]]\n{entry}\n")

    assert expected in config_error(path)


def test_mappings_must_be_an_array_of_tables(tmp_path: Path) -> None:
    path = write_config(tmp_path, HELLO + "[event_source_mappings]\nfunction = 'hello'\n")

    assert "must be an array of tables ([[event_source_mappings]])" in config_error(path)


def test_fifo_names_and_arns_are_accepted_as_mapping_queues(tmp_path: Path) -> None:
    arn = "arn:aws:sqs:us-east-1:000000000000:orders.fifo"
    path = write_config(
        tmp_path,
        HELLO
        + '[[event_source_mappings]]\nfunction = "hello"\nqueue = "orders.fifo"\n'
        + f'[[event_source_mappings]]\nfunction = "hello"\nqueue = "{arn}"\n',
    )

    assert [m.queue for m in load(path).event_source_mappings] == ["orders.fifo", arn]


# --- [runtime] ------------------------------------------------------------------------------


def test_runtime_defaults_apply_without_a_runtime_section(tmp_path: Path) -> None:
    assert load_settings(None, NO_ENV, NO_OVERRIDES).runtime == RuntimeSettings()
    assert RuntimeSettings() == RuntimeSettings(
        enabled=True, max_processes=32, max_concurrency=1000, log_file=None
    )


def test_every_runtime_key_of_the_file_is_read(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        "[runtime]\nenabled = false\nmax_processes = 4\nmax_concurrency = 20\n"
        'log_file = "logs/handlers.log"\n',
    )

    assert load(path).runtime == RuntimeSettings(
        enabled=False, max_processes=4, max_concurrency=20, log_file=Path("logs/handlers.log")
    )


def test_runtime_settings_come_from_the_environment_and_flags_in_that_order(tmp_path: Path) -> None:
    path = write_config(tmp_path, "[runtime]\nenabled = true\nmax_processes = 4\n")
    env = {
        "EKIDEN_RUNTIME_ENABLED": "off",
        "EKIDEN_RUNTIME_MAX_PROCESSES": "8",
        "EKIDEN_RUNTIME_MAX_CONCURRENCY": "7",
        "EKIDEN_RUNTIME_LOG_FILE": "/var/log/h.log",
    }

    from_env = load(path, env).runtime
    from_flag = load(path, {"EKIDEN_RUNTIME_ENABLED": "no"}, runtime_enabled=True).runtime
    not_given = load(path, NO_ENV, runtime_enabled=None).runtime

    assert from_env == RuntimeSettings(False, 8, 7, Path("/var/log/h.log"))
    assert from_flag.enabled is True
    assert from_flag.max_processes == 4
    assert not_given.enabled is True


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        (
            {"EKIDEN_RUNTIME_ENABLED": "maybe"},
            "runtime_enabled from environment variable EKIDEN_RUNTIME_ENABLED: "
            "must be true or false, got 'maybe'",
        ),
        (
            {"EKIDEN_RUNTIME_MAX_PROCESSES": "0"},
            "runtime_max_processes from environment variable EKIDEN_RUNTIME_MAX_PROCESSES: "
            "must be between 1 and 1024, got 0",
        ),
        (
            {"EKIDEN_RUNTIME_MAX_CONCURRENCY": "1001"},
            "must be between 1 and 1000, got 1001",
        ),
        ({"EKIDEN_RUNTIME_LOG_FILE": ""}, "must be a file path, got an empty string"),
        ({"EKIDEN_RUNTIME_PROCESSES": "2"}, "unknown environment variable"),
    ],
)
def test_a_bad_runtime_environment_variable_is_refused_naming_it(
    env: Mapping[str, str], expected: str
) -> None:
    assert expected in config_error(None, env)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('enabled = "yes"', "must be true or false, got 'yes'"),
        ("max_processes = 2000", "must be between 1 and 1024, got 2000"),
        ('max_concurrency = "5"', "must be an integer, got '5'"),
        ("workers = 2", "unknown key 'workers' in [runtime] of config file"),
    ],
)
def test_a_bad_runtime_key_of_the_file_is_refused_naming_file_and_key(
    tmp_path: Path, line: str, expected: str
) -> None:
    path = write_config(tmp_path, f"[runtime]\n{line}\n")

    message = config_error(path)

    assert str(path) in message
    assert expected in message


def test_runtime_keys_are_not_server_keys(tmp_path: Path) -> None:
    path = write_config(tmp_path, "[server]\nenabled = false\n")

    assert "unknown key 'enabled' in [server]" in config_error(path)


def test_the_error_for_an_unknown_section_lists_the_new_sections(tmp_path: Path) -> None:
    message = config_error(write_config(tmp_path, "[function.hello]\nhandler = 'm:f'\n"))

    assert "unknown section 'function'" in message
    assert "functions, event_source_mappings, runtime" in message


# --- conversion into the core vocabulary ----------------------------------------------------


def test_declarations_become_function_specs_with_code_as_text(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        HELLO + 'code = "fn"\ntimeout_s = 9\nconcurrency = 2\nenvironment = { A = "1" }\n',
    )

    specs = declared_functions(load(path))

    assert specs == {
        "hello": FunctionSpec(
            name="hello",
            handler="handlers:lambda_handler",
            code=str(tmp_path / "fn"),
            timeout_s=9,
            environment={"A": "1"},
            reserved_concurrency=2,
        )
    }
    assert specs["hello"].module_and_function == ("handlers", "lambda_handler")


def test_mapping_declarations_become_declared_mappings_without_uuid(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        HELLO
        + '[[event_source_mappings]]\nfunction = "hello"\nqueue = "q"\n'
        + "report_batch_item_failures = true\nfilters = [{ body = { a = [1] } }]\n"
        + "maximum_concurrency = 5\nbatch_size = 20\nmaximum_batching_window_s = 2\n",
    )

    (mapping,) = declared_mappings(load(path))

    assert mapping == EventSourceMapping(
        uuid="",
        function_name="hello",
        event_source_arn="q",
        batch_size=20,
        maximum_batching_window_s=2,
        function_response_types=("ReportBatchItemFailures",),
        filter_patterns=('{"body":{"a":[1]}}',),
        maximum_concurrency=5,
        enabled=True,
        declared=True,
    )
    assert json.loads(mapping.filter_patterns[0]) == {"body": {"a": [1]}}
    assert mapping.reports_batch_item_failures


def test_a_worker_can_give_a_mapping_its_uuid_and_resolved_arn() -> None:
    declaration = MappingDeclaration(function="hello", queue="q", enabled=False)
    arn = "arn:aws:sqs:us-east-1:000000000000:q"

    mapping = mapping_from_declaration(declaration, uuid="u-1", event_source_arn=arn)

    assert (mapping.uuid, mapping.event_source_arn, mapping.state) == ("u-1", arn, "Disabled")
    assert mapping.function_response_types == ()
    assert function_spec(FunctionDeclaration("f", "m:h")).code == "."
