"""go-patch pointers: `/key/0/name=value?/-` parsed into tokens and printed back.

Parsing and printing follow github.com/cppforlife/go-patch v0.2.0, error texts included.
"""

from __future__ import annotations

import re

from ansible_collections.nested.warden.plugins.module_utils.bosh_manifest.errors import BoshError
from ansible_collections.nested.warden.plugins.module_utils.bosh_manifest.go_values import (
    INT64_MAX,
    INT64_MIN,
)

_DECODE = {"~0": "~", "~1": "/", "~7": ":"}
_ENCODE = {"~": "~0", "/": "~1", ":": "~7"}
_MODIFIERS = ("prev", "next", "before", "after")
MODIFIER_TYPES = {
    "prev": "patch.PrevModifier",
    "next": "patch.NextModifier",
    "before": "patch.BeforeModifier",
    "after": "patch.AfterModifier",
}
_ATOI = re.compile(r"^[+-]?[0-9]+$")


def _decode(text):
    return re.sub(r"~[017]", lambda m: _DECODE[m.group(0)], text)


def _encode(text):
    return "".join(_ENCODE.get(char, char) for char in text)


def _without_optional_mark(text):
    return text[:-1] if text.endswith("?") else text


def _modifiers_text(modifiers):
    return "".join(":" + modifier for modifier in modifiers)


class Token:
    kind = "Token"


class RootToken(Token):
    kind = "patch.RootToken"


class IndexToken(Token):
    kind = "patch.IndexToken"

    def __init__(self, index, modifiers=()):
        self.index = index
        self.modifiers = tuple(modifiers)


class AfterLastIndexToken(Token):
    kind = "patch.AfterLastIndexToken"


class MatchingIndexToken(Token):
    kind = "patch.MatchingIndexToken"

    def __init__(self, key, value, optional=False, modifiers=()):
        self.key = key
        self.value = value
        self.optional = optional
        self.modifiers = tuple(modifiers)


class KeyToken(Token):
    kind = "patch.KeyToken"

    def __init__(self, key, optional=False):
        self.key = key
        self.optional = optional


class Pointer:
    def __init__(self, tokens):
        self.tokens = list(tokens)

    @classmethod
    def parse(cls, text):
        tokens = [RootToken()]
        if text == "":
            return cls(tokens)
        if not text.startswith("/"):
            raise BoshError("Expected to start with '/'")
        pieces = text.split("/")[1:]
        optional = False
        for i, raw in enumerate(pieces):
            is_last = i == len(pieces) - 1
            modifiers = []
            tok_pieces = raw.split(":")
            tok = raw
            if len(tok_pieces) > 1:
                tok = tok_pieces[0]
                for piece in tok_pieces[1:]:
                    if piece not in _MODIFIERS:
                        raise BoshError(
                            "Expected to find one of the following modifiers: 'prev', 'next', 'before', "
                            f"or 'after' but found '{tok_pieces[1]}'"
                        )
                    modifiers.append(piece)
            tok = _decode(tok)
            if is_last and tok == "-":
                if modifiers:
                    raise BoshError("Expected not to find any modifiers with after last index token")
                tokens.append(AfterLastIndexToken())
                continue
            if _ATOI.match(tok) and INT64_MIN <= int(tok) <= INT64_MAX:
                tokens.append(IndexToken(int(tok), modifiers))
                continue
            if tok.endswith("?"):
                optional = True
            key, sep, value = tok.partition("=")
            if sep:
                tokens.append(MatchingIndexToken(key, _without_optional_mark(value), optional, modifiers))
                continue
            if modifiers:
                raise BoshError("Expected not to find any modifiers with key token")
            tokens.append(KeyToken(_without_optional_mark(tok), optional))
        return cls(tokens)

    def prefix(self, count):
        return Pointer(self.tokens[:count])

    def __str__(self):
        parts = []
        optional = False
        for token in self.tokens:
            if isinstance(token, RootToken):
                parts.append("")
            elif isinstance(token, IndexToken):
                parts.append(f"{token.index}{_modifiers_text(token.modifiers)}")
            elif isinstance(token, AfterLastIndexToken):
                parts.append("-")
            elif isinstance(token, MatchingIndexToken):
                value = _encode(token.value)
                if token.optional and not optional:
                    value += "?"
                    optional = True
                parts.append(f"{_encode(token.key)}={value}{_modifiers_text(token.modifiers)}")
            else:
                key = _encode(token.key)
                if token.optional and not optional:
                    key += "?"
                    optional = True
                parts.append(key)
        return "/".join(parts)
