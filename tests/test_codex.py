"""The Codex CLI reader on real-shaped rollout files (tests/fixtures/codex/) and a real git repository
(the pieces on their own, and property tests: test_codex_pieces.py)."""

import json
import subprocess
from pathlib import Path

import pytest

from golddiff.diffs import files_diff
from golddiff.traces import codex
from golddiff.traces.session import IngestReport, ReadOptions

FIXTURES = Path(__file__).parent / "fixtures" / "codex"
CWD = "/home/dana/src/invoicer"


def read(name_or_path, repo=None):
    path = name_or_path if isinstance(name_or_path, Path) else FIXTURES / name_or_path
    report = IngestReport(quiet=True)
    episodes = list(codex.read(path, report, ReadOptions(repo=repo)))
    return episodes, report


def only(name, repo=None):
    episodes, report = read(name, repo)
    assert len(episodes) == 1, report.problems
    return episodes[0], report


def statuses(ep):
    return [(e.path, e.status) for e in ep.edits]


# ------------------------------------------------------------------------------------- detection


def test_sniff_claims_both_layouts_and_nothing_else():
    for f in FIXTURES.glob("*.jsonl"):
        assert codex.sniff(f, f.read_text()[:16384]) == (f.name != "empty.jsonl"), f.name
    # a session_meta line longer than the head (base_instructions are ~20 KB): cut mid-line
    long_meta = json.dumps(
        {
            "timestamp": "t",
            "type": "session_meta",
            "payload": {"id": "x", "base_instructions": {"text": "y" * 40000}},
        }
    )
    assert codex.sniff(Path("r.jsonl"), long_meta[:16384])
    legacy_cut = (
        '{"id":"5973b6c0-94b8-487b-a530-2aeb6098ae0e","timestamp":"2025-08-18T01:16:13.522Z","instructions":"'
        + "z" * 20000
    )
    assert codex.sniff(Path("r.jsonl"), legacy_cut[:16384])
    claude = '{"parentUuid":null,"isSidechain":false,"type":"user","message":{"role":"user","content":"hi"},"uuid":"u1","timestamp":"2025-01-01T00:00:00Z"}\n'
    assert not codex.sniff(Path("c.jsonl"), claude)
    assert not codex.sniff(Path("x.jsonl"), '{"timestamp": "t", "type": "user", "payload": {}}\n')
    assert not codex.is_attached(FIXTURES / "undo.jsonl")


# ------------------------------------------------------------------------------------ the session


def test_session_meta_gives_the_base_commit_and_ids_are_stable():
    ep, _ = only("custom_tool_patch.jsonl")
    assert ep.source.tool == "codex" and ep.source.version == "0.46.0"
    assert ep.source.session_id == "0199e2a1-7c3b-7d20-9a41-3f5c8e2b1a01"
    assert (ep.repo.cwd, ep.repo.branch) == (CWD, "main")
    assert ep.repo.base_commit == "4f1c2a9e8b7d6c5a4f3e2d1c0b9a8f7e6d5c4b3a"
    assert ep.repo.repository_url == "git@github.com:dana/invoicer.git"
    again, _ = only("custom_tool_patch.jsonl")
    assert again.episode_id == ep.episode_id


def test_scaffolding_is_dropped_and_echoed_messages_counted_once():
    ep, report = only("custom_tool_patch.jsonl")
    assert ep.task.startswith("Invoice totals are off by a cent sometimes.")
    assert [t.user_kind for t in ep.turns] == ["task"]  # AGENTS.md, <environment_context>, developer: gone
    kinds = [s.kind for s in ep.turns[0].steps]
    assert kinds.count("thinking") == 1 and kinds.count("text") == 1  # event_msg copies are not repeated
    assert ep.turns[0].steps[0].text.startswith("**Planning rounding fix**")
    assert report.counts["codex/scaffolding"] == 3


def test_custom_tool_call_patch_adds_updates_and_deletes():
    ep, report = only("custom_tool_patch.jsonl")
    assert statuses(ep) == [
        ("src/invoicer/rounding.py", "applied"),
        ("src/invoicer/totals.py", "applied"),
        ("src/invoicer/legacy_round.py", "applied"),
    ]
    assert ep.labels.gold_edits == ["e0", "e1", "e2"] and not ep.labels.negative_edits
    base, final = ep.repo.base_files, ep.final.files
    assert base["src/invoicer/rounding.py"] is None and final["src/invoicer/rounding.py"].startswith(
        "from decimal"
    )
    # the deleted file's content comes from the patch_apply_end event
    assert (
        base["src/invoicer/legacy_round.py"]
        == "# unused since 2023\ndef legacy_round(x):\n    return round(x, 2)\n"
    )
    assert final["src/invoicer/legacy_round.py"] is None
    # totals.py is known only through the two hunks (second one anchored by `@@ def invoice_total(lines):`)
    assert base["src/invoicer/totals.py"] == (
        "from decimal import Decimal\n"
        "    subtotal = sum(line.price * line.qty for line in lines)\n"
        "    tax = subtotal * TAX_RATE\n"
        "    return subtotal + tax\n"
    )
    assert "+    return round_cents(subtotal + tax)\n" in ep.final.diff
    assert "+from invoicer.rounding import round_cents\n" in ep.final.diff
    assert ep.repo.base_state_confidence == "reconstructed"
    assert ep.repo.file_confidence == {  # the added and the deleted file are known from the log itself
        "src/invoicer/rounding.py": "logged",
        "src/invoicer/totals.py": "reconstructed",
        "src/invoicer/legacy_round.py": "logged",
    }
    assert any("src/invoicer/totals.py" in w for w in ep.provenance.warnings)
    assert ep.final.diff == files_diff(base, final)
    assert not report.problems


def test_argv_patch_with_a_move():
    ep, _ = only("argv_patch.jsonl")
    assert statuses(ep) == [("docs/usage.txt", "applied"), ("docs/USAGE.md", "applied")]
    assert ep.final.files == {
        "docs/usage.txt": None,
        "docs/USAGE.md": "# Usage\n\n    invoicer FILE [--currency EUR]\n",
    }
    assert ep.repo.base_files == {"docs/usage.txt": "Usage: invoicer FILE\n", "docs/USAGE.md": None}
    assert ep.turns[0].steps[0].call.name == "shell"


def test_heredoc_patches_in_exec_command_and_local_shell_call():
    ep, _ = only("heredoc_patch.jsonl")
    # `cd pkg && apply_patch <<'EOF'`: the patch's paths are under pkg/
    assert statuses(ep) == [("pkg/mod.py", "applied"), ("tests/test_mod.py", "applied")]
    assert ep.final.files["pkg/mod.py"] == '    return [part.strip() for part in raw.split(",")]\n'
    assert ep.final.files["tests/test_mod.py"].startswith("from pkg.mod import parse\n")
    call = ep.turns[0].steps[0].call
    assert call.name == "exec_command" and not call.is_error and call.output.startswith("Success.")


def test_failed_and_rejected_patches_become_negatives_with_the_users_words():
    ep, _ = only("failed_and_rejected.jsonl")
    assert statuses(ep) == [
        ("src/invoicer/cli.py", "failed"),
        ("src/invoicer/cli.py", "rejected"),
        ("src/invoicer/cli.py", "applied"),
    ]
    failed, rejected, applied = ep.edits
    assert failed.reason.startswith("apply_patch verification failed: Failed to find expected lines")
    assert "except Exception:" in rejected.diff and "Don't swallow every exception" in rejected.reason
    assert ep.labels.gold_edits == ["e2"] and ep.labels.negative_edits == ["e0", "e1"]
    first, second = ep.turns
    assert [(f.kind, f.call_id) for f in first.feedback] == [
        ("reject_with_reason", "call_F3"),
        ("interrupt", None),
    ]
    assert first.feedback[0].text.startswith("Don't swallow every exception.")
    assert second.user_kind == "feedback"
    # the base came from `sed -n '1,80p'` printing the whole (9-line) file
    assert ep.repo.base_state_confidence == "logged"
    assert ep.repo.base_files["src/invoicer/cli.py"].startswith("import sys\n\nfrom invoicer.core import")
    assert "+    except InvoiceError as err:\n" in ep.final.diff and "-    run(args)\n" in ep.final.diff


def test_undo_reverts_the_last_turn_to_its_ghost_snapshot():
    ep, report = only("undo.jsonl")
    assert statuses(ep) == [("config.toml", "applied"), ("config.toml", "reverted")]
    assert ep.edits[1].reason == "undone by the user (/undo)"
    assert ep.labels.negative_edits == ["e1"]
    assert [f.kind for f in ep.turns[1].feedback] == ["undo"]
    assert "+port = 8080\n" in ep.final.diff and "9090" not in ep.final.diff
    assert report.counts["codex/ghost_snapshots"] == 2


def test_thread_rollback_reverts_the_rolled_back_turns():
    ep, _ = only("rollback.jsonl")
    assert statuses(ep) == [("notes/todo.md", "applied"), ("notes/todo.md", "reverted")]
    assert ep.final.files == {"notes/todo.md": "- ship rounding fix\n"}
    assert [f.kind for f in ep.turns[-1].feedback] == ["undo"]


def test_compaction_is_noted_turn_aborted_interrupts_and_hunks_merge_into_one_base():
    ep, report = only("compacted_and_aborted.jsonl")
    texts = [s.text for t in ep.turns for s in t.steps if s.kind == "note"]
    assert any(t.startswith("[compact_summary] Summary:") for t in texts)
    assert any(t.startswith("[command] <user_shell_command>") for t in texts)
    assert [f.kind for f in ep.turns[-1].feedback] == ["interrupt"]
    assert [t.user for t in ep.turns if t.user] == [
        "Cache.get should return None for a missing key.",
        "Also count hits.",
    ]
    # the second patch's context ends where the first one's begins: one segment, in file order
    assert ep.repo.base_files["lib/cache.py"] == (
        "    def __init__(self):\n        self._data = {}\n\n    def get(self, key):\n        return self._data[key]\n"
    )
    assert ep.final.files["lib/cache.py"] == (
        "    def __init__(self):\n        self._data = {}\n        self.hits = 0\n\n"
        "    def get(self, key):\n        return self._data.get(key)\n"
    )
    assert report.counts["codex/compactions"] == 1


def test_legacy_layout_with_bare_items():
    ep, report = only("legacy.jsonl")
    assert ep.source.session_id == "5973b6c0-94b8-487b-a530-2aeb6098ae0e"
    assert ep.repo.cwd == "/Users/sam/proj/weather"  # only in <environment_context>
    assert (ep.repo.base_commit, ep.repo.branch) == ("0d2a6e4c1b9f8e7d6c5b4a39281706f5e4d3c2b1", "fix-units")
    assert ep.task == "c_to_f is off by one degree, fix it"
    assert statuses(ep) == [("weather/units.py", "applied")]
    assert "+    return c * 9 / 5 + 32\n" in ep.final.diff
    assert [s.kind for s in ep.turns[0].steps] == ["thinking", "tool_call", "text"]
    assert not report.problems and report.counts["records"] == 10


# ------------------------------------------------------------------------------------- bad input


def test_bad_lines_are_reported_and_skipped_and_unknown_kinds_counted():
    ep, report = only("bad_input.jsonl")
    assert report.counts["records"] == 18
    assert report.counts["skipped/bad_json"] == 1
    assert report.counts["skipped/bad_record"] == 1
    assert report.counts["skipped/truncated_line"] == 1
    assert report.counts["skipped/outside_cwd"] == 2  # ../../etc/passwd and /tmp/elsewhere.txt
    assert report.counts["unknown/world_state"] == 1
    assert report.counts["unknown/response_item/holographic_call"] == 1
    assert report.counts["unknown/event_msg/quantum_event"] == 1
    assert any(":9: not JSON" in p for p in report.problems)
    assert any(":18: the last line is cut off" in p for p in report.problems)
    assert statuses(ep) == [("ok.txt", "applied")]  # the patch's one good file still counts
    assert ep.final.files == {"ok.txt": "inside\n"}


def test_empty_file_is_reported():
    episodes, report = read("empty.jsonl")
    assert episodes == [] and report.counts["skipped/empty_file"] == 1


def write_rollout(path, *records, cwd="/w"):
    """A rollout: session_meta, a user request, then `records` ((type, payload) pairs)."""
    head = [("session_meta", {"id": "s-1", "cwd": cwd, "cli_version": "0.50.0"})]
    head.append(item(type="message", role="user", content=[{"type": "input_text", "text": "go"}]))
    lines = (json.dumps({"timestamp": "t", "type": kind, "payload": p}) for kind, p in [*head, *records])
    path.write_text("".join(line + "\n" for line in lines))
    return path


def item(**payload):
    return ("response_item", payload)


def event(**payload):
    return ("event_msg", payload)


def patch_call(call_id, text):
    return item(type="custom_tool_call", call_id=call_id, name="apply_patch", input=text)


def patch_output(call_id, output):
    return item(type="custom_tool_call_output", call_id=call_id, output=output)


def test_unparsable_and_unanswered_patches(tmp_path):
    path = write_rollout(
        tmp_path / "rollout.jsonl",
        patch_call("c1", "*** Begin Patch\n*** Add File: a.txt\n+a\n"),
        patch_output("c1", "Success. Updated the following files:\nA a.txt\n"),
        patch_call("c2", "*** Begin Patch\n*** Add File: b.txt\n+b\n*** End Patch"),
    )
    (ep,), report = read(path)
    assert report.counts["skipped/bad_patch"] == 1  # a truncated patch that the log says applied
    assert statuses(ep) == [("b.txt", "failed")]  # no output before the log ends: not applied
    assert "no result was logged" in ep.edits[0].reason
    assert not ep.turns[-1].feedback  # nothing says the user rejected it


def test_declined_patch_event_rejected_command_absolute_paths_and_fork_meta(tmp_path):
    add = "*** Begin Patch\n*** Add File: /w/src/a.txt\n+a\n*** End Patch"  # newer releases: absolute paths
    path = write_rollout(
        tmp_path / "rollout.jsonl",
        ("session_meta", {"id": "parent", "cwd": "/elsewhere"}),  # a fork repeats its parent's meta
        patch_call("c1", add),
        event(type="patch_apply_end", call_id="c1", stdout="", stderr="", success=False, status="declined"),
        patch_call("c2", add),
        patch_output(
            "c2", {"content": "Success. Updated the following files:\nA src/a.txt\n", "success": True}
        ),
        item(type="function_call", name="shell", call_id="c3", arguments='{"command":["rm","-rf","build"]}'),
        item(type="function_call_output", call_id="c3", output="exec command rejected by user"),
    )
    (ep,), report = read(path)
    assert ep.source.session_id == "s-1" and ep.repo.cwd == "/w"
    assert report.counts["codex/extra_session_meta"] == 1
    assert statuses(ep) == [("src/a.txt", "rejected"), ("src/a.txt", "applied")]
    assert ep.final.files == {"src/a.txt": "a\n"}
    assert [(f.kind, f.call_id) for f in ep.turns[0].feedback] == [("reject", "c1"), ("reject", "c3")]
    assert ep.turns[0].steps[-1].call.is_error
    assert any("outside apply_patch" in w for w in ep.provenance.warnings)  # `rm -rf build`


def test_patch_pending_when_the_turn_is_aborted_is_a_negative_and_the_next_message_explains_it(tmp_path):
    path = write_rollout(
        tmp_path / "rollout.jsonl",
        patch_call("c1", "*** Begin Patch\n*** Add File: a.py\n+import os\n*** End Patch"),
        event(type="turn_aborted", reason="interrupted"),
        patch_output("c1", "aborted"),  # Codex answers the dangling call when the next turn starts
        item(type="message", role="user", content=[{"type": "input_text", "text": "no imports, please"}]),
        item(
            type="function_call",
            name="exec_command",
            call_id="c2",
            arguments=json.dumps(
                {
                    "cmd": "apply_patch <<'EOF'\n*** Begin Patch\n*** Add File: a.py\n+x = 1\n*** End Patch\nEOF"
                }
            ),
        ),
        event(type="exec_command_end", call_id="c2", exit_code=0, aggregated_output=""),
        item(type="function_call_output", call_id="c2", output="Done."),
    )
    (ep,), _ = read(path)
    assert statuses(ep) == [("a.py", "rejected"), ("a.py", "applied")]
    assert ep.edits[0].reason.startswith("the turn was interrupted") and "no imports" in ep.edits[0].reason
    assert [(f.kind, f.text) for f in ep.turns[0].feedback] == [("interrupt", "no imports, please")]
    assert ep.turns[1].user_kind == "feedback" and ep.final.files == {"a.py": "x = 1\n"}


# ------------------------------------------------------------------------------------------- git


def git(cwd, *args):
    subprocess.run(["git", "-C", str(cwd), *args], check=True, capture_output=True)


@pytest.fixture
def greeter_repo(tmp_path):
    repo = tmp_path / "greeter"
    (repo / "app").mkdir(parents=True)
    greet = 'import sys\n\n\ndef greet(name):\n    return "Hello " + name\n\n\nif __name__ == "__main__":\n    print(greet(sys.argv[1]))\n'
    (repo / "app" / "greet.py").write_text(greet)
    (repo / "README.md").write_text("# greeter\n\nSays hello.\n")
    git(repo, "init", "-q")
    git(repo, "add", ".")
    git(repo, "-c", "user.email=t@e.st", "-c", "user.name=t", "commit", "-q", "-m", "base")
    commit = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    return repo, commit, greet


def rollout_from_template(tmp_path, commit, cwd):
    text = (FIXTURES / "git_template.jsonl").read_text().replace("__COMMIT__", commit).replace("__CWD__", cwd)
    path = tmp_path / "rollout-2025-10-14T09-12-00-0199e2a1.jsonl"
    path.write_text(text)
    return path


def test_git_repository_gives_exact_base_files_and_gold_diff(tmp_path, greeter_repo):
    repo, commit, greet = greeter_repo
    (repo / "README.md").write_text(
        "# changed after the session\n"
    )  # the base is the commit, not the worktree
    ep, report = only(rollout_from_template(tmp_path, commit, str(repo)), repo=str(repo))
    assert ep.repo.base_state_confidence == "git" and ep.repo.base_commit == commit
    assert ep.repo.file_confidence == {"app/greet.py": "git", "README.md": "git"}
    base = {"app/greet.py": greet, "README.md": "# greeter\n\nSays hello.\n"}
    final = {
        "app/greet.py": greet.replace('"Hello " + name', 'f"Hello, {name}!"'),
        "README.md": "# greeter\n\nRun `python -m app.greet NAME`.\n\nSays hello.\n",
    }
    assert ep.repo.base_files == base and ep.final.files == final
    assert ep.final.diff == files_diff(base, final)
    assert not ep.provenance.warnings and not report.problems


def test_git_repository_found_when_the_session_ran_in_another_checkout(tmp_path, greeter_repo):
    repo, commit, greet = greeter_repo
    ep, _ = only(rollout_from_template(tmp_path, commit, "/Users/someone/work/greeter"), repo=str(repo))
    assert ep.repo.base_state_confidence == "git"
    assert ep.repo.base_files["app/greet.py"] == greet


def test_missing_commit_falls_back_to_reconstruction(tmp_path, greeter_repo):
    repo, _, _ = greeter_repo
    ep, _ = only(rollout_from_template(tmp_path, "0" * 40, str(repo)), repo=str(repo))
    assert ep.repo.base_state_confidence == "reconstructed"
    assert ep.repo.base_files["app/greet.py"] == '    return "Hello " + name\n'
