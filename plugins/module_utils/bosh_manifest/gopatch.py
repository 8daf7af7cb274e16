"""go-patch operations: replace, remove, find and test a value at a pointer.

Each `apply` mirrors its counterpart in github.com/cppforlife/go-patch v0.2.0 step by step,
so that documents change, and errors read, as they do with the bosh CLI.
"""

from __future__ import annotations

import copy
import functools

from ansible_collections.nested.warden.plugins.module_utils.bosh_manifest.errors import BoshError
from ansible_collections.nested.warden.plugins.module_utils.bosh_manifest.go_values import go_type
from ansible_collections.nested.warden.plugins.module_utils.bosh_manifest.pointer import (
    MODIFIER_TYPES,
    AfterLastIndexToken,
    IndexToken,
    KeyToken,
    MatchingIndexToken,
    Pointer,
)

_EXPECTED = {list: "an array", dict: "a map"}
_MISSING = object()


def _expect(kind, obj, path):
    if not isinstance(obj, kind):
        raise BoshError(f"Expected to find {_EXPECTED[kind]} at path '{path}' but found '{go_type(obj)}'")


def _missing_key_error(key, path, obj):
    keys = sorted(k for k in obj if isinstance(k, str))
    siblings = "found map keys: '" + "', '".join(keys) + "'" if obj else "found no other map keys"
    return BoshError(f"Expected to find a map key '{key}' for path '{path}' ({siblings})")


def _unexpected_token(token, path):
    return BoshError(f"Expected to not find token '{token.kind}' at path '{path}'")


def _array_index(index, modifiers, array, path):
    result = index
    for modifier in modifiers:
        if modifier == "prev":
            result -= 1
        elif modifier == "next":
            result += 1
        else:
            raise BoshError(
                "Expected to find one of the following modifiers: 'prev', 'next', but found modifier "
                f"'{MODIFIER_TYPES[modifier]}'"
            )
    if result >= len(array) or (-result) - 1 >= len(array):
        raise BoshError(
            f"Expected to find array index '{result}' but found array of length '{len(array)}' "
            f"for path '{path}'"
        )
    return result + len(array) if result < 0 else result


def _array_insertion(index, modifiers, array, path):
    """(position, insert?) for the last token of a replace."""
    plain = []
    before = after = False
    for modifier in modifiers:
        if before or after:
            which = "before" if before else "after"
            raise BoshError(
                f"Expected to not find any modifiers after '{which}' modifier, but found modifier "
                f"'{MODIFIER_TYPES[modifier]}'"
            )
        if modifier == "before":
            before = True
        elif modifier == "after":
            after = True
        else:
            plain.append(modifier)
    number = _array_index(index, plain, array, path)
    if after and number != len(array):
        number += 1
    return number, before or after


def _insert(array, position, value):
    number, insert = position
    if insert:
        return [*array[:number], value, *array[number:]]
    array[number] = value
    return array


def _matching(token, array):
    return [
        i
        for i, item in enumerate(array)
        if isinstance(item, dict) and _go_equal(item.get(token.key, _MISSING), token.value)
    ]


def _go_equal(found, wanted):
    return isinstance(found, str) and found == wanted


def _only_match(path, idxs):
    if len(idxs) != 1:
        raise BoshError(
            f"Expected to find exactly one matching array item for path '{path}' but found {len(idxs)}"
        )
    return idxs[0]


def _matched_index(token, idxs, array, path):
    """The index a matching index token selects: its one match, moved by its modifiers."""
    return _array_index(_only_match(path, idxs), token.modifiers, array, path)


def _key_lookup(obj, token, path):
    """(value, found) under a key token; a missing key is an error unless the token is optional."""
    _expect(dict, obj, path)
    found = token.key in obj
    if not found and not token.optional:
        raise _missing_key_error(token.key, path, obj)
    return obj.get(token.key), found


def _deep_equal(a, b):
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_deep_equal(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(map(_deep_equal, a, b))
    return a == b


class _PathOp:
    """An operation that walks its pointer token by token."""

    def __init__(self, path):
        self.path = path

    def _steps(self):
        """(position, token, is the last, pointer up to the token) for each token after the root."""
        tokens = self.path.tokens
        for i, token in enumerate(tokens[1:]):
            yield i, token, i == len(tokens) - 2, self.path.prefix(i + 2)

    def _container_for_next(self, i, after_last_allowed):
        """What a missing optional key becomes so that the token after it can walk on."""
        following = self.path.tokens[i + 2]
        if isinstance(following, MatchingIndexToken) or (
            after_last_allowed and isinstance(following, AfterLastIndexToken)
        ):
            return []
        if isinstance(following, KeyToken):
            return {}
        expected = (
            "key, matching index or after last index token"
            if after_last_allowed
            else "key or matching index token"
        )
        raise BoshError(f"Expected to find {expected} at path '{self.path.prefix(i + 3)}'")


class ReplaceOp(_PathOp):
    def __init__(self, path, value):
        super().__init__(path)
        self.value = value

    def apply(self, doc):  # noqa: PLR0912 -- mirrors go-patch ReplaceOp.Apply
        value = copy.deepcopy(self.value)
        if len(self.path.tokens) == 1:
            return value
        holder = {"doc": doc}
        obj = doc
        prev_update = functools.partial(holder.__setitem__, "doc")
        for i, token, is_last, curr in self._steps():
            if isinstance(token, IndexToken):
                _expect(list, obj, curr)
                if is_last:
                    position = _array_insertion(token.index, token.modifiers, obj, curr)
                    prev_update(_insert(obj, position, value))
                else:
                    idx = _array_index(token.index, token.modifiers, obj, curr)
                    array = obj
                    obj = array[idx]
                    prev_update = functools.partial(array.__setitem__, idx)
            elif isinstance(token, AfterLastIndexToken):
                _expect(list, obj, curr)
                if not is_last:
                    raise BoshError(f"Expected after last index token to be last in path '{self.path}'")
                prev_update([*obj, value])
            elif isinstance(token, MatchingIndexToken):
                _expect(list, obj, curr)
                idxs = _matching(token, obj)
                if token.optional and not idxs:
                    if is_last:
                        prev_update([*obj, value])
                    else:
                        item = {token.key: token.value}
                        prev_update([*obj, item])
                        obj = item
                elif is_last:
                    position = _array_insertion(_only_match(curr, idxs), token.modifiers, obj, curr)
                    prev_update(_insert(obj, position, value))
                else:
                    obj = obj[_matched_index(token, idxs, obj, curr)]
            elif isinstance(token, KeyToken):
                mapping = obj
                obj, found = _key_lookup(mapping, token, curr)
                if is_last:
                    mapping[token.key] = value
                else:
                    prev_update = functools.partial(mapping.__setitem__, token.key)
                    if not found:
                        obj = self._container_for_next(i, after_last_allowed=True)
                        mapping[token.key] = obj
            else:
                raise _unexpected_token(token, curr)
        return holder["doc"]


class RemoveOp(_PathOp):
    def apply(self, doc):  # noqa: PLR0912 -- mirrors go-patch RemoveOp.Apply
        if len(self.path.tokens) == 1:
            raise BoshError("Cannot remove entire document")
        holder = {"doc": doc}
        obj = doc
        prev_update = functools.partial(holder.__setitem__, "doc")
        for _step, token, is_last, curr in self._steps():
            if isinstance(token, IndexToken):
                _expect(list, obj, curr)
                idx = _array_index(token.index, token.modifiers, obj, curr)
                if is_last:
                    prev_update([*obj[:idx], *obj[idx + 1 :]])
                else:
                    array = obj
                    obj = array[idx]
                    prev_update = functools.partial(array.__setitem__, idx)
            elif isinstance(token, MatchingIndexToken):
                _expect(list, obj, curr)
                idxs = _matching(token, obj)
                if token.optional and not idxs:
                    return holder["doc"]
                idx = _matched_index(token, idxs, obj, curr)
                if is_last:
                    prev_update([*obj[:idx], *obj[idx + 1 :]])
                else:
                    obj = obj[idx]
            elif isinstance(token, KeyToken):
                _expect(dict, obj, curr)
                mapping = obj
                if token.key not in mapping:
                    if token.optional:
                        return holder["doc"]
                    raise _missing_key_error(token.key, curr, mapping)
                obj = mapping[token.key]
                if is_last:
                    del mapping[token.key]
                else:
                    prev_update = functools.partial(mapping.__setitem__, token.key)
            else:
                raise _unexpected_token(token, curr)
        return holder["doc"]


class FindOp(_PathOp):
    def apply(self, doc):  # mirrors go-patch FindOp.Apply
        if len(self.path.tokens) == 1:
            return doc
        obj = doc
        for i, token, is_last, curr in self._steps():
            if isinstance(token, IndexToken):
                _expect(list, obj, curr)
                obj = obj[_array_index(token.index, token.modifiers, obj, curr)]
            elif isinstance(token, AfterLastIndexToken):
                raise BoshError(
                    f"Expected not to find after last index token in path '{self.path}' "
                    "(not supported in find operations)"
                )
            elif isinstance(token, MatchingIndexToken):
                _expect(list, obj, curr)
                idxs = _matching(token, obj)
                if token.optional and not idxs:
                    obj = {token.key: token.value}
                else:
                    obj = obj[_matched_index(token, idxs, obj, curr)]
            elif isinstance(token, KeyToken):
                obj, found = _key_lookup(obj, token, curr)
                if not found and not is_last:
                    obj = self._container_for_next(i, after_last_allowed=False)
            else:
                raise _unexpected_token(token, curr)
            if is_last:
                return obj
        return doc


class TestOp(_PathOp):
    def __init__(self, path, value=None, absent=False):
        super().__init__(path)
        self.value = value
        self.absent = absent

    def apply(self, doc):
        if self.absent:
            try:
                FindOp(self.path).apply(doc)
            except BoshError as err:
                text = str(err)
                for prefix in ("Expected to find array index", "Expected to find a map key"):
                    if text.startswith(prefix) and f"for path '{self.path}'" in text:
                        return doc
                raise
            raise BoshError(f"Expected to not find '{self.path}'")
        found = FindOp(self.path).apply(doc)
        if not _deep_equal(found, self.value):
            raise BoshError("Found value does not match expected value")
        return doc


def apply_ops(doc, ops):
    for op in ops:
        doc = op.apply(doc)
    return doc


def find(doc, path_text):
    """The value at a go-patch path (what `bosh interpolate --path` prints)."""
    return FindOp(Pointer.parse(path_text)).apply(doc)
