"""``atscli``: the command-line client of the xapi2 API.

It speaks only the public API (``/xapi2/...``), so it works against any
install, local or remote. Its flags come from the server's ``/xapi2/schema``.

- ``config``: named profiles (URL + token) in the user's config directory.
- ``http``: one keep-alive connection pool with retries, backoff and
  ``Idempotency-Key`` on POST.
- ``values``: turning command-line and CSV text into typed field values.
- ``output``: table, JSON, NDJSON and CSV writers that stream.
- ``upsert``: the batched create-or-update import.
- ``main``: the click commands.
"""
