"""ISO 3166-1 alpha-2 country codes, for the countries a feed targets and the country sub-attributes.

Kept as data in the package (no network, no extra dependency), as the IANA time zone database lists them.
Google writes the United Kingdom as ``UK`` in some attributes, so it is read as ``GB``.
"""

from __future__ import annotations

ISO_3166: frozenset[str] = frozenset(
    """
AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS
BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE
EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM
HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC
LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA
NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW
SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO
TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW
    """.split()
)
ALIASES = {"UK": "GB"}


def country_code(text: str) -> str | None:
    """The ISO 3166-1 alpha-2 code ``text`` names (any case, ``UK`` for GB); ``None`` when it names none.

    >>> country_code("de"), country_code("UK"), country_code("XX")
    ('DE', 'GB', None)
    """
    code = text.strip().upper()
    code = ALIASES.get(code, code)
    return code if code in ISO_3166 else None
