"""Filters for showing API data on run pages: JSON trees and checked URLs."""

from django import template
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

register = template.Library()

MAX_DEPTH = 20


@register.filter
def json_tree(value, depth: int = 0) -> SafeString:
    if depth > MAX_DEPTH:
        return mark_safe('<span class="json-scalar">…</span>')
    if isinstance(value, dict):
        if not value:
            return mark_safe('<span class="json-empty">{}</span>')
        rows = format_html_join("", "<dt>{}</dt><dd>{}</dd>", ((key, json_tree(item, depth + 1)) for key, item in value.items()))
        return format_html('<dl class="json-object">{}</dl>', rows)
    if isinstance(value, list):
        if not value:
            return mark_safe('<span class="json-empty">[]</span>')
        items = format_html_join("", "<li>{}</li>", ((json_tree(item, depth + 1),) for item in value))
        return format_html('<ol class="json-array" start="0">{}</ol>', items)
    if value is None:
        return mark_safe('<span class="json-null">null</span>')
    if isinstance(value, bool):
        return format_html('<span class="json-bool">{}</span>', "true" if value else "false")
    if isinstance(value, (int, float)):
        return format_html('<span class="json-number">{}</span>', value)
    return format_html('<span class="json-string">{}</span>', value)


@register.filter
def http_url(value) -> str:
    """Return `value` if it is an http(s) or same-site URL, else an empty string, so API data cannot inject a
    `javascript:` link."""
    text = str(value or "")
    if text.startswith(("https://", "http://")) or (text.startswith("/") and not text.startswith("//")):
        return text
    return ""
