"""`coach rollout show | set | kill | unkill | compare`: the rollout controls from the command line.

Every change names who made it (``--actor``, default ``$USER``) and why (``--reason``, required) and is recorded with
the old and new value (``show`` lists the latest). Bad input exits 2 naming the option.
"""

from __future__ import annotations

import argparse
import json
import os
from datetime import datetime
from typing import TYPE_CHECKING, Any

from coaching.models import NotificationType
from coaching.rollout import MAX_ACTOR, Mode
from starter.cli_args import UsageError
from starter.settings import Settings

if TYPE_CHECKING:  # the database layer is loaded when a rollout command runs, not to build the parser
    from activities.rollout import ChangeRecord, RolloutStore

_OPTION = {
    "kill_switch": "--kill-switch",
    "default_mode": "--default-mode",
    "cohort_mode": "--cohort-mode",
    "percent": "--percent",
    "allow": "--allow-add/--allow-remove",
    "deny": "--deny-add/--deny-remove",
    "type_modes": "--type-mode",
    "ai_copy": "--ai-copy",
    "actor": "--actor",
    "reason": "--reason",
    "flags": "the options",
}


def add_parser(sub: Any) -> None:
    """Register ``coach rollout`` on the top-level subparsers."""
    rollout = sub.add_parser("rollout", help="who gets notifications: off / shadow / live, the kill switch, compare")
    commands = rollout.add_subparsers(dest="rollout_cmd", required=True)

    show = commands.add_parser("show", help="the flags in force and the latest changes (who, when, old, new, why)")
    show.add_argument("--history", type=int, default=20, metavar="N", help="changes to list, 0 to 500; default 20")
    show.add_argument("--json", action="store_true", help="the flags and recent changes as JSON")

    def who(p: argparse.ArgumentParser) -> None:
        p.add_argument("--reason", required=True, help="why (1 to 500 characters; kept in the audit trail)")
        p.add_argument("--actor", default=None, help=f"who (1 to {MAX_ACTOR} characters); default $USER")
        p.add_argument("--json", action="store_true", help="the recorded changes as JSON")

    set_ = commands.add_parser("set", help="change some flags (the others keep their value)")
    modes = [m.value for m in Mode]
    set_.add_argument("--default-mode", choices=modes, help="athletes in no list and outside the percentage")
    set_.add_argument("--cohort-mode", choices=modes, help="the allow list and the percentage cohort")
    set_.add_argument("--percent", type=float, help="0 to 100 (two decimals): the cohort by stable hash of the user id")
    set_.add_argument(
        "--allow-add",
        action="append",
        default=[],
        metavar="USER_ID",
        help="add an athlete to the allow list (repeatable)",
    )
    set_.add_argument(
        "--allow-remove", action="append", default=[], metavar="USER_ID", help="take an athlete off the allow list"
    )
    set_.add_argument(
        "--deny-add", action="append", default=[], metavar="USER_ID", help="add an athlete to the deny list (off)"
    )
    set_.add_argument(
        "--deny-remove", action="append", default=[], metavar="USER_ID", help="take an athlete off the deny list"
    )
    set_.add_argument(
        "--type-mode",
        action="append",
        default=[],
        metavar="TYPE=MODE",
        help="cap a type's mode (plan_missed_followup=shadow); TYPE=none removes the cap",
    )
    set_.add_argument("--ai-copy", choices=["on", "off"], help="AI-written copy on or off (off: templates)")
    who(set_)
    for name, text in (("kill", "stop every push now"), ("unkill", "resume (held deliveries still fresh go out)")):
        who(commands.add_parser(name, help=text))

    compare = commands.add_parser("compare", help="the service's shadow/sent ledger against the legacy audit table")
    compare.add_argument("--since", required=True, help="ISO 8601 with offset (2027-01-04T00:00:00+00:00)")
    compare.add_argument("--until", required=True, help="ISO 8601 with offset; at most 92 days after --since")
    compare.add_argument("--json", action="store_true", help="the comparison as JSON")


async def cmd_rollout(args: argparse.Namespace, settings: Settings) -> int:
    from activities.database import make_engine, make_sessionmaker
    from activities.rollout import RolloutInputError, RolloutStore

    engine = make_engine(settings.database_url)
    try:
        sessionmaker = make_sessionmaker(engine)
        if args.rollout_cmd == "compare":
            return await _compare(args, sessionmaker)
        store = RolloutStore(sessionmaker)
        if args.rollout_cmd == "show":
            if not 0 <= args.history <= 500:
                raise UsageError("--history: 0 to 500")
            return await _show(store, args.history, args.json)
        actor = args.actor if args.actor is not None else (os.environ.get("USER") or os.environ.get("LOGNAME") or "")
        if args.rollout_cmd in ("kill", "unkill"):
            changes: dict[str, Any] = {"kill_switch": args.rollout_cmd == "kill"}
        else:
            changes = await _set_changes(args, store)
        try:
            records = await store.change(changes, actor=actor, reason=args.reason)
        except RolloutInputError as err:
            raise UsageError(f"{_OPTION.get(err.field.split('.')[0], err.field)}: {err.message}") from None
        _print_changes(records, args.json)
        return 0
    finally:
        await engine.dispose()


async def _set_changes(args: argparse.Namespace, store: RolloutStore) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    for name in ("default_mode", "cohort_mode", "percent"):
        if getattr(args, name) is not None:
            changes[name] = getattr(args, name)
    if args.ai_copy is not None:
        changes["ai_copy"] = args.ai_copy == "on"
    current = await store.load()
    for name in ("allow", "deny"):
        added, removed = getattr(args, f"{name}_add"), getattr(args, f"{name}_remove")
        if added or removed:
            for value in [*added, *removed]:
                if len(value) > 36:
                    raise UsageError(f"--{name}-add/--{name}-remove: {value[:40]!r}… is not a user id")
            listed = set(getattr(current, name)) | set(added)
            changes[name] = sorted(listed - set(removed))
    if args.type_mode:
        caps: dict[str, str] = {k.value: v.value for k, v in current.type_modes.items()}
        for item in args.type_mode:
            type, _, mode = item.partition("=")
            if type not in {t.value for t in NotificationType}:
                known = ", ".join(t.value for t in NotificationType)
                raise UsageError(f"--type-mode: {type[:40]!r} is not a notification type ({known})")
            if mode == "none":
                caps.pop(type, None)
            elif mode in {m.value for m in Mode}:
                caps[type] = mode
            else:
                raise UsageError(f"--type-mode: {mode[:20]!r} is not off, shadow, live or none")
        changes["type_modes"] = caps
    if not changes:
        raise UsageError("nothing to change: give at least one flag option (see coach rollout set --help)")
    return changes


async def _show(store: RolloutStore, history: int, as_json: bool) -> int:
    config = await store.load()
    stored = await store.raw()
    changes = await store.history(history)
    flags = config.model_dump(mode="json")
    if as_json:
        print(
            json.dumps({"flags": flags, "stored": sorted(stored), "changes": [c.as_dict() for c in changes]}, indent=2)
        )
        return 0
    print("Rollout flags (order: kill switch, deny, allow, percentage, default; then the per-type caps)")
    for key, value in flags.items():
        origin = "" if key in stored else "  (default)"
        shown = value if not isinstance(value, list) else f"{len(value)} athlete(s)"
        print(f"  {key:<13} {json.dumps(shown) if not isinstance(shown, str) else shown}{origin}")
    print(f"\nLatest changes ({len(changes)}):" if changes else "\nNo changes recorded yet.")
    for c in changes:
        print(
            f"  {c.changed_at:%Y-%m-%d %H:%M:%S} UTC  {c.actor}: {c.key} {_short(c.old_value)} -> {_short(c.new_value)}"
        )
        print(f"      why: {c.reason}")
    return 0


def _print_changes(records: list[ChangeRecord], as_json: bool) -> None:
    if as_json:
        print(json.dumps({"changed": [r.as_dict() for r in records]}, indent=2))
        return
    if not records:
        print("nothing changed: every value was already so")
    for r in records:
        print(f"{r.key}: {_short(r.old_value)} -> {_short(r.new_value)} (by {r.actor}, recorded)")


def _short(value: Any) -> str:
    if value is None:
        return "(default)"
    if isinstance(value, list):
        return f"[{len(value)} athlete(s)]"
    return json.dumps(value)


async def _compare(args: argparse.Namespace, sessionmaker: Any) -> int:
    from activities.rollout_compare import CompareError, compare, format_report

    since = _time(args.since, "--since")
    until = _time(args.until, "--until")
    try:
        report = await compare(sessionmaker, since, until)
    except CompareError as err:
        raise UsageError(str(err)) from None
    print(json.dumps(report.as_dict(), indent=2) if args.json else format_report(report))
    return 0


def _time(value: str, option: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise UsageError(f"{option}: {value[:40]!r} is not an ISO 8601 time") from None
    if parsed.tzinfo is None:
        raise UsageError(f"{option}: give an offset (2027-01-04T00:00:00+00:00)")
    return parsed
