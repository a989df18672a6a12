"""The morning digest: yesterday's and the week's figures by e-mail and in the team chat.

compose.py (the figures, from the pages' view builders), render.py (HTML and text e-mail, Slack blocks),
deliver.py (SMTP and the webhook, retried), runs.py (one `digest_runs` row per slot and recipient, claimed before
sending), schedule.py (slots in TIMEZONE, what is due, rq cron and the embedded thread), cli.py (`digest preview`,
`digest send`). Must not import Dash; Flask only in cli.py.
"""
