"""Loopback fakes of the mail services sobot talks to, speaking their real wire formats."""
