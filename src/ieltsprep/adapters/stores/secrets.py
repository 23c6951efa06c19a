"""Store credentials (Apple In-App Purchase key, Google service account) from SSM Parameter Store.

Settings carry only parameter names; the secrets are read once per container, decrypted by SSM (SecureString).
"""

from __future__ import annotations

from ieltsprep.settings import Settings


def read_parameter(settings: Settings, name: str) -> str:
    """The decrypted value of an SSM parameter in the settings' region."""
    import boto3

    client = boto3.client("ssm", region_name=settings.region)
    response = client.get_parameter(Name=name, WithDecryption=True)
    return str(response["Parameter"]["Value"])
