"""Generate ``src/ekiden/protocols/sns/model.json``: the SNS service model ekiden serves.

Unlike SQS (see ``gen_sqs_model.py``), SNS never left the Query protocol: the model in
current botocore (``botocore/data/sns/2010-03-31/service-2.json.gz``, protocol ``query``)
carries every operation, every member and every Query/XML trait (``resultWrapper``, the
map key/value ``locationName`` of ``MessageAttributes.entry.N.Name``, ``xmlNamespace``,
the error ``code`` / ``httpStatusCode`` / ``senderFault``). So this script only:

* drops every ``documentation`` key;
* gives every exception shape an explicit, complete ``error`` trait (code, HTTP status,
  sender fault), so the error catalog and its tests read the model uniformly. botocore
  leaves ``senderFault`` out for server faults (``InternalErrorException``), which
  becomes ``false``; a shape without any trait (``VerificationException``) gets what
  the Query protocol then sends: its shape name as code, HTTP 400, a sender fault (the
  Smithy model declares it ``@error("client")`` with no ``@httpError``);
* records the botocore version in ``metadata.ekidenGenerated``.

The output is JSON with ``indent=1`` and sorted keys, except that the members of a
structure keep the model's declaration order (the element order of XML responses), the
same layout as the SQS model (``render`` of ``gen_sqs_model.py``).

How to regenerate
-----------------
::

    .venv/bin/python tools/gen_sns_model.py

The model is read from the botocore installed in the running interpreter (a dev
dependency only: the server reads the generated file and never imports botocore);
``--source`` names another ``service-2.json`` or ``service-2.json.gz`` instead.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gen_sqs_model import render, strip_documentation  # a sibling script

MODEL_MEMBER = "data/sns/2010-03-31/service-2.json.gz"
XML_NAMESPACE = "http://sns.amazonaws.com/doc/2010-03-31/"
DEFAULT_OUT = Path(__file__).resolve().parent.parent / "src/ekiden/protocols/sns/model.json"


def load_model(source: Path | None) -> tuple[dict[str, Any], str]:
    """The SNS model (of the installed botocore unless ``source`` is given), and its origin."""
    if source is None:
        import botocore

        path = Path(botocore.__file__).parent / MODEL_MEMBER
        origin = f"botocore {botocore.__version__}"
    else:
        path, origin = source, source.name
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        model: dict[str, Any] = json.load(fh)
    if model["metadata"].get("protocol") != "query":
        raise SystemExit(f"{path}: the SNS model must use the query protocol")
    return model, origin


def complete_error_traits(shapes: dict[str, Any]) -> list[str]:
    """Make every exception shape's ``error`` trait explicit; return a report line per
    shape whose trait had to be completed."""
    report: list[str] = []
    for name, shape in sorted(shapes.items()):
        if not shape.get("exception"):
            continue
        given = shape.get("error")
        if given is None:
            shape["error"] = {"code": name, "httpStatusCode": 400, "senderFault": True}
            report.append(f"{name}: no error trait; code {name}, HTTP 400, sender fault")
            continue
        error = {
            "code": given.get("code", name),
            "httpStatusCode": given.get("httpStatusCode", 400),
            "senderFault": bool(given.get("senderFault", False)),
        }
        if error != given:
            report.append(f"{name}: error trait completed to {error}")
        shape["error"] = error
    return report


def generate(model: dict[str, Any], origin: str) -> tuple[dict[str, Any], list[str]]:
    """The model as ekiden ships it (see the module docstring), and a report."""
    model = strip_documentation(model)
    report = complete_error_traits(model["shapes"])
    metadata = model["metadata"]
    if metadata.get("xmlNamespace") != XML_NAMESPACE:
        raise SystemExit(f"unexpected SNS xmlNamespace {metadata.get('xmlNamespace')!r}")
    metadata["ekidenGenerated"] = {"by": "tools/gen_sns_model.py", "from": origin}
    for op_name, op in model["operations"].items():
        output = op.get("output")
        if output is not None and "resultWrapper" not in output:
            raise SystemExit(f"{op_name}: output without a resultWrapper")
    return model, report


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, help="an SNS service-2.json(.gz) to read")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)

    raw, origin = load_model(args.source)
    model, report = generate(raw, origin)
    args.out.write_text(render(model), encoding="utf-8")
    for line in report:
        print(line)
    print(f"wrote {args.out} ({len(model['operations'])} operations)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
