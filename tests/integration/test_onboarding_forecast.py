"""The onboarding forecast on moto: ``keyturn plan`` and the Lambda ``plan`` action."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from click.testing import CliRunner

from keyturn.cli import cli
from keyturn.emulator import EmbeddedAws
from keyturn.handler import lambda_handler
from tests.integration.helpers import LambdaContext, keys_of, make_user


def _onboarding(aws: EmbeddedAws) -> dict[str, str]:
    """Users in scope (KEYTURN_USERS=test,app): one key past the cap, one near it; and one
    tagged into scope whose tags keyturn cannot use."""
    [old] = make_user(aws, "app", key_ages=(200,))
    [near] = make_user(aws, "test", key_ages=(85.25,))
    make_user(
        aws,
        "odd",
        key_ages=(30,),
        tags={"keyturn:managed": "true", "keyturn:grace-days": "a week"},
    )
    return {"app": old, "test": near}


def test_the_lambda_plan_forecasts_and_changes_nothing(aws: EmbeddedAws) -> None:
    # GIVEN a first run's fleet
    ids = _onboarding(aws)
    before = {user: keys_of(aws, user) for user in ids}
    # WHEN the Lambda is asked for a plan
    response = lambda_handler({"action": "plan"}, LambdaContext())
    forecast = response["body"]["forecast"]
    # THEN it forecasts two rotations, one key past the cap with the run it goes on (the
    # floor's, a day on), and no fleet date because of the user it cannot plan
    assert {user: keys_of(aws, user) for user in ids} == before
    assert forecast["rotation_count"] == 2
    [past] = forecast["past_cap"]
    assert (past["UserName"], past["AccessKeyId"]) == ("app", ids["app"])
    at = datetime.fromisoformat(forecast["at"])
    assert datetime.fromisoformat(past["deactivate_at"]) - at == timedelta(days=1)
    assert [n["UserName"] for n in forecast["no_date"]] == ["odd"]
    assert forecast["compliant_by"] is None


def test_keyturn_plan_shows_the_forecast_after_the_table(aws: EmbeddedAws) -> None:
    _onboarding(aws)
    runner = CliRunner()
    base = ["--endpoint-url", aws.url, "--region", aws.region]
    table = runner.invoke(cli, [*base, "plan"])
    data = json.loads(runner.invoke(cli, [*base, "--output", "json", "plan"]).output)

    assert table.exit_code == 0, table.output
    assert "Onboarding forecast" in table.output
    assert "a first run rotates 2 key(s)" in table.output
    assert "no date for odd: refused" in table.output
    assert data["forecast"]["rotation_count"] == 2
