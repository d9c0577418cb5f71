"""Provisioning: definitions as files -> validate -> plan (diff) -> apply / drift / destroy,
and export as Terraform. ``cli.provision_app`` is the ``composer-obs provision`` command."""
