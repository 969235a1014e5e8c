"""The ``atscli`` commands: ``atscli MODEL list|get|create|update|delete|...``.

Every command takes ``--profile``, ``--output``, ``--retries`` and
``--timeout``, before or after the model name. ``create`` and ``update`` get
one flag per creatable / patchable field from the server's schema.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from . import config
from .http import ApiFailure, Client
from .output import FORMATS, write_object, write_objects
from .upsert import Columns, Upsert, read_csv, read_ndjson, write_rejects
from .values import BadValue, constraints, describe, is_multi, parse, parse_many

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
COMMON = ("profile", "output", "retries", "timeout")
RESERVED = {"json", "unset", "help", *COMMON}
BIG_PAGE = 10_000  # the server caps it at the model's page size


# --- options every command takes ------------------------------------------------


def _remember(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    if value is not None:
        ctx.find_root().meta.setdefault("atscli", {})[param.name] = value
    return value


def common_params() -> list[click.Option]:
    """--profile, --output, --retries, --timeout: fresh objects for each command."""
    return [
        click.Option(
            ["--profile"],
            metavar="NAME",
            expose_value=False,
            callback=_remember,
            help="Profile from `atscli profile list` (default: the default profile).",
        ),
        click.Option(
            ["-o", "--output"],
            type=click.Choice(FORMATS),
            expose_value=False,
            callback=_remember,
            help="table (default on a terminal), json, ndjson (default in a pipe) or csv.",
        ),
        click.Option(
            ["--retries"],
            type=click.IntRange(0, 20),
            expose_value=False,
            callback=_remember,
            help="Tries after a 429/502/503/504 or a connection error (default 5).",
        ),
        click.Option(
            ["--timeout"],
            type=click.FloatRange(min=0.1),
            expose_value=False,
            callback=_remember,
            help="Seconds to wait for an answer (default 30).",
        ),
    ]


def common(f: Callable[..., Any]) -> Callable[..., Any]:
    """Decorator: the common options on this command too."""
    # click builds a command's options from __click_params__ in reverse order
    f.__dict__.setdefault("__click_params__", []).extend(reversed(common_params()))
    return f


def setting(ctx: click.Context, name: str, default: Any = None) -> Any:
    return ctx.find_root().meta.get("atscli", {}).get(name, default)


def client_for(ctx: click.Context, connections: int = 2, profile: str | None = None) -> Client:
    conn = config.resolve(profile or setting(ctx, "profile"))
    return Client(
        conn.url,
        conn.token,
        retries=setting(ctx, "retries", 5),
        timeout=setting(ctx, "timeout", 30.0),
        connections=connections,
    )


def out_format(ctx: click.Context, default: str) -> str:
    return setting(ctx, "output") or default


def model_of(ctx: click.Context) -> str:
    return ctx.parent.info_name if ctx.parent else ""


# --- the commands of a model --------------------------------------------------------


@click.command("list")
@click.option("--limit", type=click.IntRange(min=1), help="At most N objects (default 20).")
@click.option(
    "--filter",
    "filters",
    multiple=True,
    metavar="KEY=VALUE",
    help="Only matching objects; repeat a key for any of several values.",
)
@click.option("--sort", metavar="KEY", help="Sort key, -KEY for descending; several: a,-b.")
@click.option("--all", "everything", is_flag=True, help="Every object, page by page.")
@click.option("--columns", metavar="A,B", help="Table and CSV columns (default: what fits).")
@common
@click.pass_context
def list_cmd(
    ctx: click.Context,
    limit: int | None,
    filters: tuple[str, ...],
    sort: str | None,
    everything: bool,
    columns: str | None,
) -> None:
    """List objects; --all streams every page as it arrives."""
    params = []
    for item in filters:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{item!r} is not KEY=VALUE", param_hint="--filter")
        params.append((key, value))
    if sort:
        params.append(("sort", sort))
    if everything and limit is not None:
        raise click.UsageError("--all and --limit exclude each other")
    cap = None if everything else limit or 20
    client = client_for(ctx)
    fmt = out_format(ctx, "table" if sys.stdout.isatty() else "ndjson")
    items = client.walk(model_of(ctx), params, BIG_PAGE if cap is None else cap, cap)
    names = [c.strip() for c in columns.split(",") if c.strip()] if columns else None
    write_objects(items, fmt, sys.stdout, names)


@click.command("get")
@click.argument("obj_id", metavar="ID")
@common
@click.pass_context
def get_cmd(ctx: click.Context, obj_id: str) -> None:
    """Show one object."""
    obj = client_for(ctx).get(model_of(ctx), obj_id)
    write_object(obj, out_format(ctx, "json"), sys.stdout)


@click.command("delete")
@click.argument("obj_id", metavar="ID")
@click.option("--cascade", is_flag=True, help="Also delete what refers to it.")
@common
@click.pass_context
def delete_cmd(ctx: click.Context, obj_id: str, cascade: bool) -> None:
    """Delete one object (409 while others refer to it, unless --cascade)."""
    client_for(ctx).delete(model_of(ctx), obj_id, cascade)
    click.echo(f"deleted {obj_id}")


def _archiver(archived: bool) -> click.Command:
    @click.command("archive" if archived else "unarchive")
    @click.argument("obj_id", metavar="ID")
    @common
    @click.pass_context
    def command(ctx: click.Context, obj_id: str) -> None:
        obj = client_for(ctx).archive(model_of(ctx), obj_id, archived)
        write_object(obj, out_format(ctx, "json"), sys.stdout)

    command.help = (
        "Archive one object (left out of lists, still readable)."
        if archived
        else "Bring an archived object back into lists."
    )
    return command


@click.command("schema")
@common
@click.pass_context
def schema_cmd(ctx: click.Context) -> None:
    """Fields, types, limits, mutability, filter and sort keys, page size."""
    schema = client_for(ctx).schema(model_of(ctx))
    if out_format(ctx, "table") != "table":
        click.echo(json.dumps(schema, indent=2, ensure_ascii=False))
        return
    click.echo(f"{schema['model']}: {schema.get('description', '')}")
    rows = []
    for f in schema["fields"]:
        flags = ("C" if f["create"] else "-") + ("P" if f["patch"] else "-")
        flags += "R" if f["required"] else "-"
        details = constraints(f)
        if f.get("choices"):
            details.insert(0, "|".join(f["choices"]))
        if f.get("description"):
            details.append(f["description"])
        rows.append((f["name"], f["type"], flags, "; ".join(details)))
    width = [max(len(r[i]) for r in rows) for i in range(3)]
    click.echo("")
    click.echo(f"{'FIELD'.ljust(width[0])}  {'TYPE'.ljust(width[1])}  CPR  DETAILS")
    for name, kind, flags, details in rows:
        click.echo(f"{name.ljust(width[0])}  {kind.ljust(width[1])}  {flags}  {details}")
    click.echo("")
    click.echo("C = set on create, P = can change later, R = required")
    click.echo("filters: " + ", ".join(schema["filters"]))
    sorts = ", ".join(schema["sorts"])
    click.echo(f"sorts: {sorts} (default {schema['default_sort']}; prefix - to reverse)")
    click.echo(f"page size: {schema['default_page']} by default, at most {schema['max_page']}")


@click.command("upsert")
@click.option("--unique", required=True, metavar="FIELD", help="The field that identifies a row.")
@click.option("--csv", "csv_file", type=click.File("r", encoding="utf-8-sig"), help="CSV file.")
@click.option("--ndjson", "ndjson_file", type=click.File("r", encoding="utf-8"), help="File or -.")
@click.option("--workers", type=click.IntRange(1, 32), default=4, show_default=True)
@click.option("--rejects", type=click.Path(dir_okay=False), help="Where failed rows go.")
@click.option("--dry-run", is_flag=True, help="Look everything up, write nothing.")
@common
@click.pass_context
def upsert_cmd(
    ctx: click.Context,
    unique: str,
    csv_file: Any,
    ndjson_file: Any,
    workers: int,
    rejects: str | None,
    dry_run: bool,
) -> None:
    """Update the object whose FIELD equals each row's value, or create it.

    Rows that would change nothing are left alone. Failed rows go to a reject
    file (the input's name + .rejects) with their reason; the exit status is 1
    when any row failed.
    """
    if (csv_file is None) == (ndjson_file is None):
        raise click.UsageError("give exactly one of --csv FILE or --ndjson FILE (or -)")
    model = model_of(ctx)
    client = client_for(ctx, connections=workers + 1)
    schema = client.schema(model)
    job = Upsert(client, schema, unique, workers, dry_run)
    columns = Columns(schema)
    source = csv_file or ndjson_file
    total = _count_rows(source, csv_file is not None)  # before reading: tell() works once
    header = None
    if csv_file is not None:
        header, ignored, rows = read_csv(csv_file, columns)
        if ignored:
            click.echo(f"ignoring server-managed columns: {', '.join(ignored)}", err=True)
    else:
        rows = read_ndjson(ndjson_file, columns)
    label = f"{model} upsert" + (" (dry run)" if dry_run else "")
    if sys.stderr.isatty() and total is not None:
        with click.progressbar(
            length=total,
            label=label,
            file=sys.stderr,
            show_pos=True,
            show_percent=True,
            show_eta=True,
        ) as bar:
            summary = job.run(rows, bar.update)
    else:
        summary = job.run(rows, lambda _n: None)
    rate = summary.total / summary.seconds if summary.seconds else 0.0
    verb = "would be " if dry_run else ""
    click.echo(f"{label}: {summary.total} rows in {summary.seconds:.1f} s ({rate:.0f} rows/s)")
    click.echo(f"  {verb}created    {summary.created}")
    click.echo(f"  {verb}updated    {summary.updated}")
    click.echo(f"  unchanged  {summary.unchanged}")
    click.echo(f"  failed     {summary.failed}")
    if summary.rejects:
        path = rejects or _rejects_path(source.name, "csv" if csv_file else "ndjson")
        write_rejects(path, summary.rejects, header, "csv" if csv_file else "ndjson")
        for row in summary.rejects[:10]:
            click.echo(f"row {row.number}: {row.error}", err=True)
        if summary.failed > 10:
            click.echo(f"... and {summary.failed - 10} more", err=True)
        click.echo(f"failed rows with their reasons: {path}", err=True)
        ctx.exit(1)


def _count_rows(fh: Any, is_csv: bool) -> int | None:
    """Rows in a seekable file (for the progress bar); None for a pipe."""
    try:
        start = fh.tell()
    except (OSError, ValueError):
        return None
    if is_csv:
        import csv

        count = sum(1 for _ in csv.reader(fh)) - 1
    else:
        count = sum(1 for line in fh if line.strip())
    fh.seek(start)
    return max(count, 0)


def _rejects_path(name: str, ext: str) -> str:
    if name in ("<stdin>", "-"):
        return f"atscli-rejects.{ext}"
    path = Path(name)
    return str(path.with_name(f"{path.stem}.rejects.{ext}"))


# --- create and update: flags from the schema ---------------------------------------


class FieldType(click.ParamType):
    """Text to a typed value, by the field's schema entry."""

    def __init__(self, field: dict[str, Any]) -> None:
        self.field = field
        self.name = field["type"]

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if is_multi(self.field):
            return value  # joined by parse_many once every repeat is known
        try:
            return parse(self.field, value)
        except BadValue as exc:
            self.fail(str(exc), param, ctx)


def field_options(schema: dict[str, Any], mode: str) -> list[click.Option]:
    options = []
    for f in schema["fields"]:
        if not f[mode]:
            continue
        flag = f["name"].replace("_", "-")
        if f["name"] in RESERVED:
            flag = "field-" + flag
        if f["type"] == "enum":
            kind: click.ParamType = click.Choice(f["choices"])
        elif f["type"] == "bool":
            kind = click.Choice(["true", "false"], case_sensitive=False)
        else:
            kind = FieldType(f)
        options.append(
            click.Option(
                [f"--{flag}", f"field__{f['name']}"],
                type=kind,
                multiple=is_multi(f),
                help=describe(f),
            )
        )
    return options


def _body(
    schema: dict[str, Any], params: dict[str, Any], json_file: Any, unset: tuple[str, ...]
) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if json_file is not None:
        try:
            body = json.load(json_file)
        except ValueError as exc:
            raise click.BadParameter(f"not valid JSON: {exc}", param_hint="--json") from None
        if not isinstance(body, dict):
            raise click.BadParameter("must hold one JSON object", param_hint="--json")
    fields = {f["name"]: f for f in schema["fields"]}
    for key, value in params.items():
        if not key.startswith("field__") or value is None or value == ():
            continue
        name = key[len("field__") :]
        if isinstance(value, tuple):
            try:
                value = parse_many(fields[name], value)
            except BadValue as exc:
                hint = f"--{name.replace('_', '-')}"
                raise click.BadParameter(str(exc), param_hint=hint) from None
        elif fields[name]["type"] == "bool":
            value = value.lower() == "true"
        body[name] = value
    for name in unset:
        if name not in fields or not fields[name]["patch"]:
            raise click.BadParameter(f"{name} is not a field that can change", param_hint="--unset")
        body[name] = [] if fields[name]["type"] == "tags" else None
    return body


def write_command(model: str, action: str, schema: dict[str, Any], note: str) -> click.Command:
    creating = action == "create"

    @click.pass_context
    def run(ctx: click.Context, **params: Any) -> None:
        client = client_for(ctx)
        body = _body(schema, params, params.pop("json_file"), params.pop("unset", ()))
        if creating:
            obj = client.create(model, body)
        else:
            if not body:
                raise click.UsageError("nothing to change: give field flags, --json or --unset")
            obj = client.update(model, params["obj_id"], body)
        write_object(obj, out_format(ctx, "json"), sys.stdout)

    params: list[click.Parameter] = []
    if not creating:
        params.append(click.Argument(["obj_id"], metavar="ID"))
    params += field_options(schema, "create" if creating else "patch")
    params.append(
        click.Option(
            ["--json", "json_file"],
            type=click.File("r", encoding="utf-8"),
            metavar="FILE|-",
            help="A JSON object of field values; flags given as well win.",
        )
    )
    if not creating:
        params.append(
            click.Option(
                ["--unset"], multiple=True, metavar="FIELD", help="Clear a field (repeatable)."
            )
        )
    command = click.Command(
        action,
        callback=run,
        params=params,
        help=(f"Create a {model}." if creating else f"Change fields of a {model}.") + note,
        context_settings=CONTEXT,
    )
    command.params.extend(common_params())
    return command


# --- groups -------------------------------------------------------------------------

COMMANDS = {
    "list": "List objects; --all streams every page as it arrives.",
    "get": "Show one object.",
    "create": "Create an object (one flag per creatable field).",
    "update": "Change fields of an object (one flag per patchable field).",
    "delete": "Delete one object (--cascade for what refers to it).",
    "archive": "Archive one object.",
    "unarchive": "Bring an archived object back.",
    "upsert": "Create or update from a CSV or NDJSON file, matched on --unique.",
    "schema": "Fields, types, limits, filter and sort keys.",
}
STATIC = {
    "list": list_cmd,
    "get": get_cmd,
    "delete": delete_cmd,
    "archive": _archiver(True),
    "unarchive": _archiver(False),
    "upsert": upsert_cmd,
    "schema": schema_cmd,
}


class ModelGroup(click.Group):
    """The commands of one model; create/update flags come from its schema."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Commands"):
            formatter.write_dl(list(COMMANDS.items()))

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        ctx.meta["atscli.args"] = args
        return super().resolve_command(ctx, args)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in STATIC:
            return STATIC[cmd_name]
        if cmd_name not in ("create", "update"):
            return None
        args = ctx.meta.get("atscli.args", [])
        schema, note = _schema_for(ctx, self.name or "", args)
        return write_command(self.name or "", cmd_name, schema, note)


def _peek(args: list[str], flag: str) -> str | None:
    """A --flag VALUE given after the command, before click has parsed it."""
    for i, arg in enumerate(args):
        if arg == flag and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith(flag + "="):
            return arg.split("=", 1)[1]
    return None


def _schema_for(ctx: click.Context, model: str, args: list[str]) -> tuple[dict[str, Any], str]:
    try:
        return client_for(ctx, profile=_peek(args, "--profile")).schema(model), ""
    except click.ClickException as exc:
        if not {"-h", "--help"} & set(args):
            raise
        local = _bundled_schema(model)
        if local is None:
            raise
        return local, f"\n\n(Flags from atscli's own schema: {exc.format_message()})"


def _bundled_schema(model: str) -> dict[str, Any] | None:
    """This package's own field tables, for --help when no server answers."""
    from .. import fields as F
    from ..api.openapi import model_schema

    mdef = F.MODELS.get(model)
    return model_schema(mdef) if mdef else None


def model_names() -> dict[str, str]:
    """The models this atscli knows, with their descriptions (for --help)."""
    from .. import fields as F

    return {name: m.description for name, m in F.MODELS.items()}


@click.group(context_settings=CONTEXT)
@common
def profile() -> None:
    """Named servers: a URL and a token each."""


@profile.command("add")
@click.argument("name")
@click.option("--url", required=True, help="The ATS address, e.g. https://ats.example.com.")
@click.option(
    "--token",
    prompt=True,
    hide_input=True,
    help="A personal access token (pat_...); asked for when left out; - reads stdin.",
)
@click.option("--default", "make_default", is_flag=True, help="Use it when none is named.")
def profile_add(name: str, url: str, token: str, make_default: bool) -> None:
    """Add or replace a profile."""
    if token == "-":  # noqa: S105 - the stdin marker, not a password
        token = sys.stdin.readline().strip()
    if not token:
        raise click.BadParameter("the token is empty", param_hint="--token")
    path = config.add_profile(name, url, token, make_default)
    click.echo(f"saved profile {name} in {path}")


@profile.command("list")
def profile_list() -> None:
    """Profiles, with the default marked *."""
    rows = config.profiles()
    if not rows:
        click.echo(f"no profiles in {config.config_path()}")
        return
    width = max(len(r[0]) for r in rows)
    for name, url, hint, is_default in rows:
        click.echo(f"{'*' if is_default else ' '} {name.ljust(width)}  {url}  {hint}")


@profile.command("remove")
@click.argument("name")
def profile_remove(name: str) -> None:
    """Forget a profile."""
    config.remove_profile(name)
    click.echo(f"removed profile {name}")


@profile.command("use")
@click.argument("name")
def profile_use(name: str) -> None:
    """Make a profile the default."""
    config.set_default(name)
    click.echo(f"default profile: {name}")


class Root(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*model_names(), "profile"]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name == "profile":
            return profile
        if cmd_name.startswith("-"):
            return None
        # any name: a server of another version may have other models, and it
        # answers an unknown one with the list of the ones it has
        about = model_names().get(cmd_name) or f"{cmd_name} objects."
        return ModelGroup(cmd_name, help=about, context_settings=CONTEXT)


@click.group(cls=Root, context_settings=CONTEXT)
@common
@click.version_option(package_name="ats", prog_name="atscli")
def cli() -> None:
    """Script the ATS through its xapi2 API: atscli MODEL COMMAND [OPTIONS].

    \b
    atscli profile add local --url http://127.0.0.1:5000 --token pat_...
    atscli job list --filter status=open --sort -created_at
    atscli job create --title "Backend Engineer" --tags python --tags go
    atscli candidate upsert --unique email --csv people.csv
    """


def main() -> None:
    try:
        cli.main(prog_name="atscli")
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)


__all__ = ["ApiFailure", "cli", "main"]
