"""Faults a council's IT team will see: the database gone, the mail server dropping, Teams not answering."""
