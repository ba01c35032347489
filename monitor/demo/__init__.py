"""The bundled demo: a fictional brand, Acme, mentioned on X, Reddit, Mastodon and Bluesky."""
