"""No command prints a password, in whatever form the URL carries it.

One function renders every URL (:func:`lrscope.store.hide_credentials`); these
tests give it every form of credential (user-info password, one with an
unencoded ``@``, ``/`` or ``?``, percent-encoded, and query parameters such
as ``password``, ``sslpassword``, ``token``, ``secret``, ``passfile``,
``sslkey``) and run every command that shows a URL, on success and on error,
the HTML report and the export file included.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from lrscope.cli.app import app
from lrscope.store import Store, hide_credentials
from lrscope.store._db import parse_url
from lrscope.store._urls import scrub_secrets, secrets_in
from pg_testlib import fresh_pg_schema_url, pg_base_url
from store_testlib import fill

SECRET = "Zq9-s3cret"
TINY_TASK = str(Path(__file__).parents[1] / "bench" / "tiny_task.py") + ":make_task"
FORMS = {
    "user info": "postgresql+psycopg://me:{s}@db.example:5432/lr",
    "user info with @": "postgresql+psycopg://me:{s}@x@db.example/lr",
    "user info with / and ?": "postgresql+psycopg://me:{s}/a?b@db.example/lr",
    "percent-encoded": "postgresql+psycopg://me:{q}%40x@db.example/lr",
    "password=": "postgresql+psycopg://me@db.example/lr?password={s}",
    "sslpassword=": "postgresql+psycopg://me@db.example/lr?sslmode=require&sslpassword={s}",
    "token=": "postgresql+psycopg://me@db.example/lr?token={s}",
    "secret=": "postgresql+psycopg://me@db.example/lr?secret={s}",
    "passfile=": "postgresql+psycopg://me@db.example/lr?passfile=/home/{s}/.pgpass",
    "sslkey=": "postgresql+psycopg://me@db.example/lr?sslkey=/keys/{s}.key",
    "DB_Password=": "postgresql+psycopg://me@db.example/lr?DB_Password={s}",
    "encoded name": "postgresql+psycopg://me@db.example/lr?pass%77ord={s}",
    "both": "postgresql+psycopg://me:{s}@db.example/lr?application_name=a@b&password={s}",
}


def url_of(form: str, secret: str = SECRET, host: str = "db.example") -> str:
    return FORMS[form].format(s=secret, q=quote(secret, safe="")).replace("db.example", host)


@pytest.mark.parametrize("form", sorted(FORMS))
def test_every_form_of_credential_is_hidden(form: str) -> None:
    url = url_of(form)
    shown = hide_credentials(url)
    assert SECRET not in shown
    assert quote(SECRET, safe="") not in shown
    assert "***" in shown
    assert shown.startswith("postgresql+psycopg://me")
    if "/a?b@" not in url:  # SQLAlchemy itself cannot parse that one
        assert SECRET not in hide_credentials(parse_url(url))
    driver_text = f"could not connect with {url} (given {secrets_in(url)[0]})"
    assert SECRET not in scrub_secrets(driver_text, secrets_in(url))


def test_what_is_not_a_secret_is_shown_as_it_is() -> None:
    url = "postgresql+psycopg://me@db.example:5432/lr?host=/run/pg&application_name=a@b"
    assert hide_credentials(url) == url
    assert hide_credentials("sqlite:////data/a@b/lrscope.db") == "sqlite:////data/a@b/lrscope.db"
    assert hide_credentials("results.db") == "results.db"
    assert (
        hide_credentials("postgresql://db:5432/lr?app=me@x") == "postgresql://db:5432/lr?app=me@x"
    )


_password = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Zs")), min_size=1, max_size=20
).map(lambda s: f"Zq9{s}")


@given(password=_password, form=st.sampled_from(sorted(FORMS)))
def test_generated_passwords_are_never_shown(password: str, form: str) -> None:
    url = url_of(form, password)
    shown = hide_credentials(url)
    if form == "percent-encoded":
        assert quote(password, safe="") not in shown
    else:
        assert password not in shown


def _commands(url: str, folder: Path) -> dict[str, list[str]]:
    """Every command that takes --db (the ones that show the URL are marked by name)."""
    return {
        "db info": ["db", "info", "--db", url],
        "db info --json": ["db", "info", "--db", url, "--json"],
        "db upgrade": ["db", "upgrade", "--db", url],
        "db export": ["db", "export", "-o", str(folder / "out.jsonl"), "--db", url, "--json"],
        "db import": ["db", "import", str(folder / "in.jsonl"), "--db", url],
        "db merge --from": ["db", "merge", "--from", url, "--db", f"sqlite:///{folder}/m.db"],
        "db merge --db": ["db", "merge", "--from", f"sqlite:///{folder}/in.db", "--db", url],
        "rank, unknown task": ["rank", "--task", "nope", "--db", url],
        "rank": ["rank", "--task", "blobs-mlp", "--db", url, "--json"],
        "report": ["report", "-o", str(folder / "page.html"), "--db", url],
        "bench": ["bench", "--task", TINY_TASK, "--policy", "FIX(k0=0.1)", "--steps", "3",
                  "--db", url, "-q"],
        "bench --json": ["bench", "--task", TINY_TASK, "--policy", "FIX(k0=0.1)", "--steps", "3",
                         "--db", url, "-q", "--json"],
        "find": ["find", "--task", TINY_TASK, "--steps", "8", "--db", url, "-q"],
        "recommend": ["recommend", "--task", TINY_TASK, "--no-range-test", "--db", url],
        "tune": ["tune", "--task", TINY_TASK, "--steps", "4", "--db", url],
    }  # fmt: skip


def _no_secret(result: object, secret: str, *files: Path) -> None:
    output = f"{getattr(result, 'stdout', '')}\n{getattr(result, 'stderr', '')}"
    assert secret not in output, output
    assert quote(secret, safe="") not in output
    for path in files:
        if path.exists():
            text = path.read_text(errors="replace")
            assert secret not in text
            assert quote(secret, safe="") not in text


@pytest.fixture(scope="module")
def import_file_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("credentials")
    with Store.open(f"sqlite:///{folder / 'in.db'}") as store:
        fill(store)
    runner = CliRunner()
    out = folder / "in.jsonl"
    result = runner.invoke(
        app, ["db", "export", "-o", str(out), "--db", f"sqlite:///{folder}/in.db"]
    )
    assert result.exit_code == 0, result.stderr
    return folder


@pytest.mark.parametrize("form", sorted(FORMS))
def test_no_command_prints_a_password_when_the_server_is_unreachable(
    form: str, import_file_path: Path
) -> None:
    url = url_of(form, host="127.0.0.1:1").replace(":5432", "")
    url += ("&" if "?" in url else "?") + "connect_timeout=2"
    runner = CliRunner()
    for name, command in _commands(url, import_file_path).items():
        result = runner.invoke(app, command)
        assert result.exit_code == 2, (name, result.stdout, result.stderr)
        _no_secret(result, SECRET)


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.parametrize("form", ["user info", "password=", "sslpassword=", "passfile=", "both"])
def test_no_command_prints_a_password_on_success(form: str, import_file_path: Path) -> None:
    """The local server authenticates by peer: it ignores the password, so commands succeed."""
    for base in fresh_pg_schema_url(pg_base_url()):
        parsed = parse_url(base)
        url = parsed.set(password=SECRET) if form in ("user info", "both") else parsed
        query = {
            "password=": {"password": SECRET},
            "sslpassword=": {"sslpassword": SECRET},
            "passfile=": {"passfile": f"/nonexistent/{SECRET}"},
            "both": {"password": SECRET},
        }.get(form, {})
        text = url.update_query_dict(query).render_as_string(hide_password=False)
        with Store.open(text) as store:
            fill(store)
        runner = CliRunner()
        folder = import_file_path
        for name, command in _commands(text, folder).items():
            if name == "tune":
                continue  # its error names no URL; it trains for a while
            result = runner.invoke(app, command)
            if name not in ("rank, unknown task", "db upgrade"):
                assert result.exit_code == 0, (name, result.stdout, result.stderr)
            _no_secret(result, SECRET, folder / "out.jsonl", folder / "page.html")
        assert "***" in (folder / "page.html").read_text()
