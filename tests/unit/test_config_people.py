"""bridge.toml's `dm = "owner"` routes, `[people]` and `[permissions]` (DESIGN §3.2)."""

from __future__ import annotations

import pytest

from bot.config import ConfigError, load_bridge_config


def test_defaults_are_the_contracts() -> None:
    config = load_bridge_config('[commands]\nringout_from = "+16505550111"\n')
    assert config.people.link_by_email is True
    assert config.people.links == {}
    assert config.permissions.sms == ["*"]
    assert config.permissions.call == ["*"]
    assert config.permissions.company_calllog == []


def test_every_kind_of_permission_entry_is_read() -> None:
    config = load_bridge_config(
        "[permissions]\n"
        'sms = ["*", "U0123ABCD", "S0123ABCD", "@front-desk", "C0123ABCD", "#front-desk"]\n'
        '[people]\nlinks = { "U0123ABCD" = "101", "W0456EFGH" = "" }\n'
        '[[routes]]\nevents = ["voicemail"]\ndm = "owner"\n'
    )
    assert len(config.permissions.sms) == 6
    assert config.people.links == {"U0123ABCD": "101", "W0456EFGH": ""}
    (route,) = config.routes
    assert (route.dm, route.channel) == ("owner", None)


@pytest.mark.parametrize(
    ("toml", "named"),
    [
        ('[[routes]]\nevents = ["sms"]\n', "a route needs either `channel` or `dm"),
        ('[[routes]]\nevents = ["sms"]\nchannel = "C1"\ndm = "owner"\n', "not both"),
        ('[[routes]]\nevents = ["sms"]\ndm = "everyone"\n', "routes.0.dm"),
        ('[permissions]\nsms = ["alice"]\n', "permissions.sms.0"),
        ('[permissions]\nfax = ["*"]\n', "permissions.fax"),
        ('[people]\nlinks = { "alice" = "101" }\n', "people.links"),
        ('[people]\nlinks = { "U0123ABCD" = "ext 101" }\n', "not an extension number"),
    ],
)
def test_a_bad_entry_is_one_line_naming_it(toml: str, named: str) -> None:
    with pytest.raises(ConfigError) as error:
        load_bridge_config(toml)
    assert named in str(error.value)
    assert "\n" not in str(error.value)
