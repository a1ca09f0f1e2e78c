"""The one rule for names people and clients choose: models, LoRAs, styles, jobs and sets."""

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
"""Letters, digits, '.', '_' and '-', at most 64, not starting with a dot or dash: safe as a file name
and in a URL path, so a name can never climb out of the folder it is kept in."""
