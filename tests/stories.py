"""Made-up news stories, each with one fact no other story states, written in every format.

`write_mixed_folder(root)` writes them as a web page, a three-page PDF, a two-column PDF,
an RSS feed, an Atom feed, a CSV and a Parquet table (plus an encrypted PDF kept apart),
and `FACTS` says which question each file alone answers, with the expected words and page.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tests.writers import Story, atom_feed, news_page, rss_feed, write_csv, write_parquet, write_pdf

BRIDGE = Story(
    "Glass bridge opens over the Tarven gorge", "2024-04-12",
    "https://news.example.org/2024/04/tarven-bridge",
    ("A new walkway opened to walkers on Friday morning after three years of building work "
     "by the regional council.",
     "The glass bridge over the Tarven gorge is 312 metres long and hangs 90 metres above the "
     "river, the engineers said, the longest glass walkway in the country.",
     "Tickets cost 6 euros for adults, and children under twelve cross for free during the "
     "first summer season."))
REPORT_PAGES = (
    ("Annual report of the Osterbeck energy cooperative for the year 2023, written for its "
     "members and the town council of Osterbeck.",
     "The cooperative has 2,400 members, most of them households in the valley, and it owns "
     "three wind farms and a small hydro plant on the Oster river."),
    ("The Osterbeck wind farm produced 1,870 gigawatt hours of electricity in 2023, a record "
     "for the cooperative and enough for every home in the district.",
     "Maintenance stopped two turbines for eleven days in March, when a crane was needed to "
     "replace a gearbox on the northern ridge."),
    ("The members voted to build a battery store next to the hydro plant in 2025, at a cost "
     "that the board puts at 14 million euros.",
     "The next general meeting of the cooperative takes place in the town hall in June."),
)
ORCHARD = (
    "The Marrow Valley orchard harvested 96 tonnes of quince this autumn, its largest crop "
    "since the trees were planted by the monks of the valley in 1911.",
    "Most of the quince goes to jam makers in the city, while a small part is pressed for "
    "juice at the orchard's own mill beside the old chapel.",
    "The orchard employs fourteen pickers in the season, many of them students from the "
    "agricultural college, and it sells fruit at the Saturday market.",
    "Frost in April damaged the pear blossom, the manager said, so the pear crop fell by a "
    "third while the late flowering quince was spared entirely.",
)
FERRY = Story(
    "New ferry for the Quillon islands", "2024-03-02", "https://news.example.org/quillon-ferry",
    ("The new ferry for the Quillon islands will carry 640 passengers and 90 cars on each "
     "crossing, the shipping company announced.",
     "It replaces a forty year old vessel and cuts the crossing time to fifty minutes."))
OBSERVATORY = Story(
    "Observatory reopens on Mount Selda", "2024-02-20", "https://news.example.org/selda",
    ("The observatory on Mount Selda reopened after its new telescope mirror, 2.4 metres "
     "wide, was lifted into the dome by helicopter.",
     "Visitors can book night tours on Thursdays from the first of March."))
CHOIR = Story(
    "Village choir wins the Brannock cup", "2024-01-15", "https://news.example.org/brannock",
    ("The village choir of Ellory won the Brannock cup for the third time, singing a "
     "programme of sea shanties before a jury of five conductors.",
     "The prize of 2,000 euros will pay for new robes and a trip to the festival in Ghent."))
MARKET = Story(
    "Night market returns to Corran square", "2024-02-24", "https://news.example.org/market",
    ("The night market returned to Corran square with 75 stalls selling street food, "
     "books and hand made lamps.",
     "It opens every Friday evening until the end of October."))
LIBRARY = Story(
    "Library opens a seed bank", "2024-05-05", "https://news.example.org/seed-bank",
    ("The public library of Dunmere opened a seed bank where members can borrow 180 varieties "
     "of vegetable seeds and return seeds from their own harvest.",
     "The librarians said tomatoes and runner beans were the most borrowed varieties."),
    extra={"section": "community", "words": "41"})
TRAM = Story(
    "Tram line to the airport approved", "2024-05-06", "https://news.example.org/tram",
    ("The city council of Harlow Bay approved a tram line to the airport with 11 stops, "
     "to open in 2028 after four years of building.",
     "The line will run every six minutes at peak times."),
    extra={"section": "transport", "words": "38"})
BAKERY = Story(
    "Bakery bakes a record loaf", "2024-05-07", "https://news.example.org/loaf",
    ("A bakery in Fenwick baked a rye loaf weighing 37 kilograms for the town fair, which "
     "the mayor cut into 500 slices.",
     "The bakers started the dough at three in the morning."),
    extra={"section": "food", "words": "36"})
ROWING = Story(
    "Rowing club buys a new eight", "2024-04-30", "https://news.example.org/rowing",
    ("The Kestrel rowing club bought a new racing eight named Swift Heron for 52,000 euros "
     "with money raised at a summer fete.",
     "The crew will race it at the regatta on the river in July."),
    extra={"section": "sport", "words": "35"})


@dataclass(frozen=True)
class Fact:
    """A question answered only by one file, the words its answer quotes, and the page."""

    file: str
    question: str
    expected: str
    page: int | None = None


FACTS = (
    Fact("bridge.html", "How long is the glass bridge over the Tarven gorge?", "312 metres"),
    Fact("osterbeck-report.pdf", "How much electricity did the Osterbeck wind farm produce in "
         "2023?", "1,870 gigawatt hours", page=2),
    Fact("orchard-columns.pdf", "How many tonnes of quince did the Marrow Valley orchard "
         "harvest?", "96 tonnes", page=1),
    Fact("coast.rss", "How many passengers will the new Quillon ferry carry?", "640 passengers"),
    Fact("coast-atom.xml", "How wide is the new telescope mirror on Mount Selda?", "2.4 metres"),
    Fact("stories.csv", "How many varieties of seeds can members borrow from the Dunmere "
         "library?", "180 varieties"),
    Fact("stories.parquet", "How many stops will the Harlow Bay airport tram line have?",
         "11 stops"),
)


def write_mixed_folder(root: Path) -> Path:
    """Every format in one folder `root` (created): page, PDFs, feeds, tables."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "bridge.html").write_text(news_page(BRIDGE), encoding="utf-8")
    write_pdf(root / "osterbeck-report.pdf", REPORT_PAGES, title="Osterbeck energy report 2023")
    write_pdf(root / "orchard-columns.pdf", [ORCHARD], title="Marrow Valley orchard",
              columns=2)
    (root / "coast.rss").write_bytes(rss_feed([FERRY, CHOIR]))
    (root / "coast-atom.xml").write_bytes(atom_feed([OBSERVATORY, MARKET]))
    write_csv(root / "stories.csv", [LIBRARY, BAKERY])
    write_parquet(root / "stories.parquet", [TRAM, ROWING])
    return root
