"""Collision control (防冲突): who has a ticket open, and who is editing it.

Editing a ticket takes a short lock in Redis (TICKET_LOCK_SECONDS) that the editor's
screen renews while they type and gives back when they leave or disconnect; it lapses
by itself if the screen vanishes. While one person holds it, every lifecycle action by
anyone else is refused with 409 and the holder's name, so nobody overwrites another's
work. Who has the ticket open is kept the same way, per socket.

Locks are a convenience, never a gate on Redis's health: with Redis unreachable,
nothing is locked and every action proceeds (the database's row lock still serialises
the writes themselves).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import Any

from flask import current_app
from redis.exceptions import RedisError

from hotline.errors import Conflict
from hotline.models import User
from hotline.queue import redis_connection

log = logging.getLogger(__name__)

_LOCK = "ticket-lock:{}"
_VIEWERS = "ticket-viewers:{}"
_HELD = "socket-locks:{}"  # the references one socket holds, to give back on disconnect

# A lock's value is "<user id>|<socket id>|<json>". Take or renew: free, or the same
# person's (their other tab takes over) -> {1, value}; else {0, the holder's value}.
_TAKE = """
local current = redis.call('GET', KEYS[1])
if (not current) or string.sub(current, 1, string.len(ARGV[3])) == ARGV[3] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return {1, ARGV[1]}
end
return {0, current}
"""
# Give back only a lock this socket holds (ARGV[1] = "<user id>|<socket id>|").
_GIVE = """
local current = redis.call('GET', KEYS[1])
if current and string.find(current, ARGV[1], 1, true) then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


@dataclass(frozen=True)
class Holder:
    user_id: int
    sid: str
    name: str

    def encode(self) -> str:
        return f"{self.user_id}|{self.sid}|" + json.dumps({"name": self.name})

    @classmethod
    def decode(cls, raw: bytes | str) -> Holder:
        text = raw.decode() if isinstance(raw, bytes) else raw
        user_id, sid, data = text.split("|", 2)
        return cls(int(user_id), sid, str(json.loads(data)["name"]))

    def public(self) -> dict[str, Any]:
        return {"user_id": self.user_id, "name": self.name}


def _ttl_ms() -> int:
    return int(float(current_app.config["TICKET_LOCK_SECONDS"]) * 1000)


def take(reference: str, user: User, sid: str) -> tuple[bool, Holder]:
    """Take (or renew) the edit lock for this socket: (True, us) or (False, the holder)."""
    me = Holder(user.id, sid, user.display_name or user.username)
    redis = redis_connection()
    key = _LOCK.format(reference)
    taken, value = redis.eval(_TAKE, 1, key, me.encode(), _ttl_ms(), f"{user.id}|")
    if taken:
        held = _HELD.format(sid)
        redis.sadd(held, reference)
        redis.pexpire(held, _ttl_ms() * 4)
    return bool(taken), Holder.decode(value)


def give_back(reference: str, sid: str) -> bool:
    """Give back the lock if this socket holds it (atomically: never someone else's)."""
    redis = redis_connection()
    redis.srem(_HELD.format(sid), reference)
    return bool(redis.eval(_GIVE, 1, _LOCK.format(reference), f"|{sid}|"))


_unavailable_until = 0.0
_RETRY_AFTER = 15.0  # seconds: an unreachable Redis is not asked again at every action


def holder(reference: str) -> Holder | None:
    """Who holds the edit lock (None when nobody does, or locks are unavailable)."""
    global _unavailable_until
    if time.monotonic() < _unavailable_until:
        return None
    try:
        raw = redis_connection().get(_LOCK.format(reference))
    except (RedisError, RuntimeError) as exc:
        _unavailable_until = time.monotonic() + _RETRY_AFTER
        log.warning("ticket locks unavailable (%s): actions proceed unlocked", exc)
        return None
    return Holder.decode(raw) if raw else None


def check_not_locked(reference: str, actor: User | None) -> None:
    """Refuse an action on a ticket someone else is editing (409 with their name)."""
    if actor is None:
        return
    current = holder(reference)
    if current is not None and current.user_id != actor.id:
        raise Conflict(
            f"ticket {reference} is being edited by {current.name}",
            f"工单 {reference} 正由 {current.name} 编辑，请稍后再试",
            editor=current.name,
        )


# --- who has the ticket open ----------------------------------------------------------


def open_on(reference: str, user: User, sid: str) -> None:
    redis = redis_connection()
    key = _VIEWERS.format(reference)
    who = {"user_id": user.id, "name": user.display_name or user.username}
    redis.hset(key, sid, json.dumps(who))
    redis.pexpire(key, _ttl_ms() * 120)


def closed_on(reference: str, sid: str) -> None:
    redis_connection().hdel(_VIEWERS.format(reference), sid)


def presence(reference: str) -> dict[str, Any]:
    """Who has the ticket open (each person once) and who is editing it."""
    redis = redis_connection()
    people: dict[int, str] = {}
    for raw in redis.hvals(_VIEWERS.format(reference)):
        data = json.loads(raw)
        people[int(data["user_id"])] = str(data["name"])
    editing = holder(reference)
    return {
        "reference": reference,
        "viewers": [{"user_id": k, "name": v} for k, v in sorted(people.items())],
        "editor": editing.public() if editing else None,
    }


def forget_socket(sid: str, references: list[str]) -> list[str]:
    """A socket went away: give back its locks and close its tickets. Returns every
    reference whose presence changed."""
    redis = redis_connection()
    held = [r.decode() if isinstance(r, bytes) else r for r in redis.smembers(_HELD.format(sid))]
    for reference in held:
        give_back(reference, sid)
    redis.delete(_HELD.format(sid))
    for reference in references:
        closed_on(reference, sid)
    return sorted(set(held) | set(references))
