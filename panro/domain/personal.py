"""Personal data, minimised at the door (issue 28).

- **Pseudonyms.** A column the contract marks `pii` (대표자명, 연락처) is replaced at extraction by a
  keyed pseudonym, HMAC-SHA256 under the data directory's PII key: `p:<32 hex>`. No zone of the
  pipeline (raw, published, quarantine, marts) holds the value in clear; the same person gives the
  same pseudonym every night (the key stays), nobody without the key can test a guess. A column the
  contract also marks `phone` is checked first: a value that is no Korean phone number becomes
  `x:<32 hex>` instead, so that the gate's `phone` rule can report it without the value.
- **The key** (`pii_key`): `PANRO_PII_KEY` from the environment; else the Prefect Secret block named by
  `PANRO_PII_KEY_BLOCK`; else a random key held in memory by the run's process only (never written;
  pseudonyms then differ from run to run, which nothing downstream minds: no model reads them), with
  a warning: production sets one of the first two (docs/decisions/0028-hostile-input.md).
- **Masking** (`mask`): any text quoted in a reason, a sample of failing values or a page passes a
  phone / resident-registration-number pattern first, whatever column it came from.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
import secrets
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

log = logging.getLogger("panro.domain.personal")

KEY_VAR = "PANRO_PII_KEY"
KEY_BLOCK_VAR = "PANRO_PII_KEY_BLOCK"
PSEUDONYM = "p:"        # a pseudonym of a value that passed its column's format
MALFORMED = "x:"        # ... of a `phone` value that is no phone number
PSEUDONYM_REGEX = r"^p:[0-9a-f]{32}$"

# Korean phone numbers: mobile 01X, Seoul 02, the area codes 0[3-6][1-5], 070, 050X, 1588-style
# numbers; dashes, dots, spaces or brackets between the groups, or none; +82 for the leading 0.
_PREFIX = r"(?:(?:\+|00)82[-. ]?\(?0?\)?|\(?0)"
_PHONE = (rf"(?<![\d])(?:{_PREFIX}(?:1[016789]|2|[3-6][1-5]|70|50[2-8])\)?[-. )]?\d{{3,4}}[-. ]?\d{{4}}"
          r"|1[5-9]\d{2}[-. ]\d{4})(?![\d])")
PHONE_RE = re.compile(_PHONE)
PHONE_FULL = re.compile(rf"^\s*(?:{_PHONE})\s*$")
# 주민등록번호 / 외국인등록번호: YYMMDD, then a digit 1-8 and six more
RRN_RE = re.compile(r"(?<!\d)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])[- ]?[1-8]\d{6}(?!\d)")
PHONE_MASK, RRN_MASK = "(phone number, masked)", "(resident number, masked)"


def mask(text: str) -> str:
    """`text` with every phone number and resident registration number replaced by a mask."""
    if not any(ch.isdigit() for ch in text):
        return text
    return PHONE_RE.sub(PHONE_MASK, RRN_RE.sub(RRN_MASK, text))


def is_phone(value: str) -> bool:
    return bool(PHONE_FULL.match(value))


@dataclass(frozen=True, repr=False)
class PiiKey:
    """The HMAC key; never shown (its repr is a placeholder: it travels in the extraction's context)."""

    secret: bytes

    def __repr__(self) -> str:
        return "PiiKey(***)"


def _from_block(name: str) -> str:
    from prefect.blocks.system import Secret

    return str(Secret.load(name).get())


def pii_key(state_dir: os.PathLike[str] | str | None = None) -> PiiKey:
    """The PII key: the environment, else the Secret block, else a key of this process's own (never
    written: the key is never in a file). `state_dir` is accepted for callers that name their data."""
    value = os.environ.get(KEY_VAR, "").strip()
    if value:
        return PiiKey(value.encode("utf-8"))
    block = os.environ.get(KEY_BLOCK_VAR, "").strip()
    if block:
        try:
            return PiiKey(_from_block(block).encode("utf-8"))
        except Exception as e:
            raise RuntimeError(f"the PII key's Secret block {block!r} ({KEY_BLOCK_VAR}) cannot be loaded: "
                               f"{type(e).__name__}; create it, or set {KEY_VAR}") from None
    global _run_key
    if _run_key is None:   # generated once per process, held in memory only: never written anywhere
        _run_key = PiiKey(secrets.token_hex(32).encode("ascii"))
        log.warning("no %s or %s: personal columns are pseudonymised with a key that lives only as long as "
                    "this process (pseudonyms differ from run to run); set one of them in production",
                    KEY_VAR, KEY_BLOCK_VAR)
    return _run_key


_run_key: PiiKey | None = None


def pseudonym(key: PiiKey, value: str, *, phone: bool = False) -> str:
    """The keyed pseudonym of one value (a phone number by its digits: written either way, one person)."""
    malformed = phone and not is_phone(value)
    text = re.sub(r"\D", "", value) if phone and not malformed else value.strip()
    digest = hmac.new(key.secret, text.encode("utf-8"), hashlib.sha256).hexdigest()[:32]
    return (MALFORMED if malformed else PSEUDONYM) + digest


def pseudonymise(table: pa.Table, columns: list[tuple[str, bool]], key: PiiKey) -> pa.Table:
    """`table` with each (column, is_phone) of `columns` replaced by its values' pseudonyms (NULL stays NULL)."""
    for name, phone in columns:
        if name not in table.column_names:
            continue
        i = table.column_names.index(name)
        values = table.column(i)
        if not pa.types.is_string(values.type) and not pa.types.is_large_string(values.type):
            values = pc.cast(values, pa.string())
        cache: dict[str, str] = {}
        out = []
        for v in values.to_pylist():
            if v is None:
                out.append(None)
                continue
            if v not in cache:
                cache[v] = pseudonym(key, v, phone=phone)
            out.append(cache[v])
        table = table.set_column(i, pa.field(name, pa.string()), pa.array(out, type=pa.string()))
    return table
