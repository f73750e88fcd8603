"""One declarative schema per channel: ``tiktok``, ``google`` (Merchant Center), ``meta``.

Each module lists the channel's fields and the rules each must pass, using the
checks registered in :mod:`feedcheck.rules.checks`.  To add a rule, add a check to a
field's list; to change how much a finding matters on a channel, edit the
module's ``SEVERITY``.  Installed as ``feedcheck.schemas``.
"""
