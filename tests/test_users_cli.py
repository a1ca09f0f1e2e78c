"""`underpaint users add|list|remove|rotate`: tokens printed once and stored hashed; bad input is a one-line
error that changes nothing; an unreadable store stops the agent's start and is left as it was."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from conftest import make_settings
from underpaint.cli import main
from underpaint.cluster.users import UserError, UserStore
from underpaint.engines.classic import ClassicEngine
from underpaint.server.serve import start_agent


def users(tmp_path: Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["--config-dir", str(tmp_path / "config"), "users", "--data-dir",
                                     str(tmp_path / "data"), *args])


def listed(tmp_path: Path) -> list[dict[str, object]]:
    result = users(tmp_path, "list", "--json")
    assert result.exit_code == 0, result.output
    rows: list[dict[str, object]] = json.loads(result.stdout)
    return rows


def test_add_prints_a_new_token_once_and_stores_only_its_digest(tmp_path: Path) -> None:
    result = users(tmp_path, "add", "ann", "--max-queued", "3")
    token = result.stdout.strip()
    assert result.exit_code == 0 and token.startswith("upu_") and len(token) > 40
    assert token.encode() not in (tmp_path / "data" / "users.sqlite3").read_bytes()
    assert token not in users(tmp_path, "list").output
    store = UserStore(tmp_path / "data" / "users.sqlite3")
    found = store.find(token)
    store.close()
    assert found is not None and found.name == "ann"


def test_list_shows_names_admin_and_limits(tmp_path: Path) -> None:
    users(tmp_path, "add", "ann", "--max-queued", "3", "--max-running", "1")
    users(tmp_path, "add", "ida", "--admin")
    rows = listed(tmp_path)
    assert [(row["name"], row["admin"], row["max_queued"], row["max_running"], row["last_seen"]) for row in rows] \
        == [("ann", False, 3, 1, None), ("ida", True, None, None, None)]


def test_rotate_prints_a_new_token_and_the_old_one_stops_working(tmp_path: Path) -> None:
    old = users(tmp_path, "add", "ann").stdout.strip()
    new = users(tmp_path, "rotate", "ann").stdout.strip()
    store = UserStore(tmp_path / "data" / "users.sqlite3")
    assert store.find(old) is None and store.find(new) is not None
    store.close()


def test_remove_deletes_the_user(tmp_path: Path) -> None:
    users(tmp_path, "add", "ann")
    assert users(tmp_path, "remove", "ann").exit_code == 0
    assert listed(tmp_path) == []


@pytest.mark.parametrize("command", ["remove", "rotate"])
def test_an_unknown_user_is_a_one_line_error(tmp_path: Path, command: str) -> None:
    users(tmp_path, "add", "ann")
    result = users(tmp_path, command, "bob")
    assert result.exit_code == 1 and "No user 'bob' (users: ann)" in result.output
    assert [row["name"] for row in listed(tmp_path)] == ["ann"]


def test_a_duplicate_name_is_refused_whatever_its_case(tmp_path: Path) -> None:
    first = users(tmp_path, "add", "ann").stdout.strip()
    result = users(tmp_path, "add", "ANN")
    assert result.exit_code == 1 and "already is a user 'ANN'" in result.output
    store = UserStore(tmp_path / "data" / "users.sqlite3")
    assert store.find(first) is not None
    store.close()


@pytest.mark.parametrize("name", ["ann smith", "../ann", ".ann", "ann;x", "x" * 65, ""])
def test_a_name_with_odd_characters_is_refused(tmp_path: Path, name: str) -> None:
    result = users(tmp_path, "add", name)
    assert result.exit_code == 1 and "is not a user name" in result.output
    assert listed(tmp_path) == []


def test_a_limit_below_one_is_refused(tmp_path: Path) -> None:
    result = users(tmp_path, "add", "ann", "--max-running", "0")
    assert result.exit_code == 1 and "--max-running must be at least 1" in result.output


def corrupt_store(tmp_path: Path) -> tuple[Path, bytes]:
    path = tmp_path / "data" / "users.sqlite3"
    path.parent.mkdir(parents=True)
    garbage = b"not a database, but maybe someone's only copy" * 100
    path.write_bytes(garbage)
    return path, garbage


def test_a_corrupt_store_is_a_clear_error_for_the_cli_and_left_as_it_is(tmp_path: Path) -> None:
    path, garbage = corrupt_store(tmp_path)
    result = users(tmp_path, "list")
    assert result.exit_code == 1 and "is unreadable" in result.output and "left as it is" in result.output
    assert path.read_bytes() == garbage


async def test_a_corrupt_store_stops_the_agents_start_and_is_left_as_it_is(tmp_path: Path) -> None:
    path, garbage = corrupt_store(tmp_path)
    with pytest.raises(UserError, match=r"users\.sqlite3 is unreadable"):
        await start_agent(make_settings(tmp_path), {"classic": ClassicEngine()})
    assert path.read_bytes() == garbage


def test_the_store_is_readable_by_the_agents_account_alone(tmp_path: Path) -> None:
    users(tmp_path, "add", "ann")
    assert (tmp_path / "data" / "users.sqlite3").stat().st_mode & 0o777 == 0o600
