"""Bounces from the wild: the samples Debian's python3-flufl.bounce installs.

They are read from the installed package at test time (never copied here). The
package's own table of what each sample means is read from its source with `ast`,
without importing it (it needs nose2).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from service.delivery import bounces

FLUFL = Path("/usr/lib/python3/dist-packages/flufl/bounce")
SAMPLES = FLUFL / "tests" / "data"
SKIP = (
    "python3-flufl.bounce is not installed "
    "(apt-get install -y python3-flufl.bounce; .ci/run installs it)"
)

pytestmark = pytest.mark.skipif(not SAMPLES.is_dir(), reason=SKIP)


def flufl_expectations() -> dict[str, tuple[str, bool]]:
    """Return file -> (flufl's detector, whether flufl calls it temporary)."""
    source = (FLUFL / "testing" / "helpers.py").read_text()
    table = next(
        ast.literal_eval(node.value)
        for node in ast.parse(source).body
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "DATA"
    )
    return {row[1]: (row[0], len(row) == 4 and row[3]) for row in table}


def samples() -> list[Path]:
    return sorted(SAMPLES.glob("*.txt")) if SAMPLES.is_dir() else []


def read(path: Path) -> bounces.Report:
    return bounces.parse_report(bounces.read_message(path.read_bytes()))


def test_every_sample_from_the_wild_is_read_without_an_error() -> None:
    assert len(samples()) > 100
    for path in samples():
        report = read(path)
        # None carries our tag, so none could ever change a reader.
        assert bounces.attribute(report, ["test-secret-key-0123456789"]) is None


def test_every_standard_delivery_status_notification_is_recognised() -> None:
    for name, (detector, is_temporary) in flufl_expectations().items():
        if detector != "dsn":
            continue
        report = read(SAMPLES / name)
        assert report.format == "dsn", name
        assert report.kind == ("soft" if is_temporary else "hard"), name


#: samples of the servers named in issue 5 that carry a reliable pattern, and what
#: they are; the rest of flufl's samples have no status code or a site's own words
RECOGNISED = {
    "exim_01.txt": "hard",
    "postfix_01.txt": "hard",
    "postfix_02.txt": "hard",
    "postfix_05.txt": "hard",
    "qmail_01.txt": "hard",
    "qmail_03.txt": "hard",
    "qmail_04.txt": "hard",
    "sendmail_01.txt": "hard",
    "simple_34.txt": "hard",  # Exchange
    "simple_40.txt": "soft",  # Exim's delay warning
    "yahoo_01.txt": "soft",  # "(#4.4.1)": no connection could be made
    "yahoo_02.txt": "hard",
    "yahoo_11.txt": "hard",
    "yahoo_13.txt": "hard",
}


@pytest.mark.parametrize("name", sorted(RECOGNISED))
def test_non_standard_bounces_with_a_reliable_pattern_are_recognised(
    name: str,
) -> None:
    assert read(SAMPLES / name).kind == RECOGNISED[name]


@pytest.mark.parametrize("name", ["dumbass_01.txt", "groupwise_03.txt"])
def test_what_flufl_finds_no_bounce_in_is_no_bounce_here_either(name: str) -> None:
    assert read(SAMPLES / name).kind == ""
