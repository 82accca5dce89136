"""``ekiden bench``: a load generator and benchmark for any SQS endpoint.

It is a client: it talks AWS JSON 1.0 over its own HTTP/1.1 client (raw asyncio on
uvloop, httptools, keep-alive and pipelining) from several processes, and imports only
the standard library, uvloop, httptools, orjson and itself (checked in tests/meta).

Modules: ``options`` (what to run), ``runner`` (scenarios, queues, worker processes),
``worker``/``phases``/``timed`` (the request loops of one process), ``http`` (the
client), ``sqs`` (requests and endpoints), ``sigv4`` (signing), ``histogram`` and
``results`` (what is measured), ``report`` and ``progress`` (what is shown).
"""
