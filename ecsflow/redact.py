"""Mask account ids and public IP addresses with stable pseudonyms, so a report can be shared.

Pseudonyms are keyed HMAC-SHA256 digests: the same value and key give the same pseudonym in
every frame and every run, so graphs, joins and group-bys work on redacted data as on the
original; without the key a pseudonym cannot be traced back to its value by brute force.

- **Account ids** become ``000`` followed by 9 digits. They stay 12 digits, so ARNs and
  account columns keep their shape (and the registry's patterns), while the ``000`` prefix
  marks them as masked to a reader. AWS reserves no range of account ids, so the prefix is a
  visible marker, not a guarantee that no real account has that number; a leak of the
  original is what matters, and none survives. A 12-digit token is
  masked wherever it stands alone in a string (the ``account_id`` column, the account part of
  every ARN, ``AWSLogs/123456789012/`` in a path), but not inside a longer run of letters and
  digits such as a 64-hex container id.
- **Public IP addresses** (anything :func:`ecsflow.attribute.is_private_ip` calls not
  private) become an address in a range reserved for documentation and testing: IPv4 in
  ``198.18.0.0/15`` (RFC 2544, 131,072 addresses), IPv6 in ``2001:db8::/32`` (RFC 3849).
  Private, shared, link-local and loopback addresses are kept: they say where traffic stays
  inside a VPC and are not unique outside it. Only values that are a whole address are
  masked, in every string column (``srcaddr``, ``pkt_dstaddr``, ``src_ip``, ...).

Run :func:`ecsflow.attribute_flows` before redacting when you need the AWS-service ends it
finds from public addresses; redaction keeps its columns consistent.

Examples
--------
>>> import polars as pl
>>> flows = pl.DataFrame({
...     "account_id": ["123456789012"],
...     "srcaddr": ["10.0.0.1"],
...     "dstaddr": ["8.8.8.8"],
...     "ecs_task_arn": ["arn:aws:ecs:us-east-1:123456789012:task/web/0123"],
... })
>>> out = redact(flows, key="example")
>>> out.row(0)
('000813710448', '10.0.0.1', '198.18.91.67', 'arn:aws:ecs:us-east-1:000813710448:task/web/0123')
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import polars as pl

from ecsflow.attribute import is_private_ip

__all__ = ["pseudonym_account", "pseudonym_ip", "redact", "write_redacted"]

FrameT = TypeVar("FrameT", pl.DataFrame, pl.LazyFrame)

# A 12-digit token not inside a longer run of letters or digits.
_ACCOUNT = re.compile(r"(?<![0-9A-Za-z])\d{12}(?![0-9A-Za-z])")
_IPV4_NET = ipaddress.ip_network("198.18.0.0/15")
_IPV6_NET = ipaddress.ip_network("2001:db8::/32")
_MAYBE_IP = re.compile(r"^[0-9a-fA-F:.]+$")


def _digest(key: bytes, kind: str, value: str) -> int:
    mac = hmac.new(key, f"{kind}:{value}".encode(), hashlib.sha256).digest()
    return int.from_bytes(mac, "big")


def _key(key: str | bytes) -> bytes:
    raw = key.encode() if isinstance(key, str) else bytes(key)
    if not raw:
        raise ValueError("redact needs a non-empty key")
    return raw


def pseudonym_account(account: str, *, key: str | bytes) -> str:
    """The pseudonym of a 12-digit account id: ``000`` and 9 digits from a keyed HMAC.

    >>> pseudonym_account("123456789012", key="example")
    '000813710448'
    """
    return f"000{_digest(_key(key), 'account', account) % 10**9:09d}"


def pseudonym_ip(ip: str, *, key: str | bytes) -> str:
    """The pseudonym of an IP address: in 198.18.0.0/15 (IPv4) or 2001:db8::/32 (IPv6).

    >>> pseudonym_ip("8.8.8.8", key="example"), pseudonym_ip("2600::1", key="example")
    ('198.18.91.67', '2001:db8:7b4d:1e72:d562:600d:ef12:3f42')
    """
    addr = ipaddress.ip_address(ip)
    net = _IPV4_NET if addr.version == 4 else _IPV6_NET
    offset = _digest(_key(key), f"ipv{addr.version}", addr.compressed) % net.num_addresses
    return str(net.network_address + offset)


def _redact_text(text: str, key: bytes, accounts: bool, ips: bool, private: bool) -> str:
    if ips and not private and _MAYBE_IP.match(text):
        try:
            return pseudonym_ip(text, key=key)
        except ValueError:
            pass  # not an address after all
    if accounts:
        text = _ACCOUNT.sub(lambda m: pseudonym_account(m.group(0), key=key), text)
    return text


def _redact_series(s: pl.Series, key: bytes, accounts: bool, ips: bool) -> pl.Series:
    text = s.cast(pl.String)
    uniques = text.drop_nulls().unique()
    private = pl.select(is_private_ip(pl.lit(uniques))).to_series().to_list()
    mapping = {
        u: _redact_text(u, key, accounts, ips, p)
        for u, p in zip(uniques.to_list(), private, strict=True)
    }
    out = text.replace_strict(mapping, default=None, return_dtype=pl.String)
    return out.cast(s.dtype) if s.dtype != pl.String else out


def redact(
    flows: FrameT,
    /,
    *,
    key: str | bytes,
    accounts: bool = True,
    ips: bool = True,
) -> FrameT:
    """Mask account ids and public IP addresses in every string column, with stable pseudonyms.

    Parameters
    ----------
    flows
        Flow logs as :func:`ecsflow.read_flow_logs` returns them, or any frame derived from
        them (attributed flows, graph edges, top talkers).
    key
        Secret of the keyed hash. The same key gives the same pseudonyms across frames and
        runs; keep it out of what you share, and use another key for another audience.
    accounts
        Mask 12-digit account ids (whole values and tokens such as the account part of an
        ARN or an ``AWSLogs/<account>/`` path).
    ips
        Mask public addresses (IPv4 and IPv6); private, shared, link-local and loopback
        addresses are kept.

    Returns
    -------
    DataFrame or LazyFrame
        Same kind, columns and dtypes as ``flows`` (categoricals stay categorical); string
        and categorical columns redacted, every other column unchanged.

    Examples
    --------
    >>> import polars as pl
    >>> lf = pl.LazyFrame({"dstaddr": ["8.8.8.8", "10.1.2.3", None]})
    >>> redact(lf, key="k").collect()["dstaddr"].to_list()
    ['198.18.160.193', '10.1.2.3', None]
    """
    raw_key = _key(key)
    if not (accounts or ips):
        return flows
    schema = flows.collect_schema() if isinstance(flows, pl.LazyFrame) else flows.schema
    texts = [c for c, t in schema.items() if t == pl.String or isinstance(t, pl.Categorical)]
    return flows.with_columns(
        pl.col(c).map_batches(
            lambda s: _redact_series(s, raw_key, accounts, ips), return_dtype=schema[c]
        )
        for c in texts
    )


def write_redacted(
    source: Any,
    out_dir: str | Path,
    /,
    *,
    key: str | bytes,
    storage_options: Mapping[str, Any] | None = None,
) -> Path:
    """Load flow logs, redact them and write them as one Parquet delivery in ``out_dir``.

    The file has AWS's Parquet column names and types (``flows.log.parquet``), so every
    ecsflow function and notebook reads it like the original.

    Examples
    --------
    >>> import tempfile, ecsflow
    >>> path = write_redacted("data/samples/article", tempfile.mkdtemp(), key="example")
    >>> "123456789012" in set(ecsflow.read_flow_logs(path)["account_id"].cast(pl.String))
    False
    """
    from ecsflow.load import scan_flow_logs
    from ecsflow.reduce import to_raw

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "flows.log.parquet"
    flows = scan_flow_logs(source, storage_options=storage_options)
    to_raw(redact(flows, key=key)).sink_parquet(path)
    return path
