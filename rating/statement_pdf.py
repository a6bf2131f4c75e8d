"""The monthly statement as a PDF an owner can file (WeasyPrint), in the account's language.

For payouts it is a self-billing credit note (the operator issues it on the owner's behalf,
with VAT only if the owner is VAT-registered), otherwise an invoice. It names both parties
with their addresses and UIDs, its number, date and period of supply, each number's calls
per tariff, the VAT, the payout and its due date, and the 30 days the owner has to object.
Amounts read ``CHF 1’234.50``, dates ``05.12.2026``, numbers ``0900 123 456``; none of them
wraps inside a table cell. One font, DejaVu Sans (Debian's fonts-dejavu-core), in a single
face, is embedded: the PDF looks the same wherever it is opened.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from jinja2 import Environment
from markupsafe import Markup
from weasyprint import HTML

from rating import payouts
from rating.statement_wording import WORDING
from rating.statements import BuiltStatement, StatementLine
from smartnumbers.money import VAT_RATE, format_chf
from smartnumbers.phone import format_swiss

FONT = "DejaVu Sans"
INVOICE_PAYABLE_DAYS = 30

_TEMPLATE = """<!doctype html>
<html lang="{{ lang }}"><head><meta charset="utf-8">
<title>{{ heading }}</title>
{% if s.issuer.name %}<meta name="author" content="{{ s.issuer.name }}">{% endif %}
<style>
@page {
  size: A4; margin: 16mm 16mm 20mm 20mm;
  @bottom-left { content: {{ css(footer) }}; font-size: 7.5pt; color: #444; }
  @bottom-right { content: {{ css(page_before) }} counter(page) {{ css(page_between) }} counter(pages){{ css(page_after) }};
                  font-size: 7.5pt; color: #444; }
}
* { font-family: "{{ font }}"; font-weight: normal; font-style: normal; }
body { margin: 0; font-size: 8.5pt; line-height: 1.35; color: #000; }
table { border-collapse: collapse; }
td, th { vertical-align: top; text-align: left; }
.parties { width: 100%; }
.parties td { width: 50%; padding: 0; }
.issuer .name { font-size: 11pt; }
.recipient { padding-top: 14mm !important; font-size: 9.5pt; }
h1 { font-size: 15pt; margin: 9mm 0 1mm; }
.draft { font-size: 10pt; color: #b00000; margin: 0 0 2mm; }
.facts { margin: 3mm 0 4mm; }
.facts th { color: #444; padding: 0.5mm 6mm 0.5mm 0; white-space: nowrap; }
.facts td { padding: 0.5mm 0; }
.lines { width: 100%; }
.lines th { background: #e8e8e8; padding: 1.2mm 1.3mm; font-size: 7.5pt; vertical-align: bottom; }
.lines td { padding: 1.1mm 1.3mm; border-bottom: 0.3pt solid #999; }
.lines tr.sum td { border-top: 0.8pt solid #000; border-bottom: none; }
.n { text-align: right !important; }
td.n, .nowrap { white-space: nowrap; }
h2 { font-size: 9.5pt; margin: 6mm 0 1mm; }
.closing { page-break-inside: avoid; }
.totals { width: 100%; margin-top: 5mm; }
.totals td { padding: 0.8mm 1.3mm; }
.totals tr.sum td { border-top: 0.8pt solid #000; border-bottom: 2pt double #000; font-size: 10pt; padding-top: 1.5mm; }
.notes { margin-top: 6mm; }
.notes p { margin: 0 0 1.5mm; }
.small { font-size: 7.5pt; color: #444; }
</style></head><body>
<table class="parties"><tr>
<td class="issuer">
{% if s.issuer.name %}<div class="name">{{ s.issuer.name }}</div>{% endif %}
{% for line in s.issuer.address %}<div>{{ line }}</div>{% endfor %}
{% if s.issuer.vat_number %}<div class="nowrap">{{ w.uid }} {{ s.issuer.vat_number }} {{ w.vat_suffix }}</div>{% endif %}
</td>
<td class="recipient">
<div>{{ s.account.name }}</div>
{% for line in owner_address %}<div>{{ line }}</div>{% endfor %}
</td>
</tr></table>

<h1>{{ heading }}</h1>
{% if not s.issued %}<p class="draft">{{ w.draft }}</p>{% endif %}
<table class="facts">
<tr><th>{{ w.date }}</th><td class="nowrap">{{ date(issued_on) }}</td></tr>
<tr><th>{{ w.period }}</th><td class="nowrap">{{ date(period_start) }} – {{ date(period_end) }}</td></tr>
<tr><th>{{ w.your_uid }}</th><td class="nowrap">{% if s.account.vat_number %}{{ s.account.vat_number }} {{ w.vat_suffix }}{% else %}– ({{ w.not_registered }}){% endif %}</td></tr>
{% if credit_note %}
<tr><th>{{ w.payout }}</th><td>{{ w[s.payout_option] }}</td></tr>
<tr><th>{{ w.due_on }}</th><td class="nowrap">{{ date(s.due_on) }}</td></tr>
{% elif s.payable < 0 %}
<tr><th>{{ w.payable_by }}</th><td class="nowrap">{{ date(payable_by) }}</td></tr>
{% endif %}
</table>

<table class="lines">
<thead><tr><th>{{ w.col_number }}</th><th>{{ w.col_tariff }}</th><th class="n">{{ w.col_calls }}</th>
<th class="n">{{ w.col_answered }}</th><th class="n">{{ w.col_minutes }}</th><th class="n">{{ header(w.col_callers_paid) }}</th>
{% if has_share %}<th class="n">{{ header(w.col_share) }}</th>{% endif %}{% if has_cost %}<th class="n">{{ header(w.col_cost) }}</th>{% endif %}</tr></thead>
<tbody>
{% for line in s.lines %}<tr><td class="nowrap">{{ number(line.number) }}</td><td class="nowrap">{{ tariff(line.tariff) }}</td>
<td class="n">{{ count(line.calls) }}</td><td class="n">{{ count(line.answered) }}</td><td class="n">{{ minutes(line.talk_s) }}</td>
<td class="n">{{ chf(line.caller) }}</td>{% if has_share %}<td class="n">{{ chf(line.payout) }}</td>{% endif %}{% if has_cost %}<td class="n">{{ chf(line.owner_cost) }}</td>{% endif %}</tr>
{% endfor %}
<tr class="sum"><td colspan="2">{{ w.total }}</td><td class="n">{{ count(lines_sum.calls) }}</td>
<td class="n">{{ count(lines_sum.answered) }}</td><td class="n">{{ minutes(lines_sum.talk_s) }}</td><td class="n">{{ chf(lines_sum.caller) }}</td>
{% if has_share %}<td class="n">{{ chf(lines_sum.payout) }}</td>{% endif %}{% if has_cost %}<td class="n">{{ chf(lines_sum.owner_cost) }}</td>{% endif %}</tr>
</tbody></table>

{% if s.adjustments %}<h2>{{ w.adjustments }}</h2>
<table class="lines">
<thead><tr><th>{{ w.col_number }}</th><th>{{ w.col_call }}</th><th>{{ w.col_reason }}</th>
{% if has_share %}<th class="n">{{ header(w.col_share) }}</th>{% endif %}{% if has_cost %}<th class="n">{{ header(w.col_cost) }}</th>{% endif %}</tr></thead>
<tbody>{% for a in s.adjustments %}<tr><td class="nowrap">{{ number(a.number) }}</td><td class="nowrap">{{ moment(a.started_at) }}</td>
<td>{{ w.rerated }}</td>{% if has_share %}<td class="n">{{ signed(a.payout) }}</td>{% endif %}{% if has_cost %}<td class="n">{{ signed(a.owner_cost) }}</td>{% endif %}</tr>{% endfor %}</tbody>
</table>{% endif %}

<div class="closing">
<table class="totals">
{% if s.payout_total %}<tr><td>{{ w.share_total }}</td><td class="n">{{ chf(s.payout_total) }}</td></tr>{% endif %}
{% if s.payfast_fee and fee_in_vat_base %}<tr><td>{{ w['payfast_fee_' ~ s.payfast_fee_vat.value] }}</td><td class="n">{{ minus(s.payfast_fee) }}</td></tr>{% endif %}
{% if s.payout_total %}{% if s.account.vat_registered %}<tr><td>{{ vat_on(s.payout_vat_base) }}</td><td class="n">{{ chf(s.payout_vat) }}</td></tr>
{% else %}<tr><td>{{ w.no_vat_on_share }}</td><td class="n">{{ chf(s.payout_vat) }}</td></tr>{% endif %}{% endif %}
{% if s.payfast_fee and not fee_in_vat_base %}<tr><td>{{ w['payfast_fee_' ~ s.payfast_fee_vat.value] }}</td><td class="n">{{ minus(s.payfast_fee) }}</td></tr>{% endif %}
{% if s.owner_cost %}{% set cost = minus if credit_note else chf %}
<tr><td>{{ w.costs_total }}</td><td class="n">{{ cost(s.owner_cost) }}</td></tr>
<tr><td>{{ vat_on(s.owner_cost) }}</td><td class="n">{{ cost(s.owner_cost_vat) }}</td></tr>{% endif %}
<tr class="sum"><td>{{ w.in_your_favour if s.payable >= 0 else w.in_our_favour }}</td><td class="n">{{ chf(s.payable|abs) }}</td></tr>
</table>

<div class="notes">
{% if credit_note %}<p>{{ w.self_billing }}</p>{% endif %}
<p>{{ w.objection }}</p>
<p class="small">{{ w.rounding }}</p>
</div>
</div>
</body></html>"""

_DOCUMENT = Environment(autoescape=True).from_string(_TEMPLATE)
_TENTH = Decimal("0.1")


def _unbroken(text: str) -> Markup:
    """Text kept on one line inside running text (a rate, an amount)."""
    return Markup('<span class="nowrap">{}</span>').format(text)


def _css_string(text: str) -> Markup:
    """Text as a CSS string: every character but letters, digits and spaces escaped by code point."""
    escaped = "".join(c if c.isalnum() and c.isascii() or c == " " else f"\\{ord(c):x} " for c in text)
    return Markup(f'"{escaped}"')


def _header(text: str) -> str:
    """A column heading that may wrap, but not inside its parentheses: ``(exkl. MWST)`` stays whole."""
    return re.sub(r"\([^)]*\)", lambda part: part[0].replace(" ", "\u00a0"), text)


def _grouped(value: Decimal | int, places: int = 0) -> str:
    return f"{value:,.{places}f}".replace(",", "’")


def _minutes(talk_s: int) -> str:
    """Talk time in minutes to a tenth, grouped like amounts (``1’234.5``)."""
    return _grouped((Decimal(talk_s) / 60).quantize(_TENTH, rounding=ROUND_HALF_UP), 1)


def _tariff(codes: str) -> str:
    """A call's tariff codes in order of use: ``1, 7``."""
    return ", ".join(codes.split(","))


def _signed(amount: Decimal) -> str:
    return ("+" if amount >= 0 else "−") + format_chf(abs(amount))


def _minus(amount: Decimal) -> str:
    return "−" + format_chf(amount) if amount else format_chf(amount)


def _total(lines: list[StatementLine]) -> StatementLine:
    """The lines' column totals, for the table's last row."""
    counts = {"calls", "answered", "talk_s"}
    return StatementLine("", "", "", *(sum((getattr(line, name) for line in lines), 0 if name in counts else Decimal(0))
                                       for name in StatementLine.__slots__[3:]))


def render_html(built: BuiltStatement) -> str:
    language = built.account.language
    wording = WORDING[language]
    credit_note = built.payout_total > 0
    title = wording["credit_note" if credit_note else "invoice"]
    zone = ZoneInfo(built.zone_name)
    issued_on = (built.issued_at or dt.datetime.now(dt.UTC)).astimezone(zone).date()
    page_before, _, rest = wording["page"].partition("{page}")
    page_between, _, page_after = rest.partition("{pages}")
    heading = f"{title} {wording['number']} {built.document_number}" if built.document_number else title
    footer = f"{heading if built.issued else wording['draft']} · {built.account.name}"
    items = [*built.lines, *built.adjustments]
    rate = _unbroken(f"{VAT_RATE * 100:.1f} %")
    return _DOCUMENT.render(
        s=built, w=wording, lang=language.value, font=FONT, title=title, heading=heading, credit_note=credit_note,
        owner_address=built.account.address.split("\n") if built.account.address else [],
        issued_on=issued_on, period_start=dt.date.fromisoformat(built.period + "-01"),
        period_end=payouts.period_end(built.period),
        payable_by=issued_on + dt.timedelta(days=INVOICE_PAYABLE_DAYS), lines_sum=_total(built.lines),
        has_share=any(item.payout for item in items), has_cost=any(item.owner_cost for item in items),
        fee_in_vat_base=built.payout_vat_base != built.payout_total,  # the fee reduces the share VAT is due on
        css=_css_string, footer=footer, page_before=page_before, page_between=page_between, page_after=page_after,
        header=_header, date=lambda day: day.strftime("%d.%m.%Y"),
        moment=lambda instant: instant.astimezone(zone).strftime("%d.%m.%Y %H:%M"), chf=format_chf, signed=_signed, minus=_minus,
        number=format_swiss, count=_grouped, minutes=_minutes, tariff=_tariff,
        vat_on=lambda base: Markup.escape(wording["vat_on"]).format(rate=rate, base=_unbroken(format_chf(base))),
    )


def render(built: BuiltStatement) -> bytes:
    return HTML(string=render_html(built)).write_pdf()
