"""The new-order email template: what to send the Safeguarding Unit's mailbox so that a new order becomes a record."""

# The help says what goes on each line in prose, with no filled-in example: a complete example quoted in
# someone's forward would read as an order of its own.
NEW_ORDER_TEMPLATE = """\
Child ID:
Child name:
Date of birth:
Order type:
Date made:
Commencement date:
Length or Last day:
Social worker:
Court:
Other orders:
Conditions:
"""

NEW_ORDER_HELP = f"""\
To tell us of a new supervision order, send an email to this mailbox with these lines, each filled in after its colon:

{NEW_ORDER_TEMPLATE}
Child ID, Child name, Order type and Date made must be filled in. Leave a line empty if you do not know it yet.
* Child ID is the child's number in the case recording system, e.g. LCS-104233.
* Write dates day first, e.g. 3 March 2026 or 03/03/2026.
* For the order type write Supervision Order (SO) or Interim Supervision Order (ISO).
* For the length write what the court set, e.g. 12 months, or give the order's last day, e.g. 2 March 2027.
  Leave it empty for a supervision order that lasts the usual year; an interim order needs the last day the
  court set.
* For the social worker give their email address, with their name if you like.
* Conditions may run over several lines: end them with an empty line.
* Type the details into the email itself: attachments are not read.
* One email may carry several orders (brothers and sisters, say): give each child all the lines, one after the other.
"""
