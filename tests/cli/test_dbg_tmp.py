import json
from tests.cli.test_cli import *  # noqa

async def test_dbg(meter, capsys):
    assert await run_cli("read", meter.link, "--unit", "1", "--json", "--all") == 0
    print("REQ", meter.recorder.requests, file=sys.stderr)
    assert 0
