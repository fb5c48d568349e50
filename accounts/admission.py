"""A bearer-token API request admitted in one Redis round trip: its user, role and throttle.

DRF's path asks Redis three times for a cached read (the user's snapshot, the throttle, and
what the view itself reads). :func:`admit` makes the same checks with one Lua script, for a
caller (``portfolio.api.replay``) that also needs one key of its own to hold an expected value
(the guard: the published-run pointer version):

- **the token** is validated exactly as ``CachedUserJWTAuthentication`` validates it
  (simplejwt: signature, audience, issuer, type, expiry), without Redis; a token this process
  has verified before has only its expiry checked again (the rest cannot change);
- **the script** reads the guard key and the user's snapshot (``accounts.user_cache``) and,
  only when the guard holds its expected value and the snapshot is there, counts the request
  on the role throttle's counter (``accounts.throttling.RoleRateThrottle``, the sliding window
  of ``core.throttling``) — as DRF counts only an authenticated request;
- **the user** must pass the authentication class's checks on the snapshot (fresh, exists,
  active, password unchanged since the token), and gets its role from it.

The throttle's counter is per role, and the role is in the snapshot the script reads, so the
script counts on the role of the snapshot this process last decoded for the user. The first
request of a user in a process (or the first after a role change) is counted after the script
instead, on the role's own counter, in a second round trip; after a role change the one
request counted on the old role's counter is the only difference from DRF's count.

Any refusal, error or unmet guard answers ``None``: "let the full view answer" (it answers the
401, 403 or 429 itself, and a Redis outage as it always does).
"""

from __future__ import annotations

import threading
import time
from typing import Any

from django.core.cache import caches
from django.http import HttpRequest
from redis.exceptions import NoScriptError
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.utils import aware_utcnow

from core.throttling import CACHE_ERRORS, SLIDING_WINDOW_LUA

from .authentication import snapshot_user, token_user_id
from .roles import Role
from .throttling import RoleRateThrottle
from .user_cache import CACHE_ALIAS, AuthSnapshot, snapshot_key

# KEYS = the throttle's two counters, the guard key, the snapshot key; ARGV = the throttle's
# limit ('' for "do not count"), weight and lifetime, then the guard's expected value.
# Answers {flag, current, previous, snapshot}: flag -1 when the guard does not hold or there is
# no snapshot, -2 when the guard holds and nothing was counted, else the throttle's 0 or 1.
_ADMISSION_LUA = f"""
local function sliding_window()
{SLIDING_WINDOW_LUA}
end
local guard = redis.call('GET', KEYS[3])
local snapshot = redis.call('GET', KEYS[4])
if guard ~= ARGV[4] or not snapshot then
  return {{-1, 0, 0, false}}
end
if ARGV[1] == '' then
  return {{-2, 0, 0, snapshot}}
end
local answer = sliding_window()
table.insert(answer, snapshot)
return answer
"""
NOT_HELD, NOT_COUNTED = -1, -2

# Per process, bounded (each cleared when full): the last snapshot decoded per user id with
# the bytes it was decoded from, and the access tokens whose signature was verified.
_MAX_REMEMBERED = 10_000
_snapshots: dict[str, tuple[bytes, Any]] = {}
_validated_tokens: dict[bytes, Any] = {}
_script: Any = None
_script_lock = threading.Lock()


def _admission_script(redis_client: Any) -> Any:
    global _script
    with _script_lock:
        if _script is None:
            _script = redis_client.register_script(_ADMISSION_LUA)
    return _script


def _run_admission_script(redis_client: Any, *, keys: list[str], args: list[Any]) -> Any:
    """``EVALSHA`` sent as it is (redis-py's ``Script`` call adds layers of argument handling
    on every request); the first call on a server without the script loads it."""
    script = _admission_script(redis_client)
    try:
        return redis_client.execute_command("EVALSHA", script.sha, len(keys), *keys, *args)
    except NoScriptError:
        return script(keys=keys, args=args, client=redis_client)


def _remember(memo: dict[Any, Any], key: Any, value: Any) -> None:
    if len(memo) >= _MAX_REMEMBERED:
        memo.clear()
    memo[key] = value


def _scope_of(snapshot: AuthSnapshot) -> str:
    """The role throttle's scope for the snapshot's user (``RoleRateThrottle``'s rule: a user
    without a role is throttled as a viewer)."""
    return (snapshot.role or Role.VIEWER).value


def admit(request: HttpRequest, *, guard_key: str, guard_value: Any) -> Any | None:
    """The request's user, its role known, when its bearer token is valid, its user passes the
    checks, its role throttle allows it (counted) and ``guard_key`` holds ``guard_value``; else
    ``None`` (module docstring). Sets ``request.user`` as DRF does."""
    authentication = JWTAuthentication()
    header = authentication.get_header(request)  # type: ignore[arg-type]
    try:
        raw_token = authentication.get_raw_token(header) if header is not None else None
        if raw_token is None:
            return None
        token = _validated(authentication, raw_token)
        user_id = str(token_user_id(token))
    except (TokenError, AuthenticationFailed):
        return None

    cache: Any = caches[CACHE_ALIAS]  # django-redis: its client encodes and decodes
    throttle = RoleRateThrottle()
    remembered = _snapshots.get(user_id)
    guessed = _scope_of(remembered[1]) if remembered is not None else None
    counting = guessed is not None and _counter_ready(throttle, scope=guessed, user_id=user_id)
    keys, args = throttle.sliding_window_call() if counting else (["", ""], ["", "", ""])
    try:
        redis_client = cache.client.get_client(write=True)
        answer = _run_admission_script(
            redis_client,
            keys=[*keys, cache.make_key(guard_key), cache.make_key(snapshot_key(user_id))],
            args=[*args, cache.client.encode(guard_value, allow_int=False)],
        )
    except CACHE_ERRORS:
        return None
    flag = int(answer[0])
    if flag == NOT_HELD:
        return None
    raw = answer[3]
    if remembered is not None and remembered[0] == raw:
        snapshot = remembered[1]  # the same bytes are the same snapshot, its read_at included
    else:
        snapshot = cache.client.decode(raw)
        if isinstance(snapshot, AuthSnapshot):
            _remember(_snapshots, user_id, (raw, snapshot))
    if not isinstance(snapshot, AuthSnapshot) or not snapshot.fresh(time.time()):
        return None
    try:
        user = snapshot_user(token, snapshot)
    except AuthenticationFailed:
        return None
    request.user = user
    if flag == NOT_COUNTED or _scope_of(snapshot) != guessed:
        # Counted on the role's own counter now, as DRF would (a second round trip).
        return user if RoleRateThrottle().allow_request(request, None) else None  # type: ignore[arg-type]
    return user if throttle.counted(answer) else None


def _validated(authentication: JWTAuthentication, raw_token: bytes) -> Any:
    """The token, validated: its signature and fixed claims (audience, issuer, type) checked
    once per process, its expiry on every call (``TokenError`` when it has passed)."""
    token = _validated_tokens.get(raw_token)
    if token is None:
        token = authentication.get_validated_token(raw_token)
        _remember(_validated_tokens, raw_token, token)
    else:
        token.check_exp(current_time=aware_utcnow())
    return token


def _counter_ready(throttle: RoleRateThrottle, *, scope: str, user_id: str) -> bool:
    """Prepare ``throttle``'s counter for ``scope`` (as its ``allow_request`` does); False when
    the scope has no rate (nothing to count)."""
    throttle.scope = scope
    throttle.rate = throttle.get_rate()
    if throttle.rate is None:
        return False
    throttle.num_requests, throttle.duration = throttle.parse_rate(throttle.rate)
    throttle.key = throttle.cache_format % {"scope": scope, "ident": user_id}
    throttle.now = throttle.timer()
    return True
