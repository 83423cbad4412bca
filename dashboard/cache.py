"""Results shared by every worker and host through Redis, with per-process caches as fallback.

``ATLAS_REDIS_URL`` (e.g. ``redis://127.0.0.1:6379/0``) switches it on; unset, every process
keeps its own caches (``python app.py``, one worker, or several workers that each compute).
The shared layer is Flask-Caching's ``RedisCache`` with two changes:

* entries are signed (HMAC-SHA256 with a key derived from ``ATLAS_SECRET_KEY``) and an entry
  whose signature does not match is ignored, so that whoever can write to Redis cannot make a
  worker unpickle what they wrote, and entries of another deployment (another secret) are
  never read;
* Redis being down never fails a request: a failed call marks it down for ``RETRY_SECONDS``
  (during which nothing is sent to it), logs one line when it goes down and one when it is
  back, and :meth:`SharedCache.status` says so for ``/readyz``.

``announce``/``listen`` pass short messages between processes (Redis pub/sub: a round was
published, so that every worker of every host prepares it at once); ``SharedThrottle`` counts
failed sign-ins across workers and hosts.

What is cached is decided by the callers and keyed by everything the result depends on (for a
disclosure release: the round's name and checksum, the rules with their key, the NUTS version,
the filters and the role group; see ``dashboard.data``). No I/O at import time.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import pickle
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import redis
from cachelib.serializers import RedisSerializer
from flask_caching.backends.rediscache import RedisCache
from redis.backoff import NoBackoff
from redis.retry import Retry

log = logging.getLogger(__name__)

REDIS_ENV = "ATLAS_REDIS_URL"
#: Every key starts with this (bumped when the format of cached values changes).
PREFIX = "atlas:v1:"
#: Seconds an entry lives (rounds never change, so this only bounds Redis's memory).
TIMEOUT = 24 * 3600
#: Seconds Redis is left alone after a failed call.
RETRY_SECONDS = 2.0
#: Seconds a process may hold "I am computing this" before the others compute it themselves.
LOCK_SECONDS = 20
#: Seconds to connect to Redis and to wait for an answer: a cache must not slow a request down.
CONNECT_TIMEOUT, SOCKET_TIMEOUT = 0.25, 1.0
_SIGNED = b"atlas-s1:"
#: Errors that mean "Redis is not reachable or not answering" (others are bugs and propagate).
REDIS_DOWN = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError)


class RedisSettingError(ValueError):
    """ATLAS_REDIS_URL cannot be used; the message says why and what to set."""


def redis_url() -> str | None:
    """ATLAS_REDIS_URL, checked (None when unset). Raises RedisSettingError for a bad URL."""
    url = os.environ.get(REDIS_ENV, "").strip()
    if not url:
        return None
    try:
        redis.connection.parse_url(url)
    except ValueError as exc:
        raise RedisSettingError(
            f"{REDIS_ENV}={url.split('@')[-1]!r} is not a Redis URL ({exc}); "
            "use redis://HOST:6379/0 (rediss:// for TLS), or leave it unset for per-process caches"
        ) from None
    return url


def client(url: str) -> redis.Redis:
    """A Redis client that fails fast (short timeouts, no retries): callers fall back instead."""
    return redis.Redis.from_url(
        url,
        socket_connect_timeout=CONNECT_TIMEOUT,
        socket_timeout=SOCKET_TIMEOUT,
        retry=Retry(NoBackoff(), 0),
        health_check_interval=30,
    )


class _KeyLock:
    """A lock per key within one process (made on first use, dropped when nobody holds it)."""

    def __init__(self, cache: SharedCache, key: str) -> None:
        self.cache, self.key = cache, key

    def __enter__(self) -> None:
        with self.cache._lock:
            lock, users = self.cache._key_locks.get(self.key, (threading.Lock(), 0))
            self.cache._key_locks[self.key] = (lock, users + 1)
        lock.acquire()

    def __exit__(self, *_exc: object) -> None:
        with self.cache._lock:
            lock, users = self.cache._key_locks[self.key]
            lock.release()
            if users <= 1:
                del self.cache._key_locks[self.key]
            else:
                self.cache._key_locks[self.key] = (lock, users - 1)


class SignedSerializer(RedisSerializer):
    """Pickles with an HMAC in front; ``loads`` gives None for anything not signed with the key."""

    def __init__(self, key: bytes) -> None:
        self.key = key

    def dumps(self, value: Any, protocol: int = pickle.HIGHEST_PROTOCOL) -> bytes:
        payload = pickle.dumps(value, protocol)
        return _SIGNED + hmac.digest(self.key, payload, "sha256") + payload

    def loads(self, bvalue: Any) -> Any:
        if not isinstance(bvalue, bytes) or not bvalue.startswith(_SIGNED):
            return None
        body = bvalue[len(_SIGNED) :]
        mac, payload = body[:32], body[32:]
        if not hmac.compare_digest(mac, hmac.digest(self.key, payload, "sha256")):
            log.warning("ignored a shared cache entry with a wrong signature (another secret key?)")
            return None
        return pickle.loads(payload)


@dataclass(frozen=True)
class CacheStatus:
    """For /readyz: ``mode`` is 'redis' (shared) or 'per-process'; ``ok`` False while the shared
    cache is configured but not reachable (the app then serves from per-process caches)."""

    mode: str
    ok: bool
    detail: str = ""


class SharedCache:
    """Signed values in Redis under ``PREFIX``, or nothing when ``url`` is None.

    ``get`` gives None for a miss, a bad signature or Redis down; ``set`` stores or silently
    gives up. Thread-safe; one per process.
    """

    def __init__(self, url: str | None, secret: str | None, *, prefix: str = PREFIX) -> None:
        self.url = url
        self.prefix = prefix
        if not secret:
            # without a shared secret no other process could check our entries (nor we theirs)
            if url:
                log.warning(
                    "%s is set without ATLAS_SECRET_KEY: nothing is shared between processes", REDIS_ENV
                )
            secret = secrets.token_hex(32)
        key = hashlib.sha256(b"atlas-shared-cache:" + secret.encode()).digest()
        self.redis: redis.Redis | None = client(url) if url else None
        self._backend: RedisCache | None = None
        if self.redis is not None:
            self._backend = RedisCache(host=self.redis, key_prefix=prefix, default_timeout=TIMEOUT)
            self._backend.serializer = SignedSerializer(key)
        self._lock = threading.Lock()
        self._down_until = 0.0
        self._down_reason = ""
        self._checked = 0.0  # when Redis last answered or failed
        self.sender = secrets.token_hex(6)  # this process, in what it announces
        self._key_locks: dict[str, tuple[threading.Lock, int]] = {}

    @classmethod
    def from_env(cls) -> SharedCache:
        """From ATLAS_REDIS_URL and ATLAS_SECRET_KEY (RedisSettingError for a bad URL)."""
        return cls(redis_url(), os.environ.get("ATLAS_SECRET_KEY", "").strip() or None)

    @property
    def shared(self) -> bool:
        """Whether a shared cache is configured (it may still be down)."""
        return self._backend is not None

    def available(self) -> bool:
        """Configured and not marked down (calls are worth trying)."""
        return self._backend is not None and time.monotonic() >= self._down_until

    def get(self, key: str) -> Any:
        """The value stored under ``key``, or None."""
        if self._backend is None or not self.available():
            return None
        try:
            found = self._backend.get(key)
        except REDIS_DOWN as exc:
            self.failed(exc)
            return None
        except (pickle.UnpicklingError, AttributeError, EOFError, ImportError, TypeError) as exc:
            log.warning("ignored a shared cache entry that cannot be read (%s)", type(exc).__name__)
            return None
        self.succeeded()
        return found

    def set(self, key: str, value: Any, timeout: int | None = None) -> None:
        """Store ``value`` under ``key`` for ``timeout`` seconds (default ``TIMEOUT``)."""
        if self._backend is None or not self.available():
            return
        try:
            self._backend.set(key, value, timeout=timeout)
        except REDIS_DOWN as exc:
            self.failed(exc)
            return
        self.succeeded()

    def compute_once(self, key: str, compute: Callable[[], Any], usable: Callable[[Any], bool]) -> Any:
        """The value under ``key`` if ``usable``, else ``compute()``, stored; computed once at a
        time across threads and processes: while another computes it (a lock entry in Redis, for
        at most ``LOCK_SECONDS``), the others wait for its result rather than compute it too.
        Without Redis: ``compute()`` (the callers keep their own per-process caches)."""
        if self._backend is None:
            return compute()
        found = self.get(key)
        if usable(found):
            return found
        with self._key_lock(key):
            found = self.get(key)  # another thread of this process may have stored it meanwhile
            if usable(found):
                return found
            lock = f"{self.prefix}computing:{key}"
            mine = self._try_lock(lock)
            if not mine and self.available():
                deadline = time.monotonic() + LOCK_SECONDS
                while time.monotonic() < deadline and self.available():
                    time.sleep(0.05)
                    found = self.get(key)
                    if usable(found):
                        return found
                    if not self._locked(lock):  # done meanwhile, or the other process gave up
                        found = self.get(key)
                        if usable(found):
                            return found
                        break
            try:
                made = compute()
                self.set(key, made)
            finally:
                if mine:
                    self._unlock(lock)
            return made

    def _key_lock(self, key: str) -> _KeyLock:
        return _KeyLock(self, key)

    def _try_lock(self, lock: str) -> bool:
        if self.redis is None or not self.available():
            return False
        try:
            return bool(self.redis.set(lock, self.sender, nx=True, ex=LOCK_SECONDS))
        except REDIS_DOWN as exc:
            self.failed(exc)
            return False

    def _locked(self, lock: str) -> bool:
        if self.redis is None or not self.available():
            return False
        try:
            return bool(self.redis.exists(lock))
        except REDIS_DOWN as exc:
            self.failed(exc)
            return False

    def _unlock(self, lock: str) -> None:
        if self.redis is None or not self.available():
            return
        try:
            self.redis.delete(lock)
        except REDIS_DOWN as exc:
            self.failed(exc)

    def failed(self, exc: BaseException) -> None:
        """Mark Redis down for RETRY_SECONDS (callers that use ``self.redis`` directly too)."""
        with self._lock:
            was_up = not self._down_reason
            self._down_until = time.monotonic() + RETRY_SECONDS
            self._down_reason = f"{type(exc).__name__}: {' '.join(str(exc).split())[:120]}"
            self._checked = time.monotonic()
        if was_up:
            log.warning(
                "shared cache (Redis) not reachable (%s): per-process caches until it is back "
                "(retry every %.0f s)",
                self._down_reason,
                RETRY_SECONDS,
            )

    def succeeded(self) -> None:
        if not self._down_reason:
            return
        with self._lock:
            was_down, self._down_reason = bool(self._down_reason), ""
            self._checked = time.monotonic()
        if was_down:
            log.warning("shared cache (Redis) reachable again: results are shared again")

    def announce(self, channel: str, message: str) -> None:
        """Tell every other process listening on ``channel`` (through Redis; nothing without it)."""
        if self.redis is None or not self.available():
            return
        try:
            self.redis.publish(self.prefix + channel, f"{self.sender} {message}")
        except REDIS_DOWN as exc:
            self.failed(exc)

    def listen(self, channel: str, handle: Callable[[str], None]) -> threading.Thread | None:
        """Call ``handle(message)`` in a background thread for each message another process
        announces on ``channel``; subscribes again when Redis is back. None without Redis."""
        url = self.url
        if url is None:
            return None

        def loop() -> None:
            while True:
                try:
                    listener = redis.Redis.from_url(
                        url, socket_connect_timeout=CONNECT_TIMEOUT, health_check_interval=30
                    )
                    pubsub = listener.pubsub(ignore_subscribe_messages=True)
                    pubsub.subscribe(self.prefix + channel)
                    while True:
                        found = pubsub.get_message(timeout=5.0)
                        if found is None or found.get("type") != "message":
                            continue
                        data = found["data"]
                        sender, _, message = (
                            data.decode() if isinstance(data, bytes) else str(data)
                        ).partition(" ")
                        if sender != self.sender:
                            handle(message[:200])
                except REDIS_DOWN:
                    time.sleep(RETRY_SECONDS)
                except Exception:  # a bug in a handler must not end the listening
                    log.exception("handling a message on %s failed", channel)
                    time.sleep(RETRY_SECONDS)

        thread = threading.Thread(target=loop, name=f"atlas-listen-{channel}", daemon=True)
        thread.start()
        return thread

    def status(self, max_age: float = 1.0) -> CacheStatus:
        """Whether the shared cache answers (a PING at most every ``max_age`` seconds)."""
        if self.redis is None:
            return CacheStatus("per-process", True, f"{REDIS_ENV} is not set")
        if time.monotonic() - self._checked > max_age and self.available():
            try:
                self.redis.ping()
            except REDIS_DOWN as exc:
                self.failed(exc)
            else:
                self.succeeded()
                self._checked = time.monotonic()
        if self._down_reason:
            # the error's class only: /readyz is open, the address and the message go to the log
            return CacheStatus(
                "per-process", False, f"Redis not reachable ({self._down_reason.split(':')[0]})"
            )
        return CacheStatus("redis", True)


def digest(*parts: object) -> str:
    """A short stable key part from ``parts`` (their reprs): never a secret in clear."""
    return hashlib.sha256("\x1f".join(map(repr, parts)).encode()).hexdigest()[:32]


class SharedThrottle:
    """Failed sign-ins counted in Redis, so that spreading guesses over workers and hosts gains
    nothing: per user name and per address, in a window of ``window`` seconds from the first
    failure (names and addresses hashed in the keys). ``local`` (this process's own throttle) is
    kept up to date too and answers while Redis does not."""

    def __init__(
        self, shared: SharedCache, local: Any, *, per_user: int, per_address: int, window: int
    ) -> None:
        self.shared, self.local = shared, local
        self.limits = {"user": per_user, "addr": per_address}
        self.window = window

    def _keys(self, name: str, address: str) -> dict[str, str]:
        return {
            "user": f"{self.shared.prefix}signin:user:{digest(name)}",
            "addr": f"{self.shared.prefix}signin:addr:{digest(address)}",
        }

    def blocked(self, name: str, address: str) -> bool:
        keys = self._keys(name, address)
        if self.shared.redis is not None and self.shared.available():
            try:
                counts = self.shared.redis.mget([keys["user"], keys["addr"]])
            except REDIS_DOWN as exc:
                self.shared.failed(exc)
            else:
                return any(
                    int(found or 0) >= self.limits[kind] for kind, found in zip(keys, counts, strict=True)
                )
        return bool(self.local.blocked(name, address))

    def fail(self, name: str, address: str) -> None:
        self.local.fail(name, address)
        if self.shared.redis is None or not self.shared.available():
            return
        try:
            with self.shared.redis.pipeline() as pipe:
                for key in self._keys(name, address).values():
                    pipe.set(key, 0, ex=self.window, nx=True)
                    pipe.incr(key)
                pipe.execute()
        except REDIS_DOWN as exc:
            self.shared.failed(exc)

    def clear(self, name: str) -> None:
        self.local.clear(name)
        if self.shared.redis is None or not self.shared.available():
            return
        try:
            self.shared.redis.delete(self._keys(name, "")["user"])
        except REDIS_DOWN as exc:
            self.shared.failed(exc)
