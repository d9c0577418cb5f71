"""``python -m observability.provision``: the provision commands without the main CLI."""

from observability.provision.cli import provision_app

if __name__ == "__main__":
    provision_app(prog_name="composer-obs provision")
