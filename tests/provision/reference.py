"""The reference network file under a test's own stack name, shared by the provision tests."""

import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
REFERENCE = os.path.join(ROOT, "contrib", "provision", "examples", "reference.ini")


def reference_text(stack, text=None, **subs):
    """reference.ini (or text) renamed to stack, each "old" replaced by "new" ("__" is a
    space in old). Returns (text, missing): the olds that were not found."""
    if text is None:
        with open(REFERENCE) as f:
            text = f.read()
    text = re.sub(r"(?m)^name = .*$", "name = " + stack, text)
    missing = []
    for old, new in subs.items():
        old = old.replace("__", " ")
        if old not in text:
            missing.append(old)
        text = text.replace(old, new)
    return text, missing
