"""``kcast serve`` (the prediction worker) and ``kcast validate`` (check a running one)."""

from __future__ import annotations

import logging

import httpx
import typer
from rich.table import Table

from kcast import policy
from kcast.cli.common import console
from kcast.config import get_settings
from kcast.dates import parse_date_arg, today
from kcast.validate import validate_service
from kcast.warehouse import open_warehouse


def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8080, "--port", help="Port to listen on."),
    warehouse: str | None = typer.Option(
        None, "--warehouse", "-w", help="Overrides KCAST_WAREHOUSE."
    ),
    log_level: str = typer.Option("info", "--log-level", help="uvicorn's log level."),
) -> None:
    """Run the prediction worker (HTTP) over the warehouse and every active system."""
    # the web stack (uvicorn, FastAPI and the worker's modules) would add about a third to the
    # start-up of every other command, which never serves: it is loaded here only
    import uvicorn

    from kcast.service import create_app
    from kcast.service.security import check_exposure

    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    settings = get_settings()
    if warehouse:
        settings = settings.model_copy(update={"warehouse": warehouse})
    check_exposure(host, settings)  # a public address needs KCAST_API_TOKEN for writes
    if not settings.warehouse.startswith("bigquery://"):
        # the worker creates no warehouse: a DuckDB path that does not exist is an error here
        open_warehouse(settings.warehouse, migrate=False, create=False).close()
    app = create_app(settings)
    state = app.state.kcast
    for system_id in state.active_ids:
        if system_id in state.systems:
            console.print(f"{system_id}: {state.model_version(system_id)}", highlight=False)
        else:
            console.print(
                f"[red]{system_id} did not load:[/] {state.load_errors[system_id]}", highlight=False
            )
    # one log line per request costs more than a warm /predict: off unless KCAST_ACCESS_LOG
    uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=settings.access_log)


def validate(
    service_url: str = typer.Option(..., "--service-url", help="The worker's base URL."),
    date: str | None = typer.Option(None, "--date", help="The slate to check (default: today)."),
    system: list[str] = typer.Option(
        [], "--system", help="Expected systems (default: the active ones)."
    ),
    min_agreement: float = typer.Option(
        policy.AGREEMENT_MIN_SHARE,
        "--min-agreement",
        help="Share of starters whose systems agree (strong or moderate spread, kcast.policy).",
    ),
    timeout: float = typer.Option(120.0, "--timeout", help="Seconds to wait for each request."),
) -> None:
    """Check a running worker: health, each system answers, a batch writes rows with full
    coverage, and the systems agree. Exits 1 when a check fails."""
    day = parse_date_arg(date) if date else today()
    token = get_settings().api_token
    headers = {} if token is None else {"Authorization": f"Bearer {token.get_secret_value()}"}
    client = httpx.Client(base_url=service_url.rstrip("/"), timeout=timeout, headers=headers)
    with client:
        report = validate_service(
            service_url, day, system or None, min_agreement, timeout, client=client
        )
    table = Table(title=f"kcast validate {service_url} ({day})", title_justify="left")
    table.add_column("check")
    table.add_column("result")
    table.add_column("detail", overflow="fold")
    for check in report.checks:
        result = "[green]PASS[/]" if check.ok else "[bold red]FAIL[/]"
        table.add_row(check.name, result, check.detail)
    console.print(table)
    if report.ok:
        console.print("[green]all checks passed[/]")
        return
    failed = ", ".join(c.name for c in report.failures()) or "no check ran"
    console.print(f"[bold red]validation failed:[/] {failed}", highlight=False)
    raise typer.Exit(1)
