"""Automation's models: rules and macros (rules.py), campaigns (campaigns.py)."""

from .campaigns import Campaign, CampaignStep, ChannelRate, ContactEvent, Recipient, SendAllowance
from .rules import Macro, Rule, RuleRun, SavedReply

__all__ = [
    "Campaign",
    "CampaignStep",
    "ChannelRate",
    "ContactEvent",
    "Macro",
    "Recipient",
    "Rule",
    "RuleRun",
    "SavedReply",
    "SendAllowance",
]
