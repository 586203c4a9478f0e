"""Per-class codecs of ``netproto.schema``: the field-by-field converters
run by ``_Codec.slow_encode`` / ``slow_decode`` and the generated fast path.

Why a separate module: the schema module owns the public API, the registry
and the compiling of per-type converters; this one owns what a compiled
class codec *is* and the straight-line code generated for it.

Invariant: the generated ``encode`` / ``decode`` are pure speed-ups. Whenever
they meet anything unusual (a wrong type, a missing or extra field, a value
the class rejects) they defer to ``slow_encode`` / ``slow_decode``, so
errors, their paths and results are exactly those of the general code.
"""

from __future__ import annotations

import enum
from typing import Any, Callable

__all__ = ["Conv", "_Bad", "_Codec", "_generate", "_tname"]


class _Bad(Exception):
    """Internal: a validation failure; ``path`` is built up while unwinding."""

    def __init__(self, what: str, path: str = "") -> None:
        super().__init__(what)
        self.what = what
        self.path = path


Conv = Callable[[Any], Any]


class _Codec:
    """Compiled converters of one Message class."""

    __slots__ = ("cls", "fields", "required", "names", "encode", "decode")

    def __init__(self, cls: type, fields: list[tuple[str, Conv, Conv]], required: frozenset[str],
                 kinds: list[Any] | None = None):
        self.cls = cls
        self.fields = fields  # (name, encode, decode)
        self.required = required
        self.names = frozenset(name for name, _, _ in fields)
        self.encode = self.slow_encode
        self.decode = self.slow_decode
        if kinds is not None:
            _generate(self, kinds)

    def slow_encode(self, msg: Any) -> dict:
        out = {}
        for name, enc, _ in self.fields:
            try:
                out[name] = enc(getattr(msg, name))
            except _Bad as bad:
                raise _Bad(bad.what, "." + name + bad.path) from None
        return out

    def slow_decode(self, body: Any) -> Any:
        if type(body) is not dict:
            raise _Bad(f"expected a map, got {_tname(body)}")
        kwargs = {}
        for name, _, dec in self.fields:
            if name in body:
                try:
                    kwargs[name] = dec(body[name])
                except _Bad as bad:
                    raise _Bad(bad.what, "." + name + bad.path) from None
            elif name in self.required:
                raise _Bad("missing field", "." + name)
        if len(kwargs) != len(body):
            extra = sorted(str(k) for k in body if k not in self.names)
            raise _Bad(f"unknown field(s) {extra}")
        try:
            return self.cls(**kwargs)
        except (TypeError, ValueError) as exc:
            raise _Bad(f"rejected by {self.cls.__name__}: {exc}") from None


def _generate(codec: _Codec, kinds: list[Any]) -> None:
    """Straight-line encode/decode for `codec` (see the module docstring).
    `kinds[i]` is the exact type a field's value usually has on both sides
    (int, str, bool, bytes), an IntEnum class, or None (always convert)."""
    env: dict[str, Any] = {"_Bad": _Bad, "_cls": codec.cls, "_slow_encode": codec.slow_encode,
                           "_slow_decode": codec.slow_decode}
    enc_items, dec_lines, args = [], [], []
    for i, ((name, enc, dec), kind) in enumerate(zip(codec.fields, kinds)):
        env[f"_e{i}"], env[f"_d{i}"] = enc, dec
        get = f"msg.{name}"
        if kind in (int, str, bool, bytes):
            env[f"_t{i}"] = kind
            enc_items.append(f"{name!r}: (v if type(v := {get}) is _t{i} else _e{i}(v))")
            dec_lines.append(f"    v{i} = body[{name!r}]\n    if type(v{i}) is not _t{i}: v{i} = _d{i}(v{i})")
        elif isinstance(kind, type) and issubclass(kind, enum.IntEnum):
            env[f"_t{i}"] = kind
            env[f"_m{i}"] = {int(member): member for member in kind}
            enc_items.append(f"{name!r}: (int(v) if type(v := {get}) is _t{i} else _e{i}(v))")
            dec_lines.append(f"    v{i} = body[{name!r}]\n"
                             f"    m{i} = _m{i}.get(v{i}) if type(v{i}) is int else None\n"
                             f"    v{i} = _d{i}(v{i}) if m{i} is None else m{i}")
        else:
            enc_items.append(f"{name!r}: _e{i}({get})")
            dec_lines.append(f"    v{i} = _d{i}(body[{name!r}])")
        args.append(f"{name}=v{i}")
    n = len(codec.fields)
    src = (
        "def encode(msg):\n"
        "    try:\n"
        f"        return {{{', '.join(enc_items)}}}\n"
        "    except _Bad:\n"
        "        return _slow_encode(msg)\n"
        "def decode(body):\n"
        f"    if type(body) is not dict or len(body) != {n}:\n"
        "        return _slow_decode(body)\n"
        "    try:\n"
        + "\n".join("    " + line for line in "\n".join(dec_lines).split("\n")) + "\n"
        f"        return _cls({', '.join(args)})\n"
        "    except (_Bad, KeyError, TypeError, ValueError):\n"
        "        return _slow_decode(body)\n"
    )
    exec(compile(src, f"<schema codec {codec.cls.__name__}>", "exec"), env)  # noqa: S102 - generated above
    codec.encode = env["encode"]
    codec.decode = env["decode"]


def _tname(value: Any) -> str:
    return type(value).__name__
