"""The crisis radar: per brand, platform and topic, short-window rates against the brand's own baseline open
and close spikes, which are stored with their mentions, mailed once (and again as they grow), listed by
`closeloop alerts` and counted on /metrics.

``terms``, ``baseline``, ``detect`` and ``sweep`` are pure; ``tick`` wires them to storage (models.radar,
models.alerts); ``mail`` sends the alerts; ``present`` renders a spike; ``commands`` is the CLI.
"""
