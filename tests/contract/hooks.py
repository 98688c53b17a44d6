"""Schemathesis hooks for the contract run (scripts/contract-test.sh).

Random bytes are never a photo, so without help every generated register and verify would stop at
415/400 and no user would ever exist for the user routes. Half of the generated multipart bodies
get a real face photo from ../shared/faces as `image` (two in three, in fact: one of two photos or
what was generated).
"""
import os

import schemathesis
from hypothesis import strategies as st

FACES = os.environ.get("FACES_DIR", os.path.join(os.path.dirname(__file__), "../../../shared/faces"))
PHOTOS = [
    open(os.path.join(FACES, rel), "rb").read()
    for rel in ("dev/Adel_Al-Jubeir/Adel_Al-Jubeir_0001.jpg", "dev/Adel_Al-Jubeir/Adel_Al-Jubeir_0002.jpg")
]


@schemathesis.hook
def flatmap_body(ctx, body):
    image = body.get("image") if isinstance(body, dict) else None
    # Only a value the schema allows is swapped: a negative case whose fault is the image itself
    # (empty, not a string) must stay faulty.
    if not isinstance(image, (bytes, str)) or len(image) == 0:
        return st.just(body)
    return st.sampled_from([body, {**body, "image": PHOTOS[0]}, {**body, "image": PHOTOS[1]}])
