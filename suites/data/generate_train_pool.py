# ruff: noqa: E501  (the scenarios are data: one sentence a line reads better than wrapped strings)
"""Generate the train pools for ticket triage and email routing (seeded, reproducible).

    python suites/data/generate_train_pool.py            # writes both train_pool.jsonl files
    python suites/data/generate_train_pool.py --check    # exit 1 if the files on disk differ

Every text comes from a scenario written for this project (see suites/data/README.md), filled with
varied slots (products, order numbers, amounts, deadlines, tone, greetings, typos). A generated text
whose normalised form equals a test or few-shot text, or another pool text, is dropped and redrawn.
The label of an item is fixed by its scenario, so the pool is as clean as the scenarios are.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

HERE = Path(__file__).resolve().parent
SEED = 14
PER_CATEGORY = 50  # 7 x 50 = 350 tickets
PER_DEPARTMENT = 50  # 6 x 50 = 300 emails

Slots = dict[str, str]
Scenario = tuple[str, str]  # (template, priority)
S = TypeVar("S")

PRODUCTS = [
    "Aero desk",
    "Pulse webcam",
    "Loop headphones",
    "Aero monitor arm",
    "Loop earbuds",
    "Pulse mic",
    "Aero standing mat",
    "Loop dock",
]
APP = ["the Brightwell app", "the workspace app", "Brightwell", "the desktop app", "the mobile app", "the web app"]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "the weekend", "last week"]
OS = ["Windows 11", "macOS Sonoma", "Ubuntu 24.04", "a Chromebook", "iOS 17", "Android 14"]
FEATURES = [
    "recurring tasks",
    "the calendar view",
    "shared boards",
    "time tracking",
    "guest access",
    "custom fields",
    "the Gantt view",
    "dark mode",
    "file previews",
    "the Slack integration",
]
COUNTRIES = ["Norway", "Canada", "Ireland", "Switzerland", "Portugal", "Australia", "Poland"]
SEATS = ["5", "12", "25", "40", "80", "150"]
OPENERS = ["", "", "", "Hi, ", "Hello, ", "Hi team, ", "Hey, ", "Good morning, "]
CLOSERS = [
    "",
    "",
    "",
    " Thanks.",
    " Thanks!",
    " Cheers.",
    " Thank you in advance.",
    " Regards, Tom",
    " - Ana",
    " Best, Rahul",
]


def _order(rng: random.Random) -> str:
    return f"{rng.choice(['SH', 'BW', 'ORD'])}-{rng.randint(10000, 99999)}"


def _invoice(rng: random.Random) -> str:
    return f"INV-{rng.choice(['2024', '2025', '2026'])}-{rng.randint(100, 9999):04d}"


def _money(rng: random.Random) -> str:
    return rng.choice(["$", "€", "£"]) + str(rng.choice([12, 19, 29, 49, 79, 99, 149, 240, 399, 1180]))


def _ticket_slots(rng: random.Random) -> Slots:
    return {
        "product": rng.choice(PRODUCTS),
        "app": rng.choice(APP),
        "order": _order(rng),
        "invoice": _invoice(rng),
        "amount": _money(rng),
        "day": rng.choice(DAYS),
        "os": rng.choice(OS),
        "feature": rng.choice(FEATURES),
        "country": rng.choice(COUNTRIES),
        "seats": rng.choice(SEATS),
        "n": str(rng.randint(2, 9)),
    }


TICKETS: dict[str, list[Scenario]] = {
    "billing": [
        (
            "I was charged twice for my {seats}-seat plan this month, two payments of {amount} on the same day. Please refund one.",
            "high",
        ),
        (
            "My invoice {invoice} shows {amount} but our plan is cheaper than that. Can someone explain the difference?",
            "medium",
        ),
        ("Can you add our VAT number to invoice {invoice}? Our accountant won't accept it without it.", "medium"),
        (
            "There are charges of {amount} on our company card from you that nobody here made. We think the card was stolen, please block them now.",
            "urgent",
        ),
        ("how do i change the billing email so invoices go to accounts@ instead of me", "low"),
        (
            "Our payment failed and the banner says the workspace will be suspended today. The card is fine, please stop the suspension, {seats} people work in it.",
            "urgent",
        ),
        (
            "If I upgrade from Basic to Team in the middle of the month, is the price prorated or do I pay the full {amount}?",
            "low",
        ),
        ("We cancelled on {day} but were still billed {amount} for the next month. I'd like that reversed.", "high"),
        ("Could I get a copy of all invoices from last year as one PDF? Year-end close is next week.", "medium"),
        ("Do you invoice in CHF? Our finance team in {country} would prefer local currency.", "low"),
        (
            "The annual renewal of {amount} went through although we asked for monthly billing. Please switch us back and refund the difference.",
            "high",
        ),
        (
            "Our auditors arrive tomorrow morning and the credit note for {invoice} is still missing. I need it today.",
            "urgent",
        ),
        ("Why did the price per seat go up on the last invoice? Nobody told us about a change.", "medium"),
        ("Is there a discount for schools? We'd need about {seats} seats.", "low"),
        (
            "we paid {invoice} by bank transfer {n} days ago and it still shows as unpaid with a late fee added",
            "medium",
        ),
    ],
    "technical": [
        ("{app} crashes every time I open {feature}. Reinstalled twice, same thing on {os}.", "medium"),
        (
            "My {product} stopped working after the firmware update on {day}. It powers on but nothing else happens.",
            "high",
        ),
        (
            "Nobody in our office can log in, the page just says error 500. {seats} people are blocked right now.",
            "urgent",
        ),
        ("Changes I make on my phone don't show up on the desktop until I log out and back in.", "medium"),
        ("The {product} isn't recognised on {os}. It works fine on my other computer.", "medium"),
        ("Export to CSV has been spinning for an hour and never finishes.", "medium"),
        ("Notifications for {feature} never arrive by email, though they are switched on in settings.", "low"),
        ("Since {day} {app} takes about a minute to load any board. It used to be instant.", "medium"),
        ("The Slack integration posts every update {n} times into our channel.", "low"),
        ("I have a client demo in an hour and {app} shows a blank white screen. Please help!!", "urgent"),
        ("the {product} makes a clicking noise and then disconnects, tried another cable and port", "medium"),
        (
            "Our whole team lost the data in {feature} this morning, it's just empty. We need it back today for payroll.",
            "urgent",
        ),
        ("The height buttons on my {product} don't respond anymore, it's stuck at sitting height.", "high"),
        ("When I attach a file bigger than 20 MB the upload fails at 99% with 'network error'.", "low"),
        ("After the latest update the sound in my {product} cuts out every few minutes on calls.", "high"),
    ],
    "account": [
        ("The password reset email never arrives. Checked spam, tried {n} times.", "medium"),
        ("I lost my phone and can't get the two-factor code. How do I get back into my account?", "high"),
        (
            "I have two logins, one personal and one work, and my order history is split between them. Can you merge them?",
            "low",
        ),
        (
            "I got a login alert from a city I've never been to, and my password no longer works. Please lock the account.",
            "urgent",
        ),
        ("How do I transfer ownership of our workspace to a colleague? I'm leaving the company on {day}.", "medium"),
        ("An employee left and I want to remove her from the team without losing the tasks she created.", "medium"),
        ("Please change the email on my account to my new address, the old one is being shut down.", "low"),
        (
            "Our account is locked after too many attempts and {seats} people can't get in. We have a deadline at 5 today.",
            "urgent",
        ),
        ("I'd like my account and all my personal data deleted under GDPR.", "medium"),
        ("how do i set up single sign-on with our company directory for {seats} users", "low"),
        ("I'm the admin but I can't see the user management page anymore. Did my role change?", "high"),
        ("Can I change my username? I made a typo when I signed up.", "low"),
        (
            "A former contractor still has access to our workspace and I can't remove him, the button is greyed out. He shouldn't see client files.",
            "high",
        ),
        ("Someone changed the recovery email on my account without me. I didn't do that and I'm worried.", "urgent"),
    ],
    "shipping": [
        ("Where is my order {order}? It was meant to arrive on {day} and tracking hasn't moved.", "medium"),
        ("The tracking number for {order} says 'label created' for {n} days now.", "medium"),
        ("My {product} was delivered to the wrong address, the photo shows a house that isn't mine.", "high"),
        ("Can I still change the delivery address for {order}? It hasn't shipped yet.", "medium"),
        ("Do you ship to {country}, and how long does it take?", "low"),
        ("I was asked to pay customs fees of {amount} for {order}. I thought duties were included?", "medium"),
        (
            "We need the {seats} desks on site by tomorrow morning for the office opening. Order {order} still shows 'in transit'. Can it be expedited today?",
            "urgent",
        ),
        ("Can several items ship in one box? Last time I got {n} separate parcels.", "low"),
        ("The courier left my parcel in the rain on the doorstep, the box is soaked.", "medium"),
        ("Tracking says delivered but nothing arrived. Neighbours don't have it either. Order {order}.", "high"),
        ("is express delivery available for the {product}?", "low"),
        ("Half of order {order} arrived, the {product} is missing and there's no second tracking number.", "high"),
        ("The delivery driver wants a signature but I'm at work until 6. Can the parcel go to a pickup point?", "low"),
        (
            "My {product} is stuck in the depot since {day} and the courier isn't answering. It's a gift for a birthday tomorrow.",
            "urgent",
        ),
    ],
    "returns": [
        ("I'd like to return the {product} from order {order}, it's unopened. How do I start?", "low"),
        ("I sent back the {product} {n} weeks ago and still haven't received my refund of {amount}.", "high"),
        ("The return label charges me to send back a defective item. Shouldn't that be free?", "medium"),
        ("Can I exchange the {product} for the black version instead of a refund?", "low"),
        ("The {product} arrived with a cracked frame. I want to send it back for a full refund.", "medium"),
        ("Is there a restocking fee if we send back {n} of the {seats} webcams we ordered?", "medium"),
        ("The courier collected my return on {day} but I got no confirmation and no tracking.", "medium"),
        (
            "The power adapter of my {product} started smoking. I unplugged it. I want to return it and know if this is a known issue.",
            "urgent",
        ),
        ("How long is the return window for the {product}? I bought it {n} weeks ago.", "low"),
        ("You refunded only {amount} for my return but I paid more than that. Where's the rest?", "high"),
        ("Return request for {order}: wrong size, I need the larger {product}.", "low"),
        ("My return was rejected as 'used' but I only opened the box. I want this reviewed.", "high"),
        ("the {product} I got is not what I ordered, please arrange a pickup and refund", "medium"),
        (
            "I have to return the {product} before my 30 days end today, the return page gives an error. Please confirm I'm still covered.",
            "urgent",
        ),
    ],
    "product_question": [
        ("Does the {product} work with {os}?", "low"),
        ("What is the maximum weight the {product} can hold?", "low"),
        ("Does {app} support {feature}, or is that only on the Team plan?", "low"),
        ("How long is the warranty on the {product}, and does it cover the motor?", "low"),
        (
            "We're thinking of ordering {seats} of the {product} for our office. Is there a bulk price and a lead time?",
            "medium",
        ),
        ("Can {app} be used offline? I travel a lot without signal.", "low"),
        ("Is there an API to create tasks from our CRM? Deciding this week which tool to buy.", "medium"),
        ("What's the difference between the {product} and the older model?", "low"),
        ("Does the {product} come in white?", "low"),
        ("Is your data stored in the EU? Our legal team needs the answer before signing on Friday.", "high"),
        ("Can two {product}s be connected to the same laptop at once?", "low"),
        ("Is the {product} certified for use in hospitals? We need to know before our tender closes today.", "urgent"),
        ("how many guests can we invite to a board before they count as paid seats", "medium"),
        ("Is {feature} available on the mobile app as well or only in the browser?", "low"),
    ],
    "feedback": [
        ("Just wanted to say the new {feature} is great, it saves me a lot of time.", "low"),
        ("Your support agent was really patient with me yesterday, please pass on my thanks.", "low"),
        ("Please bring back the old layout. The redesign hides {feature} three clicks deep.", "medium"),
        ("It would be nice if {app} had {feature}. Every competitor has it.", "low"),
        (
            "The grey text on white is very hard to read for people with low vision. Our policy requires accessible tools, please fix this or we'll have to switch.",
            "high",
        ),
        ("The delivery driver was rude and threw the box over the fence. Not what I expect at your prices.", "medium"),
        ("I love the {product}, best purchase this year.", "low"),
        ("Every update moves buttons around. Please tell users before changing things.", "medium"),
        ("Suggestion: let us pick the start day of the week in the calendar.", "low"),
        (
            "I've been a customer for {n} years and the quality of support has gone downhill. Three emails, no answer.",
            "high",
        ),
        ("The packaging for the {product} was way too much plastic. Please consider recyclable materials.", "low"),
        ("Your marketing emails keep coming although I unsubscribed twice. Very annoying.", "medium"),
        ("The onboarding checklist was very clear, our team was up and running in a day. Well done.", "low"),
        (
            "We are a {seats}-person team and seriously considering leaving because of how slow releases have become. Someone from product should talk to us.",
            "high",
        ),
    ],
}

TONE_SUFFIX = {
    "urgent": ["", " Please reply ASAP.", " This is really urgent.", ""],
    "high": ["", " Please look into it soon.", ""],
    "medium": ["", ""],
    "low": ["", " No rush."],
}


def _typo(text: str, rng: random.Random) -> str:
    """Swap two neighbouring letters in one word, as hurried writers do."""
    words = text.split(" ")
    i = rng.randrange(len(words))
    w = words[i]
    if len(w) > 4 and w.isalpha():
        j = rng.randrange(1, len(w) - 2)
        words[i] = w[:j] + w[j + 1] + w[j] + w[j + 2 :]
    return " ".join(words)


def _style(text: str, priority: str, rng: random.Random) -> str:
    opener = rng.choice(OPENERS)
    if opener and rng.random() < 0.7:
        text = text[0].lower() + text[1:] if not text.startswith("I ") else text
    text = opener + text + rng.choice(TONE_SUFFIX[priority]) + rng.choice(CLOSERS)
    if rng.random() < 0.15:
        text = text.lower()
    if rng.random() < 0.2:
        text = _typo(text, rng)
    return text.strip()


def _fill(template: str, slots: Slots) -> str:
    return template.format(**slots)


def normalise(text: str) -> str:
    """Lowercase, drop punctuation, collapse spaces: the form compared for overlap."""
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


def _draws(
    scenarios: list[S], n: int, rng: random.Random, make: Callable[[S], dict[str, object] | None]
) -> Iterator[dict[str, object]]:
    """n items, cycling through the scenarios in a shuffled order so each is used about equally."""
    made = 0
    while made < n:
        for sc in rng.sample(scenarios, len(scenarios)):
            item = make(sc)
            if item is not None and made < n:
                made += 1
                yield item


def tickets(rng: random.Random, seen: set[str]) -> list[dict[str, object]]:
    """PER_CATEGORY tickets per category; the `seen` normalised texts are avoided and extended."""
    out: list[dict[str, object]] = []
    for category, scenarios in TICKETS.items():

        def make(sc: Scenario, category: str = category) -> dict[str, object] | None:
            text = _style(_fill(sc[0], _ticket_slots(rng)), sc[1], rng)
            if normalise(text) in seen:
                return None
            seen.add(normalise(text))
            return {"text": text, "category": category, "priority": sc[1]}

        out.extend(_draws(scenarios, PER_CATEGORY, rng, make))
    rng.shuffle(out)
    return [{"id": f"tt-pool-{i + 1:04d}", **item} for i, item in enumerate(out)]


NAMES = [
    "Maria Lopez",
    "James Carter",
    "Aiko Tanaka",
    "Lars Nilsson",
    "Fatima Haddad",
    "Tom Becker",
    "Chloe Martin",
    "Ravi Patel",
    "Zofia Kowalska",
    "Owen Hughes",
    "Ines Moreira",
    "Kwame Mensah",
]
COMPANIES = [
    "Fernbrook Group",
    "Alder & Pike",
    "Northwind Studio",
    "Kestrel Labs",
    "Bluegate Dental",
    "Harbour Freight Co",
    "Lumen Architects",
    "Oakline Schools",
    "Tidewater Hotels",
]
GREETINGS = ["Hi,", "Hello,", "Dear Sir or Madam,", "Hi team,", "Good afternoon,", "Hi there,"]
SIGNOFFS = ["Thanks,", "Best regards,", "Kind regards,", "Cheers,", "Best,", "Many thanks,"]
TEAMS = ["Marketing", "Operations", "Customer Success", "Design", "Warehouse", "Product", "Sales"]
SYSTEMS = [
    "the VPN",
    "Outlook",
    "the shared drive",
    "the CRM",
    "the ERP",
    "Wi-Fi in the office",
    "the printer on floor 2",
    "Slack",
    "the payroll portal",
]

Email = tuple[str, str, bool]  # (subject, body, urgent)

EMAILS: dict[str, list[Email]] = {
    "sales": [
        (
            "Quote for {seats} {product}s",
            "Could you send a quote for {seats} {product}s delivered to our office? We'd pay by invoice.",
            False,
        ),
        (
            "Reseller enquiry - {country}",
            "We distribute office equipment in {country} and would like to discuss carrying your products. Who is the right person to talk to?",
            False,
        ),
        (
            "Revised proposal needed before {time} today",
            "Our board meets at {time} today and your proposal is on the agenda. We need a version with a 2-year term instead of 3 before then, otherwise it moves to next quarter.",
            True,
        ),
        (
            "Volume discount?",
            "We're comparing tools for a team of {seats}. Do you offer volume pricing on annual plans, and could we get a demo next week?",
            False,
        ),
        (
            "Signing today if the price is right",
            "We're ready to sign for {seats} seats today, but only if you can match the competitor's offer of {amount} per seat. Our budget closes at midnight.",
            True,
        ),
        (
            "Demo request",
            "I saw your workspace product at the trade fair and would like a demo for our {team} team. Any time next week works.",
            False,
        ),
        (
            "Upgrade to Enterprise",
            "We're on the Team plan with {seats} users and want to know what Enterprise would cost us and what it adds.",
            False,
        ),
        (
            "Tender deadline 3pm today - pricing sheet",
            "We're submitting a public tender at 3pm today and need your signed pricing sheet for {seats} {product}s included. Can someone send it within the next two hours?",
            True,
        ),
        (
            "Trial extension",
            "Our trial ends on {day} and we haven't finished evaluating. Could you extend it by two weeks? We're likely to buy {seats} seats.",
            False,
        ),
    ],
    "support": [
        (
            "{product} not working",
            "My {product} stopped working after the update on {day}. I've tried restarting and reinstalling. What else can I try?",
            False,
        ),
        (
            "Where is order {order}?",
            "Order {order} was due on {day} and tracking hasn't changed in days. Can you check with the courier?",
            False,
        ),
        (
            "Whole team locked out of the app",
            "Since this morning none of our {seats} users can log in to the workspace, the page shows an error. We can't work at all. Please help as soon as possible.",
            True,
        ),
        (
            "Return of a damaged {product}",
            "The {product} arrived with a broken part. How do I send it back and get a replacement?",
            False,
        ),
        (
            "How do I share a board with a client?",
            "I'd like to give a client read-only access to one board. Is that possible without a paid seat?",
            False,
        ),
        (
            "Event today - webcams not recognised",
            "We're running a hybrid event at 2pm today and none of the {n} Pulse webcams are recognised since the firmware update. We need a fix or a workaround this morning.",
            True,
        ),
        (
            "Password reset not arriving",
            "I've asked for a password reset {n} times and the email never arrives. Checked spam too.",
            False,
        ),
        ("URGENT: feedback on your app!!", "Just a quick note to say we love the new dark mode. Keep it up!", False),
        (
            "Data missing from our boards",
            "All cards created since {day} have disappeared from our boards. We're presenting them to a client this afternoon. Please restore them today.",
            True,
        ),
    ],
    "finance": [
        (
            "Invoice {invoice} - payment query",
            "We received invoice {invoice} for {amount} but our PO was for a lower amount. Could you check and send a corrected invoice?",
            False,
        ),
        (
            "Remittance advice",
            "Please find attached remittance advice for invoices {invoice} and {invoice2}, paid today by bank transfer.",
            False,
        ),
        (
            "Final reminder: {invoice} overdue - service suspended today",
            "Despite previous reminders, invoice {invoice} for {amount} remains unpaid. Unless payment is received by 5pm today, your account will be suspended.",
            True,
        ),
        (
            "Change of bank details",
            "Please note our bank details have changed, new details attached. Update your records before the next payment run. (We will confirm by phone.)",
            False,
        ),
        (
            "Statement request",
            "Could you send us a statement of account for the last quarter? Our auditors have asked for it.",
            False,
        ),
        (
            "Cut AP costs by 20% - URGENT offer",
            "Is your AP team still keying invoices by hand? Book a demo this week and get 3 months free! Reply STOP to unsubscribe.",
            False,
        ),
        (
            "Payment run closes at noon",
            "Our payment run closes at noon today. We're missing your W-9 / tax form, so we can't pay invoice {invoice} until we have it. Please send it this morning.",
            True,
        ),
        ("VAT question", "Your invoice {invoice} doesn't show our VAT number. Could you reissue it?", False),
        (
            "Expense card declined abroad",
            "My company card was declined at the hotel in {country} and I have to check out in an hour. Can finance raise the limit now?",
            True,
        ),
    ],
    "hr": [
        (
            "Summer internship enquiry",
            "I'm a student looking for a summer internship in {team}. Do you offer internships and how should I apply?",
            False,
        ),
        (
            "Training budget request",
            "I'd like to take an online course ({amount}, 6 weeks). My manager supports it. How do I apply for the training budget?",
            False,
        ),
        (
            "Payslip wrong - payday tomorrow",
            "My payslip for this month shows no overtime and a wrong tax code. Payday is tomorrow and my rent is due. Can this be corrected today?",
            True,
        ),
        (
            "Parental leave",
            "I'm expecting a baby in {month} and would like to understand our parental leave policy and how to request it.",
            False,
        ),
        (
            "Reference request for former employee",
            "A former employee of yours, {name2}, has applied with us and named you as a reference. Could you confirm her dates of employment?",
            False,
        ),
        (
            "Harassment complaint",
            "I need to report repeated inappropriate comments from a colleague in {team}. It happened again this morning and I don't feel safe going back to my desk. Who can I speak to today?",
            True,
        ),
        ("Holiday carry-over", "I have {n} days of holiday left. Can I carry them into next year?", False),
        (
            "Job offer - reply needed by today",
            "I've received your offer for the {team} role, but I have a question about the start date before I sign. The offer expires at 6pm today.",
            True,
        ),
        (
            "Change of address",
            "I've moved, please update my home address in the HR system. New address attached.",
            False,
        ),
    ],
    "legal": [
        (
            "NDA for review",
            "We're meeting {company} next {day} about a partnership. They've sent their mutual NDA. Could you review it before the meeting?",
            False,
        ),
        (
            "Court filing deadline tomorrow",
            "Our lawyers need your signed witness statement for the {company} case. The filing deadline is 10am tomorrow, so we need it back today.",
            True,
        ),
        (
            "Data processing agreement",
            "Our customer {company} asks us to sign their data processing agreement. Can legal check it against our standard terms?",
            False,
        ),
        (
            "Cease and desist: trademark",
            "We represent {company}. Your product name infringes our client's registered trademark. You must cease use within 24 hours or we will seek an injunction.",
            True,
        ),
        (
            "Question about contract terms",
            "Can we terminate the office lease with {company} early? The contract mentions a break clause but I'm not sure how it works.",
            False,
        ),
        (
            "GDPR data subject request",
            "I want a copy of all personal data you hold about me, as is my right under GDPR.",
            False,
        ),
        (
            "Contract renewal auto-renews tonight",
            "Our contract with {company} auto-renews for 3 years at midnight unless we send notice today. Can legal confirm the notice wording this afternoon?",
            True,
        ),
        (
            "Supplier terms - liability cap",
            "{company} wants unlimited liability in the supply agreement. Is that acceptable, or what should we counter with?",
            False,
        ),
        (
            "Use of customer logo",
            "Can marketing put {company}'s logo on our website? Do we need written permission?",
            False,
        ),
    ],
    "it": [
        (
            "New laptop for a starter",
            "{name2} joins the {team} team on {day}. Could IT prepare a laptop and accounts?",
            False,
        ),
        (
            "I think I clicked a phishing link",
            "I clicked a link in an email 'from Microsoft' and entered my password about ten minutes ago. I have access to the finance drive. What should I do?",
            True,
        ),
        (
            "{system} is down",
            "{system} has been down for everyone in the office since 9am. We can't work. Please fix it as soon as you can.",
            True,
        ),
        ("Software request", "Could I get a licence for a diagram tool? My manager approved it.", False),
        ("Monitor flickering", "My second monitor flickers every few minutes. Not urgent, just annoying.", False),
        (
            "Ransomware warning on my screen",
            "A message just appeared saying my files are encrypted and asking for bitcoin. The file names on the shared drive are changing. I've unplugged the network cable.",
            True,
        ),
        (
            "Access to the shared drive",
            "I've moved to the {team} team. Could I get access to their folder on the shared drive?",
            False,
        ),
        ("{system} slow", "{system} has been slow for me since {day}. Is there an issue or is it my laptop?", False),
        (
            "Lost laptop at the airport",
            "I left my work laptop at the security check in the airport an hour ago. It has client files. Can you lock it remotely now?",
            True,
        ),
    ],
}

MONTHS = ["March", "June", "September", "November", "January"]
TIMES = ["3pm", "4pm", "2:30pm", "5pm", "noon"]


def _email_slots(rng: random.Random) -> Slots:
    slots = _ticket_slots(rng)
    slots.update(
        {
            "invoice2": _invoice(rng),
            "company": rng.choice(COMPANIES),
            "team": rng.choice(TEAMS),
            "system": rng.choice(SYSTEMS),
            "name2": rng.choice(NAMES),
            "month": rng.choice(MONTHS),
            "time": rng.choice(TIMES),
        }
    )
    return slots


def _email_body(core: str, rng: random.Random) -> str:
    name = rng.choice(NAMES)
    sign = f"{rng.choice(SIGNOFFS)}\n{name}"
    if rng.random() < 0.5:
        sign += f"\n{rng.choice(TEAMS) if rng.random() < 0.5 else rng.choice(COMPANIES)}"
    body = f"{rng.choice(GREETINGS)}\n\n{core}\n\n{sign}"
    if rng.random() < 0.15:
        body += f"\n\n> On {rng.choice(DAYS)}, {rng.choice(NAMES)} wrote:\n> Thanks for getting in touch..."
    return body


def emails(rng: random.Random, seen: set[str]) -> list[dict[str, object]]:
    """PER_DEPARTMENT emails per department; the `seen` normalised texts are avoided and extended."""
    out: list[dict[str, object]] = []
    for department, scenarios in EMAILS.items():

        def make(sc: Email, department: str = department) -> dict[str, object] | None:
            slots = _email_slots(rng)
            body = _email_body(_fill(sc[1], slots), rng)
            if normalise(body) in seen:
                return None
            seen.add(normalise(body))
            return {"subject": _fill(sc[0], slots), "body": body, "department": department, "urgent": sc[2]}

        out.extend(_draws(scenarios, PER_DEPARTMENT, rng, make))
    rng.shuffle(out)
    return [{"id": f"er-pool-{i + 1:04d}", **item} for i, item in enumerate(out)]


def _texts(path: Path, field: str) -> set[str]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return {normalise(str(r[field])) for r in rows}


def build() -> dict[Path, str]:
    """The two pool files' contents, keyed by path (pure apart from reading the test/train files)."""
    rng = random.Random(SEED)
    tt, er = HERE / "ticket_triage", HERE / "email_routing"
    seen_t = _texts(tt / "test.jsonl", "text") | _texts(tt / "train.jsonl", "text")
    seen_e = _texts(er / "test.jsonl", "body") | _texts(er / "train.jsonl", "body")
    out = {}
    for path, rows in ((tt / "train_pool.jsonl", tickets(rng, seen_t)), (er / "train_pool.jsonl", emails(rng, seen_e))):
        out[path] = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    return out


def main() -> int:
    """Write (or with --check compare) the pool files; the exit code says whether they are current."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a file on disk differs")
    args = parser.parse_args()
    stale = [p for p, text in build().items() if not p.exists() or p.read_text(encoding="utf-8") != text]
    if args.check:
        for p in stale:
            print(f"{p}: differs from the generator's output; rerun without --check", file=sys.stderr)
        return 1 if stale else 0
    for p, text in build().items():
        p.write_text(text, encoding="utf-8")
        print(f"wrote {p} ({text.count(chr(10))} items)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
