"""One declarative schema per channel: ``tiktok``, ``google`` (Merchant Center), ``meta``.

Each module lists the channel's fields and the rules each must pass, using the
checks registered in :mod:`feedcheck.rules.checks`.  To add a rule, add a check to a
field's list; how much a finding matters on each channel, and the channel's page
the rule follows, are declared with its code beside the rule (``feedcheck/rules/``).
Installed as ``feedcheck.schemas``.
"""
