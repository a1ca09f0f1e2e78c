"""The agent's page: served at `/`, signed in with the pairing token, and closed to every other caller."""

from __future__ import annotations

from http.cookies import SimpleCookie

import aiohttp
import pytest
from yarl import URL

from conftest import TOKEN
from dashboard_support import API, get_json, page_session, post_json, run_fill, signed_in
from underpaint.config import Settings
from underpaint.engines.classic import ClassicEngine
from underpaint.server.serve import RunningAgent, start_agent

ANOTHER_ORIGIN = "http://127.0.0.1:9"


async def test_the_page_is_served_at_the_root_with_its_script_and_style(agent: RunningAgent) -> None:
    async with aiohttp.ClientSession(agent.http_url) as session:
        async with session.get("/") as page:
            assert page.status == 200
            assert page.content_type == "text/html"
            assert '<script src="/dashboard/page.js">' in await page.text()
            assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
            assert page.headers["X-Frame-Options"] == "DENY"
        for name, kind in (("page.js", "text/javascript"), ("page.css", "text/css")):
            async with session.get(f"/dashboard/{name}") as response:
                assert (response.status, response.content_type) == (200, kind)


async def test_signing_in_sets_an_httponly_same_site_strict_cookie_without_the_token(agent: RunningAgent) -> None:
    async with page_session(agent) as session, session.post(f"{API}/session", json={"token": TOKEN}) as response:
        assert response.status == 200
        cookie = SimpleCookie(response.headers["Set-Cookie"])
    (morsel,) = cookie.values()
    assert morsel.key == f"underpaint_session_{agent.port}"
    assert morsel["httponly"] is True
    assert morsel["samesite"] == "Strict"
    assert morsel["path"] == "/"
    assert morsel["domain"] == ""  # host-only: the agent's own host
    assert TOKEN not in morsel.value


async def test_a_wrong_token_is_refused_and_leaves_no_session(agent: RunningAgent) -> None:
    async with page_session(agent) as session:
        status, body = await post_json(session, "/session", {"token": "not-the-token"})
        assert (status, body["error"]) == (401, "unauthorized")
        assert len(session.cookie_jar) == 0
        async with session.get(f"{API}/jobs") as response:
            assert response.status == 401


async def test_the_json_routes_answer_only_a_signed_in_page_or_the_token(agent: RunningAgent) -> None:
    async with page_session(agent) as anonymous, anonymous.get(f"{API}/jobs") as refused:
        assert (refused.status, (await refused.json())["error"]) == (401, "unauthorized")
    session = await signed_in(agent)
    async with session:
        assert (await get_json(session, "/jobs"))["jobs"] == []
    async with aiohttp.ClientSession(agent.http_url, headers={"Authorization": f"Bearer {TOKEN}"}) as script, \
            script.get(f"{API}/jobs") as response:
        assert response.status == 200


async def test_a_page_on_another_origin_can_neither_read_nor_change_anything(agent: RunningAgent) -> None:
    await run_fill(agent, "kept-job", variants=1)
    session = await signed_in(agent)
    async with session:
        other = {"Origin": ANOTHER_ORIGIN}
        async with session.get(f"{API}/jobs", headers=other) as read:
            assert (read.status, (await read.json())["error"]) == (403, "forbidden_origin")
        async with session.post(f"{API}/jobs/kept-job/picks/0", json={"starred": True}, headers=other) as write:
            assert write.status == 403
        job = await get_json(session, "/jobs/kept-job")
    assert job["picks"] == []


async def test_a_change_with_the_cookie_but_no_origin_is_refused(agent: RunningAgent) -> None:
    await run_fill(agent, "kept-job", variants=1)
    session = await signed_in(agent)
    async with session:
        session.headers.pop("Origin")
        async with session.post(f"{API}/jobs/kept-job/picks/0", json={"starred": True}) as response:
            assert (response.status, (await response.json())["error"]) == (403, "forbidden_origin")


@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded", "text/plain", "multipart/form-data"])
async def test_state_changing_routes_take_json_only(agent: RunningAgent, content_type: str) -> None:
    await run_fill(agent, "kept-job", variants=1)
    session = await signed_in(agent)
    async with session:
        async with session.post(f"{API}/jobs/kept-job/picks/0", data='{"starred": true}',
                                headers={"Content-Type": content_type}) as response:
            assert (response.status, (await response.json())["error"]) == (415, "invalid_message")
        assert (await get_json(session, "/jobs/kept-job"))["picks"] == []


_ID_ROUTES = [
    ("GET", "/jobs/{id}"), ("GET", "/jobs/{id}/recipe"), ("GET", "/jobs/{id}/files/result.psd"),
    ("GET", "/jobs/{id}/files/thumb-1.webp"), ("GET", "/jobs/{id}/files/source.png"), ("GET", "/jobs/{id}/live/0"),
    ("POST", "/jobs/{id}/picks/0"), ("POST", "/jobs/{id}/cancel"), ("POST", "/jobs/{id}/rerun"),
    ("GET", "/sets/{id}/picks.zip"),
]
# Sent as written (yarl would resolve the dot segments before they left the client).
_TRAVERSALS = ["..", "%2E%2E", "..%2F..%2Fhistory.sqlite3", "kept-job%2F..%2F..", ".hidden", "a%00b", "x" * 65]


@pytest.mark.parametrize(("method", "route"), _ID_ROUTES)
async def test_every_route_that_takes_an_id_refuses_a_path_for_it(agent: RunningAgent, method: str,
                                                                   route: str) -> None:
    session = await signed_in(agent)
    async with session, aiohttp.ClientSession(cookie_jar=session.cookie_jar, headers=session.headers) as raw:
        for traversal in _TRAVERSALS:
            url = URL(agent.http_url + API + route.format(id=traversal), encoded=True)
            async with raw.request(method, url, json={}) as response:
                assert response.status == 404, (traversal, await response.text())
                assert (await response.json())["error"] in ("unknown_job", "bad_set"), traversal


async def test_file_names_outside_the_result_files_are_refused(agent: RunningAgent) -> None:
    await run_fill(agent, "kept-job", variants=1)
    session = await signed_in(agent)
    async with session:
        for name in ("..%2F..%2Fhistory.sqlite3", "..", "variant-1.png%2F..", "recipe.json.tmp", "thumb-1.png"):
            url = URL(f"{agent.http_url}{API}/jobs/kept-job/files/{name}", encoded=True)
            async with aiohttp.ClientSession(cookie_jar=session.cookie_jar) as raw, raw.get(url) as response:
                assert response.status == 404, name
        async with session.get(f"{API}/jobs/kept-job/files/variant-1.png") as found:
            assert found.status == 200


async def test_signing_out_ends_the_session(agent: RunningAgent) -> None:
    session = await signed_in(agent)
    async with session:
        status, _ = await post_json(session, "/session/end", {})
        assert status == 200
        assert (await get_json(session, "/session"))["signed_in"] is False
        async with session.get(f"{API}/jobs") as response:
            assert response.status == 401


async def test_the_session_survives_a_restart_of_the_agent(settings: Settings) -> None:
    first = await start_agent(settings.model_copy(update={"port": 0}), {"classic": ClassicEngine()})
    session = await signed_in(first)
    cookies = session.cookie_jar
    await session.close()
    await first.stop()
    again = await start_agent(settings.model_copy(update={"port": first.port}), {"classic": ClassicEngine()})
    try:
        async with page_session(again, cookie_jar=cookies) as session:
            assert (await get_json(session, "/session"))["signed_in"] is True
    finally:
        await again.stop()
