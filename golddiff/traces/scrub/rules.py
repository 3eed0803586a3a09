"""The secret rules the scrubber compiles into one scan: provider key formats, and what logs hold.

Two tables:

- `PROVIDERS`: credentials with a recognisable shape (a literal prefix, a fixed alphabet and length),
  after the maintained gitleaks / Betterleaks rule set (MIT), narrowed to the shape of the secret itself.
  Each rule has an `anchor` (a Hyperscan expression that Python's `re` reads alike: where a candidate
  starts), a `pattern` (the Python regex on bytes, matched at that start, that decides; its group `s`,
  when present, is the secret) and an `example` (a template `bench/scrub.py` and `tests/secret_corpus.py` expand into realistic keys:
  `{alnum:36}` is 36 random letters and digits; classes below in `EXAMPLE_CLASSES`).
- `LOG_RULES`: what generic scanners miss in agent logs and golddiff knows about: `KEY=value`
  assignments, URL credentials, CLI password flags (`curl -u`, `mysql -p`), HTTP auth headers, PEM
  blocks (line by line), e-mails, home-directory user names, and other high-entropy tokens. Their
  decision logic lives in `golddiff.traces.scrub.checks`; here are their anchors and the examples.

Adding a provider: one `Rule` line with an example; `tests/test_scrub_corpus.py` then plants it in every
context and checks it is caught.
"""

from __future__ import annotations

from typing import NamedTuple


class Rule(NamedTuple):
    kind: str  # the placeholder's kind: <secret:KIND:hash>
    anchor: bytes  # Hyperscan expression; its leftmost start is where `pattern` is tried
    pattern: bytes  # Python regex (bytes) matched at the anchor's start; group "s" = the secret if present
    example: str  # template for generated examples
    caseless: bool = False


_B62 = rb"[A-Za-z0-9]"
_END = rb"(?![A-Za-z0-9_\-])"  # the key does not run on into a longer token

PROVIDERS: list[Rule] = [
    Rule(
        "aws_access_key",
        rb"(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])",
        rb"(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z0-9]{16}" + _END,
        "AKIA{upnum:16}",
    ),
    Rule("github_token", rb"gh[pousr]_", rb"gh[pousr]_" + _B62 + rb"{36,255}" + _END, "ghp_{alnum:36}"),
    Rule("github_token", rb"github_pat_", rb"github_pat_\w{82}" + _END, "github_pat_{alnum:22}_{alnum:59}"),
    Rule(
        "gitlab_token",
        rb"gl(?:pat|dt|rt|ptt|cbt|oas|soat|ft|imt|agent)-",
        rb"gl(?:pat|dt|rt|ptt|cbt|oas|soat|ft|imt|agent)-[\w\-]{20,64}" + _END,
        "glpat-{word:20}",
    ),
    Rule("gitlab_token", rb"GR1348941", rb"GR1348941[\w\-]{20}" + _END, "GR1348941{word:20}"),
    Rule("anthropic_key", rb"sk-ant-", rb"sk-ant-[\w\-]{20,}", "sk-ant-api03-{word:93}AA"),
    Rule(
        "openai_key",
        rb"sk-",
        rb"sk-(?:proj-|svcacct-|admin-|None-|or-v1-)?(?=[\w\-]*[0-9])[A-Za-z0-9_\-]{20,}" + _END,
        "sk-proj-{word:74}T3BlbkFJ{word:74}",
    ),
    Rule("huggingface_token", rb"hf_", rb"hf_[A-Za-z]{30,40}" + _END, "hf_{alpha:34}"),
    Rule("huggingface_token", rb"api_org_", rb"api_org_[A-Za-z]{34}" + _END, "api_org_{alpha:34}"),
    Rule(
        "slack_token",
        rb"xox[abposre]-",
        rb"xox[abposre]-[A-Za-z0-9\-]{10,}",
        "xoxb-{digits:12}-{digits:13}-{alnum:24}",
    ),
    Rule(
        "slack_token",
        rb"xapp-",
        rb"xapp-\d-[A-Z0-9]+-\d+-[a-z0-9]+",
        "xapp-1-A{upnum:10}-{digits:13}-{lowhex:64}",
    ),
    Rule(
        "slack_webhook",
        rb"hooks\.slack\.com/",
        rb"hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9+/]{20,}",
        "https://hooks.slack.com/services/T{upnum:8}/B{upnum:10}/{alnum:24}",
    ),
    Rule(
        "stripe_key",
        rb"[srp]k_(?:live|test)_",
        rb"[srp]k_(?:live|test)_[A-Za-z0-9]{10,99}" + _END,
        "sk_live_{alnum:24}",
    ),
    Rule("stripe_key", rb"whsec_", rb"whsec_[A-Za-z0-9]{24,}" + _END, "whsec_{alnum:32}"),
    Rule("google_api_key", rb"AIza", rb"AIza[\w\-]{35}" + _END, "AIza{word:35}"),
    Rule("google_oauth_secret", rb"GOCSPX-", rb"GOCSPX-[\w\-]{20,}", "GOCSPX-{word:28}"),
    Rule("google_oauth_token", rb"ya29\.", rb"ya29\.[\w\-]{30,}", "ya29.{word:120}"),
    Rule("twilio_key", rb"SK[0-9a-fA-F]", rb"SK[0-9a-fA-F]{32}" + _END, "SK{lowhex:32}"),
    Rule("npm_token", rb"npm_", rb"npm_[A-Za-z0-9]{36}" + _END, "npm_{alnum:36}"),
    Rule("pypi_token", rb"pypi-AgE", rb"pypi-AgE[\w\-]{50,}", "pypi-AgEIcHlwaS5vcmc{word:70}"),
    Rule("sendgrid_key", rb"SG\.", rb"SG\.[\w\-]{22}\.[\w\-]{43}" + _END, "SG.{word:22}.{word:43}"),
    Rule("mailgun_key", rb"key-", rb"key-[0-9a-f]{32}" + _END, "key-{lowhex:32}"),
    Rule("digitalocean_token", rb"do[opr]_v1_", rb"do[opr]_v1_[a-f0-9]{64}" + _END, "dop_v1_{lowhex:64}"),
    Rule(
        "shopify_token",
        rb"shp(?:at|ca|pa|ss)_",
        rb"shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}" + _END,
        "shpat_{lowhex:32}",
    ),
    Rule("databricks_token", rb"dapi", rb"dapi[a-f0-9]{32}(?:-\d)?" + _END, "dapi{lowhex:32}"),
    Rule(
        "doppler_token",
        rb"dp\.(?:pt|st|sa|ct|scim|audit)\.",
        rb"dp\.(?:pt|st|sa|ct|scim|audit)\.[a-zA-Z0-9]{40,44}" + _END,
        "dp.pt.{alnum:43}",
    ),
    Rule("linear_key", rb"lin_api_", rb"lin_api_[a-zA-Z0-9]{40}" + _END, "lin_api_{alnum:40}"),
    Rule("postman_key", rb"PMAK-", rb"PMAK-[a-f0-9]{24}-[a-f0-9]{34}" + _END, "PMAK-{lowhex:24}-{lowhex:34}"),
    Rule("pulumi_token", rb"pul-", rb"pul-[a-f0-9]{40}" + _END, "pul-{lowhex:40}"),
    Rule(
        "age_secret_key",
        rb"AGE-SECRET-KEY-1",
        rb"AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}",
        "AGE-SECRET-KEY-1{bech32:58}",
    ),
    Rule("atlassian_token", rb"ATATT3", rb"ATATT3[A-Za-z0-9_\-=]{186}", "ATATT3{word:186}"),
    Rule(
        "grafana_token",
        rb"gl(?:c|sa)_",
        rb"gl(?:c_[A-Za-z0-9+/]{32,400}={0,2}|sa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8})",
        "glsa_{alnum:32}_{lowhex:8}",
    ),
    Rule("newrelic_key", rb"NR(?:AK|JS|II)-", rb"NR(?:AK|JS|II)-[a-zA-Z0-9]{27}" + _END, "NRAK-{upnum:27}"),
    Rule(
        "sentry_token",
        rb"sntr[ys]",
        rb"sntr(?:ys_eyJ[A-Za-z0-9+/=_\-]{50,}|yu_[a-f0-9]{64})",
        "sntryu_{lowhex:64}",
    ),
    Rule(
        "square_token",
        rb"(?:sq0(?:atp|csp)-|EAAA)",
        rb"(?:sq0atp-[\w\-]{22}|sq0csp-[\w\-]{43}|EAAA[\w\-]{60})" + _END,
        "sq0csp-{word:43}",
    ),
    Rule("vault_token", rb"hv[sb]\.", rb"hv[sb]\.[\w\-]{24,}", "hvs.{word:90}"),
    Rule("docker_token", rb"dckr_pat_", rb"dckr_pat_[\w\-]{27}" + _END, "dckr_pat_{word:27}"),
    Rule("supabase_token", rb"sbp_", rb"sbp_[a-f0-9]{40}" + _END, "sbp_{lowhex:40}"),
    Rule(
        "flyio_token",
        rb"(?:fo1_|fm[12]_)",
        rb"(?:fo1_[\w\-]{43}|fm[12]_[A-Za-z0-9+/]{100,}={0,3})",
        "fo1_{word:43}",
    ),
    Rule("replicate_token", rb"r8_", rb"r8_[A-Za-z0-9]{37}" + _END, "r8_{alnum:37}"),
    Rule("groq_key", rb"gsk_", rb"gsk_[A-Za-z0-9]{52}" + _END, "gsk_{alnum:52}"),
    Rule("perplexity_key", rb"pplx-", rb"pplx-[A-Za-z0-9]{48}" + _END, "pplx-{alnum:48}"),
    Rule("xai_key", rb"xai-", rb"xai-[A-Za-z0-9]{80}" + _END, "xai-{alnum:80}"),
    Rule(
        "langsmith_key",
        rb"lsv2_(?:pt|sk)_",
        rb"lsv2_(?:pt|sk)_[a-f0-9]{32}_[a-f0-9]{10}" + _END,
        "lsv2_pt_{lowhex:32}_{lowhex:10}",
    ),
    Rule("tavily_key", rb"tvly-", rb"tvly-(?:dev-|prod-)?[A-Za-z0-9]{32}" + _END, "tvly-{alnum:32}"),
    Rule(
        "notion_token",
        rb"(?:secret_|ntn_)",
        rb"(?:secret_[A-Za-z0-9]{43}|ntn_[0-9]{11}[A-Za-z0-9]{35})" + _END,
        "ntn_{digits:11}{alnum:35}",
    ),
    Rule(
        "airtable_token",
        rb"pat[A-Za-z0-9]{14}\.",
        rb"pat[A-Za-z0-9]{14}\.[a-f0-9]{64}" + _END,
        "pat{alnum:14}.{lowhex:64}",
    ),
    Rule("figma_token", rb"figd_", rb"figd_[\w\-]{40}" + _END, "figd_{word:40}"),
    Rule("netlify_token", rb"nfp_", rb"nfp_[A-Za-z0-9]{36}" + _END, "nfp_{alnum:36}"),
    Rule("render_key", rb"rnd_", rb"rnd_[A-Za-z0-9]{32}" + _END, "rnd_{alnum:32}"),
    Rule(
        "azure_storage_key",
        rb"AccountKey=",
        rb"AccountKey=(?P<s>[A-Za-z0-9+/]{86}==)",
        "DefaultEndpointsProtocol=https;AccountName=acct{digits:4};AccountKey={b64:86}==;EndpointSuffix=core.windows.net",
    ),
    Rule(
        "telegram_bot_token",
        rb"[0-9]{8,10}:AA",
        rb"[0-9]{8,10}:AA[\w\-]{33}" + _END,
        "{digits:10}:AA{word:33}",
    ),
    Rule(
        "discord_webhook",
        rb"discord(?:app)?\.com/api/webhooks/",
        rb"discord(?:app)?\.com/api/webhooks/[0-9]+/[\w\-]{60,}",
        "https://discord.com/api/webhooks/{digits:18}/{word:68}",
    ),
    Rule(
        "jwt",
        rb"eyJ",
        rb"eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}",
        "eyJhbGciOiJIUzI1NiJ9.eyJ{word:40}.{word:43}",
    ),
]


class LogRule(NamedTuple):
    kind: str
    anchor: bytes  # Hyperscan expression; a match's end marks a line the rule's check then reads
    caseless: bool = False
    check: str = ""  # which check in `scrub.checks` decides (default: the kind's own)


LOG_RULES: list[LogRule] = [
    LogRule(
        "assigned_secret",
        rb"(?:key|secret|token|passw|pwd|credential|auth)[\w\-]*[\"']?[ \t]*[:=][ \t]*[\"'b]?[\"']?[^\s\"'`,;)}\]&]{8}",
        caseless=True,
    ),
    LogRule("url_password", rb"://[^/\s:@\"']+:[^/\s@\"']+@"),
    LogRule("cli_password", rb"(?:\s-u|--user[= ])[ \t]*['\"]?[^\s:'\"$]+:[^\s'\"]", check="cli_user"),
    LogRule(
        "cli_password", rb"(?:mysql|mysqldump|mysqladmin|mariadb)[ \t][^\n]*\s-p[^\s]", check="cli_mysql"
    ),
    LogRule("cli_password", rb"--[a-z\-]{0,20}pass(?:word|wd)[= ]['\"]?[^\s'\"-]", check="cli_flag"),
    LogRule(
        "cli_password",
        rb"(?:sshpass[ \t]+-p|redis-cli[ \t][^\n]*\s-a|docker[ \t]+login[ \t][^\n]*\s-p)[ \t]*[^\s]",
        check="cli_tool",
    ),
    LogRule("http_auth", rb"authorization[\"']?[ \t]*[:=]", caseless=True),
    LogRule("private_key", rb"-----BEGIN [A-Z0-9 ]{0,40}PRIVATE KEY"),
    LogRule("email", rb"[A-Za-z0-9._%+\-]@[A-Za-z0-9\-]+\.[A-Za-z]"),
    LogRule("home_user", rb"(?:/Users/|/home/|Users\\|-Users-|-home-)"),
]
# scanned apart: combined with the rules above, its long repeat slows the whole database down
ENTROPY_ANCHOR = rb"[A-Za-z0-9+/_\-=]{24,}[^A-Za-z0-9+/_\-=]"

# contexts the log rules catch, as examples for the corpus: {secret} is the planted value
LOG_EXAMPLES: dict[str, list[str]] = {
    "assigned_secret": [
        "DB_PASSWORD={pw}",
        'password = "{pw}"',
        "TWILIO_AUTH_TOKEN={lowhex:32}",
        "client_secret: {alnum:40}",
        'aws_secret_access_key = "{b64:40}"',
    ],
    "url_password": [
        "postgres://app:{pw}@db.internal:5432/app",
        "https://deploy:{alnum:20}@git.corp.io/x.git",
    ],
    "cli_password": [
        "curl -u admin:{pw} https://api.corp.io/v1/items",
        "curl --user deploy:{pw} -X POST https://ci.corp.io/hook",
        "mysql -h db -uroot -p{pw} shop < dump.sql",
        "mysqldump --user=root --password={pw} shop",
        "sshpass -p {pw} ssh deploy@10.0.0.4",
    ],
    "http_auth": [
        'curl -H "Authorization: Basic {basic}" https://api.corp.io',
        'curl -H "Authorization: Bearer {alnum:40}" https://api.corp.io',
        "Authorization: Token {lowhex:40}",
    ],
    "private_key": ["{pem}"],
    "high_entropy": ['signature = "{b62:40}"', "the value is {b62:32}"],
}

EXAMPLE_CLASSES: dict[str, str] = {
    "alnum": "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
    "b62": "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
    "alpha": "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
    "upnum": "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
    "word": "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-",
    "lowhex": "0123456789abcdef",
    "digits": "0123456789",
    "b64": "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
    "bech32": "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L",
}
