"""The form for `POST /api/v2/sessions`, with the limits of the API's CreateSessionRequest and CustomProxy."""

from django import forms
from django.core.exceptions import ValidationError

from .forms import PROXY_CHOICES, ProxyCountryField, check_screen_size

# Fields of the custom proxy; any of them set means a custom proxy is wanted.
CUSTOM_PROXY_FIELDS = ("proxy_host", "proxy_port", "proxy_username", "proxy_password", "proxy_ignore_cert_errors")


class SessionForm(forms.Form):
    name = forms.CharField(
        required=False, max_length=100, label="Name",
        help_text="Shown in the dashboard only, to tell sessions apart; the API does not store it.",
    )
    profile_id = forms.UUIDField(
        required=False, label="Profile ID",
        help_text="A browser profile whose cookies and local storage the session starts with.",
    )
    proxy_country = ProxyCountryField(choices=PROXY_CHOICES, required=False, label="Proxy country")
    start_url = forms.URLField(
        required=False, max_length=2048, assume_scheme="https", label="Start URL",
        help_text="The page the browser opens when the session starts.",
    )
    screen_width = forms.IntegerField(required=False, min_value=320, max_value=6144, label="Screen width (px)")
    screen_height = forms.IntegerField(required=False, min_value=320, max_value=3456, label="Screen height (px)")
    keep_alive = forms.BooleanField(
        required=False, initial=True, label="Keep alive",
        help_text="The browser stays open after a task ends, for follow-up tasks, until the session is stopped.",
    )
    persist_memory = forms.BooleanField(
        required=False, initial=True, label="Share memory between tasks",
        help_text="Each task in the session sees the earlier tasks and their results.",
    )
    enable_recording = forms.BooleanField(required=False, label="Record the session")

    proxy_host = forms.CharField(required=False, max_length=255, label="Host")
    proxy_port = forms.IntegerField(required=False, min_value=1, max_value=65_535, label="Port")
    proxy_username = forms.CharField(required=False, max_length=255, label="Username")
    # Never rendered back, not even after a validation error: the password is typed once, then kept
    # encrypted and sent only to the API.
    proxy_password = forms.CharField(
        required=False, max_length=255, strip=False, label="Password",
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )
    proxy_ignore_cert_errors = forms.BooleanField(
        required=False, label="Ignore TLS certificate errors",
        help_text="For a proxy with a self-signed certificate, such as a debugging proxy.",
    )

    SECTIONS = {
        "basics": ["name", "profile_id", "proxy_country", "start_url", "keep_alive", "persist_memory", "enable_recording"],
        "screen": ["screen_width", "screen_height"],
        "custom_proxy": list(CUSTOM_PROXY_FIELDS),
    }

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)

    def clean(self):
        data = super().clean()

        check_screen_size(self, data)

        if self.wants_custom_proxy:
            if not (data.get("proxy_host") or "").strip() and "proxy_host" not in self.errors:
                self.add_error("proxy_host", "Enter the proxy's host, or clear the other custom proxy fields.")
            if data.get("proxy_port") is None and "proxy_port" not in self.errors:
                self.add_error("proxy_port", "Enter the proxy's port (1 to 65535).")
        return data

    def clean_proxy_host(self):
        host = self.cleaned_data["proxy_host"].strip()
        if "://" in host or "/" in host:
            raise ValidationError("Enter only the host name or IP address, such as proxy.example.com, without a scheme or path.")
        return host

    @property
    def wants_custom_proxy(self) -> bool:
        data = self.cleaned_data if hasattr(self, "cleaned_data") else {}
        return any(data.get(name) not in (None, "", False) for name in CUSTOM_PROXY_FIELDS)

    def sections_with_errors(self) -> set[str]:
        return {section for section, names in self.SECTIONS.items() if any(name in self.errors for name in names)}
