"""Codex pieces on their own: tool outputs, apply_patch found in shell commands, whole-file reads, the
partial-file model (`golddiff.traces.codex.files`), and property tests that random patch sequences are followed exactly.

The reader on whole rollout files is tested in test_codex.py.
"""

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_codex import item, patch_call, read, write_rollout  # the rollout writers test_codex owns

from golddiff.diffs import apply_patch
from golddiff.diffs.apply_patch import PatchChunk, PatchOp
from golddiff.traces.codex.files import FileStates
from golddiff.traces.codex.records import (
    ShellCommand,
    file_read,
    find_patch,
    read_content,
    shell_command,
    tool_output,
)


def patch_output(call_id, output):
    return item(type="custom_tool_call_output", call_id=call_id, output=output)


# ---------------------------------------------------------------------------- records and pieces


def test_tool_output_shapes():
    out = tool_output(
        '{"output":"Success. Updated the following files:\\nM a\\n","metadata":{"exit_code":0}}'
    )
    assert (out.text, out.exit_code) == ("Success. Updated the following files:\nM a\n", 0)
    out = tool_output("Exit code: 1\nWall time: 0.2 seconds\nOutput:\nboom\n")
    assert (out.text, out.exit_code) == ("boom\n", 1)
    out = tool_output("Chunk ID: 1f\nWall time: 0.0 seconds\nProcess exited with code 0\nOutput:\nok\n")
    assert (out.text, out.exit_code) == ("ok\n", 0)
    out = tool_output({"content": "patch rejected by user", "success": False})
    assert (out.text, out.success) == ("patch rejected by user", False)
    assert (
        tool_output([{"type": "input_text", "text": "a"}, {"type": "input_image", "image_url": "x"}]).text
        == "a"
    )
    assert tool_output("plain text").text == "plain text"


def test_finding_apply_patch_in_commands():
    body = "*** Begin Patch\n*** Add File: a\n+x\n*** End Patch"
    assert find_patch(shell_command({"command": ["apply_patch", body]})) == (body, None)
    assert find_patch(shell_command({"command": ["applypatch", body]})) == (body, None)
    script = f"cd 'sub dir' && apply_patch << \"EOF\"\n{body}\nEOF\necho done"
    assert find_patch(shell_command({"command": ["bash", "-lc", script]})) == (body, "sub dir")
    assert find_patch(shell_command({"cmd": f"applypatch <<-PATCH\n{body}\n  PATCH\n"})) == (body, None)
    assert find_patch(shell_command({"command": "cat <<'EOF' > notes.txt\n*** Begin Patch\nEOF"})) is None
    assert find_patch(ShellCommand(["ls", "-la"], None, None)) is None


def test_whole_file_reads():
    assert file_read(shell_command({"command": ["bash", "-lc", "cat src/a.py"]})) == ("src/a.py", "cat", None)
    assert file_read(shell_command({"cmd": "nl -ba 'my file.py'"})) == ("my file.py", "nl", None)
    assert file_read(shell_command({"command": "sed -n '1,200p' a.py"})) == ("a.py", "sed", 200)
    assert file_read(shell_command({"command": "sed -n '40,80p' a.py"})) is None
    assert file_read(shell_command({"command": "cat a.py | head"})) is None
    assert (
        read_content("nl", None, "     1\tdef f():\n     2\t\n     3\t    return 1\n")
        == "def f():\n\n    return 1\n"
    )
    assert read_content("sed", 3, "a\nb\nc\n") is None  # as long as the limit: maybe cut
    assert read_content("cat", None, "a\n[... omitted 120 of 400 lines ...]\nz\n") is None


def test_a_chunk_bridging_two_known_pieces_joins_them():
    states = FileStates()
    f = [f"line {i}" for i in range(1, 11)]

    def update(old_range, new_lines=None, context=()):
        old = [f[i] for i in old_range]
        op = PatchOp(
            "update", "f.txt", chunks=[PatchChunk(None, old, new_lines if new_lines is not None else old)]
        )
        (change,) = states.plan(op, "f.txt", None, "apply")
        states.commit(change, None)
        return change

    update(range(0, 3))  # lines 1-3
    update(range(6, 9), [f[6], "NEW", f[8]])  # lines 7-9, line 8 replaced
    assert len(states.current["f.txt"].segments) == 2
    update(range(2, 7))  # lines 3-7: ends of both pieces
    assert states.current["f.txt"].segments == [f[0:7] + ["NEW", f[8]]]
    assert states.base_text("f.txt") == "\n".join(f[0:9]) + "\n"


# ------------------------------------------------------------------------------- property tests

LINE_IDS = st.integers(min_value=0, max_value=10**6)


@st.composite
def edit_sessions(draw):
    """A file of unique lines and a sequence of updates, each 1-2 chunks with 0-3 lines of context and
    sometimes an `@@ <line>` anchor."""
    n = draw(st.integers(min_value=1, max_value=30))
    lines = [f"orig {i}" for i in range(n)]
    patches, fresh = [], iter(range(10**9))
    for _ in range(draw(st.integers(min_value=1, max_value=6))):
        chunks = []
        pos = 0
        for _ in range(draw(st.integers(min_value=1, max_value=2))):
            if pos >= len(lines) and chunks:
                break
            start = draw(st.integers(min_value=pos, max_value=max(pos, len(lines) - 1)))
            cut = draw(st.integers(min_value=0, max_value=min(3, len(lines) - start)))
            add = [
                f"new {next(fresh)} {draw(LINE_IDS)}"
                for _ in range(draw(st.integers(min_value=0, max_value=3)))
            ]
            before = draw(st.integers(min_value=0, max_value=min(3, start - pos)))
            after = draw(st.integers(min_value=0, max_value=min(3, len(lines) - start - cut)))
            if cut + before + after == 0 or (cut == 0 and not add):
                continue
            room = start - before - pos  # lines between the previous chunk and this one's context
            anchor = (
                draw(st.one_of(st.none(), st.integers(min_value=pos, max_value=pos + room - 1)))
                if room > 0
                else None
            )
            chunks.append((start, cut, add, before, after, anchor))
            pos = start + cut + after
        if not chunks:
            continue
        body, new_lines, offset = [], list(lines), 0
        for start, cut, add, before, after, anchor in chunks:
            body.append("@@" if anchor is None else f"@@ {lines[anchor]}")
            body += [" " + ln for ln in lines[start - before : start]]
            body += ["-" + ln for ln in lines[start : start + cut]]
            body += ["+" + ln for ln in add]
            body += [" " + ln for ln in lines[start + cut : start + cut + after]]
            new_lines[start + offset : start + offset + cut] = add
            offset += len(add) - cut
        patches.append("*** Begin Patch\n*** Update File: f.txt\n" + "\n".join(body) + "\n*** End Patch")
        lines = new_lines
    original = [f"orig {i}" for i in range(n)]
    return original, patches


def run_session(patches, tmp):
    records = []
    for i, text in enumerate(patches):
        records += [
            patch_call(f"c{i}", text),
            patch_output(f"c{i}", "Success. Updated the following files:\nM f.txt\n"),
        ]
    episodes, report = read(write_rollout(Path(tmp) / "rollout.jsonl", *records))
    assert not report.problems, report.problems
    return episodes


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(edit_sessions())
def test_known_file_follows_patches_exactly(session):
    original, patches = session
    add = "*** Begin Patch\n*** Add File: f.txt\n" + "".join(f"+{ln}\n" for ln in original) + "*** End Patch"
    expected = {"f.txt": "".join(ln + "\n" for ln in original)}
    for p in patches:
        expected = apply_patch(expected, p)
    with tempfile.TemporaryDirectory() as tmp:
        (ep,) = run_session([add, *patches], tmp)
    assert ep.final.files == expected


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(edit_sessions())
def test_unknown_file_is_rebuilt_with_exactly_the_true_changes(session):
    original, patches = session
    truth = {"f.txt": "".join(ln + "\n" for ln in original)}
    for p in patches:
        truth = apply_patch(truth, p)
    with tempfile.TemporaryDirectory() as tmp:
        episodes = run_session(patches, tmp)
    final_lines = set(truth["f.txt"].splitlines())
    if not episodes:  # every patch was a no-op
        assert final_lines == set(original)
        return
    (ep,) = episodes
    base = ep.repo.base_files["f.txt"].splitlines()
    rebuilt = ep.final.files["f.txt"].splitlines()
    assert set(base) <= set(original) and len(base) == len(set(base))
    assert set(base) - set(rebuilt) == set(original) - final_lines
    assert set(rebuilt) - set(base) == final_lines - set(original)
    assert ep.repo.base_state_confidence == "reconstructed"
