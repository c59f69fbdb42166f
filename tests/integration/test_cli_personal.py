"""`keygen` and `check`'s line on personal accounts (DESIGN §3.4, §3.9), in process
against both simulators, as an admin runs them."""

from __future__ import annotations

from cryptography.fernet import Fernet

from bot.sim import RingCentralSimulator
from tests.cli import Cli
from tests.integration.test_cli_check import bad_lines
from tests.integration.test_cli_check import cli as cli  # the fixtures
from tests.integration.test_cli_check import slack as slack
from tests.integration.test_cli_subscriptions import public_url as public_url

KEY = Fernet.generate_key().decode()


def personal_line(out: str) -> str:
    (line,) = [line for line in out.splitlines() if "personal accounts" in line]
    return line


async def test_keygen_prints_a_key_that_encrypts(cli: Cli) -> None:
    run = await cli("keygen")

    assert run.code == 0
    key = run.out.strip()
    assert Fernet(key.encode()).decrypt(Fernet(key.encode()).encrypt(b"x")) == b"x"
    assert key != (await cli("keygen")).out.strip()


async def test_check_says_personal_accounts_are_off_without_a_key(cli: Cli) -> None:
    run = await cli("check")

    assert personal_line(run.out).startswith("✔ personal accounts: off: set RINGBRIDGE_SECRET_KEY")
    assert run.code == 0


async def test_check_tries_the_sign_in_page_with_the_redirect_uri(
    cli: Cli, rc_sim: RingCentralSimulator, public_url: str
) -> None:
    redirect = f"{public_url}/ringcentral/oauth/callback"
    rc_sim.register_redirect_uri(redirect)

    run = await cli("check", RINGBRIDGE_SECRET_KEY=KEY)

    assert run.code == 0, run.out
    assert personal_line(run.out) == (
        f"✔ personal accounts: on; RingCentral's sign-in page takes the redirect URI {redirect}"
    )
    assert rc_sim.requests_to(r"/oauth/authorize$")[-1].query["redirect_uri"] == [redirect]


async def test_check_names_a_redirect_uri_the_app_does_not_have(
    cli: Cli, rc_sim: RingCentralSimulator
) -> None:
    rc_sim.register_redirect_uri("https://elsewhere.example.com/callback")

    run = await cli(
        "check", RINGBRIDGE_SECRET_KEY=KEY, RINGCENTRAL_REDIRECT_URL="https://bridge.example.com/cb"
    )

    assert run.code == 1
    assert bad_lines(run) == [
        "✘ personal accounts: RingCentral's sign-in page refused (OAU-109): in the "
        "RingCentral app, turn on the authorization code flow and add the redirect URI "
        "https://bridge.example.com/cb"
    ]


async def test_a_malformed_key_stops_with_one_line_that_does_not_quote_it(cli: Cli) -> None:
    run = await cli("check", RINGBRIDGE_SECRET_KEY="not-a-key-secret-value")

    assert run.code == 2
    assert "RINGBRIDGE_SECRET_KEY" in run.err
    assert "not-a-key-secret-value" not in run.err + run.out
