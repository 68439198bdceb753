"""Keep an index current without rebuilding it: add an article, then remove it.

Only the new article's passages are embedded; every other vector is re-used, and each
update is written atomically (a temporary directory renamed into place).
Run from the repository root: .venv/bin/python examples/update_index.py
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import qa

with tempfile.TemporaryDirectory() as tmp:
    corpus = Path(tmp) / "articles"
    corpus.mkdir()
    shutil.copy("seeds/000_ed18d489a2ac6f1b.txt", corpus)
    index = qa.build([corpus], Path(tmp) / "embeddings")
    print(f"built: {index.manifest['counts']['articles']} article, {len(index)} passages, "
          f"encoder {index.manifest['settings']['backend']}, FAISS {index.manifest['faiss']['type']}")

    new = corpus / "melons.txt"
    new.write_text("date 2024-07-02 Kazakh melon exports to China doubled in the first half "
                   "of 2024, the trade ministry said.\n", encoding="utf-8")
    t0 = time.perf_counter()
    index.add([new])
    print(f"added {new.name} in {time.perf_counter() - t0:.2f} s: {len(index)} passages")
    print(index.ask("How much did melon exports to China grow?").text)

    index.remove(["melons.txt"])
    print(f"removed it: {len(index)} passages;",
          "abstains" if index.ask("How much did melon exports to China grow?").abstained
          else "still answers")
