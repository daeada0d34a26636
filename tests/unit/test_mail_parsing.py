"""The mail parser against a corpus of emails written as mail clients send them: each file's exact reading."""

from __future__ import annotations

from datetime import date
from email.message import Message
from pathlib import Path
from typing import Any

import pytest

from handlers.order_form import NewOrder
from mail.parsing import (
    Attachment,
    IncomingMail,
    OrderEmailResult,
    html_to_text,
    parse_order_email,
    read_message,
    strip_quoted,
)
from mail.template import NEW_ORDER_HELP, NEW_ORDER_TEMPLATE

CORPUS = Path(__file__).parent / "mail_corpus"


def read(name: str) -> IncomingMail:
    return read_message((CORPUS / name).read_bytes())


# The day every email here is read on: after each order it holds was made.
TODAY = date(2026, 6, 1)


def order(child_local_id: str, child_name: str, made: date, **details: Any) -> NewOrder:
    return NewOrder(child_local_id=child_local_id, child_name=child_name, made=made,
                    **({"order_type": "supervision"} | details))  # fmt: skip


def orders(*found: NewOrder) -> OrderEmailResult:
    return OrderEmailResult("orders", orders=found)


def problems(*found: str) -> OrderEmailResult:
    return OrderEmailResult("problems", problems=found)


AUTO_REPLY = OrderEmailResult("auto_reply")
NOT_AN_ORDER = OrderEmailResult("not_an_order")
NOTHING_GIVEN = (
    "Child ID is missing: give the child's local ID (the council's case number).",
    "Child name is missing: give the child's name.",
    "Order type is missing: say supervision order (SO) or interim supervision order (ISO).",
    "Date made is missing: give the day the court made the order.",
)
HUGE_CONDITIONS = " ".join(["Parents to attend every appointment the local authority arranges."] * 4000)

RESULTS: dict[str, OrderEmailResult] = {
    "01_plain_template.eml": orders(
        order(
            "LCS-104233", "Amy Brown", date(2026, 3, 3), child_date_of_birth=date(2015, 7, 14),
            commenced=date(2026, 3, 3), months=12, social_worker_email="tom.jones@example.gov.uk",
            court="Family Court at Leeds", conditions="Mother to engage with the parenting programme.",
        )
    ),
    "02_flowed_label_variants_shuffled_hyphens.eml": orders(
        order(
            "LCS-200871", "Leo Ward", date(2026, 2, 20), child_date_of_birth=date(2019, 11, 2),
            commenced=date(2026, 2, 20), last_day=date(2027, 2, 19), social_worker_email="priya.patel@example.gov.uk",
            court="Family Court sitting at Bradford",
            conditions="Leo to attend school every day; father to have no unsupervised contact.",
        )
    ),
    "03_numbered_list_more_label_variants.eml": orders(
        order(
            "LCS-318840", "Maya Hussain", date(2026, 3, 5), child_date_of_birth=date(2014, 5, 9), months=12,
            social_worker_email="sam.okafor@example.gov.uk", court="Family Court at Sheffield",
            other_orders="Non-molestation order against Mr Hussain",
            conditions="Mother to tell the local authority of any change of address.\n"
            "Maya to attend all health appointments.",
        )
    ),
    "04_gmail_multipart_alternative.eml": orders(
        order(
            "LCS-411902", "Zoe Clarke", date(2026, 3, 5), child_date_of_birth=date(2011, 8, 8), months=6,
            social_worker_email="rachel.green@example.gov.uk",
            court="Family Court at Wakefield",
        )
    ),
    "05_quoted_printable_soft_breaks_utf8.eml": orders(
        order(
            "LCS-520017", "Kacey O’Neill", date(2026, 3, 10), child_date_of_birth=date(2017, 1, 21),
            order_type="interim_supervision", commenced=date(2026, 3, 10), last_day=date(2026, 4, 14),
            social_worker_email="dan.frost@example.gov.uk",
            court="Family Court at Leeds",
            other_orders="Interim child arrangements order (Kacey to live with her maternal grandmother)",
            conditions="Kacey’s mother to attend the drug and alcohol service and to give hair strand samples "
            "as the court directs.",
        )
    ),
    "06_windows1252_8bit_pound_apostrophe.eml": orders(
        order(
            "LCS-600450", "Noah Evans", date(2026, 3, 10), child_date_of_birth=date(2021, 3, 17), months=12,
            social_worker_email="noor.ahmed@example.gov.uk",
            court="Family Court at Huddersfield", other_orders="Child arrangements order; father’s £300 costs order",
            conditions="Noah’s parents to attend the “Safe Together” course.",
        )
    ),
    "07_cp1252_declared_quoted_printable.eml": orders(
        order(
            "LCS-600451", "Poppy Evans", date(2026, 3, 10), child_date_of_birth=date(2018, 5, 2), months=12,
            social_worker_email="noor.ahmed@example.gov.uk", court="Family Court at Huddersfield",
            other_orders="Father’s £300 costs order", conditions="Poppy’s school to be told of the order.",
        )
    ),
    "08_unknown_charset_x_unknown.eml": orders(
        order(
            "LCS-700128", "Ruby Francis", date(2026, 3, 11), child_date_of_birth=date(2013, 11, 30),
            last_day=date(2027, 3, 10), social_worker_email="mel.hart@example.gov.uk",
            court="Family Court at Newcastle", other_orders="Occupation order (Ruby’s stepfather)",
            conditions="Mother to repay the £40 travel grant if she misses contact.",
        )
    ),
    "09_outlook_html_only_table.eml": orders(
        order(
            "LCS-633015", "Oliver Grant", date(2026, 3, 6), child_date_of_birth=date(2012, 9, 30),
            commenced=date(2026, 3, 6), months=12, social_worker_email="isla.hughes@example.gov.uk",
            court="Family Court at Bradford",
            conditions="1. Oliver to attend his CAMHS appointments.\n"
            "2. Mother to work with the family support worker.",
        )
    ),
    "10_outlook_html_paragraphs_inline_logo.eml": orders(
        order(
            "LCS-744120", "Isaac Moore", date(2026, 3, 12), child_date_of_birth=date(2016, 1, 1), months=12,
            social_worker_email="hannah.wood@example.gov.uk",
            court="Family Court at Leeds",
        )
    ),
    "11_forwarded_inline_gmail.eml": orders(
        order(
            "LCS-851006", "Ella Turner", date(2026, 3, 9), child_date_of_birth=date(2020, 12, 12), months=12,
            social_worker_email="rachel.green@example.gov.uk", court="Family Court at Leeds",
        )
    ),
    "12_forwarded_outlook_plain_table_text.eml": orders(
        order(
            "LCS-902214", "Freya Lewis", date(2026, 3, 12), child_date_of_birth=date(2022, 4, 9),
            last_day=date(2027, 3, 11), social_worker_email="amara.cole@example.gov.uk", court="Family Court at Leeds",
            conditions="Freya to attend nursery four days a week.",
        )
    ),
    "13_forwarded_as_rfc822_attachment.eml": orders(
        order(
            "LCS-119907", "Harry Scott", date(2026, 3, 13), child_date_of_birth=date(2019, 3, 3), months=12,
            social_worker_email="jo.king@example.gov.uk", court="Family Court at York",
            conditions="Mother to stay at the refuge until the review.",
        )
    ),
    "14_pdf_attachment_listed_not_opened.eml": orders(
        order(
            "LCS-330451", "Archie Knight", date(2026, 3, 16), child_date_of_birth=date(2016, 12, 25), months=12,
            social_worker_email="beth.long@example.gov.uk", court="Family Court at Leeds",
        )
    ),
    "15_dates_written_in_words.eml": orders(
        order(
            "LCS-240310", "Jacob Reid", date(2026, 3, 3), child_date_of_birth=date(2018, 6, 3),
            commenced=date(2026, 3, 4), last_day=date(2027, 3, 2), social_worker_email="kim.shaw@example.gov.uk",
            court="Family Court at Leeds",
        )
    ),
    "16_dates_written_in_numbers.eml": orders(
        order(
            "LCS-240311", "Lucy Reid", date(2026, 3, 3), child_date_of_birth=date(2018, 6, 3),
            commenced=date(2026, 3, 4), last_day=date(2027, 3, 2), social_worker_email="kim.shaw@example.gov.uk",
            court="Family Court at Leeds",
        )
    ),
    "17_dates_day_first_when_ambiguous.eml": orders(
        order(
            "LCS-240312", "Mia Reid", date(2026, 4, 3), child_date_of_birth=date(2016, 6, 5),
            last_day=date(2027, 4, 2), social_worker_email="kim.shaw@example.gov.uk",
        )
    ),
    "18_missing_child_id_and_date_made.eml": problems(
        "Child ID is missing: give the child's local ID (the council's case number).",
        "Date made is missing: give the day the court made the order.",
    ),
    "19_impossible_dates.eml": problems(
        "Date of birth: '30/02/2015' is not a date (February 2015 has 28 days).",
        "Date made: '31/02/2026' is not a date (February 2026 has 28 days).",
        "Commencement date: '2026-02-30' is not a date (February 2026 has 28 days).",
        "Last day: '31st June 2027' is not a date (June 2027 has 30 days).",
    ),
    # The order reader every channel uses refuses an order that ends before it was made.
    "20_last_day_before_date_made.eml": problems(
        "Last day: the last day (01 March 2026) is before the order commenced (03 March 2026): check the dates."
    ),
    "21_two_orders_siblings.eml": orders(
        order(
            "LCS-104233", "Amy Brown", date(2026, 3, 17), child_date_of_birth=date(2015, 7, 14), months=12,
            social_worker_email="tom.jones@example.gov.uk", court="Family Court at Leeds",
        ),
        order(
            "LCS-104234", "Ben Brown", date(2026, 3, 17), child_date_of_birth=date(2018, 9, 2), months=12,
            social_worker_email="tom.jones@example.gov.uk", court="Family Court at Leeds",
            conditions="Ben to attend speech and language therapy.",
        ),
    ),
    "22_two_orders_second_incomplete.eml": problems(
        "Order 2 (Dan Hill): Date of birth: '31/04/2020' is not a date (April 2020 has 30 days).",
        "Order 2 (Dan Hill): Date made is missing: give the day the court made the order.",
    ),
    "23_reply_chain_allocation_gmail_quoted.eml": NOT_AN_ORDER,
    "24_reply_outlook_html_allocation.eml": NOT_AN_ORDER,
    "25_auto_reply_auto_submitted.eml": AUTO_REPLY,
    "26_auto_reply_outlook_automatic_reply_subject.eml": AUTO_REPLY,
    "27_empty_body.eml": NOT_AN_ORDER,
    "28_subject_only_new_order.eml": problems(*NOTHING_GIVEN),
    "29_huge_line_conditions.eml": orders(
        order("LCS-555001", "Sophie Ray", date(2026, 3, 18), conditions=HUGE_CONDITIONS)
    ),
    "30_not_an_order_question.eml": NOT_AN_ORDER,
    "31_missing_headers.eml": orders(
        order(
            "LCS-610020", "Alfie Cross", date(2026, 3, 18), order_type="interim_supervision",
            last_day=date(2026, 4, 29),
        )
    ),
    "32_unreadable_values.eml": problems(
        "Date of birth: 'last year' is not a date I can read: write it like 3 March 2026 or 03/03/2026.",
        "Order type: 'Interim Care Order' is not a supervision order: sobot records supervision orders (SO) "
        "and interim supervision orders (ISO) only.",
        "Length or last day: '6 weeks' is not a length in months: give the order's last day instead.",
        "Social worker: 'omar.rahman@' is not an email address I can read: give their full email address.",
    ),
    "33_latin1_declared_with_cp1252_quotes.eml": orders(
        order(
            "LCS-600452", "Rosie Evans", date(2026, 3, 19), social_worker_email="noor.ahmed@example.gov.uk",
            conditions="Rosie’s father to complete the “Caring Dads” programme.",
        )
    ),
    "34_template_sent_back_empty.eml": problems(*NOTHING_GIVEN),
    "35_reply_to_problems_reply_quotes_template.eml": NOT_AN_ORDER,
    "36_bounce_delivery_report.eml": AUTO_REPLY,
    "37_tabs_bullets_caps_wrapped_values.eml": orders(
        order(
            "LCS-771003", "Thomas Young", date(2026, 3, 3), child_date_of_birth=date(2017, 3, 3),
            commenced=date(2026, 3, 3), last_day=date(2027, 3, 2), social_worker_email="wendy.price@example.gov.uk",
            other_orders="Prohibited steps order preventing removal of\nThomas from the jurisdiction",
            conditions="Thomas to live with his mother at the address\nknown to the local authority; mother to allow "
            "the social worker\nto see Thomas alone.",
        )
    ),
    "38_bogus_charset_base64_html_nested_tables.eml": problems(
        "Length or last day: '8 weeks' is not a length in months: give the order's last day instead."
    ),
    "39_pdf_only_no_details_typed.eml": problems(
        *NOTHING_GIVEN,
        "'Sealed order.pdf' was not read (attachments never are): type the order's details into the email itself.",
    ),
}  # fmt: skip

# Message-ID, sender's address and name (From, never Reply-To), subject.
ENVELOPES: dict[str, tuple[str, str, str, str]] = {
    "01_plain_template.eml": (
        "20260303154210.1001@mail.example.gov.uk", "tom.jones@example.gov.uk", "Tom Jones",
        "New supervision order - LCS-104233",
    ),
    "02_flowed_label_variants_shuffled_hyphens.eml": (
        "7c1e2f0a-55b1-4c2e-9d7a-2a9b1c3d4e5f@example.gov.uk", "priya.patel@example.gov.uk", "Priya Patel",
        "SO for Leo Ward",
    ),
    "03_numbered_list_more_label_variants.eml": (
        "A1B2C3D4-E5F6-4711-8899-AABBCCDDEEFF@example.gov.uk", "sam.okafor@example.gov.uk", "Sam Okafor",
        "Supervision order made today",
    ),
    "04_gmail_multipart_alternative.eml": (
        "CAF3x9kQm2v8mN0pLh7uY5tR4eW3qA2sZ1xC0vB9nM8@mail.gmail.com", "rachel.green@example.gov.uk",
        "Rachel Green", "New order: Zoe Clarke",
    ),
    "05_quoted_printable_soft_breaks_utf8.eml": (
        "5e0c9a7b3f2d4e1a8b6c@mail.example.gov.uk", "dan.frost@example.gov.uk", "Dan Frost",
        "ISO – Kacey O’Neill",
    ),
    "06_windows1252_8bit_pound_apostrophe.eml": (
        "000001dab2f3$4e5f6a70$eb1a3f50$@example.gov.uk", "noor.ahmed@example.gov.uk", "Noor Ahmed",
        "Supervision order – Noah Evans",
    ),
    "07_cp1252_declared_quoted_printable.eml": (
        "000001dab2f4$1a2b3c4d$5e6f7a8b$@example.gov.uk", "noor.ahmed@example.gov.uk", "Noor Ahmed",
        "Supervision order - Poppy Evans",
    ),
    "08_unknown_charset_x_unknown.eml": (
        "ruby.francis.20260312123045@case-system.example.gov.uk", "mel.hart@example.gov.uk", "Mel Hart",
        "New SO - Ruby Francis",
    ),
    "09_outlook_html_only_table.eml": (
        "LO2P265MB5011A2B3C4D5E6F7A8B9C0D1E2F3A4B5@LO2P265MB5011.GBRP265.PROD.OUTLOOK.COM",
        "isla.hughes@example.gov.uk", "Hughes, Isla", "Supervision Order - Oliver Grant (LCS-633015)",
    ),
    "10_outlook_html_paragraphs_inline_logo.eml": (
        "LO4P265MB6012F0E1D2C3B4A5968778695A4B3C2D@LO4P265MB6012.GBRP265.PROD.OUTLOOK.COM",
        "hannah.wood@example.gov.uk", "Hannah Wood", "SO granted - Isaac Moore",
    ),
    "11_forwarded_inline_gmail.eml": (
        "CAF3x9kR0fwdTurner7aQ1w2e3r4t5y6u@mail.gmail.com", "rachel.green@example.gov.uk", "Rachel Green",
        "Fwd: Order made today - Ella Turner",
    ),
    "12_forwarded_outlook_plain_table_text.eml": (
        "LO6P265MB7013ABCDEF0123456789ABCDEF012345@LO6P265MB7013.GBRP265.PROD.OUTLOOK.COM",
        "chris.bell@example.gov.uk", "Chris Bell", "FW: Supervision order - Freya Lewis",
    ),
    "13_forwarded_as_rfc822_attachment.eml": (
        "LO2P265MB1234FEDCBA9876543210FEDCBA987654@LO2P265MB1234.GBRP265.PROD.OUTLOOK.COM",
        "jo.king@example.gov.uk", "Jo King", "FW: Order made - Harry Scott",
    ),
    "14_pdf_attachment_listed_not_opened.eml": (
        "CAF3x9kS3aledOrderPdf0316qwerty@mail.gmail.com", "beth.long@example.gov.uk", "Beth Long",
        "Supervision order - Archie Knight (sealed order attached)",
    ),
    "15_dates_written_in_words.eml": (
        "20260303160000.kim.shaw@mail.example.gov.uk", "kim.shaw@example.gov.uk", "Kim Shaw",
        "New supervision order - Jacob Reid",
    ),
    "16_dates_written_in_numbers.eml": (
        "20260303160500.kim.shaw@mail.example.gov.uk", "kim.shaw@example.gov.uk", "Kim Shaw",
        "New supervision order - Lucy Reid",
    ),
    "17_dates_day_first_when_ambiguous.eml": (
        "20260403110000.kim.shaw@mail.example.gov.uk", "kim.shaw@example.gov.uk", "Kim Shaw", "New SO - Mia Reid",
    ),
    "18_missing_child_id_and_date_made.eml": (
        "20260316093000.omar.rahman@mail.example.gov.uk", "omar.rahman@example.gov.uk", "Omar Rahman",
        "Supervision order - Evie Walsh",
    ),
    "19_impossible_dates.eml": (
        "20260316094000.omar.rahman@mail.example.gov.uk", "omar.rahman@example.gov.uk", "Omar Rahman",
        "Supervision order - Finn Walsh",
    ),
    "20_last_day_before_date_made.eml": (
        "20260316095000.omar.rahman@mail.example.gov.uk", "omar.rahman@example.gov.uk", "Omar Rahman",
        "Supervision order - Grace Walsh",
    ),
    "21_two_orders_siblings.eml": (
        "20260317141000.tom.jones@mail.example.gov.uk", "tom.jones@example.gov.uk", "Tom Jones",
        "New supervision orders - Amy and Ben Brown",
    ),
    "22_two_orders_second_incomplete.eml": (
        "20260317142000.tom.jones@mail.example.gov.uk", "tom.jones@example.gov.uk", "Tom Jones",
        "New supervision orders - Cara and Dan Hill",
    ),
    "23_reply_chain_allocation_gmail_quoted.eml": (
        "CAF3x9kT5replyPriyaJaneSmith0304@mail.gmail.com", "priya.patel@example.gov.uk", "Priya Patel",
        "Re: [SO-2026-0007] Allocate an IRO",
    ),
    "24_reply_outlook_html_allocation.eml": (
        "DB9PR02MB7364C1D2E3F4A5B6C7D8E9F0A1B2C3D4@DB9PR02MB7364.eurprd02.prod.outlook.com",
        "leah.marsh@example.gov.uk", "Leah Marsh", "RE: [SO-2026-0008] Allocate an IRO",
    ),
    "25_auto_reply_auto_submitted.eml": (
        "autoreply.20260303155000.tom.jones@mail.example.gov.uk", "tom.jones@example.gov.uk", "Tom Jones",
        "Re: New supervision order - LCS-104233",
    ),
    "26_auto_reply_outlook_automatic_reply_subject.eml": (
        "LO2P265MB5011OOF0309ISLAHUGHES00000000@LO2P265MB5011.GBRP265.PROD.OUTLOOK.COM",
        "isla.hughes@example.gov.uk", "Isla Hughes", "Automatic reply: New supervision order - LCS-633015",
    ),
    "27_empty_body.eml": (
        "20260317080000.chris.bell@mail.example.gov.uk", "chris.bell@example.gov.uk", "Chris Bell", "Hello",
    ),
    "28_subject_only_new_order.eml": (
        "20260317080500.chris.bell@mail.example.gov.uk", "chris.bell@example.gov.uk", "Chris Bell",
        "New supervision order - Lily Baker",
    ),
    "29_huge_line_conditions.eml": (
        "20260318100000.kim.shaw@mail.example.gov.uk", "kim.shaw@example.gov.uk", "Kim Shaw", "New SO - Sophie Ray",
    ),
    "30_not_an_order_question.eml": (
        "20260318103000.chris.bell@mail.example.gov.uk", "chris.bell@example.gov.uk", "Chris Bell",
        "Question about IRO cover",
    ),
    "31_missing_headers.eml": (
        "sha256:99bbfe6ed0a87d8a5afef50506520aeca9d27437f50cd3761af98194f41bed8d", "", "", "order",
    ),
    "32_unreadable_values.eml": (
        "20260319090000.omar.rahman@mail.example.gov.uk", "omar.rahman@example.gov.uk", "Omar Rahman",
        "Supervision order - Harvey Lowe",
    ),
    "33_latin1_declared_with_cp1252_quotes.eml": (
        "000001dab3a1$0a1b2c3d$4e5f6a7b$@example.gov.uk", "noor.ahmed@example.gov.uk", "Noor Ahmed",
        "Supervision order - Rosie Evans",
    ),
    "34_template_sent_back_empty.eml": (
        "20260319110000.chris.bell@mail.example.gov.uk", "chris.bell@example.gov.uk", "Chris Bell", "New order",
    ),
    "35_reply_to_problems_reply_quotes_template.eml": (
        "LO3P265MB4455AA11BB22CC33DD44EE55FF667788@LO3P265MB4455.GBRP265.PROD.OUTLOOK.COM",
        "omar.rahman@example.gov.uk", "Omar Rahman", "RE: Your new-order email: Supervision order - Evie Walsh",
    ),
    "36_bounce_delivery_report.eml": (
        "20260318103105.3F2A1C0042@mx.example.gov.uk", "mailer-daemon@mx.example.gov.uk", "Mail Delivery System",
        "Undelivered Mail Returned to Sender",
    ),
    "37_tabs_bullets_caps_wrapped_values.eml": (
        "3f9e1c2b-7d4a-4b8e-9c1f-0a2b3c4d5e6f@example.gov.uk", "wendy.price@example.gov.uk", "Wendy Price",
        "Supervision order: Thomas Young",
    ),
    "38_bogus_charset_base64_html_nested_tables.eml": (
        "notify.880042.20260320160000@case-system.example.gov.uk", "no-reply@case-system.example.gov.uk",
        "Case Recording System", "New order notification LCS-880042",
    ),
    "39_pdf_only_no_details_typed.eml": (
        "LO2P265MB9911AB12CD34EF56AB78CD90EF12AB34@LO2P265MB9911.GBRP265.PROD.OUTLOOK.COM",
        "beth.long@example.gov.uk", "Beth Long", "Supervision order - see attached",
    ),
}  # fmt: skip

ATTACHMENTS: dict[str, tuple[Attachment, ...]] = {
    "10_outlook_html_paragraphs_inline_logo.eml": (Attachment("image001.png", "image/png", 85),),
    "13_forwarded_as_rfc822_attachment.eml": (Attachment("Order made - Harry Scott.eml", "message/rfc822", 688),),
    "14_pdf_attachment_listed_not_opened.eml": (Attachment("Sealed order LCS-330451.pdf", "application/pdf", 218),),
    "36_bounce_delivery_report.eml": (Attachment("Your new-order email: New SO.eml", "message/rfc822", 376),),
    "39_pdf_only_no_details_typed.eml": (Attachment("Sealed order.pdf", "application/pdf", 77),),
}

# In-Reply-To and References, for the messages that answer another.
THREADS: dict[str, tuple[str, tuple[str, ...]]] = {
    "11_forwarded_inline_gmail.eml": (
        "CAH7legal0309ordermadeTurner@mail.example.gov.uk",
        ("CAH7legal0309ordermadeTurner@mail.example.gov.uk",),
    ),
    "23_reply_chain_allocation_gmail_quoted.eml": (
        "sobot.SO-2026-0007.allocate@safeguarding.example.gov.uk",
        ("sobot.SO-2026-0007.allocate@safeguarding.example.gov.uk",),
    ),
    "24_reply_outlook_html_allocation.eml": (
        "sobot.SO-2026-0008.allocate@safeguarding.example.gov.uk",
        ("sobot.SO-2026-0008.allocate@safeguarding.example.gov.uk",),
    ),
    "25_auto_reply_auto_submitted.eml": ("20260303154210.1001@mail.example.gov.uk", ()),
    "35_reply_to_problems_reply_quotes_template.eml": (
        "sobot.problems.20260316093000.omar.rahman@safeguarding.example.gov.uk",
        (
            "20260316093000.omar.rahman@mail.example.gov.uk",
            "sobot.problems.20260316093000.omar.rahman@safeguarding.example.gov.uk",
        ),
    ),
}

# What the writer added, for the replies and forwards: the quoted part, signature and disclaimers taken off.
NEW_TEXT = {
    "01_plain_template.eml": "Hello,\n\nPlease log the order below.\n\nChild ID: LCS-104233\nChild name: Amy Brown\n"
    "Date of birth: 14/07/2015\nOrder type: Supervision Order\nDate made: 3 March 2026\n"
    "Commencement date: 3 March 2026\nLength or Last day: 12 months\n"
    "Social worker: Tom Jones <tom.jones@example.gov.uk>\nCourt: Family Court at Leeds\nOther orders: None\n"
    "Conditions: Mother to engage with the parenting programme.",
    "11_forwarded_inline_gmail.eml": "FYI - please set this up.\n\n---------- Forwarded message ---------",
    "12_forwarded_outlook_plain_table_text.eml": "Morning - forwarding as discussed.\n\nChris",
    "23_reply_chain_allocation_gmail_quoted.eml": "Jane Smith",
    "24_reply_outlook_html_allocation.eml": "allocate Jane Smith",
    "27_empty_body.eml": "",
    "30_not_an_order_question.eml": "Hi,\n\nWho is covering Jane's reviews while she is on leave next week?",
    "35_reply_to_problems_reply_quotes_template.eml": (
        "Sorry - I'll send it again once I have the sealed order.\n\nOmar"
    ),
}

# The whole text, for the mails whose text had to be made: from HTML, or from a forwarded attachment.
TEXT = {
    "09_outlook_html_only_table.eml": "Hi all,\n\nPlease see details of the order made on Friday:\n\n"
    "Child ID\tLCS-633015\nChild name\tOliver Grant\nDate of birth\t30/09/2012\nOrder type\tSupervision Order\n"
    "Date made\t6 March 2026\nCommencement date\t6 March 2026\nLength or Last day\t12 months\n"
    "Social worker\tisla.hughes@example.gov.uk\nCourt\tFamily Court at Bradford\nOther orders\n"
    "Conditions\t1. Oliver to attend his CAMHS appointments.\n2. Mother to work with the family support worker.\n\n"
    "Kind regards\nIsla\n\nIsla Hughes | Social Worker | Children’s Social Care",
    "13_forwarded_as_rfc822_attachment.eml": "Please see the attached email from Legal.\n\nJo\n\n"
    "---------- Forwarded message ---------\nFrom: Legal Services <legal.services@example.gov.uk>\n"
    "Date: Fri, 13 Mar 2026 12:40:00 +0000\nSubject: Order made - Harry Scott\nTo: Jo King <jo.king@example.gov.uk>\n\n"
    "Dear Jo,\n\nThe court made the following order today.\n\nChild ID: LCS-119907\nChild name: Harry Scott\n"
    "Date of birth: 03/03/2019\nOrder type: Supervision Order\nDate made: 13 March 2026\n"
    "Length or Last day: 12 months\nSocial worker: jo.king@example.gov.uk\nCourt: Family Court at York\n"
    "Other orders: None\nConditions: Mother to stay at the refuge until the review.\n\nLegal Services",
    "24_reply_outlook_html_allocation.eml": "allocate Jane Smith\n\nKind regards\nLeah Marsh\nSafeguarding Unit\n"
    "From: Safeguarding Unit <safeguarding.unit@example.gov.uk>\nSent: 04 March 2026 09:12\n"
    "To: Safeguarding Unit <safeguarding.unit@example.gov.uk>\nSubject: [SO-2026-0008] Allocate an IRO\n\n"
    "[SO-2026-0008] needs an Independent Reviewing Officer.\n"
    "Reply to this email with the name of the IRO to allocate:\n"
    "Jane Smith (3 open orders)\nOmar Rahman (5 open orders)",
    "38_bogus_charset_base64_html_nested_tables.eml": "Child ID:\tLCS-880042\nChild name:\tZoë Adams\n"
    "Order type:\tInterim supervision order\nDate made:\t20 March 2026\nLength or last day:\t8 weeks\n"
    "Court:\tFamily Court at Leeds & Wakefield\nConditions:\t• No contact with Mr Adams\n"
    "• School attendance reviewed weekly\n\nSent by the case recording system",
}
AUTO_REPLIES = {
    "25_auto_reply_auto_submitted.eml",
    "26_auto_reply_outlook_automatic_reply_subject.eml",
    "36_bounce_delivery_report.eml",
}
CORPUS_FILES = sorted(path.name for path in CORPUS.glob("*.eml"))


def test_every_corpus_file_has_its_expected_reading() -> None:
    assert len(CORPUS_FILES) >= 30
    assert CORPUS_FILES == sorted(RESULTS) == sorted(ENVELOPES)
    assert set(ATTACHMENTS) | set(THREADS) | set(NEW_TEXT) | set(TEXT) | AUTO_REPLIES <= set(CORPUS_FILES)


@pytest.mark.parametrize("name", CORPUS_FILES)
def test_each_email_reads_as_its_orders_or_problems(name: str) -> None:
    assert parse_order_email(read(name), TODAY) == RESULTS[name]


@pytest.mark.parametrize("name", CORPUS_FILES)
def test_each_email_has_its_id_sender_subject_thread_and_attachments(name: str) -> None:
    mail = read(name)
    assert (mail.message_id, mail.sender_email, mail.sender_name, mail.subject) == ENVELOPES[name]
    assert (mail.in_reply_to, mail.references) == THREADS.get(name, (None, ()))
    assert mail.attachments == ATTACHMENTS.get(name, ())
    assert mail.is_auto_reply is (name in AUTO_REPLIES)


@pytest.mark.parametrize("name", sorted(NEW_TEXT))
def test_new_text_is_only_what_the_writer_added(name: str) -> None:
    assert read(name).new_text == NEW_TEXT[name]


@pytest.mark.parametrize("name", sorted(TEXT))
def test_text_made_from_html_or_a_forwarded_attachment(name: str) -> None:
    assert read(name).text == TEXT[name]


def test_the_whole_text_is_kept_beside_the_new_text() -> None:
    mail = read("23_reply_chain_allocation_gmail_quoted.eml")
    assert mail.text.startswith("Jane Smith\n\nThanks,\nPriya\n\nOn Wed, 4 Mar 2026 at 09:12")
    assert mail.text.endswith("> Omar Rahman (5 open orders)\n> Child ID: LCS-104233\n>")


def test_attachments_are_listed_but_never_decoded(monkeypatch: pytest.MonkeyPatch) -> None:
    decoded: list[str] = []
    get_payload = Message.get_payload

    def spy(self: Message, *args: Any, **kwargs: Any) -> Any:
        if kwargs.get("decode") or args[1:2] == (True,):
            decoded.append(self.get_content_type())
        return get_payload(self, *args, **kwargs)

    monkeypatch.setattr(Message, "get_payload", spy)
    for name in ATTACHMENTS:
        read(name)
    assert "application/pdf" not in decoded and "image/png" not in decoded
    assert decoded  # the spy saw the bodies being decoded


def test_a_message_without_message_id_is_named_by_its_bytes() -> None:
    raw = b"Subject: order\n\nChild ID: LCS-1\n"
    assert read_message(raw).message_id == read_message(raw).message_id
    assert read_message(raw).message_id != read_message(raw + b"\n").message_id
    assert read_message(raw).message_id.startswith("sha256:")


def test_the_sender_is_from_not_reply_to() -> None:
    mail = read_message(b"From: Tom Jones <Tom.Jones@example.gov.uk>\nReply-To: someone@elsewhere.example\n\nhi")
    assert (mail.sender_email, mail.sender_name) == ("tom.jones@example.gov.uk", "Tom Jones")


@pytest.mark.parametrize(
    "headers",
    [
        "Auto-Submitted: auto-generated",
        "Auto-Submitted: auto-replied; owner-email=tom.jones@example.gov.uk",
        "X-Auto-Response-Suppress: All",
        "Precedence: bulk",
        "Precedence: auto_reply",
        "Precedence: list",
        "X-Autoreply: yes",
        "Subject: Automatic reply: New supervision order",
        "Subject: Out of Office: New supervision order",
        "Subject: out of the office until Monday",
        "Subject: Undeliverable: New supervision order",
        "Content-Type: multipart/report; report-type=delivery-status; boundary=b",
    ],
)
def test_auto_replies_are_recognised_and_never_answered(headers: str) -> None:
    mail = read_message(f"From: tom.jones@example.gov.uk\n{headers}\n\nChild ID: LCS-1\n".encode())
    assert mail.is_auto_reply
    assert parse_order_email(mail, TODAY) == AUTO_REPLY


@pytest.mark.parametrize(
    "headers", ["Auto-Submitted: no", "Precedence: first-class", "Subject: Re: out of office cover for Jane"]
)
def test_ordinary_mail_is_not_an_auto_reply(headers: str) -> None:
    assert not read_message(f"From: tom.jones@example.gov.uk\n{headers}\n\nhello\n".encode()).is_auto_reply


@pytest.mark.parametrize(
    ("raw", "subject", "sender_email", "sender_name", "text"),
    [
        (b"", "", "", "", ""),
        (b"\x00\xff\xfe garbage \x80\x81\n\n\x92", "", "", "", "\xff\xfe garbage"),
        (b"Subject: =?x-unknown?Q?caf=E9?=\nFrom: <<<@@@>>>\n\nhello", "caf\ufffd", "", "", "hello"),
        (b"Subject: a\x00b\nFrom: \xe9ric <eric@example.gov.uk>\n\nbody", "ab", "eric@example.gov.uk", "éric", "body"),
        (b"Content-Transfer-Encoding: base64\n\n!!!not base64***\n", "", "", "", "!!!not base64***"),
        (b"Content-Type: multipart/mixed\n\nno boundary, still read", "", "", "", "no boundary, still read"),
        (b"Content-Type: text/plain; charset=rot13\n\nhello \x92", "", "", "", "hello ’"),
        (b"Content-Type: text/plain; charset=utf-16\n\n\xff\xfeh\x00i\x00", "", "", "", "hi"),
        (b"Content-Transfer-Encoding: quoted-printable\n\nbad =ZZ soft=\nbreak\n", "", "", "", "bad =ZZ softbreak"),
        (b"From: undisclosed-recipients:;\n\nx", "", "", "", "x"),
        (b"From: =?utf-8?B?Sm9uZXMsIFRvbQ==?= <Tom@example.gov.uk>\n\nx", "", "tom@example.gov.uk", "Jones, Tom", "x"),
    ],
)
def test_bad_mail_is_read_as_well_as_it_can_be_and_never_raises(
    raw: bytes, subject: str, sender_email: str, sender_name: str, text: str
) -> None:
    mail = read_message(raw)
    assert (mail.subject, mail.sender_email, mail.sender_name, mail.text) == (subject, sender_email, sender_name, text)


def test_a_forwarded_attachment_with_nothing_in_it_is_still_listed() -> None:
    mail = read_message(b"Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: message/rfc822\n\n--b--\n")
    assert mail.attachments == (Attachment("forwarded message.eml", "message/rfc822", 1),)


def test_an_attachment_name_in_an_unknown_charset_is_still_listed() -> None:
    mail = read_message(
        b"Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: application/pdf\n"
        b"Content-Disposition: attachment; filename*=x-bogus''order%E9.pdf\nContent-Transfer-Encoding: base64\n\n"
        b"QUJD\n--b--\n"
    )
    assert mail.attachments == (Attachment("order\ufffd.pdf", "application/pdf", 3),)


def new_order(text: str, subject: str = "New supervision order", **envelope: Any) -> OrderEmailResult:
    details: dict[str, Any] = {
        "message_id": "test@example.gov.uk",
        "sender_email": "tom.jones@example.gov.uk",
        "sender_name": "Tom Jones",
        "subject": subject,
        "in_reply_to": None,
        "references": (),
        "is_auto_reply": False,
        "text": text,
        "new_text": strip_quoted(text),
        "attachments": (),
    }
    return parse_order_email(IncomingMail(**(details | envelope)), TODAY)


REQUIRED_LINES = {
    "child_local_id": "Child ID: LCS-1",
    "child_name": "Child name: Amy Brown",
    "order_type": "Order type: SO",
    "made": "Date made: 3 March 2026",
}
REQUIRED = "\n".join(REQUIRED_LINES.values()) + "\n"


@pytest.mark.parametrize(
    ("line", "field", "value"),
    [
        ("Child's ID: LCS-9", "child_local_id", "LCS-9"),
        ("Child’s ID: LCS-9", "child_local_id", "LCS-9"),
        ("Child ID number: LCS-9", "child_local_id", "LCS-9"),
        ("LCS ID: LCS-9", "child_local_id", "LCS-9"),
        ("Name of child: Ben Brown", "child_name", "Ben Brown"),
        ("Child's full name: Ben Brown", "child_name", "Ben Brown"),
        ("DOB: 14/07/2015", "child_date_of_birth", date(2015, 7, 14)),
        ("D.O.B.: 14/07/2015", "child_date_of_birth", date(2015, 7, 14)),
        ("D.O.B - 14/07/2015", "child_date_of_birth", date(2015, 7, 14)),
        ("Type of order: ISO\nLast day: 2 June 2026", "order_type", "interim_supervision"),
        ("Order made: 4 March 2026", "made", date(2026, 3, 4)),
        ("Date of order: 4 March 2026", "made", date(2026, 3, 4)),
        ("Start date: 5 March 2026", "commenced", date(2026, 3, 5)),
        ("Commenced: 5 March 2026", "commenced", date(2026, 3, 5)),
        ("Commencement date: same as date made", "commenced", None),
        ("Length: 12 months", "months", 12),
        ("Length: 6 months", "months", 6),
        ("Length: 1 year", "months", 12),
        ("Length: one year", "months", 12),
        ("Length of order: 9 mths", "months", 9),
        ("Duration: 9", "months", 9),
        ("Length or last day: 2 March 2027", "last_day", date(2027, 3, 2)),
        ("Last day: 2 March 2027", "last_day", date(2027, 3, 2)),
        ("Expiry date: 2 March 2027", "last_day", date(2027, 3, 2)),
        ("End date: 2 March 2027", "last_day", date(2027, 3, 2)),
        ("Allocated social worker: ann.lee@example.gov.uk", "social_worker_email", "ann.lee@example.gov.uk"),
        ("SW: Ann Lee <Ann.Lee@example.gov.uk>", "social_worker_email", "ann.lee@example.gov.uk"),
        (
            "Social worker: ann.lee@example.gov.uk<mailto:ann.lee@example.gov.uk>",
            "social_worker_email",
            "ann.lee@example.gov.uk",
        ),
        ("Court: Family Court at Leeds", "court", "Family Court at Leeds"),
        ("Other orders: Child arrangements order", "other_orders", "Child arrangements order"),
        ("Other orders: n/a", "other_orders", ""),
        ("Conditions: none", "conditions", ""),
        ("Conditions and directions: Attend school", "conditions", "Attend school"),
        ("Conditions:\nAttend school\nSee the GP\n\nThanks", "conditions", "Attend school\nSee the GP"),
        ("Conditions: Attend school\nand see the GP\nCourt: Leeds", "conditions", "Attend school\nand see the GP"),
        ("COURT   :   Family Court at Leeds", "court", "Family Court at Leeds"),
        ("court\tFamily Court at Leeds", "court", "Family Court at Leeds"),
        ("Court - Family Court at Leeds", "court", "Family Court at Leeds"),
        ("- Court: Family Court at Leeds", "court", "Family Court at Leeds"),
        ("• Court: Family Court at Leeds", "court", "Family Court at Leeds"),
        ("*Court:* Family Court at Leeds", "court", "Family Court at Leeds"),
        ("**Court**: Family Court at Leeds", "court", "Family Court at Leeds"),
        ("3) Court: Family Court at Leeds", "court", "Family Court at Leeds"),
    ],
)
def test_labels_as_people_write_them(line: str, field: str, value: object) -> None:
    others = [required for key, required in REQUIRED_LINES.items() if key != field]
    result = new_order("\n".join([*others, line]))
    assert result.kind == "orders", result.problems
    assert getattr(result.orders[0], field) == value


@pytest.mark.parametrize(
    ("written", "order_type"),
    [
        ("SO", "supervision"),
        ("S.O.", "supervision"),
        ("so", "supervision"),
        ("Supervision Order", "supervision"),
        ("supervision order (s.31 Children Act 1989)", "supervision"),
        ("ISO", "interim_supervision"),
        ("interim", "interim_supervision"),
        ("Interim Supervision Order", "interim_supervision"),
        ("Interim Supervision Order (s.38)", "interim_supervision"),
        ("Supervision order under section 38", "interim_supervision"),
    ],
)
def test_order_types_in_the_words_people_use(written: str, order_type: str) -> None:
    # The court sets an interim order's end, so every order here gives its last day.
    given = f"Child ID: LCS-1\nChild name: Amy Brown\nOrder type: {written}\nDate made: 3/3/2026\nLast day: 2/6/2026"
    result = new_order(given)
    assert result.orders[0].order_type == order_type


@pytest.mark.parametrize(
    ("written", "problem"),
    [
        (
            "Care order",
            "Order type: 'Care order' is not a supervision order: sobot records supervision orders (SO) "
            "and interim supervision orders (ISO) only.",
        ),
        (
            "Child arrangements order",
            "Order type: 'Child arrangements order' is not an order type I know: write Supervision Order (SO) "
            "or Interim Supervision Order (ISO).",
        ),
    ],
)
def test_an_order_type_that_is_not_a_supervision_order_is_a_problem(written: str, problem: str) -> None:
    result = new_order(f"Child ID: LCS-1\nChild name: Amy Brown\nOrder type: {written}\nDate made: 3/3/2026")
    assert result == problems(problem)


def test_a_social_worker_named_without_an_address_is_kept_by_name() -> None:
    [order] = new_order(REQUIRED + "Social worker: Ann Lee").orders
    assert order.social_worker_email is None and order.social_worker_name == "Ann Lee"
    assert new_order(REQUIRED + "Social worker: n/a").kind == "orders"  # none given: the sender's own order


def test_a_length_in_words_is_a_problem_that_says_what_to_write() -> None:
    assert new_order(REQUIRED + "Length: about a year") == problems(
        "Length or last day: 'about a year' is not a length or a date: write the length the court set "
        "(e.g. 12 months) or the last day (e.g. 2 March 2027)."
    )


def test_quoted_history_is_never_read_as_an_order() -> None:
    history = "".join(f"> {line}\n" for line in REQUIRED.splitlines())
    quoted = f"Thanks, will do.\n\nOn Tue, 3 Mar 2026 at 10:00, Tom Jones <tom.jones@example.gov.uk> wrote:\n{history}"
    assert new_order(quoted, subject="Re: New supervision order", in_reply_to="x@example.gov.uk") == NOT_AN_ORDER


def test_an_order_in_a_forward_is_read() -> None:
    forwarded = f"FYI\n\nFrom: Legal <legal@example.gov.uk>\nSent: 3 March 2026\nTo: Tom\nSubject: Order\n\n{REQUIRED}"
    assert new_order(forwarded, subject="FW: Order").kind == "orders"
    assert new_order(forwarded, subject="RE: Order") == NOT_AN_ORDER
    gmail_forward = f"FYI\n\n---------- Forwarded message ---------\nFrom: Legal\nSubject: Order\n\n{REQUIRED}"
    assert new_order(gmail_forward, subject="Order made").kind == "orders"
    assert new_order(gmail_forward, subject="Re[2]: Fwd: Order made") == NOT_AN_ORDER


def test_a_line_that_looks_like_a_signature_does_not_cut_the_order_off() -> None:
    assert new_order("Hi,\nThanks, please set up the order below.\n\n" + REQUIRED).kind == "orders"
    assert new_order("Morning all,\nKind regards from court today:\n" + REQUIRED).kind == "orders"


def test_the_same_order_twice_is_one_order() -> None:
    assert len(new_order(REQUIRED + "\n" + REQUIRED).orders) == 1


def test_a_subject_naming_an_order_asks_for_its_details_but_a_reference_does_not() -> None:
    assert new_order("", subject="ISO for Amy") == problems(*NOTHING_GIVEN)
    assert new_order("", subject="Re: New supervision order") == NOT_AN_ORDER
    assert new_order("", subject="[SO-2026-0007] Allocate an IRO") == NOT_AN_ORDER
    assert new_order("", subject="So sorry, running late") == NOT_AN_ORDER


def test_the_template_filled_in_is_an_order() -> None:
    values = iter(
        ["LCS-1", "Amy Brown", "14/07/2015", "SO", "3 March 2026", "3 March 2026", "12 months",
         "tom.jones@example.gov.uk", "Family Court at Leeds", "None", "Attend school"]
    )  # fmt: skip
    filled = "".join(f"{line} {next(values)}\n" for line in NEW_ORDER_TEMPLATE.splitlines())
    assert new_order(filled) == orders(
        order(
            "LCS-1", "Amy Brown", date(2026, 3, 3), child_date_of_birth=date(2015, 7, 14),
            commenced=date(2026, 3, 3), months=12, social_worker_email="tom.jones@example.gov.uk",
            court="Family Court at Leeds", conditions="Attend school",
        )
    )  # fmt: skip


def test_the_help_sent_back_holds_no_order_of_its_own() -> None:
    assert new_order(NEW_ORDER_HELP) == problems(*NOTHING_GIVEN)


@pytest.mark.parametrize(
    ("text", "new_text"),
    [
        ("Jane Smith\n\n-----Original Message-----\nFrom: SU\nSent: today\n\nJane Smith or Omar Rahman?", "Jane Smith"),
        ("IRO: Jane Smith\nSent from my iPhone\n\nOn 4 Mar 2026, at 09:12, SU <su@example.gov.uk> wrote:\n> x",
         "IRO: Jane Smith"),
        ("On Wed, 4 Mar 2026 at 09:12, SU <su@example.gov.uk> wrote:\n> Jane Smith (3 open orders)", ""),
        ("From: SU <su@example.gov.uk>\nSent: 04 March 2026 09:12\nTo: SU\nSubject: Allocate\n\nJane Smith", ""),
        ("Jane Smith\n\n> Omar Rahman (5 open orders)", "Jane Smith"),
        ("- Child ID: LCS-1\n- Child name: Amy", "- Child ID: LCS-1\n- Child name: Amy"),
        ("", ""),
    ],
)  # fmt: skip
def test_strip_quoted_keeps_only_the_reply(text: str, new_text: str) -> None:
    assert strip_quoted(text) == new_text


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ("<p>one</p><p>two</p>", "one\ntwo"),
        ("<div>one</div><div><br></div><div>two</div>", "one\n\ntwo"),
        ("one<br>two<br/>three", "one\ntwo\nthree"),
        ("<p>a&nbsp;&amp;&nbsp;b &#8217; &pound;5</p>", "a & b ’ £5"),
        ("<table><tr><td>Child ID</td><td>LCS-1</td></tr></table><p>Thanks</p>", "Child ID\tLCS-1\n\nThanks"),
        ("<table><tr><td>Child ID<td>LCS-1<tr><td>Court<td>Leeds</table>", "Child ID\tLCS-1\nCourt\tLeeds"),
        ("<table><tr><td><table><tr><td>SW</td><td>Ann</td></tr></table></td></tr></table>", "SW\tAnn"),
        ('SW: <a href="mailto:Ann.Lee@example.gov.uk?subject=x">Ann Lee</a>', "SW: Ann Lee <Ann.Lee@example.gov.uk>"),
        ('<a href="mailto:ann@example.gov.uk">ann@example.gov.uk</a>', "ann@example.gov.uk"),
        ("<ul><li>one</li><li>two</li></ul>", "• one\n• two"),
        ("<pre>Child ID:   LCS-1\n  Court: Leeds</pre>", "Child ID:   LCS-1\nCourt: Leeds"),
        ("<head><title>t</title><style>p {}</style></head><script>x()</script><p>seen</p>", "seen"),
        ("<!--[if gte mso 9]><xml><o:x/></xml><![endif]--><p>seen<o:p></o:p></p>", "seen"),
        ("<p>unclosed <b>bold", "unclosed bold"),
    ],
)  # fmt: skip
def test_html_as_the_reader_sees_it(html: str, text: str) -> None:
    assert html_to_text(html) == text


@pytest.mark.parametrize(
    ("body", "text"),
    [
        (b"format=flowed; delsp=yes\n\nConditions: Mother to at \ntend the course.\n",
         "Conditions: Mother to attend the course."),
        (b"format=flowed\n\nLeo to attend school every \nday.\n From here\n-- \nTom\n",
         "Leo to attend school every day.\nFrom here\n--\nTom"),
    ],
)  # fmt: skip
def test_format_flowed_lines_are_joined_again(body: bytes, text: str) -> None:
    assert read_message(b"Content-Type: text/plain; charset=utf-8; " + body).text == text


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ('<p>seen</p><div style="display:none">Child ID: LCS-9</div><p>too</p>', "seen\ntoo"),
        ('<p>seen</p><div style="DISPLAY: none !important"><div>in</div>in</div><p>too</p>', "seen\ntoo"),
        ('<p>seen <span hidden>not</span>too</p>', "seen too"),
        ('<div style="visibility:hidden">not</div><p>seen</p>', "seen"),
        ('<div style="mso-hide:all">not</div><p>seen</p>', "seen"),
        ('<span style="font-size:0px">not</span><span style="opacity:0">not</span>seen', "seen"),
        ('<div style="max-height:0;overflow:hidden">preheader</div><p>seen</p>', "seen"),
        ('<p style="display:none">not<p>seen', "seen"),
        ('<table><tr><td>Child ID</td><td style="display:none">LCS-9</td><td>LCS-1</td></tr></table>',
         "Child ID\tLCS-1"),
        ('<div style="font-size:0.9em;max-height:10px">seen</div><img style="display:none">too', "seen\ntoo"),
    ],
)  # fmt: skip
def test_hidden_html_is_not_read(html: str, text: str) -> None:
    assert html_to_text(html) == text


HIDDEN_SECOND_ORDER = """\
From: Tom Jones <tom.jones@example.gov.uk>
Subject: New supervision order
Message-ID: <hidden-second-order@example.gov.uk>
Content-Type: text/html; charset=utf-8

<p>Child ID: LCS-1<br>Child name: Amy Brown<br>Order type: SO<br>Date made: 3 March 2026</p>
<div style="display:none">Child ID: LCS-666<br>Child name: Eve Hidden<br>Order type: SO<br>Date made: 3 March 2026</div>
"""


def test_a_hidden_second_order_is_no_order() -> None:
    result = parse_order_email(read_message(HIDDEN_SECOND_ORDER.encode()), TODAY)
    assert result.kind == "orders" and [order.child_local_id for order in result.orders] == ["LCS-1"]


def test_the_reply_parser_runs_once_per_message(monkeypatch: pytest.MonkeyPatch) -> None:
    import mailparser_reply

    runs = []
    read_thread = mailparser_reply.EmailMessage.read

    def counted(self: Any) -> Any:
        runs.append(1)
        return read_thread(self)

    monkeypatch.setattr(mailparser_reply.EmailMessage, "read", counted)
    result = parse_order_email(read("01_plain_template.eml"), TODAY)
    assert result.kind == "orders" and len(runs) == 1


@pytest.mark.parametrize("blank", [" ", "\t", "\xa0", "\u2003", " \t"])
def test_long_runs_of_blanks_read_as_one(blank: str) -> None:
    # 32,000 spaces once took 12 s: the bound is generous, only to tell linear from quadratic.
    import time

    raw = f"From: tom.jones@example.gov.uk\nSubject: New supervision order\n\nChild ID:{blank * 32000}LCS-1\n"
    started = time.perf_counter()
    mail = read_message(raw.encode())
    result = parse_order_email(mail, TODAY)
    assert time.perf_counter() - started < 3
    assert mail.text == ("Child ID:\tLCS-1" if "\t" in blank else "Child ID: LCS-1")
    assert result.kind == "problems"


@pytest.mark.parametrize("markup", ["<p> ", "<li> "])
def test_long_runs_of_empty_html_blocks_read_in_linear_time(markup: str) -> None:
    # 20,000 empty paragraphs once took 11 s: each looked back over every one before it.
    import time

    started = time.perf_counter()
    assert html_to_text(markup * 20000 + "seen").strip().endswith("seen")
    assert time.perf_counter() - started < 3
