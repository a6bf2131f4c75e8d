"""The monthly statement as PDF (WeasyPrint): amounts ``CHF 1’234.50``, numbers grouped the
Swiss way, dates in Europe/Zurich. For payouts it is a self-billing credit note: the operator
issues it on the owner's behalf, with VAT only if the owner is VAT-registered."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from jinja2 import Environment
from weasyprint import HTML

from rating.statements import BuiltStatement
from smartnumbers.money import format_chf
from smartnumbers.phone import format_swiss

_TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><style>
@page { size: A4; margin: 18mm 16mm; @bottom-right { content: "page " counter(page) " of " counter(pages); font-size: 8pt; } }
body { font-family: sans-serif; font-size: 9.5pt; }
h1 { font-size: 15pt; margin: 0 0 4mm; }
table { width: 100%; border-collapse: collapse; margin-top: 4mm; }
th, td { padding: 1.2mm 1.5mm; border-bottom: 0.3pt solid #999; }
th { text-align: left; background: #eee; }
td.n, th.n { text-align: right; white-space: nowrap; }
.totals td { border: none; }
.totals tr.sum td { font-weight: bold; border-top: 0.8pt solid #000; }
.draft { color: #b00; font-weight: bold; }
.note { font-size: 8.5pt; color: #333; margin-top: 5mm; }
</style></head><body>
<h1>{{ title }}</h1>
<p>{{ s.account.name }} · period {{ s.period }}
{% if s.issued %} · no. {{ s.statement_id }} · issued {{ issued_at }}{% else %} · <span class="draft">DRAFT, not issued</span>{% endif %}</p>
<table>
<tr><th>number</th><th>tariff</th><th class="n">calls</th><th class="n">answered</th><th class="n">minutes</th>
<th class="n">callers paid (VAT incl.)</th><th class="n">your share</th><th class="n">your cost</th></tr>
{% for line in s.lines %}<tr><td>{{ number(line.number) }}</td><td>{{ line.tariff }}</td>
<td class="n">{{ line.calls }}</td><td class="n">{{ line.answered }}</td><td class="n">{{ "%.1f"|format(line.talk_s / 60) }}</td>
<td class="n">{{ chf(line.caller) }}</td><td class="n">{{ chf(line.payout) }}</td><td class="n">{{ chf(line.owner_cost) }}</td></tr>
{% endfor %}
</table>
{% if s.adjustments %}<table><tr><th>adjustment (call)</th><th>reason</th><th class="n">share</th><th class="n">cost</th></tr>
{% for a in s.adjustments %}<tr><td>{{ a.call_id }}</td><td>{{ a.reason }}</td><td class="n">{{ chf_signed(a.payout) }}</td><td class="n">{{ chf_signed(a.owner_cost) }}</td></tr>{% endfor %}
</table>{% endif %}
<table class="totals">
<tr><td>Your share of the net revenue (excl. VAT)</td><td class="n">{{ chf(s.payout_total) }}</td></tr>
{% set reduces = s.payfast_fee_vat.value == "reduces_share" %}
{% if s.payfast_fee and reduces %}<tr><td>PayFast fee, reducing your share</td><td class="n">−{{ chf(s.payfast_fee) }}</td></tr>{% endif %}
{% if s.payout_vat_base is not none %}<tr><td>VAT base: your share{{ " less the PayFast fee" if s.payfast_fee and reduces }}</td><td class="n">{{ chf(s.payout_vat_base) }}</td></tr>
<tr><td>VAT 8.1 % on it (you are VAT-registered)</td><td class="n">{{ chf(s.payout_vat) }}</td></tr>
{% else %}<tr><td>No VAT on your share: you are not registered for VAT</td><td class="n">{{ chf(s.payout_vat) }}</td></tr>{% endif %}
{% if s.payfast_fee and not reduces %}<tr><td>PayFast fee, a VAT-exempt financing fee</td><td class="n">−{{ chf(s.payfast_fee) }}</td></tr>{% endif %}
{% if s.owner_cost %}<tr><td>Your costs of 0800/084x calls (excl. VAT)</td><td class="n">−{{ chf(s.owner_cost) }}</td></tr>
<tr><td>VAT 8.1 % on your costs</td><td class="n">−{{ chf(s.owner_cost_vat) }}</td></tr>{% endif %}
<tr class="sum"><td>{{ "We pay you" if s.payable >= 0 else "You owe us" }}</td><td class="n">{{ chf(s.payable|abs) }}</td></tr>
</table>
<p class="note">{% if s.payout_total %}Payout {{ s.payout_option }}: due at the latest on {{ s.due_on.strftime("%d.%m.%Y") }}
(Standard: 6 weeks after the period; PayFast: 5 Swiss business days after it, for its fee).
This self-billing credit note is issued by the operator on your behalf; object within 30 days.{% endif %}
Amounts of each call are rounded once to the Rappen; lines are the sums of those amounts. Times are Europe/Zurich.</p>
</body></html>"""

_ENVIRONMENT = Environment(autoescape=True)


def _chf_signed(amount) -> str:
    return ("+" if amount >= 0 else "−") + format_chf(abs(amount))


def render_html(built: BuiltStatement) -> str:
    title = "Self-billing credit note" if built.payout_total > 0 else "Statement"
    issued_at = built.issued_at.astimezone(ZoneInfo(built.zone_name)).strftime("%d.%m.%Y %H:%M") if built.issued_at else ""
    return _ENVIRONMENT.from_string(_TEMPLATE).render(
        s=built, title=title, issued_at=issued_at, chf=format_chf, chf_signed=_chf_signed, number=format_swiss)


def render(built: BuiltStatement) -> bytes:
    return HTML(string=render_html(built)).write_pdf()
