"""Provenance: bench version and the git commit of the checkout."""

from __future__ import annotations

import re

from bench.machine.provenance import git_commit, provenance


def test_git_commit_is_a_full_sha_in_this_checkout() -> None:
    info = git_commit()
    assert info["commit"] is None or re.fullmatch(r"[0-9a-f]{40}", info["commit"])
    assert info["dirty"] in (True, False, None)


def test_provenance_has_version_git_and_machine() -> None:
    facts = provenance()
    assert set(facts) == {"bench_version", "git", "machine"}
    assert facts["bench_version"]
