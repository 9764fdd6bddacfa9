"""Make sure a newcomer can log in: create a first account when the database has none."""

import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

DEMO_USERNAME = "demo"
DEMO_PASSWORD = "demo"


class Command(BaseCommand):
    help = (
        "Create a first superuser when no user exists: demo/demo with DEBUG on, otherwise 'admin' with a "
        "random password that is printed once."
    )

    def handle(self, *args, **options):
        users = get_user_model().objects
        if settings.DEBUG and users.filter(username=DEMO_USERNAME).exists():
            self.stdout.write(self.style.SUCCESS(f"Log in as {DEMO_USERNAME} / {DEMO_PASSWORD}"))
            return
        if users.exists():
            self.stdout.write("Log in with an existing account (new ones: python manage.py createsuperuser).")
            return

        if settings.DEBUG:
            users.create_superuser(DEMO_USERNAME, password=DEMO_PASSWORD)
            self.stdout.write(self.style.SUCCESS(f"Created the development account. Log in as {DEMO_USERNAME} / {DEMO_PASSWORD}"))
            return
        password = secrets.token_urlsafe(12)
        users.create_superuser("admin", password=password)
        self.stdout.write(self.style.SUCCESS(f"Created the first account. Log in as admin / {password}"))
        self.stdout.write("This password is shown only now; change it after logging in.")
