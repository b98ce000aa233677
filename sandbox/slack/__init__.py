"""A Slack stand-in for the sandbox and the tests: the Web API subset the bot uses,
response_url hooks, Block Kit validation, and a driver that plays Slack towards the bot.
"""

from sandbox.slack.driver import NoSuchButtonError, Response, SlackDriver
from sandbox.slack.webapi import create_app
from sandbox.slack.workspace import Fault, SlackError, User, Violation, Workspace

__all__ = [
    "Fault",
    "NoSuchButtonError",
    "Response",
    "SlackDriver",
    "SlackError",
    "User",
    "Violation",
    "Workspace",
    "create_app",
]
