"""Surveys' background work, defined beside what it runs (actions.py)."""

from .actions import check_fcr, send_survey

__all__ = ["check_fcr", "send_survey"]
