"""Web pages must not reach the agent: Host, Origin and token rules."""

from __future__ import annotations

import json
from pathlib import Path

import aiohttp
import pytest
from websockets.exceptions import InvalidStatus

from conftest import TOKEN, make_settings
from underpaint.config import SettingsError, load_settings
from underpaint.server.serve import RunningAgent
from wsraw import open_raw, recv_json


async def test_a_websocket_from_an_evil_origin_is_refused_before_upgrade(agent: RunningAgent) -> None:
    with pytest.raises(InvalidStatus) as refused:
        await open_raw(agent.ws_url, origin="https://evil.example")  # type: ignore[arg-type]
    assert refused.value.response.status_code == 403


async def test_a_request_with_a_non_loopback_host_is_refused(agent: RunningAgent) -> None:
    async with aiohttp.ClientSession() as http, \
            http.get(agent.http_url + "/health", headers={"Host": "attacker.example:7433"}) as response:
        assert response.status == 403
        assert (await response.json())["error"] == "forbidden_host"


async def test_health_answers_a_loopback_host(agent: RunningAgent) -> None:
    async with aiohttp.ClientSession() as http, \
            http.get(agent.http_url + "/health", headers={"Host": "localhost:7433"}) as response:
        assert response.status == 200
        assert (await response.json())["status"] == "ok"


async def test_a_hello_without_a_token_is_closed(agent: RunningAgent) -> None:
    ws = await open_raw(agent.ws_url, hello=False)
    await ws.send(json.dumps({"type": "hello", "protocol": "1.0", "client": {"name": "page"}, "token": ""}))
    assert (await recv_json(ws))["code"] == "unauthorized"
    await ws.wait_closed()
    assert ws.close_code == 4401


async def test_origin_null_may_connect_with_the_token(agent: RunningAgent) -> None:
    ws = await open_raw(agent.ws_url, origin="null")  # type: ignore[arg-type]
    await ws.close()


async def test_origin_null_without_the_token_gets_no_http_answer(agent: RunningAgent) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(agent.http_url + "/health", headers={"Origin": "null"}) as response:
            assert response.status == 401
        async with http.get(agent.http_url + "/health", headers={"Origin": "null",
                                                                  "Authorization": f"Bearer {TOKEN}"}) as response:
            assert response.status == 200


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}], ids=["none", "wrong"])
async def test_downloads_need_the_token(agent: RunningAgent, headers: dict[str, str]) -> None:
    async with aiohttp.ClientSession() as http, \
            http.get(agent.http_url + "/v1/jobs/any/result.psd", headers=headers) as response:
        assert response.status == 401


@pytest.mark.parametrize("name", ["..%2F..%2Fhistory.sqlite3", "token", "result.psd.bak"])
async def test_downloads_only_serve_result_files(agent: RunningAgent, name: str) -> None:
    async with aiohttp.ClientSession() as http, \
            http.get(f"{agent.http_url}/v1/jobs/x/{name}", headers={"Authorization": f"Bearer {TOKEN}"}) as response:
        assert response.status == 404


async def test_state_changing_routes_take_json_only(agent: RunningAgent) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with aiohttp.ClientSession() as http:
        async with http.post(agent.http_url + "/v1/jobs/x/cancel", data={"a": "b"}, headers=headers) as response:
            assert response.status == 415
        async with http.post(agent.http_url + "/v1/jobs/x/cancel", json={"client": "cli"}, headers=headers) as response:
            assert response.status == 404
            assert (await response.json())["error"] == "unknown_job"


def test_binding_beyond_loopback_without_a_token_refuses_to_start(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="not loopback"):
        load_settings({"host": "0.0.0.0", "require_token": False}, env={}, config_dir=tmp_path)


def test_binding_beyond_loopback_with_a_token_is_allowed(tmp_path: Path) -> None:
    loaded = load_settings({"host": "0.0.0.0"}, env={}, config_dir=tmp_path)
    assert loaded.settings.token


def test_test_settings_use_the_fixed_token(tmp_path: Path) -> None:
    assert make_settings(tmp_path).token == TOKEN
