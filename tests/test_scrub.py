"""The scrubber: each provider pattern is caught, placeholders are stable, redacted diffs still apply."""

import copy
import json

from hypothesis import given, settings
from hypothesis import strategies as st

from golddiff.diffs import apply_unified_diff, unified_diff
from golddiff.traces.scrub import Scrubber

SECRETS = {
    "aws_access_key": "AKIAIOSFODNN7EXAMPLE",
    "github_token": "ghp_" + "a1B2c3D4e5" * 4,
    "anthropic_key": "sk-ant-api03-" + "Zx9_" * 10,
    "openai_key": "sk-proj-" + "Ab3dEf6hIj" * 3,
    "slack_token": "xoxb-1234567890-abcdefghij",
    "stripe_key": "sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc",
    "google_api_key": "AIza" + "SyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY",
    "jwt": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
}


def test_each_provider_pattern_is_replaced_by_its_kind():
    for kind, secret in SECRETS.items():
        s = Scrubber()
        out = s.scrub_text(f"value: {secret} end")
        assert secret not in out, kind
        assert f"<secret:{kind}:" in out, (kind, out)
        assert s.counts[kind] == 1


def test_url_password_assigned_secret_and_entropy():
    s = Scrubber()
    out = s.scrub_text('db = "postgres://admin:hunter2pass@db:5432/x"\npassword = "S3cr3tP@ssw0rd!"\n')
    assert "hunter2pass" not in out and "S3cr3tP@ssw0rd!" not in out
    assert "postgres://admin:<secret:url_password:" in out
    out = s.scrub_text('token_value = compute()\nrandom = "q8Zt3LmX9vPa2KdR7sWn4YbE6cHf1JgU"\n')
    assert "compute()" in out and "<secret:high_entropy:" in out


def test_ordinary_code_is_left_alone():
    code = (
        "def compute_access_token_expiry(self, token_ttl):\n"
        "    sha = '3f786850e387550fdab836ed7e6dc881de23001b'\n"
        "    uid = 'f47ac10b-58cc-4372-a567-0e02b2c3d479'\n"
        "    api_key = os.environ['API_KEY']\n"
        "    return very_long_function_name_with_parts(token_ttl)\n"
    )
    s = Scrubber()
    assert s.scrub_text(code) == code
    assert not s.counts


def test_emails_and_home_directories_are_normalised():
    s = Scrubber()
    out = s.scrub_text(
        "by dain.smith@gmail.com in /Users/dain/work and /home/bob/x, C:\\Users\\Bob\\y; -Users-dain-proj"
    )
    assert "dain" not in out and "bob" not in out and "Bob" not in out
    assert "/Users/user/work" in out and "/home/user/x" in out and "-Users-user-proj" in out
    assert s.scrub_text("see https://example.com/home/index and a my-home-page") == (
        "see https://example.com/home/index and a my-home-page"
    )


def test_placeholders_are_stable_across_scrubbers():
    a = Scrubber().scrub_text(SECRETS["github_token"])
    b = Scrubber().scrub_text(f"x {SECRETS['github_token']} y")
    assert a in b


def test_private_key_block_keeps_its_line_count_and_diffs_apply():
    key = "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA7bq98xR8ZyX1\n+bcdEFGH1234xyz\n-----END RSA PRIVATE KEY-----\n"
    before, after = "a = 1\n", "a = 1\n" + key + "b = 2\n"
    diff = unified_diff("k.pem", before, after)
    s = Scrubber()
    sb, sa, sd = s.scrub_text(before), s.scrub_text(after), s.scrub_text(diff)
    assert "MIIEpAIBAAKCAQEA7bq98xR8ZyX1" not in sa + sd
    assert sa.count("\n") == after.count("\n")
    assert apply_unified_diff({"k.pem": sb}, sd)["k.pem"] == sa


_line = st.one_of(
    st.sampled_from(list(SECRETS.values()) + ["x = 1", "return y", "", "# note", "mail a.b@corp.io now"]),
    st.text(alphabet="abcdefgh =()1234", max_size=20),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(_line, max_size=12), st.lists(_line, max_size=12))
def test_redacted_patches_still_apply(before_lines, after_lines):
    before = "".join(ln + "\n" for ln in before_lines)
    after = "".join(ln + "\n" for ln in after_lines)
    diff = unified_diff("f.py", before, after)
    s = Scrubber()
    sb, sa, sd = s.scrub_text(before), s.scrub_text(after), s.scrub_text(diff)
    assert apply_unified_diff({"f.py": sb}, sd)["f.py"] == (sa if after else sa or "")
    for secret in SECRETS.values():
        assert secret not in sa + sd


def test_scrub_episode_counts_go_to_provenance():
    ep = {"episode_id": "x-1", "schema_version": 1, "task": f"use {SECRETS['openai_key']}", "provenance": {}}
    out = Scrubber().scrub_episode(ep)
    assert out["episode_id"] == "x-1"
    assert out["provenance"]["redactions"] == {"openai_key": 1}
    assert out["provenance"]["scrubber_version"]


def test_scrubbing_an_episode_in_place_gives_the_same_dict():
    """`in_place=True` (ingest's fresh model_dump) sets only the changed strings, keys included, in the
    episode's own containers; the result equals the copying path's, key order included."""
    key = SECRETS["openai_key"]
    ep = {
        "episode_id": "x-1",
        "task": f"use {key}",
        "files": {f"/home/alice/{key}.txt": f"token = {key}\n", "/srv/a.py": "x = 1\n"},
        "turns": [{"text": ["ok", f"mail bob@example.com about {key}", 3]}, "short"],
        "schema_version": 1,
        "provenance": {},
    }
    copied = Scrubber().scrub_episode(copy.deepcopy(ep))
    target = copy.deepcopy(ep)
    in_place = Scrubber().scrub_episode(target, in_place=True)
    assert in_place is target and in_place == copied
    assert list(in_place) == list(copied) and list(in_place["files"]) == list(copied["files"])
    assert key not in json.dumps(in_place) and "alice" not in json.dumps(in_place)
