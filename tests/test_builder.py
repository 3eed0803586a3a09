"""The episode builder: base files, gold diff, edit fates, episode cutting, path safety, and the calls
readers make for what their logs say besides the edits."""

import json

import pytest

from golddiff.diffs import apply_unified_diff
from golddiff.episodes import read_episodes
from golddiff.traces.session import IngestReport, SessionBuilder


def _builder(**kw) -> SessionBuilder:
    return SessionBuilder("test", "/logs/s.jsonl", "sess-1", IngestReport(quiet=True), cwd="/repo", **kw)


def test_gold_is_net_change_and_edits_get_their_fate():
    b = _builder()
    b.user("make the counter start at one", "task")
    b.apply_edit("a.py", "n = 0\nm = 0\n", "n = 1\nm = 0\n", "Edit")  # kept
    b.apply_edit("a.py", "n = 1\nm = 0\n", "n = 1\nm = 5\n", "Edit")  # rewritten by the next edit
    b.apply_edit("a.py", "n = 1\nm = 5\n", "n = 1\nm = 0\n", "Edit")  # undoes it: m back to 0
    b.propose_edit("a.py", "n = 1\nm = 0\n", "n = 2\nm = 0\n", "Edit", "rejected", reason="no, one")
    b.apply_edit("b.py", None, "x\n", "Write")
    b.apply_edit("b.py", "x\n", None, "Delete")
    [ep] = b.finish()
    assert ep.repo.base_files == {"a.py": "n = 0\nm = 0\n", "b.py": None}
    assert ep.final.files == {"a.py": "n = 1\nm = 0\n", "b.py": None}
    assert apply_unified_diff(ep.repo.base_files, ep.final.diff) == ep.final.files
    status = [e.status for e in ep.edits]
    assert status == ["applied", "superseded", "not_in_gold", "rejected", "reverted", "reverted"]
    assert ep.labels.gold_edits == ["e0"]
    assert set(ep.labels.negative_edits) == {"e1", "e2", "e3", "e4", "e5"}
    assert ep.task == "make the counter start at one"
    assert ep.edit("e3").reason == "no, one"


def test_new_episode_starts_from_the_accepted_state_and_ids_are_stable():
    def run():
        b = _builder()
        b.user("first", "task")
        b.apply_edit("a.py", "1\n", "2\n", "Edit")
        b.new_episode()
        b.user("second", "task")
        b.apply_edit("a.py", "2\n", "3\n", "Edit")
        return b.finish()

    first, second = run()
    assert first.repo.base_files["a.py"] == "1\n" and first.final.files["a.py"] == "2\n"
    assert second.repo.base_files["a.py"] == "2\n" and second.final.files["a.py"] == "3\n"
    assert (first.source.segment, second.source.segment) == (0, 1)
    assert second.task == "second"
    assert [e.episode_id for e in run()] == [first.episode_id, second.episode_id]
    assert first.episode_id != second.episode_id


def test_session_without_edits_gives_no_episode():
    b = _builder()
    b.user("just a question", "task")
    b.assistant_text("an answer")
    assert b.finish() == []


def test_paths_outside_cwd_are_refused_and_counted():
    b = _builder()
    assert b.rel("/repo/src/x.py") == "src/x.py"
    assert b.rel("src/../y.py") == "y.py"
    assert b.rel("/etc/passwd", 7) is None
    assert b.rel("../../etc/passwd", 8) is None
    assert b.report.counts["skipped_records"] == 2
    assert any(":7:" in p and "outside" in p for p in b.report.problems)


def test_human_change_between_edits_is_noted():
    b = _builder()
    b.user("t", "task")
    b.apply_edit("a.py", "1\n", "2\n", "Edit")
    b.apply_edit("a.py", "2 changed by hand\n", "3\n", "Edit")
    [ep] = b.finish()
    assert ep.repo.base_files["a.py"] == "1\n"
    assert any("changed outside" in w for w in ep.provenance.warnings)


# ------------------------------------------------------------------------- the readers' API


def test_header_fields_that_arrive_late_reach_the_episode():
    b = SessionBuilder("test", "/logs/r.jsonl", None, IngestReport(quiet=True))
    b.user("t", "task")
    b.apply_edit("a.py", "1\n", "2\n", "apply_patch")
    b.set_header(session_id="s-9", version="0.61", cwd="/repo", branch="main", base_commit="abc")
    b.set_header(repository_url="git@x:y.git")  # the others are left as they are
    [ep] = b.finish()
    assert (ep.source.session_id, ep.source.version) == ("s-9", "0.61")
    assert (ep.repo.cwd, ep.repo.branch, ep.repo.base_commit) == ("/repo", "main", "abc")
    assert ep.repo.repository_url == "git@x:y.git"


def test_base_learnt_besides_the_edits_and_a_revealed_before_is_not_a_human_change():
    b = _builder()
    b.user("t", "task")
    b.learn_base("a.py", "head\n1\n")
    b.learn_base("a.py", "ignored\n")  # the first base stays
    b.apply_edit("a.py", "1\n", "2\n", "apply_patch")  # the reader knew only part of the file
    b.revise("a.py", base="head\n1\n", current="head\n2\n")
    b.apply_edit("a.py", "head\n2\n", "head\n3\n", "apply_patch")
    b.apply_edit("a.py", "top\nhead\n3\n", "top\nhead\n4\n", "apply_patch", revealed=True)
    [ep] = b.finish()
    assert ep.repo.base_files == {"a.py": "head\n1\n"}
    assert ep.final.files == {"a.py": "top\nhead\n4\n"}
    assert not any("changed outside" in w for w in ep.provenance.warnings)
    assert b.files["a.py"] == "top\nhead\n4\n"


def test_views_are_read_only():
    b = _builder()
    b.apply_edit("a.py", "1\n", "2\n", "Edit")
    with pytest.raises(TypeError):
        b.files["a.py"] = "x"  # type: ignore[index]
    with pytest.raises(TypeError):
        b.base_files["a.py"] = "x"  # type: ignore[index]
    assert [e.edit_id for e in b.edits] == ["e0"] and b.edit("e0").path == "a.py" and b.next_edit_id == "e1"
    with pytest.raises(KeyError):
        b.edit("e7")


def test_revert_undoes_edits_and_their_files_go_back():
    b = _builder()
    b.user("t", "task")
    b.apply_edit("a.py", "1\n", "2\n", "apply_patch")
    e1 = b.apply_edit("a.py", "2\n", "3\n", "apply_patch")
    b.revert([e1.edit_id], "undone by the user (/undo)", {"a.py": "2\n"})
    [ep] = b.finish()
    assert ep.final.files == {"a.py": "2\n"}
    assert [(e.status, e.reason) for e in ep.edits] == [
        ("applied", None),
        ("reverted", "undone by the user (/undo)"),
    ]
    assert ep.labels.negative_edits == ["e1"]


def test_feedback_gets_the_users_words_later_and_a_dropped_request_is_replaced():
    b = _builder()
    b.user("first try", "task")
    e = b.propose_edit("a.py", "1\n", "2\n", "apply_patch", "rejected", "rejected by the user")
    fb = b.feedback("reject", call_id="c1")
    assert b.turns[-1].feedback[-1] is fb
    b.user("no: keep it at one", "feedback")
    b.explain("no: keep it at one", fb, [e.edit_id])
    b.drop_request()
    b.user("make it three", "followup")
    b.apply_edit("a.py", "1\n", "3\n", "Edit")
    [ep] = b.finish()
    assert (fb.kind, fb.text) == ("reject_with_reason", "no: keep it at one")
    assert ep.edit("e0").reason == "rejected by the user; the user said: no: keep it at one"
    assert ep.task == "make it three"


def test_a_negative_can_carry_its_own_diff_and_leave_the_base_alone():
    b = _builder()
    b.user("t", "task")
    own = "--- a/b.py\n+++ b/b.py\n@@ -1 +1 @@\n-x\n+y\n"
    b.propose_edit("b.py", None, None, "Edit", "failed", "no match", diff=own, record_base=False)
    b.apply_edit("a.py", "1\n", "2\n", "Edit")
    [ep] = b.finish()
    assert ep.edit("e0").diff == own
    assert ep.repo.base_files == {"a.py": "1\n"}  # nothing is claimed about b.py's base


def test_outside_gold_verdicts_and_confidence():
    b = _builder()
    b.user("fix it", "task")
    b.propose_edit("a.py", None, None, "edit", "applied", diff="(replayed)")
    b.propose_edit("a.py", None, None, "edit", "failed", "refused by the tool")
    b.warn("seen during the run")
    base, final = {"a.py": "x = 1\n"}, {"a.py": "x = 2\n"}
    gold = "--- a/a.py\n+++ b/a.py\n@@ -1 +1 @@\n-x = 1\n+x = 2\n"
    b.set_outside_gold(gold, final, "submission", base_files=base, warnings=["from the submission"])
    b.set_confidence("reconstructed", {"a.py": "reconstructed", "gone.py": "logged"})
    b.settle("e0", "applied", None)
    b.settle("e1", "superseded", "a later edit rewrote the same lines")
    [ep] = b.finish()
    assert apply_unified_diff(ep.repo.base_files, ep.final.diff) == ep.final.files == final
    assert (ep.final.source, ep.final.accepted) == ("submission", True)
    assert ep.repo.base_state_confidence == "reconstructed"
    assert ep.repo.file_confidence == {"a.py": "reconstructed"}  # only base files are listed
    assert ep.repo.confidence_of("a.py") == "reconstructed"
    assert [e.status for e in ep.edits] == ["applied", "superseded"]
    assert ep.labels.gold_edits == ["e0"] and ep.labels.negative_edits == ["e1"]
    assert ep.provenance.warnings == ["seen during the run", "from the submission"]


def test_verdicts_reach_an_episode_already_closed_and_each_episode_has_its_commits():
    b = _builder()
    b.user("first", "task")
    first = b.apply_edit("a.py", "1\n", "2\n", "Edit")
    b.set_final_commit("c1", exact=False)
    b.set_base_commit("c0")
    b.new_episode()
    b.user("second", "task")
    b.apply_edit("b.py", "x\n", "y\n", "Edit")
    b.set_final_commit("c2")
    b.settle(first.edit_id, "reverted", "undone with /undo (commit c1)", segment=0)
    one, two = b.finish()
    assert (one.final.commit, one.final.source, one.repo.base_commit) == ("c1", "last_state", "c0")
    assert (two.final.commit, two.final.source, two.repo.base_commit) == ("c2", "commit", None)
    assert one.edit("e0").status == "reverted" and one.labels.gold_edits == []
    assert two.labels.gold_edits == ["e0"]


def test_no_accepted_state_keeps_the_negatives_and_old_jsonl_still_reads(tmp_path):
    b = _builder()
    b.user("t", "task")
    b.apply_edit("a.py", "1\n", "2\n", "Edit")
    b.apply_edit("a.py", "2\n", "1\n", "Edit")
    assert b.gold_diff() == ""
    b.no_accepted_state("nothing this episode changed was kept")
    [ep] = b.finish()
    assert not ep.final.accepted and ep.final.diff == ""
    assert ep.provenance.warnings == ["no_gold: nothing this episode changed was kept"]
    assert ep.labels.negative_edits == ["e0", "e1"]
    # a line written before `accepted` and `file_confidence` existed
    old = json.loads(ep.model_dump_json())
    del old["final"]["accepted"], old["repo"]["file_confidence"]
    (tmp_path / "old.jsonl").write_text(json.dumps(old) + "\n")
    [back] = read_episodes(tmp_path / "old.jsonl")
    assert back.final.accepted and back.repo.file_confidence == {}
    assert back.repo.confidence_of("a.py") == "logged"
