from .client import sandbox_mode


def api_mode(request):
    """Tell every page whether tasks go to the sandbox, for the banner."""
    return {"sandbox_mode": sandbox_mode()}
