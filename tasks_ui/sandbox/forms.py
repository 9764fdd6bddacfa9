from django import forms

from . import faults
from .models import SandboxFault


class FaultForm(forms.Form):
    """Inject a fault from the sandbox's settings page; `faults.validate` checks it like the HTTP endpoint."""

    route = forms.ChoiceField(help_text="The endpoint whose next calls fail.")
    kind = forms.ChoiceField(choices=SandboxFault.KINDS, help_text="What those calls get instead of the simulated response.")
    count = forms.IntegerField(
        min_value=1, max_value=faults.MAX_COUNT, initial=1, help_text="How many of the next calls fail."
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["route"].choices = [(name, name) for name in faults.route_names()]

    def clean(self):
        cleaned = super().clean()
        if not self.errors:
            try:
                faults.validate(cleaned["route"], cleaned["kind"], cleaned["count"])
            except faults.InvalidFault as error:
                raise forms.ValidationError(str(error))
        return cleaned
