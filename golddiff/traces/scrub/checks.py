"""How the scrubber decides a candidate its scan (`scan.py`) found: one function per log rule.

Each takes the UTF-8 text (bytes) and the candidate's match offsets, and returns the span of the
secret, or None when the candidate is ordinary text (a variable, a hash, a public key, a word). These
checks are what keeps false positives on ordinary code under one per 10 MB (`bench/scrub.py`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import math
import re
from collections import Counter
from collections.abc import Callable, Iterator

_DIGIT, _LOWER, _UPPER = re.compile(rb"[0-9]"), re.compile(rb"[a-z]"), re.compile(rb"[A-Z]")
_LOWER_BYTES, _UPPER_BYTES, _DIGIT_BYTES = (
    b"abcdefghijklmnopqrstuvwxyz",
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZ",
    b"0123456789",
)
_BRACKET = re.compile(rb"[(\[{]")
_SNAKE = re.compile(rb"[A-Za-z]+(?:[_\-][A-Za-z0-9]+)*")
_BASE64 = re.compile(rb"[A-Za-z0-9+/]+={0,2}")
_TOKEN_BYTES = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/_-="
_TOKEN_CHARS = frozenset(_TOKEN_BYTES)


def digest(secret: bytes) -> str:
    return hashlib.sha256(secret).hexdigest()[:8]


def placeholder(kind: str, secret: bytes) -> bytes:
    return b"<secret:%s:%s>" % (kind.encode(), digest(secret).encode())


def shannon_entropy(s: str | bytes) -> float:
    counts = Counter(s)
    n = len(s)
    return -sum(c / n * math.log2(c / n) for c in counts.values())


def _line_start(data: bytes, i: int) -> int:
    return data.rfind(b"\n", 0, i) + 1


# ----------------------------------------------------------------------------- assigned values

_VALUE = re.compile(rb"[ \t]*(?:[\"']|b[\"'])?(?P<v>[^\s\"'`,;&)}\]]{8,512})")
_SAFE_VALUE = re.compile(
    rb"(?:\$\{?\w+\}?.*|<[^>]*>|\*+|x+|X+|None|null|nil|true|false|True|False|os\.environ.*|process\.env.*"
    rb"|getenv.*|env\(.*|%\(?\w*\)?s|\{\{.*|.*\}\}|<[^>]*>\W*)"
)
_WORDS = re.compile(rb"[A-Za-z]+(?:[._\-/: ][A-Za-z]+)*[.:]?")  # encoded-word, text/plain, self.password
_DOTTED_IDENT = re.compile(rb"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
_NUMBERISH = re.compile(rb"[0-9.:\-_/]+")
_CONSTANT = re.compile(rb"[A-Z0-9]+(?:[\-_][A-Z0-9]+)+")  # CRAM-MD5, TLS_1_2: an enum value
_FORMAT = re.compile(rb"%[sdr(]|\{\}|\\[rnt]")
_STRONG_NAME = (
    b"secret", b"token", b"passw", b"pwd", b"credential", b"auth", b"api", b"access", b"private",
    b"signing", b"encryption", b"master", b"client", b"session",
)  # fmt: skip
_NOT_SECRET_NAME = (
    b"author", b"authenticat", b"keyword", b"tokeniz", b"keyboard", b"monkey", b"hotkey", b"keyfunc",
)  # fmt: skip
_OVERRIDE_NAME = (b"pass", b"pwd", b"secret", b"api", b"token", b"credential")


def _name(data: bytes, start: int, end: int) -> bytes:
    """The whole name around a keyword match: `DB_PASSWORD`, `x-api-key`, `client.secret`."""
    s = start
    while s > 0 and (data[s - 1 : s].isalnum() or data[s - 1] in b"_-."):
        s -= 1
    return data[s:end].lower()


def secret_value(value: bytes, strong: bool) -> bool:
    """Is this assigned value a literal secret? `strong`: the name says secret/token/password/api...;
    else (a bare "key": sort_key, STORAGE_KEY) the value must look random itself."""
    if value.startswith((b"<secret:", b"-----")) or _SAFE_VALUE.fullmatch(value) or len(set(value)) < 5:
        return False
    if _BRACKET.search(value) or _WORDS.fullmatch(value) or _NUMBERISH.fullmatch(value):
        return False  # an expression, words, a version or a date
    if (_CONSTANT.fullmatch(value) and len(value) < 16) or _FORMAT.search(value):
        return False  # a constant, a format string, an escaped protocol line
    if _DOTTED_IDENT.fullmatch(value) and (b"." in value or not _DIGIT.search(value)):
        return False  # a variable or an attribute
    if value.startswith((b"/", b"./", b"~/", b"http://", b"https://")) and not _DIGIT.search(value):
        return False  # a path or a URL without credentials
    if strong:
        return True
    if _DOTTED_IDENT.fullmatch(value) and b"_" in value:
        return False  # pkcs8_priv_key_info_st: a name
    classes = sum(bool(p.search(value)) for p in (_LOWER, _UPPER, _DIGIT))
    return classes >= 2 and shannon_entropy(value) >= 3.7 and not _WORDS.fullmatch(value)


_ASSIGN = re.compile(rb"(?i)(?:key|secret|token|passw|pwd|credential|auth)[\w\-]*[\"']?[ \t]*[:=]")


def assigned(data: bytes, ls: int, le: int) -> Iterator[tuple[int, int]]:
    for a in _ASSIGN.finditer(data, ls, le):
        name = _name(data, a.start(), a.end())
        if any(w in name for w in _NOT_SECRET_NAME) and not any(w in name for w in _OVERRIDE_NAME):
            continue
        m = _VALUE.match(data, a.end(), le)
        if m is not None and secret_value(m["v"], any(w in name for w in _STRONG_NAME)):
            yield m.span("v")


# ------------------------------------------------------------------- URLs, CLI flags, headers

_USERINFO = re.compile(rb"://[^/\s:@\"']+:(?P<s>[^/\s@\"']+)@(?P<host>[A-Za-z0-9.\-]*)")
_PLACEHOLDER_PASSWORDS = {b"password", b"pass", b"passwd", b"pwd", b"secret", b"***", b"xxx", b"..."}
_DOC_HOSTS = re.compile(
    rb"(?:.*\.)?example(?:\.(?:com|org|net))?|.*\.(?:example|invalid|test)", re.IGNORECASE
)


def url_password(data: bytes, ls: int, le: int) -> Iterator[tuple[int, int]]:
    for m in _USERINFO.finditer(data, ls, le):
        pw = m["s"]
        if pw.startswith((b"<secret:", b"$")) or pw.lower() in _PLACEHOLDER_PASSWORDS:
            continue
        if _DOC_HOSTS.fullmatch(m["host"]):
            continue  # documentation's own example (RFC 2606 names)
        yield m.span("s")


_CLI = {
    "cli_user": re.compile(rb"(?:\s-u|--user[= ])[ \t]*['\"]?(?P<u>[^\s:'\"$]{1,64}):(?P<s>[^\s'\"]+)"),
    "cli_mysql": re.compile(rb"\b(?:mysql|mysqldump|mysqladmin|mariadb)[ \t][^\n]*?\s-p(?P<s>[^\s'\"]+)"),
    "cli_flag": re.compile(rb"--[a-z\-]{0,20}pass(?:word|wd)[= ]['\"]?(?P<s>[^\s'\"]+)"),
    "cli_tool": re.compile(
        rb"(?:sshpass[ \t]+-p|redis-cli[ \t][^\n]*?\s-a|docker[ \t]+login[ \t][^\n]*?\s-p)[ \t]*['\"]?(?P<s>[^\s'\"]+)"
    ),
}


def _cli(check: str) -> Callable[[bytes, int, int], Iterator[tuple[int, int]]]:
    rx = _CLI[check]

    def cli_password(data: bytes, ls: int, le: int) -> Iterator[tuple[int, int]]:
        for m in rx.finditer(data, ls, le):
            s = m["s"]
            if s.startswith((b"<secret:", b"$")) or _SAFE_VALUE.fullmatch(s) or len(s) < 3:
                continue
            if check == "cli_user" and (m["u"] == s or (m["u"].isdigit() and s.isdigit())):
                continue  # docker -u 1000:1000, chown-like user:group
            yield m.span("s")

    return cli_password


_AUTH = re.compile(
    rb"(?i:authorization)[\"']?[ \t]*[:=][ \t]*[\"']?"
    rb"(?:(?:Basic|Bearer|Token|Digest|Bot|token|bearer|basic)[ \t]+)?(?P<s>[A-Za-z0-9+/=._~\-:]{8,})"
)


def http_auth(data: bytes, ls: int, le: int) -> Iterator[tuple[int, int]]:
    for m in _AUTH.finditer(data, ls, le):
        if secret_value(m["s"], strong=True):
            yield m.span("s")


LOG_CHECKS = {
    "assigned_secret": assigned,
    "url_password": url_password,
    **{name: _cli(name) for name in _CLI},
    "http_auth": http_auth,
}

# ------------------------------------------------------------------------- e-mail, home dirs

_EMAIL = re.compile(
    rb"(?<![A-Za-z0-9._%+\-])[A-Za-z0-9._%+\-]{1,64}@(?P<d>(?:[A-Za-z0-9\-]+\.)+(?P<tld>[A-Za-z]{2,24}))(?![\w])"
)
_GTLDS = frozenset(
    b"com org net edu gov mil int info biz io dev ai app co me tech cloud online site xyz email name "
    b"pro mobi asia jobs museum travel store shop blog news page run sh".split()
)
_KEEP_EMAIL_DOMAINS = {
    b"example.com",
    b"example.org",
    b"example.net",
    b"example.invalid",
    b"users.noreply.github.com",
}


def email(data: bytes, ls: int, le: int) -> Iterator[tuple[int, int, str, bytes]]:
    for m in _EMAIL.finditer(data, ls, le):
        tld = m["tld"].lower()
        if len(tld) != 2 and tld not in _GTLDS:
            continue  # `self.x@self.weights`: a matrix product, not an address
        if m["d"].lower() in _KEEP_EMAIL_DOMAINS:
            continue
        new = b"user-%s@example.com" % digest(m.group(0).lower())[:6].encode()
        yield m.start(), m.end(), "email", new


_HOME = re.compile(rb"(?:/Users/|/home/|Users\\|-Users-|-home-)")
_HOME_FORBID = {b"/Users/": b"._", b"/home/": b"._", b"Users\\": None, b"-Users-": b".-_", b"-home-": b".-_"}
_HOME_USER = re.compile(rb"[A-Za-z0-9._\-]+?(?=[/\\\-\s\"']|$)")
_KEEP_USERS = {b"user", b"runner", b"root", b"shared", b"Shared", b"Public", b"linuxbrew"}


def home_user(data: bytes, ls: int, le: int) -> Iterator[tuple[int, int, str, bytes]]:
    for h in _HOME.finditer(data, ls, le):
        forbid = _HOME_FORBID[h.group(0)]
        prev = data[h.start() - 1 : h.start()]
        if forbid is not None and prev and (prev.isalnum() or prev in forbid):
            continue
        m = _HOME_USER.match(data, h.end(), le)
        if m is None or not m.group(0) or m.group(0) in _KEEP_USERS:
            continue
        yield m.start(), m.end(), "home_user", b"user"


LINE_PII = {"email": email, "home_user": home_user}

# ------------------------------------------------------------------------------ private keys

_KEY_END = re.compile(rb"-----END [A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----")
_HEADER_END = re.compile(rb"PRIVATE KEY( BLOCK)?-----")


def private_key_lines(data: bytes, ls: int, line_end: int) -> list[tuple[int, int, str, bytes]]:
    """Each line inside the block that begins on this line becomes a placeholder (diff markers stay); a
    block on one line (a JSON string with `\\n` escapes) becomes one placeholder between its markers."""
    start = data.find(b"-----BEGIN ", ls, line_end)
    if start < 0:
        return []
    head = _HEADER_END.search(data, start, line_end)
    if head is None:
        return []
    spans = []
    tail = _KEY_END.search(data, head.end(), line_end)
    if tail is not None:  # BEGIN ... END on one line
        body = data[head.end() : tail.start()]
        if body.strip(b"\\n\r\t ") and not body.startswith(b"<secret:"):
            spans.append(
                (head.end(), tail.start(), "private_key_line", placeholder("private_key_line", body.strip()))
            )
        return spans
    seg = data.rfind(b"\n\x00\n", 0, start)
    seg = 0 if seg < 0 else seg + 3
    is_diff = data.startswith((b"diff --git", b"--- ", b"@@"), seg) or data.find(b"\n@@ ", seg, start) >= 0
    pos = line_end + 1
    while pos < len(data):
        nl = data.find(b"\n", pos)
        nl = len(data) if nl < 0 else nl
        line = data[pos:nl]
        if line == b"\x00" or _KEY_END.search(line):
            break
        body = line.rstrip(b"\r")
        marker = 1 if is_diff and body[:1] in (b"+", b"-", b" ") else 0
        rest = body[marker:]
        if rest.strip() and not rest.startswith(b"<secret:"):
            spans.append(
                (
                    pos + marker,
                    pos + len(body),
                    "private_key_line",
                    placeholder("private_key_line", rest.strip()),
                )
            )
        pos = nl + 1
    return spans


# -------------------------------------------------------------------------- high-entropy tokens

_ID_PREFIXES = (b"toolu_", b"srvtoolu_", b"call_", b"msg_", b"req_", b"fc_", b"rs_", b"resp_", b"chatcmpl-")
_HASH_PREFIXES = (b"sha512-", b"sha384-", b"sha256-", b"sha1-", b"md5-")  # npm / SRI integrity
_PUBKEY_MARKERS = (b"ssh-rsa ", b"ssh-ed25519 ", b"ssh-dss ", b"ecdsa-sha2-", b"sk-ssh-", b"sk-ecdsa-")
_PUBKEY_BODIES = (b"AAAAB3NzaC1", b"AAAAC3NzaC1", b"AAAAE2VjZHNh", b"AAAAGnNrLXNza")
# base64 of files: gzip, PNG, JPEG, GIF, zip, PDF
_FILE_MAGIC = (b"H4sI", b"iVBORw0KGgo", b"/9j/", b"R0lGOD", b"UEsDB", b"JVBERi")
_IDENTIFIER = re.compile(rb"[A-Za-z_][A-Za-z0-9_]*")
_HEX = re.compile(rb"[0-9a-fA-F\-]+")
_SEGMENT = re.compile(rb"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|[0-9]+")
_B64_LINE = re.compile(rb"[ \t\"'b+\-]*[A-Za-z0-9+/]{40,}={0,2}[\"',\\n]*")


def high_entropy(data: bytes, end: int) -> tuple[int, int] | None:
    """The token that ends at `end` (exclusive), if it looks like a random secret."""
    floor = max(0, end - 600)
    start = floor + len(data[floor:end].rstrip(_TOKEN_BYTES))
    if start == floor and floor > 0 and data[floor - 1] in _TOKEN_CHARS:
        return None  # longer than any secret: a blob
    tok = data[start:end].rstrip(b"=")
    if b"=" in tok:  # KEY=value, quoted-printable (=C3=A9): the value after the last "=" is the candidate
        if data[max(0, start - 3) : start].lower() in (b"?b?", b"?q?"):
            return None  # a MIME encoded word
        start += tok.rindex(b"=") + 1
        tok = data[start:end].rstrip(b"=")
    if len(tok) < 24 or len(tok) > 512 or not looks_random(tok):
        return None
    if data[max(0, start - 3) : start].lower() in (b"?b?", b"?q?"):
        return None  # a MIME encoded word
    if _IDENTIFIER.fullmatch(tok) and (
        data[start - 1 : start] in (b".", b"(")
        or data[end : end + 1] in (b"(", b".", b"[")
        or data[max(0, start - 6) : start] in (b"class ", b" def ")
    ):
        return None  # a name in code: N11evp_pkey_st4DOLLAR_12E(Union), obj.Attr2xYz...
    before = data[max(0, start - 24) : start]
    if before.endswith((b"h1:", b"base64,", b"sha256:", b"sha512:", b"sha1:")):
        return None  # go.sum lines, data URIs, digests
    if b"/" in tok and (
        before.endswith((b".", b"/"))
        or tok.count(b"/") >= 2
        and b"://" in data[_line_start(data, start) : start]
    ):
        return None  # the path part of a URL
    line_start = _line_start(data, start)
    line = data[line_start:start]
    if any(m in line for m in _PUBKEY_MARKERS) or tok.startswith(_PUBKEY_BODIES):
        return None  # an SSH public key
    if tok.startswith(_FILE_MAGIC):
        return None  # a file, base64-encoded
    if _in_base64_block(data, line_start, start, end):
        return None
    return start, start + len(tok)


def looks_random(tok: bytes) -> bool:
    """A high-entropy token: mixed classes, not hex (hashes, SHAs), not a path or an identifier."""
    n = len(tok)  # a random token of this length has every class several times (counted in C)
    if (
        n - len(tok.translate(None, _LOWER_BYTES)) < 2
        or n - len(tok.translate(None, _UPPER_BYTES)) < 2
        or n - len(tok.translate(None, _DIGIT_BYTES)) < 2
    ):
        return False
    if _HEX.fullmatch(tok) or tok.startswith(_ID_PREFIXES) or tok.startswith(_HASH_PREFIXES):
        return False
    if tok.count(b"/") >= 2 and (tok.startswith(b"/") or not _DIGIT.search(tok.rsplit(b"/", 1)[-1])):
        return False  # a path
    # an identifier made of words (AbstractHTTPHandler2, test_foo_bar_1, some-kebab-name) has long
    # segments; a random token has short ones
    parts = _SEGMENT.findall(tok)
    letters = [p for p in parts if not p.isdigit()]
    if letters and sum(len(p) for p in letters if len(p) >= 4) >= 0.8 * sum(len(p) for p in letters):
        return False
    if tok.count(b"_") + tok.count(b"-") >= 3 and _SNAKE.fullmatch(tok):
        return False
    if tok.count(b"_") + tok.count(b"-") >= 2:
        words = [p for p in re.split(rb"[_\-]", tok) if len(p) >= 3 and p.isalpha()]
        long3 = sum(len(p) for p in letters if len(p) >= 3)
        if len(words) >= 2 or long3 >= 0.6 * sum(len(p) for p in letters):
            return False  # with-SUPER-MONKEYS-pc58ag80, N11evp_pkey_st4DOLLAR_12E: names, punycode
    return shannon_entropy(tok) >= (4.0 if len(tok) < 32 else 4.3)


def _in_base64_block(data: bytes, line_start: int, start: int, end: int) -> bool:
    """The token is (nearly) a whole line of a base64 block, or base64 of text: test data, not a key."""
    line_end = data.find(b"\n", end)
    line_end = len(data) if line_end < 0 else line_end
    if _B64_LINE.fullmatch(data[line_start:line_end]):
        prev_start = data.rfind(b"\n", 0, max(0, line_start - 1)) + 1
        nxt_end = data.find(b"\n", line_end + 1)
        nxt_end = len(data) if nxt_end < 0 else nxt_end
        prev = data[prev_start : max(prev_start, line_start - 1)]
        nxt = data[line_end + 1 : nxt_end]
        if _B64_LINE.fullmatch(prev) or _B64_LINE.fullmatch(nxt):
            return True
    tok = data[start:end].rstrip(b"=")
    if not _BASE64.fullmatch(tok):
        return False
    for shift in range(4):  # a fragment of a longer base64 string may start at any alignment
        cut = tok[shift:]
        try:
            raw = base64.b64decode(cut[: len(cut) // 4 * 4], validate=True)
        except (binascii.Error, ValueError):
            continue
        text = sum(32 <= b < 127 or b in (9, 10, 13) for b in raw) + sum(b >= 0xA0 for b in raw) / 2
        if raw and text >= 0.8 * len(raw):
            return True  # base64 of text (a test fixture), not of random bytes
    return False
