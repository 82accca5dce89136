"""Settings: ekiden.toml < EKIDEN_* environment < CLI overrides, and every way to get it wrong."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from pathlib import Path

import pytest

from ekiden.config import ConfigError, QueueDeclaration, Settings, load_settings

NO_ENV: Mapping[str, str] = {}
NO_OVERRIDES: Mapping[str, object] = {}


def write_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "ekiden.toml"
    path.write_text(text, encoding="utf-8")
    return path


def config_error(
    config_file: Path | None = None,
    env: Mapping[str, str] = NO_ENV,
    overrides: Mapping[str, object] = NO_OVERRIDES,
) -> str:
    with pytest.raises(ConfigError) as excinfo:
        load_settings(config_file, env, overrides)
    assert str(excinfo.value) == excinfo.value.message
    return excinfo.value.message


# --- defaults and precedence ------------------------------------------------------------


def test_defaults_apply_when_nothing_is_configured() -> None:
    settings = load_settings(None, NO_ENV, NO_OVERRIDES)

    assert settings == Settings()
    assert settings.host == "127.0.0.1"
    assert settings.port == 9324
    assert settings.data_dir == Path("./ekiden-data")
    assert settings.account_id == "000000000000"
    assert settings.region == "us-east-1"
    assert settings.log_level == "info"
    assert settings.queues == ()
    assert settings.commit_interval_ms == 0.0
    assert settings.max_body_bytes >= 3 * 1024 * 1024


def test_every_server_key_of_the_file_is_read(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        """
        [server]
        host = "0.0.0.0"
        port = 4566
        data_dir = "/var/lib/ekiden"
        account_id = "123456789012"
        region = "eu-west-1"
        log_level = "debug"
        commit_interval_ms = 2.5
        max_body_bytes = 2097152
        """,
    )

    settings = load_settings(path, NO_ENV, NO_OVERRIDES)

    assert settings == Settings(
        host="0.0.0.0",
        port=4566,
        data_dir=Path("/var/lib/ekiden"),
        account_id="123456789012",
        region="eu-west-1",
        log_level="debug",
        commit_interval_ms=2.5,
        max_body_bytes=2097152,
    )


def test_environment_overrides_the_file_setting_by_setting(tmp_path: Path) -> None:
    path = write_config(tmp_path, '[server]\nport = 1111\nregion = "eu-west-1"\n')

    settings = load_settings(path, {"EKIDEN_PORT": "2222"}, NO_OVERRIDES)

    assert settings.port == 2222
    assert settings.region == "eu-west-1"


def test_overrides_win_over_environment_and_file(tmp_path: Path) -> None:
    path = write_config(tmp_path, '[server]\nport = 1111\nhost = "10.0.0.1"\n')
    env = {"EKIDEN_PORT": "2222", "EKIDEN_HOST": "10.0.0.2"}

    settings = load_settings(path, env, {"port": 3333})

    assert settings.port == 3333
    assert settings.host == "10.0.0.2"


def test_overrides_that_are_none_are_treated_as_not_given() -> None:
    settings = load_settings(None, {"EKIDEN_PORT": "2222"}, {"port": None, "host": None})

    assert settings.port == 2222
    assert settings.host == "127.0.0.1"


def test_every_scalar_setting_can_come_from_the_environment() -> None:
    env = {
        "EKIDEN_HOST": "::1",
        "EKIDEN_PORT": "0",
        "EKIDEN_DATA_DIR": "/tmp/ekiden",
        "EKIDEN_ACCOUNT_ID": "111122223333",
        "EKIDEN_REGION": "ap-southeast-2",
        "EKIDEN_LOG_LEVEL": "WARNING",
        "EKIDEN_COMMIT_INTERVAL_MS": "0.5",
        "EKIDEN_MAX_BODY_BYTES": "1048576",
    }

    settings = load_settings(None, env, NO_OVERRIDES)

    assert settings == Settings(
        host="::1",
        port=0,
        data_dir=Path("/tmp/ekiden"),
        account_id="111122223333",
        region="ap-southeast-2",
        log_level="warning",
        commit_interval_ms=0.5,
        max_body_bytes=1048576,
    )


def test_string_overrides_are_parsed_like_environment_values() -> None:
    overrides = {"port": "8080", "data_dir": "data", "commit_interval_ms": "3"}

    settings = load_settings(None, NO_ENV, overrides)

    assert settings.port == 8080
    assert settings.data_dir == Path("data")
    assert settings.commit_interval_ms == 3.0


def test_environment_variables_without_the_prefix_are_ignored() -> None:
    settings = load_settings(None, {"PORT": "1", "HOME": "/root", "ekiden_port": "1"}, {})

    assert settings.port == 9324


def test_the_config_file_variable_is_left_to_the_caller() -> None:
    settings = load_settings(None, {"EKIDEN_CONFIG": "/nowhere.toml"}, NO_OVERRIDES)

    assert settings == Settings()


def test_log_level_is_case_insensitive_and_warn_means_warning() -> None:
    assert load_settings(None, {"EKIDEN_LOG_LEVEL": "DEBUG"}, {}).log_level == "debug"
    assert load_settings(None, {"EKIDEN_LOG_LEVEL": "warn"}, {}).log_level == "warning"


def test_home_directory_in_data_dir_is_expanded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", "/home/someone")

    settings = load_settings(None, {"EKIDEN_DATA_DIR": "~/ekiden"}, NO_OVERRIDES)

    assert settings.data_dir == Path("/home/someone/ekiden")


def test_settings_are_frozen() -> None:
    settings = Settings()

    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.port = 1  # type: ignore[misc]


# --- queue declarations -------------------------------------------------------------------


def test_queue_declarations_are_read_in_file_order(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        """
        [[queues]]
        name = "orders"
        attributes = { VisibilityTimeout = "60" }
        tags = { team = "shop" }

        [[queues]]
        name = "orders-dlq"
        """,
    )

    settings = load_settings(path, NO_ENV, NO_OVERRIDES)

    assert settings.queues == (
        QueueDeclaration("orders", {"VisibilityTimeout": "60"}, {"team": "shop"}),
        QueueDeclaration("orders-dlq"),
    )
    assert dict(settings.queues[1].attributes) == {}
    assert dict(settings.queues[1].tags) == {}


def test_queue_attribute_values_are_converted_to_strings_as_sqs_carries_them(
    tmp_path: Path,
) -> None:
    path = write_config(
        tmp_path,
        """
        [[queues]]
        name = "jobs.fifo"
        tags = { tier = 1, public = false }

        [queues.attributes]
        FifoQueue = true
        ContentBasedDeduplication = false
        VisibilityTimeout = 60
        DelaySeconds = "5"

        [queues.attributes.RedrivePolicy]
        deadLetterTargetArn = "arn:aws:sqs:us-east-1:000000000000:jobs-dlq.fifo"
        maxReceiveCount = 5
        """,
    )

    (queue,) = load_settings(path, NO_ENV, NO_OVERRIDES).queues

    assert dict(queue.attributes) == {
        "FifoQueue": "true",
        "ContentBasedDeduplication": "false",
        "VisibilityTimeout": "60",
        "DelaySeconds": "5",
        "RedrivePolicy": (
            '{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:jobs-dlq.fifo",'
            '"maxReceiveCount":5}'
        ),
    }
    assert json.loads(queue.attributes["RedrivePolicy"])["maxReceiveCount"] == 5
    assert dict(queue.tags) == {"tier": "1", "public": "false"}


def test_queue_attributes_are_not_validated_here(tmp_path: Path) -> None:
    path = write_config(
        tmp_path, '[[queues]]\nname = "q"\nattributes = { NoSuchAttribute = "x" }\n'
    )

    (queue,) = load_settings(path, NO_ENV, NO_OVERRIDES).queues

    assert dict(queue.attributes) == {"NoSuchAttribute": "x"}


def test_queue_declarations_cannot_be_changed_after_loading() -> None:
    attributes = {"VisibilityTimeout": "60"}
    queue = QueueDeclaration("q", attributes)

    attributes["VisibilityTimeout"] = "0"

    assert queue.attributes["VisibilityTimeout"] == "60"
    with pytest.raises(TypeError):
        queue.attributes["DelaySeconds"] = "1"  # type: ignore[index]


def test_queue_without_a_name_is_rejected(tmp_path: Path) -> None:
    path = write_config(tmp_path, "[[queues]]\nattributes = { DelaySeconds = 1 }\n")

    message = config_error(path)

    assert "queues[0]" in message
    assert "name is required" in message
    assert str(path) in message


def test_queue_with_an_empty_name_is_rejected(tmp_path: Path) -> None:
    message = config_error(write_config(tmp_path, '[[queues]]\nname = ""\n'))

    assert "name must be a non-empty string" in message


def test_queue_declared_twice_is_rejected(tmp_path: Path) -> None:
    path = write_config(tmp_path, '[[queues]]\nname = "a"\n\n[[queues]]\nname = "a"\n')

    assert "declared more than once" in config_error(path)


def test_unknown_key_in_a_queue_declaration_is_rejected(tmp_path: Path) -> None:
    path = write_config(tmp_path, '[[queues]]\nname = "a"\nattribute = { DelaySeconds = 1 }\n')

    message = config_error(path)

    assert "'attribute'" in message
    assert "queues[0]" in message


def test_queue_attribute_of_an_unsupported_type_is_rejected(tmp_path: Path) -> None:
    path = write_config(tmp_path, '[[queues]]\nname = "a"\nattributes = { DelaySeconds = 1.5 }\n')

    message = config_error(path)

    assert "queue 'a'" in message
    assert "attributes.DelaySeconds" in message
    assert "float" in message


def test_tables_are_not_accepted_as_tag_values(tmp_path: Path) -> None:
    path = write_config(tmp_path, '[[queues]]\nname = "a"\ntags = { team = { x = 1 } }\n')

    assert "tags.team" in config_error(path)


def test_queues_must_be_an_array_of_tables(tmp_path: Path) -> None:
    message = config_error(write_config(tmp_path, 'queues = ["a", "b"]\n'))

    assert "must be a table" in message


# --- errors: the file ---------------------------------------------------------------------


def test_missing_config_file_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "absent.toml"

    message = config_error(path)

    assert str(path) in message
    assert "not found" in message


def test_malformed_toml_is_an_error_naming_the_file(tmp_path: Path) -> None:
    path = write_config(tmp_path, "[server\nport = 1\n")

    message = config_error(path)

    assert str(path) in message
    assert "invalid TOML" in message


def test_unknown_section_in_the_file_is_rejected(tmp_path: Path) -> None:
    path = write_config(tmp_path, "[sever]\nport = 1\n")

    message = config_error(path)

    assert "unknown section 'sever'" in message
    assert str(path) in message


def test_unknown_key_in_the_server_section_is_rejected(tmp_path: Path) -> None:
    path = write_config(tmp_path, "[server]\nprot = 1\n")

    message = config_error(path)

    assert "unknown key 'prot'" in message
    assert str(path) in message


def test_port_given_as_a_string_in_the_file_is_a_type_error(tmp_path: Path) -> None:
    path = write_config(tmp_path, '[server]\nport = "9324"\n')

    message = config_error(path)

    assert message.startswith("port from config file")
    assert str(path) in message
    assert "must be an integer" in message


def test_boolean_is_not_accepted_as_a_port(tmp_path: Path) -> None:
    assert "must be an integer" in config_error(write_config(tmp_path, "[server]\nport = true\n"))


def test_out_of_range_value_in_the_file_names_the_file(tmp_path: Path) -> None:
    path = write_config(tmp_path, "[server]\nport = 70000\n")

    message = config_error(path)

    assert str(path) in message
    assert "between 0 and 65535" in message


def test_server_must_be_a_table(tmp_path: Path) -> None:
    assert "[server]" in config_error(write_config(tmp_path, 'server = "x"\n'))


# --- errors: environment and overrides ----------------------------------------------------


def test_unknown_ekiden_environment_variable_is_rejected() -> None:
    message = config_error(env={"EKIDEN_PROT": "1"})

    assert "EKIDEN_PROT" in message
    assert "EKIDEN_PORT" in message  # the known names are listed


def test_non_numeric_port_in_the_environment_names_the_variable() -> None:
    message = config_error(env={"EKIDEN_PORT": "abc"})

    assert message == "port from environment variable EKIDEN_PORT: must be an integer, got 'abc'"


def test_port_above_65535_from_a_flag_names_the_flag() -> None:
    message = config_error(overrides={"port": 65536})

    assert message == "port from flag --port: must be between 0 and 65535, got 65536"


def test_negative_port_is_out_of_range() -> None:
    assert "between 0 and 65535" in config_error(env={"EKIDEN_PORT": "-1"})


@pytest.mark.parametrize("account_id", ["12345678901", "1234567890123", "00000000000a", ""])
def test_account_id_must_be_twelve_digits(account_id: str) -> None:
    message = config_error(env={"EKIDEN_ACCOUNT_ID": account_id})

    assert "EKIDEN_ACCOUNT_ID" in message
    assert "12 digits" in message


def test_account_id_must_be_a_string_in_the_file(tmp_path: Path) -> None:
    path = write_config(tmp_path, "[server]\naccount_id = 123456789012\n")

    assert "must be a string" in config_error(path)


def test_unknown_log_level_is_rejected_with_the_accepted_levels() -> None:
    message = config_error(overrides={"log_level": "loud"})

    assert "--log-level" in message
    assert "debug, info, warning, error, critical" in message


@pytest.mark.parametrize("region", ["US-EAST-1", "us east 1", "", "-us"])
def test_region_must_look_like_a_region_name(region: str) -> None:
    assert "EKIDEN_REGION" in config_error(env={"EKIDEN_REGION": region})


def test_empty_host_is_rejected() -> None:
    assert "EKIDEN_HOST" in config_error(env={"EKIDEN_HOST": ""})


def test_empty_data_dir_is_rejected() -> None:
    assert "--data-dir" in config_error(overrides={"data_dir": " "})


@pytest.mark.parametrize("interval", ["-1", "1001", "nan", "inf", "soon"])
def test_commit_interval_must_be_a_number_from_0_to_1000_ms(interval: str) -> None:
    assert "EKIDEN_COMMIT_INTERVAL_MS" in config_error(env={"EKIDEN_COMMIT_INTERVAL_MS": interval})


@pytest.mark.parametrize("size", ["0", "1023", "1073741825", "1.5", "4MiB"])
def test_max_body_bytes_must_be_an_integer_in_range(size: str) -> None:
    assert "EKIDEN_MAX_BODY_BYTES" in config_error(env={"EKIDEN_MAX_BODY_BYTES": size})


def test_unknown_override_is_rejected() -> None:
    assert "'queues'" in config_error(overrides={"queues": ()})


def test_a_later_layer_does_not_excuse_an_invalid_earlier_one(tmp_path: Path) -> None:
    path = write_config(tmp_path, "[server]\nport = 99999\n")

    message = config_error(path, overrides={"port": 1})

    assert str(path) in message
