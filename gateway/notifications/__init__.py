"""Telling people what happened: new tool requests, reviewers' questions, decisions.

Notices are written to an outbox in the same transaction as the change that caused
them, and delivered after commit to the configured webhook (Slack-compatible JSON) and
SMTP server; a delivery that fails is tried again, so a change is never lost for want
of a notice, nor a notice sent for a change that was rolled back.
"""
