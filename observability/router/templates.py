"""Message templates: Jinja2, sandboxed, with defaults a user can override by name.

Every text field of a receiver (Slack ``title``/``text``, PagerDuty ``summary``, email
``subject``/``html``/``text``, Google Chat ``text``) is a template string. Their defaults just
include a named template (``{% include "slack.text" %}``), so a user changes the look of every
Slack message by defining ``slack.text`` in a file listed under ``templates:``, or one
receiver's by setting its field. The defaults live here as strings so they ship inside the
package whatever the packaging.
"""

from __future__ import annotations

import glob
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from jinja2 import ChainableUndefined, ChoiceLoader, DictLoader, Template, TemplateError
from jinja2.sandbox import SandboxedEnvironment

DEFAULTS: dict[str, str] = {
    "title": (
        "[{{ status | upper }}{% if status == 'firing' %}:{{ firing | length }}{% endif %}] "
        "{{ common_labels.alertname or group_labels.values() | join(' ') or 'alerts' }}"
        "{% for name, value in group_labels.items() if name != 'alertname' %}"
        " {{ name }}={{ value }}{% endfor %}"
    ),
    "alert.line": (
        "{{ '[resolved] ' if alert.status == 'resolved' else '' }}"
        "{{ alert.annotations.summary or alert.labels.alertname }}"
        "{% for name in ['dag_id', 'task_id', 'environment_name'] if alert.labels[name] %}"
        " {{ name }}={{ alert.labels[name] }}{% endfor %}"
    ),
    # The cause of one alert (``alert.cause``, see router/enrichment/cause.py), as text.
    "cause.text": (
        "{% set c = alert.cause %}{% if c %}"
        "What broke: {{ c.headline }}\n"
        "{% for t in c.tasks %}  task {{ t.dag_id }}.{{ t.task_id }}"
        "{% if t.tries %} ({{ t.tries }}{% if t.duration %}, {{ t.duration }}{% endif %})"
        "{% endif %}{% if t.run_id %} run {{ t.run_id }}{% endif %}\n{% endfor %}"
        "{% if c.error %}  error: {{ c.error.text }}\n"
        "{% if c.error.recurrence_text %}  {{ c.error.recurrence_text }}"
        "{% if c.error.fingerprint %} (fingerprint {{ c.error.fingerprint }}){% endif %}\n"
        "{% endif %}{% endif %}"
        "{% for g in c.calls %}  calls: {{ g.text }}\n{% endfor %}"
        "{% if c.log_tail and c.log_tail.lines %}  last log lines of {{ c.log_tail.task_id }}:\n"
        "{% for line in c.log_tail.lines %}    {{ line }}\n{% endfor %}{% endif %}"
        "{% for link in c.links %}  {{ link.text }}: {{ link.url }}\n{% endfor %}"
        "{% for note in c.notes %}  ({{ note }})\n{% endfor %}"
        "{% elif alert.annotations.cause_unavailable %}"
        "{{ alert.annotations.cause_unavailable }}\n{% endif %}"
    ),
    "cause.html": (
        "{% set c = alert.cause %}{% if c %}"
        "<p><b>What broke:</b> {{ c.headline }}</p><table>"
        "{% for t in c.tasks %}<tr><td>task</td><td>{{ t.dag_id }}.{{ t.task_id }} "
        "{{ t.tries }} {{ t.duration }}</td></tr>{% endfor %}"
        "{% if c.error %}<tr><td>error</td><td>{{ c.error.text }}</td></tr>"
        "<tr><td>seen</td><td>{{ c.error.recurrence_text }}</td></tr>{% endif %}"
        "{% for g in c.calls %}<tr><td>calls</td><td>{{ g.text }}</td></tr>{% endfor %}"
        "</table>{% if c.log_tail and c.log_tail.lines %}"
        "<pre>{{ c.log_tail.lines | join('\n') }}</pre>{% endif %}<p>"
        '{% for link in c.links %}<a href="{{ link.url }}">{{ link.text }}</a> {% endfor %}</p>'
        "{% elif alert.annotations.cause_unavailable %}"
        "<p>{{ alert.annotations.cause_unavailable }}</p>{% endif %}"
    ),
    "slack.title": "{% include 'title' %}",
    "slack.text": (
        "{% for alert in alerts %}"
        "• {% with alert=alert %}{% include 'alert.line' %}{% endwith %}"
        "{% if alert.annotations.url %} <{{ alert.annotations.url }}|console>{% endif %}\n"
        "{% if alert.annotations.cause_unavailable %}"
        "  _{{ alert.annotations.cause_unavailable }}_\n{% endif %}"
        "{% endfor %}"
        "{% if truncated_alerts %}… and {{ truncated_alerts }} more\n{% endif %}"
    ),
    "google_chat.text": (
        "*{% include 'title' %}*\n"
        "{% for alert in alerts %}"
        "• {% with alert=alert %}{% include 'alert.line' %}{% endwith %}"
        "{% if alert.annotations.url %} {{ alert.annotations.url }}{% endif %}\n"
        "{% if alert.annotations.cause_unavailable %}"
        "  {{ alert.annotations.cause_unavailable }}\n{% endif %}"
        "{% endfor %}"
    ),
    "pagerduty.summary": (
        "{% if alert %}{% if alert.cause %}{{ alert.cause.headline }} | {% endif %}"
        "{% include 'alert.line' %}{% else %}{% include 'title' %}{% endif %}"
    ),
    "email.subject": "{% include 'title' %}",
    "email.text": (
        "{% for alert in alerts %}"
        "{% with alert=alert %}{% include 'alert.line' %}{% endwith %}\n"
        "{% for name, value in alert.labels | dictsort %}  {{ name }}: {{ value }}\n{% endfor %}"
        "{% with alert=alert %}{% include 'cause.text' %}{% endwith %}"
        "{% if alert.annotations.documentation %}\n{{ alert.annotations.documentation }}\n"
        "{% endif %}{% if alert.annotations.url %}{{ alert.annotations.url }}\n{% endif %}\n"
        "{% endfor %}"
    ),
    "email.html": (
        "<h2>{% include 'title' %}</h2>"
        "{% for alert in alerts %}<h3>{% with alert=alert %}{% include 'alert.line' %}"
        "{% endwith %}</h3><table>"
        "{% for name, value in alert.labels | dictsort %}"
        "<tr><td>{{ name }}</td><td>{{ value }}</td></tr>{% endfor %}</table>"
        "{% with alert=alert %}{% include 'cause.html' %}{% endwith %}"
        "{% if alert.annotations.documentation %}<pre>{{ alert.annotations.documentation }}</pre>"
        "{% endif %}{% if alert.annotations.url %}"
        '<p><a href="{{ alert.annotations.url }}">Open in Cloud Monitoring</a></p>'
        "{% endif %}{% endfor %}"
    ),
    "alert.list.markdown": (
        "{% for alert in alerts %}"
        "- {% with alert=alert %}{% include 'alert.line' %}{% endwith %}"
        "{% if alert.annotations.url %} [console]({{ alert.annotations.url }}){% endif %}\n"
        "{% endfor %}"
    ),
    "alert.sections.markdown": (
        "{% if firing %}**Alerts firing**\n\n{% with alerts=firing %}"
        "{% include 'alert.list.markdown' %}{% endwith %}{% endif %}"
        "{% if resolved %}\n**Alerts resolved**\n\n{% with alerts=resolved %}"
        "{% include 'alert.list.markdown' %}{% endwith %}{% endif %}"
        "{% if truncated_alerts %}\n… and {{ truncated_alerts }} more\n{% endif %}"
    ),
    "msteams.title": "{% include 'title' %}",
    "msteams.summary": "{% include 'title' %}",
    "msteams.text": "{% include 'alert.sections.markdown' %}",
    "msteamsv2.title": "{% include 'title' %}",
    "msteamsv2.text": "{% include 'alert.sections.markdown' %}",
    "opsgenie.message": "{% include 'title' %}",
    "opsgenie.description": (
        "{{ common_annotations.values() | join(' ') }}\n{% include 'alert.sections.markdown' %}"
    ),
    "opsgenie.source": "{{ external_url or 'composer-observability' }}",
    # Opsgenie's P1 (critical) .. P5 (informational) from the alerts' severity label.
    "opsgenie.priority": (
        "{{ {'critical': 'P1', 'error': 'P2', 'warning': 'P3', 'info': 'P5'}"
        ".get((alert.labels if alert else common_labels).severity, '') }}"
    ),
    "jira.summary": "{% include 'title' %}",
    "jira.description": "{% include 'alert.sections.markdown' %}",
    "jira.comment": (
        "{{ firing | length }} alert(s) firing again.\n{% include 'alert.sections.markdown' %}"
    ),
    # Alertmanager's rule: High if any firing alert is critical, else Medium for a warning,
    # else Low for info; no priority otherwise (Jira's default applies).
    "jira.priority": (
        "{% set severities = firing | map(attribute='labels') | map(attribute='severity')"
        " | list %}"
        "{% if 'critical' in severities %}High{% elif 'warning' in severities %}Medium"
        "{% elif 'info' in severities %}Low{% endif %}"
    ),
}


Markup = Literal["text", "html", "mrkdwn", "markdown", "jira"]
"""How a channel's text is marked up, hence how values are escaped in it: plain text (email
text, PagerDuty, Opsgenie's description) not at all; HTML (email, Opsgenie's message) by
Jinja's autoescape; ``mrkdwn`` (Slack, and Google Chat, which reads the same ``<url|text>``
links and entities) by ``escape_mrkdwn``; ``markdown`` (Microsoft Teams: CommonMark's subset
in Adaptive Cards, Markdown and some HTML in connector cards) by ``escape_markdown``;
``jira`` (Jira's wiki markup: REST v2 and Data Center descriptions and comments) by
``escape_jira_wiki``."""

_MRKDWN = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
_URL = re.compile(r"https?://[^\s|]")
_MARKDOWN = str.maketrans({char: "\\" + char for char in "\\`*_[]<>~"})
_JIRA_WIKI = str.maketrans({char: "\\" + char for char in "\\[]{}|!*_^~+"})
_URL_BREAKERS = str.maketrans({char: f"%{ord(char):02X}" for char in " \t\r\n()[]{}<>|!\\"})
"""What could end a link or start markup inside a URL, percent-encoded (same URL, inert)."""


def escape_mrkdwn(value: Any) -> Any:
    """Every value a template prints into Slack or Chat text: ``&``, ``<``, ``>`` as Slack's
    entities, so that alert text cannot mention ``<!channel>`` or make a link; a URL's ``|``
    percent-encoded, so that ``<{{ url }}|console>`` stays the template's link with its text.
    Links are made by the templates' own markup only."""
    if value is None or isinstance(value, bool | int | float):
        return value
    text = str(value).translate(_MRKDWN)
    if _URL.match(text):
        text = text.replace("|", "%7C")
    return text


def escape_markdown(value: Any) -> Any:
    """Every value a template prints into Teams text: Markdown's link, emphasis, code,
    strike-through and HTML characters backslash-escaped (CommonMark), so alert text cannot
    make a link, an autolink or bold text; in a URL they are percent-encoded instead, so that
    ``[console]({{ url }})`` stays the template's link to that URL."""
    return _escaped(value, _MARKDOWN)


def escape_jira_wiki(value: Any) -> Any:
    """Every value a template prints into Jira wiki text: its link (``[text|url]``), mention
    (``[~user]``), image (``!url!``), macro (``{html}``) and emphasis characters
    backslash-escaped, URLs percent-encoded (see ``escape_markdown``)."""
    return _escaped(value, _JIRA_WIKI)


def _escaped(value: Any, table: dict[int, str]) -> Any:
    """``value`` as text with ``table`` applied, or its URL link-safe; numbers and None as
    they are (Jinja prints them itself)."""
    if value is None or isinstance(value, bool | int | float):
        return value
    text = str(value)
    if _URL.match(text):
        return text.translate(_URL_BREAKERS)
    return text.translate(table)


class Templates:
    """Compiles and renders template strings, resolving includes in user files, then defaults."""

    def __init__(self, files: Mapping[str, str] | None = None) -> None:
        loader = ChoiceLoader([DictLoader(dict(files or {})), DictLoader(DEFAULTS)])
        options: dict[str, Any] = {"loader": loader, "undefined": ChainableUndefined}
        self._environments: dict[Markup, SandboxedEnvironment] = {
            "text": SandboxedEnvironment(autoescape=False, **options),
            "html": SandboxedEnvironment(autoescape=True, **options),
            "mrkdwn": SandboxedEnvironment(autoescape=False, finalize=escape_mrkdwn, **options),
            "markdown": SandboxedEnvironment(autoescape=False, finalize=escape_markdown, **options),
            "jira": SandboxedEnvironment(autoescape=False, finalize=escape_jira_wiki, **options),
        }
        self._cache: dict[tuple[str, Markup], Template] = {}

    @classmethod
    def from_globs(cls, patterns: list[str], base_dir: Path) -> Templates:
        """Templates from files matching ``patterns`` (relative to the config file); each file's
        name without its extension is the template's name, e.g. ``slack.text.j2``."""
        files: dict[str, str] = {}
        for pattern in patterns:
            for name in sorted(glob.glob(str(base_dir / pattern))):
                path = Path(name)
                files[path.name.removesuffix(".j2")] = path.read_text(encoding="utf-8")
        templates = cls(files)
        for name, source in files.items():
            templates.check(source, name=name)
        return templates

    def compile(self, source: str, markup: Markup = "text") -> Template:
        key = (source, markup)
        if key not in self._cache:
            self._cache[key] = self._environments[markup].from_string(source)
        return self._cache[key]

    def check(self, source: str, name: str = "template", markup: Markup = "text") -> None:
        """Raise ValueError naming the problem when ``source`` or what it includes is broken."""
        try:
            self.compile(source, markup).render(_SAMPLE)
        except TemplateError as exc:
            raise ValueError(f"{name}: {exc}") from None

    def render(self, source: str, context: Mapping[str, Any], markup: Markup = "text") -> str:
        return self.compile(source, markup).render(context)


_SAMPLE: dict[str, Any] = {
    "receiver": "check",
    "status": "firing",
    "alerts": [],
    "firing": [],
    "resolved": [],
    "group_labels": {},
    "common_labels": {},
    "common_annotations": {},
    "external_url": "",
    "group_key": "",
    "truncated_alerts": 0,
    "cause_unavailable": None,
}
