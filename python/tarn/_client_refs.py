"""Branches, tags and commits: the part of ``tarn.Client`` that reads and moves refs.

``Client`` inherits these methods; they use only its transport.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from ._client_http import DEFAULT_BRANCH, Transport, make_error, path_segment
from ._client_types import Branch, Change, Commit, MergeResult, Ref, Tag, ref_from_json
from ._exceptions import AlreadyExistsError, NotFoundError, RefNotFoundError


class RefMethods:
    """Branches, tags, commits and merges (``tarn.Client`` inherits them)."""

    _http: Transport

    # --- branches -------------------------------------------------------------

    def list_branches(self) -> List[Branch]:
        """Branches by name, as :class:`tarn.Branch` (``name``, ``commit``)."""
        return [Branch.from_json(r) for r in self._http.call("GET", "/v1/refs", {"kind": "branch"})]

    def get_branches(self) -> List[Branch]:
        """The same as :meth:`list_branches`."""
        return self.list_branches()

    def get_branch(self, name: str) -> Branch:
        """Branch ``name``; :class:`tarn.BranchNotFoundError` if there is none (also when ``name`` is a tag)."""
        return self._ref_of_kind(name, "branch")  # type: ignore[return-value]

    def has_branch(self, name: str) -> bool:
        """Whether branch ``name`` exists (a tag of that name is not a branch). An invalid name raises InvalidError."""
        return self._has(name, "branch")

    def create_branch(self, name: str, from_ref: Optional[str] = None, if_not_exists: bool = False) -> Branch:
        """Create branch ``name`` at ``from_ref`` (any ref, default ``main``; O(1), no data is copied).

        :class:`tarn.BranchExistsError` if it exists; with ``if_not_exists`` the existing branch
        is returned instead, wherever it points. A tag of that name raises
        :class:`tarn.TagExistsError` either way.
        """
        return self._create("branch", name, from_ref, if_not_exists)  # type: ignore[return-value]

    def delete_branch(self, name: str, if_exists: bool = False) -> None:
        """Delete a branch (its commits stay reachable from other refs; ``main`` cannot be deleted).

        :class:`tarn.BranchNotFoundError` if there is none, unless ``if_exists``.
        """
        self._delete("branch", name, if_exists)

    def rename_branch(self, old: str, new: str) -> Branch:
        """Rename branch ``old`` to ``new`` in one step (not ``main``); :class:`tarn.BranchNotFoundError`,
        or :class:`tarn.BranchExistsError` / :class:`tarn.TagExistsError` when ``new`` is taken."""
        return self._rename("branch", old, new)  # type: ignore[return-value]

    # --- tags -----------------------------------------------------------------

    def list_tags(self) -> List[Tag]:
        """Tags by name, as :class:`tarn.Tag` (``name``, ``commit``)."""
        return [Tag.from_json(r) for r in self._http.call("GET", "/v1/refs", {"kind": "tag"})]

    def get_tag(self, name: str) -> Tag:
        """Tag ``name``; :class:`tarn.TagNotFoundError` if there is none (also when ``name`` is a branch)."""
        return self._ref_of_kind(name, "tag")  # type: ignore[return-value]

    def has_tag(self, name: str) -> bool:
        """Whether tag ``name`` exists. An invalid name raises InvalidError."""
        return self._has(name, "tag")

    def create_tag(self, name: str, from_ref: Optional[str] = None, if_not_exists: bool = False) -> Tag:
        """Tag the commit at ``from_ref`` (default ``main``) as ``name`` (admins only on a server with tokens).

        :class:`tarn.TagExistsError` if it exists; with ``if_not_exists`` the existing tag is
        returned instead, whatever commit it names.
        """
        return self._create("tag", name, from_ref, if_not_exists)  # type: ignore[return-value]

    def delete_tag(self, name: str, if_exists: bool = False) -> None:
        """Delete a tag (admins only on a server with tokens); :class:`tarn.TagNotFoundError` unless ``if_exists``."""
        self._delete("tag", name, if_exists)

    def rename_tag(self, old: str, new: str) -> Tag:
        """Rename tag ``old`` to ``new`` in one step; it keeps its commit (admins only on a server with tokens)."""
        return self._rename("tag", old, new)  # type: ignore[return-value]

    # --- any ref ----------------------------------------------------------------

    def get_ref(self, name: str) -> Ref:
        """One branch or tag (a :class:`tarn.Branch` or :class:`tarn.Tag`); :class:`tarn.RefNotFoundError` if there is none."""
        return ref_from_json(self._http.call("GET", "/v1/refs/" + path_segment(name)))

    def _ref_of_kind(self, name: str, kind: str) -> Ref:
        try:
            ref = self.get_ref(name)
        except RefNotFoundError as e:
            raise make_error("not_found", str(e), getattr(e, "status", None), resource=kind) from None
        if ref.kind != kind:
            raise make_error("not_found", f"{name!r} is a {ref.kind}, not a {kind}", 404, resource=kind)
        return ref

    def _has(self, name: str, kind: str) -> bool:
        try:
            self._ref_of_kind(name, kind)
        except NotFoundError:
            return False
        return True

    def _create(self, kind: str, name: str, from_ref: Optional[str], if_not_exists: bool) -> Ref:
        body = {"kind": kind, "name": name, "from": from_ref or DEFAULT_BRANCH}
        try:
            return ref_from_json(self._http.call("POST", "/v1/refs", body=body))
        except AlreadyExistsError as e:
            if not if_not_exists or getattr(e, "resource", None) != kind:
                raise
        return self._ref_of_kind(name, kind)

    def _delete(self, kind: str, name: str, if_exists: bool) -> None:
        try:
            self._http.call("DELETE", "/v1/refs/" + path_segment(name), {"kind": kind})
        except NotFoundError as e:
            if not if_exists or getattr(e, "resource", None) != kind:
                raise

    def _rename(self, kind: str, old: str, new: str) -> Ref:
        path = "/v1/refs/" + path_segment(old) + "/rename"
        return ref_from_json(self._http.call("POST", path, {"kind": kind}, body={"new_name": new}))

    # --- commits and merges -----------------------------------------------------

    def merge_branch(
        self, source: str, into: str = DEFAULT_BRANCH, message: Optional[str] = None, no_ff: bool = False
    ) -> MergeResult:
        """Merge ref ``source`` into branch ``into`` (three-way at table granularity).

        Returns a :class:`tarn.MergeResult` (``commit``, ``fast_forward``, ``up_to_date``,
        ``base``, ``changes``). A table changed on both sides raises
        :class:`tarn.MergeConflictError` naming it, and nothing is written. ``no_ff`` makes a
        merge commit even when a fast-forward is possible.
        """
        body: Dict[str, Any] = {"source": source, "into": into, "info": {"author": "", "message": message or ""}}
        if no_ff:
            body["no_ff"] = True
        return MergeResult.from_json(self._http.call("POST", "/v1/merge", body=body))

    def resolve(self, ref: Optional[str] = None) -> Commit:
        """The :class:`tarn.Commit` a ref expression names (default ``main``)."""
        return Commit.from_json(self._http.call("GET", "/v1/resolve", {"ref": ref or DEFAULT_BRANCH}))

    def get_commit(self, hash: str) -> Commit:
        """A commit by its full hash; :class:`tarn.CommitNotFoundError` if there is none."""
        return Commit.from_json(self._http.call("GET", "/v1/commits/" + path_segment(hash)))

    def get_commits(self, ref: Optional[str] = None, limit: Optional[int] = None) -> List[Commit]:
        """History of ``ref`` (default ``main``), newest first, as :class:`tarn.Commit` s.

        ``limit`` caps the count (the server's default is 20; 0 means all).
        """
        query = {"ref": ref or DEFAULT_BRANCH, "limit": None if limit is None else int(limit)}
        return [Commit.from_json(c) for c in self._http.call("GET", "/v1/log", query)]

    def diff(self, from_ref: str, to_ref: str) -> List[Change]:
        """Table changes from one ref to another, as :class:`tarn.Change` s (``key``, ``change``, ``old``, ``new``)."""
        return [Change.from_json(c) for c in self._http.call("GET", "/v1/diff", {"from": from_ref, "to": to_ref})]
