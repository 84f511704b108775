"""Typed keys for what the application holds (aiohttp `AppKey`s, never string keys)."""

from __future__ import annotations

import asyncio

from aiohttp import web

from proxy.accounts.linking import AccountLinker
from proxy.accounts.store import TokenStore
from proxy.cek.signature import CekVerifier
from proxy.metrics import Metrics
from proxy.modes.turn import TurnHandler, Voice
from proxy.replays import Replays
from proxy.settings import Settings
from proxy.upstream import Upstream

SETTINGS = web.AppKey("settings", Settings)
METRICS = web.AppKey("metrics", Metrics)
VOICE = web.AppKey("voice", Voice)
VERIFIER = web.AppKey("verifier", CekVerifier)
TURNS = web.AppKey("turns", TurnHandler)
DRAINING = web.AppKey("draining", asyncio.Event)  # set when a stop was requested
TOKEN_STORE = web.AppKey("token_store", TokenStore)
ACCOUNTS = web.AppKey("accounts", AccountLinker)
ACTION_UPSTREAM = web.AppKey("action_upstream", Upstream)
REPLAYS = web.AppKey("replays", Replays)

# Per request: what the access log reports about the request.
CEK_TYPE = web.RequestKey("cek_type", str)
OUTCOME = web.RequestKey("outcome", str)
