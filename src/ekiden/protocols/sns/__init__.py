"""The SNS wire layer: Amazon SNS's Query protocol (form requests, XML answers).

* ``shapes``: one typed request dataclass per action and ``decode_request``, which turns
  the form parameters of a request into it;
* ``responses``: one typed result dataclass per action and ``encode_result``, which
  writes it as the XML document SNS answers with;
* ``errors``: the error catalog (domain error -> Query code, HTTP status, fault side)
  and ``encode_error``.

``model.json`` is the SNS service model these read, generated from botocore's by
``tools/gen_sns_model.py``; the shared Query machinery is in ``ekiden.protocols.wire``.
"""

from __future__ import annotations

from ekiden.protocols.wire.model import ServiceModel, load_service_model

__all__ = ["XML_NAMESPACE", "sns_model"]

XML_NAMESPACE = "http://sns.amazonaws.com/doc/2010-03-31/"


def sns_model() -> ServiceModel:
    """The SNS model ekiden serves (``ekiden/protocols/sns/model.json``), loaded once."""
    return load_service_model("ekiden.protocols.sns")
