"""What a person does on CRIER's pages, as small steps the scenarios share, plus the test images.

Elements are found the way a person (or a screen reader) finds them: by label, role and text.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from PIL import Image, ImageEnhance, ImageOps
from playwright.sync_api import BrowserContext, Locator, Page, expect

from corpora.examples import sample_photo_path

PASSWORD = "e2e-Correct-horse-battery-9"
# Indexing runs in the worker, which loads TensorFlow on its first task.
INDEXING_TIMEOUT_MS = 120_000

# The two screens the scenarios of issue 23 run on: a phone (390 × 844 CSS px, touch) and a
# desktop; pass one as ``new_context(**PHONE)``.
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
DESKTOP = {"viewport": {"width": 1280, "height": 900}}
SCREENS = {"phone": PHONE, "desktop": DESKTOP}

# What the ``new_context`` fixture gives (tests/e2e/conftest.py): call it for a fresh browser
# context, i.e. another person with their own cookies.
NewContext = Callable[[], BrowserContext]


def slow_link(page: Page, *, up_bits_per_s: float, down_bits_per_s: float) -> None:
    """Throttle ``page``'s network like a phone's link (40 ms round trip) through Chromium's
    DevTools protocol (``Network.emulateNetworkConditions``)."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send(
        "Network.emulateNetworkConditions",
        {
            "offline": False,
            "latency": 40,
            "uploadThroughput": up_bits_per_s / 8,
            "downloadThroughput": down_bits_per_s / 8,
        },
    )


def sample_photo(name: str) -> Path:
    path = sample_photo_path(name)
    assert path.is_file(), f"scikit-image does not ship {name}"
    return path


def resized_jpeg_copy(name: str, target: Path, *, scale: float = 0.5, quality: int = 60) -> Path:
    """A smaller, JPEG-recompressed copy of a sample photo: what a person might search with."""
    with Image.open(sample_photo(name)) as image:
        image = image.convert("RGB")
        size = (max(1, int(image.width * scale)), max(1, int(image.height * scale)))
        image.resize(size, Image.Resampling.LANCZOS).save(target, "JPEG", quality=quality)
    return target


def edited_copy(name: str, target: Path) -> Path:
    """Cropped, mirrored, brightened and recompressed: clearly edited, clearly the same photo."""
    with Image.open(sample_photo(name)) as image:
        image = image.convert("RGB")
        w, h = image.size
        image = image.crop((int(w * 0.08), int(h * 0.06), int(w * 0.94), int(h * 0.9)))
        image = ImageOps.mirror(image)
        image = ImageEnhance.Brightness(image).enhance(1.15)
        image.thumbnail((360, 360))
        image.save(target, "JPEG", quality=70)
    return target


def two_photos(left: str, right: str, target: Path) -> Path:
    """Two sample photos side by side in one JPEG, each squeezed to 300 x 300."""
    canvas = Image.new("RGB", (600, 300))
    for x, name in ((0, left), (300, right)):
        with Image.open(sample_photo(name)) as photo:
            canvas.paste(photo.convert("RGB").resize((300, 300)), (x, 0))
    canvas.save(target, "JPEG", quality=90)
    return target


def broken_image(target: Path) -> Path:
    """A file named like a JPEG whose bytes are not one (the header is cut short)."""
    with Image.open(sample_photo("coffee.png")) as image:
        image.convert("RGB").save(target, "JPEG", quality=80)
    target.write_bytes(target.read_bytes()[:300])
    return target


# --- steps -------------------------------------------------------------------------------------


def sign_up(page: Page, username: str) -> None:
    page.goto("/")
    page.get_by_role("link", name="Sign up").first.click()
    expect(page.get_by_role("heading", name="Create an account")).to_be_visible()
    page.get_by_label("Username", exact=True).fill(username)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password confirmation").fill(PASSWORD)
    page.get_by_role("button", name="Sign up").click()
    expect(page.get_by_role("button", name=f"Log out {username}")).to_be_visible()


def create_private_corpus(page: Page, name: str, description: str = "") -> str:
    """Creates a corpus from "My corpora" and returns the path of its page."""
    page.goto("/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="My corpora").click()
    expect(page.get_by_role("heading", name="My corpora", level=1)).to_be_visible()
    page.get_by_label("Name", exact=True).fill(name)
    if description:
        page.get_by_label("Description").fill(description)
    page.get_by_label("Visibility").select_option(label="Private")
    page.get_by_role("button", name="Create").click()
    expect(page.get_by_role("heading", name=name, level=1)).to_be_visible()
    expect(page).to_have_url(re.compile(r"/corpora/\d+/$"))
    return re.sub(r"^https?://[^/]+", "", page.url)


def private_corpus_of(page: Page, name: str, photos: list[str], description: str = "") -> str:
    """A private corpus of these sample photos, waited on until they are searchable; returns
    the path of its page."""
    path = create_private_corpus(page, name, description)
    upload_images(page, [sample_photo(photo) for photo in photos])
    wait_until_ready(page, len(photos))
    return path


def upload_results(page: Page) -> Locator:
    return page.get_by_role("region", name="Upload results")


def upload_images(page: Page, files: list[Path]) -> None:
    """Chooses the files in the corpus page's upload box and sends them."""
    page.get_by_label("Images to add").set_input_files(files)
    chosen = f"{len(files)} file{'' if len(files) == 1 else 's'} chosen."
    expect(page.get_by_text(chosen)).to_be_visible()
    page.get_by_role("button", name="Upload").click()


def corpus_status(page: Page) -> Locator:
    """The corpus page's status card ("Ready 5 images: 5 searchable, 0 waiting, …")."""
    return page.get_by_role("region", name="Status")


def wait_until_ready(page: Page, image_count: int) -> None:
    status = corpus_status(page)
    # The live region holds the status word alone: a count refresh is not announced.
    expect(status.get_by_role("status")).to_have_text("Ready", timeout=INDEXING_TIMEOUT_MS)
    expect(status).to_contain_text(f"{image_count} images: {image_count} searchable, 0 waiting")


def search_with(page: Page, query: Path) -> Locator:
    """Searches the corpus of the current page and returns the ranked results list."""
    page.get_by_label("Image to search with").set_input_files(query)
    page.get_by_role("button", name="Search", exact=True).click()
    return results_list(page)


def results_list(page: Page) -> Locator:
    region = page.get_by_role("region", name=re.compile(r"most similar image"))
    expect(region).to_be_visible()
    return region.get_by_role("list")


def search_words(page: Page, words: str) -> Locator:
    """Types ``words`` in the page's text box and returns the ranked text results list."""
    page.get_by_label("Words to search for").fill(words)
    page.get_by_role("button", name="Search by words").click()
    return text_results_list(page)


def text_results_list(page: Page) -> Locator:
    region = page.get_by_role("region", name=re.compile(r"images? matching"))
    expect(region).to_be_visible()
    return region.get_by_role("list")


def action_name(action: str, subject: str) -> re.Pattern[str]:
    """The accessible name of a link like "More like this<hidden>: rocket.jpg</hidden>".

    Chromium puts a space around the visually hidden (absolutely positioned) part, so the name
    reads "More like this : rocket.jpg"; match it with or without that space.
    """
    return re.compile(rf"^{re.escape(action)}\s*:?\s*{re.escape(subject)}$")


def filenames_in(results: Locator) -> list[str]:
    return [
        tile.get_by_role("img").get_attribute("alt") or ""
        for tile in results.get_by_role("listitem").all()
    ]


def axe_violations(page: Page) -> list[str]:
    """axe-core's WCAG violations on the page as it is now, one readable line per element."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [
        f"{page.url} {violation['id']} ({violation['impact']}): {node['target']} — "
        f"{node.get('failureSummary', '').strip()}"
        for violation in results.response["violations"]
        for node in violation["nodes"]
    ]


# --- the REST API, as a script would use it ---------------------------------------------------


def api_token(base_url: str, username: str, password: str) -> str:
    import requests

    response = requests.post(
        f"{base_url}/api/v1/auth/token/",
        json={"username": username, "password": password},
        timeout=30,
    )
    response.raise_for_status()
    return response.json()["token"]


def create_ready_corpus(
    base_url: str, token: str, name: str, photos: list[str], *, encoder: str = "histogram"
) -> int:
    """A corpus of the given sample photos, waited on until its index is ready."""
    import time

    import requests

    session = requests.Session()
    session.headers["Authorization"] = f"Token {token}"
    created = session.post(
        f"{base_url}/api/v1/corpora/", json={"name": name, "encoder": encoder}, timeout=30
    )
    created.raise_for_status()
    corpus_id = created.json()["id"]
    files = [("images", (photo, sample_photo(photo).read_bytes())) for photo in photos]
    session.post(
        f"{base_url}/api/v1/corpora/{corpus_id}/images/", files=files, timeout=60
    ).raise_for_status()
    deadline = time.monotonic() + INDEXING_TIMEOUT_MS / 1000
    while time.monotonic() < deadline:
        corpus = session.get(f"{base_url}/api/v1/corpora/{corpus_id}/", timeout=30).json()
        if corpus["status"] == "ready" and corpus["indexed_count"] == len(photos):
            return corpus_id
        assert corpus["status"] != "failed", corpus
        time.sleep(0.5)
    raise AssertionError(f"corpus {corpus_id} was not ready in time: {corpus}")
