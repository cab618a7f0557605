"""The web app: signing, acknowledgement, the lead's dashboard and the auditor's portal.

It talks to workflows through the Temporal client and never imports worker code.
"""
