"""Showing database URLs without their credentials.

Every place lrscope shows a database URL (``lrscope db info``, connection
errors, the hint after ``lrscope bench``, the report's header,
:attr:`lrscope.store.Store.url`, export files) renders it with
:func:`hide_credentials`. It hides

- the password of the user information, ``user:PASSWORD@host``, up to the
  *last* ``@`` before the host (a password may hold an unencoded ``@``,
  ``/`` or ``?``);
- the value of every query parameter that carries a secret: ``password``,
  ``sslpassword``, ``token``, ``secret``, ``passfile``, ``sslkey`` and any
  name containing ``password``, ``passwd``, ``secret``, ``token``, ``apikey``,
  ``api_key`` or ``credential`` (names compared case-insensitively, after
  percent-decoding).

:func:`secrets_in` lists the secret values of a URL (raw and decoded) so
that text from a database driver can be scrubbed of them
(:func:`scrub_secrets`), whatever form the driver quotes them in.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING
from urllib.parse import unquote

if TYPE_CHECKING:  # pragma: no cover
    from sqlalchemy import URL

__all__ = ["MASK", "hide_credentials", "scrub_secrets", "secrets_in"]

MASK = "***"
SECRET_PARAMETERS = frozenset(
    {"password", "pass", "passwd", "pwd", "sslpassword", "token", "secret", "passfile", "sslkey"}
)
SECRET_FRAGMENTS = ("password", "passwd", "secret", "token", "apikey", "api_key", "credential")

_USER = re.compile(r"[^:/@?#\s]*:")  # "user:" at the start of the authority
_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://\S+")


def _is_secret(name: str) -> bool:
    key = unquote(name).strip().lower()
    return key in SECRET_PARAMETERS or any(part in key for part in SECRET_FRAGMENTS)


def _password_span(rest: str) -> tuple[int, int] | None:
    """Start and end of the password in ``rest`` (the URL after ``://``), or None.

    The password starts after ``user:`` and ends at the last ``@`` before the
    query; the query starts at the first ``?`` after the first ``/`` that
    follows the password's start. When no ``@`` is found there, the last ``@``
    anywhere is taken (hiding too much is better than showing a secret),
    unless ``host:PORT/`` explains the colon.
    """
    user = _USER.match(rest)
    if user is None:
        return None
    start = user.end()
    slash = rest.find("/", start)
    query = rest.find("?", slash) if slash >= 0 else -1
    at = rest.rfind("@", start, query if query >= 0 else len(rest))
    if at < 0:
        if slash >= 0 and rest[start:slash].isdigit():
            return None  # host:PORT/...
        at = rest.rfind("@", start)
    return None if at < 0 else (start, at)


def _hide_query(query: str) -> str:
    parts = []
    for item in query.split("&"):
        name, sep, _value = item.partition("=")
        parts.append(f"{name}={MASK}" if sep and _is_secret(name) else item)
    return "&".join(parts)


def _text(url: str | URL) -> str:
    return url if isinstance(url, str) else url.render_as_string(hide_password=False)


def hide_credentials(url: str | URL) -> str:
    """``url`` (text or a SQLAlchemy ``URL``) with every credential replaced by ``***``.

    Text that is not a URL (no ``scheme://``) is returned as it is. A
    SQLAlchemy ``URL`` is rendered with its password first, so that the
    password is hidden by the same rules as in text.

    >>> hide_credentials("postgresql://me:p@ss@db.example/lr?sslpassword=x&application_name=a")
    'postgresql://me:***@db.example/lr?sslpassword=***&application_name=a'
    """
    text = _text(url)
    scheme, sep, rest = text.partition("://")
    if not sep:
        return text
    span = _password_span(rest)
    if span is not None:
        rest = f"{rest[: span[0]]}{MASK}{rest[span[1] :]}"
    question = rest.find("?", 0 if span is None else span[0] + len(MASK))
    if question >= 0:
        body, sep_hash, fragment = rest[question + 1 :].partition("#")
        rest = f"{rest[: question + 1]}{_hide_query(body)}{sep_hash}{fragment}"
    return f"{scheme}://{rest}"


def secrets_in(url: str | URL) -> tuple[str, ...]:
    """The secret values in ``url`` (password, secret query values), raw and percent-decoded."""
    _scheme, sep, rest = _text(url).partition("://")
    if not sep:
        return ()
    found: list[str] = []
    span = _password_span(rest)
    if span is not None:
        found.append(rest[span[0] : span[1]])
    question = rest.find("?", 0 if span is None else span[1])
    if question >= 0:
        for item in rest[question + 1 :].partition("#")[0].split("&"):
            name, sep_eq, value = item.partition("=")
            if sep_eq and _is_secret(name):
                found.append(value)
    values = {v for raw in found for v in (raw, unquote(raw)) if v}
    return tuple(sorted(values, key=len, reverse=True))


def scrub_secrets(text: str, secrets: tuple[str, ...] = ()) -> str:
    """``text`` with every URL in it rendered by :func:`hide_credentials` and ``secrets`` masked."""
    text = _URL_IN_TEXT.sub(lambda m: hide_credentials(m.group(0)), text)
    for secret in secrets:
        text = text.replace(secret, MASK)
    return text
