"""A faithful copy of the original recipe's handler, the baseline keyturn is measured against.

The blog's Lambda gets ``{"action": "create", "username": NAME}``, lists the user's keys,
deactivates and deletes each one, creates a new key and publishes the key *and its secret* to
an SNS topic, then answers with the user's keys. Its flaws (the outage between delete and the
reader's update, the secret in an e-mail) are the reason keyturn exists; here it only sets the
pace. Nothing in this module logs or prints the secret.
"""

from __future__ import annotations

import json
from typing import Any


def lambda_handler(event: dict[str, Any], iam: Any, sns: Any, topic_arn: str) -> dict[str, Any]:
    """The recipe's handler, with its clients passed in (a warm Lambda's module globals)."""
    user = event["username"]
    if event.get("action") != "create":
        return {"statusCode": 400, "body": "unknown action"}
    for key in iam.list_access_keys(UserName=user)["AccessKeyMetadata"]:
        iam.update_access_key(UserName=user, AccessKeyId=key["AccessKeyId"], Status="Inactive")
        iam.delete_access_key(UserName=user, AccessKeyId=key["AccessKeyId"])
    new_key = iam.create_access_key(UserName=user)["AccessKey"]
    sns.publish(
        TopicArn=topic_arn,
        Subject=f"New access key for {user}",
        Message=json.dumps(
            {
                "UserName": user,
                "AccessKeyId": new_key["AccessKeyId"],
                "SecretAccessKey": new_key["SecretAccessKey"],
            }
        ),
    )
    return {
        "statusCode": 200,
        "body": [
            {
                "UserName": user,
                "AccessKeyId": new_key["AccessKeyId"],
                "status": new_key["Status"],
                "CreateDate": str(new_key["CreateDate"]),
            }
        ],
    }
