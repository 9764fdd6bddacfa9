"""Forms of the team pages."""

from django import forms

from tasks_ui.models import Membership


class TeamNameForm(forms.Form):
    name = forms.CharField(max_length=100, label="Team name")

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError("Enter a name for the team.")
        return name


class ApiKeyForm(forms.Form):
    api_key = forms.CharField(
        max_length=500,
        label="Browser Use API key",
        strip=True,
        # The key is never rendered back into the page, not even after an error.
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off", "placeholder": "bu_…"}),
    )
    base_url = forms.URLField(
        required=False,
        assume_scheme="https",
        label="API base URL",
        help_text="Leave empty for https://api.browser-use.com/api/v2.",
    )

    def clean_api_key(self):
        key = self.cleaned_data["api_key"]
        if any(character.isspace() for character in key):
            raise forms.ValidationError("An API key has no spaces; paste it again.")
        return key


class InvitationForm(forms.Form):
    role = forms.ChoiceField(choices=Membership.ROLES, initial=Membership.MEMBER)


class MemberRoleForm(forms.Form):
    role = forms.ChoiceField(choices=Membership.ROLES)
