"""Adding and removing articles of a served index: limits, bad uploads, permissions."""

from __future__ import annotations

import gzip
import io
import zipfile
import zlib
from pathlib import Path

import pytest

import qa
from qa.embed import Encoder
from qa.errors import IngestError, QAError
from qa.formats import ReadOptions
from qa.live import LiveIndex
from qa.manage import ManageConfig, Manager, UploadLimits, refusal, safe_name
from qa.sandbox import SandboxLimits, extract
from tests import stories
from tests.helpers import TRADE
from tests.writers import write_pdf


@pytest.fixture()
def manager(index_copy: Path, embedder: Encoder, tmp_path: Path) -> Manager:
    live = LiveIndex(qa.load(index_copy, embedder=embedder))
    return Manager(live, ManageConfig(limits=UploadLimits(file_bytes=2_000_000, pdf_pages=20,
                                                          request_bytes=10_000_000, seconds=20),
                                      uploads=tmp_path / "uploads"))


def upload(folder: Path, name: str, data: bytes) -> Path:
    """A file as Gradio hands an upload over: in its own folder, under the name given."""
    path = folder / "gradio" / str(len(list(folder.glob("gradio/*")))) / Path(name).name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def pdf_bomb(path: Path, unpacked: int) -> Path:
    """A one-page PDF whose content stream is `unpacked` bytes of text operators, deflated."""
    packer = zlib.compressobj(9)
    line = b"BT /F1 12 Tf 72 712 Td (bomb) Tj ET\n"
    chunk = line * (2**20 // len(line))
    body = b"".join(packer.compress(chunk) for _ in range(unpacked // len(chunk))) + packer.flush()
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>",
               b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
               b"/Resources << /Font << /F1 5 0 R >> >> >>",
               b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(body) + body +
               b"\nendstream",
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for n, obj in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % n + obj + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, xref)
    path.write_bytes(bytes(out))
    return path


def test_uploads_are_added_and_removed_with_the_files_they_brought(
        manager: Manager, mixed_folder: Path, tmp_path: Path) -> None:
    pdf = upload(tmp_path, "osterbeck-report.pdf",
                 (mixed_folder / "osterbeck-report.pdf").read_bytes())
    steps: list[str] = []
    change = manager.add([pdf], [], report=steps.append)
    (source,) = change.done
    assert Path(source).parent.parent == tmp_path / "uploads" and change.articles == 3
    assert steps[0].startswith("Reading osterbeck-report.pdf") and any(
        s.startswith("Embedding ") and s.endswith(" new passages…") for s in steps)
    answer = manager.live.current().ask(stories.FACTS[1].question)
    assert any(c.page == 2 and c.source == source for c in answer.citations)
    change = manager.remove([source])
    assert change.articles == 2 and not Path(source).exists()
    assert all(c.source != source for c in manager.live.current().ask(
        stories.FACTS[1].question).citations)


def test_bad_uploads_are_skipped_with_reasons_and_change_nothing(
        manager: Manager, mixed_folder: Path, tmp_path: Path) -> None:
    index_before = manager.live.current()
    manifest = (index_before.path / "manifest.json").read_bytes()
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w") as z:
        z.writestr("a.txt", "hello " * 1000)
    many_pages = write_pdf(tmp_path / "long.pdf", [["A page about nothing much."]] * 25)
    bad = [
        upload(tmp_path, "locked.pdf", write_pdf(tmp_path / "l.pdf", [["Secret."]],
                                                 password="pw").read_bytes()),
        upload(tmp_path, "archive.zip", zipped.getvalue()),
        upload(tmp_path, "report.html", gzip.compress(b"<html>" + b" " * 5_000_000)),
        upload(tmp_path, "tool.exe", b"MZ\x90\x00\x03" + bytes(200)),
        upload(tmp_path, "big.txt", b"word " * 500_000),
        upload(tmp_path, "long.pdf", many_pages.read_bytes()),
        upload(tmp_path, "..\\..\\etc\\passwd.txt", b""),
    ]
    change = manager.add(bad, ["ftp://example.org/x", "http://127.0.0.1:9/closed"])
    reasons = dict(change.skipped)
    assert change.done == () and len(reasons) == 9
    assert "encrypted PDF" in reasons["locked.pdf"]
    assert "not a supported format" in reasons["archive.zip"]
    assert reasons["report.html"].startswith("report.html: a compressed archive")
    assert "not a supported format" in reasons["tool.exe"]
    assert "more than the limit of 2,000,000" in reasons["big.txt"]
    assert "25 pages, more than the limit of 20" in reasons["long.pdf"]
    assert reasons["passwd.txt"] == "passwd.txt: empty file"  # the name lost its folders
    assert not any(str(tmp_path) in reason for reason in reasons.values())
    assert "not an http(s) address" in reasons["ftp://example.org/x"]
    assert "cannot fetch" in reasons["http://127.0.0.1:9/closed"]
    assert manager.live.current() is index_before
    assert (index_before.path / "manifest.json").read_bytes() == manifest
    assert not (tmp_path / "uploads").exists() or not any((tmp_path / "uploads").rglob("*.*"))
    assert "34 percent" in manager.live.current().ask(TRADE).text


def test_requests_past_the_limits_are_refused_whole(manager: Manager, tmp_path: Path) -> None:
    with pytest.raises(QAError, match="Nothing to add"):
        manager.add([], ["  "])
    with pytest.raises(QAError, match="Too many at once: 60 files and addresses, at most 50"):
        manager.add([upload(tmp_path, f"{i}.txt", b"x") for i in range(55)], ["http://a/"] * 5)
    with pytest.raises(QAError, match=r"Too much at once: 11,400,000 bytes of files, at most "
                                      r"10,000,000"):
        manager.add([upload(tmp_path, f"{i}.txt", b"x" * 1_900_000) for i in range(6)], [])
    with pytest.raises(QAError, match="Not in the index"):
        manager.remove(["nowhere.txt"])
    sources = [r["source"] for r in manager.live.current().manifest["sources"]]
    with pytest.raises(QAError, match="the index would be empty"):
        manager.remove(sources)


def test_a_pdf_bomb_is_stopped_by_the_child_process_limits(tmp_path: Path) -> None:
    bomb = pdf_bomb(tmp_path / "bomb.pdf", 400 * 2**20).read_bytes()
    assert len(bomb) < 3 * 2**20
    with pytest.raises(IngestError, match=r"bomb.pdf: (reading took more than 3 s|could not be "
                                          r"read safely|needs more memory|more than)"):
        extract("bomb.pdf", bomb, name="bomb.pdf", stem="bomb", options=ReadOptions(),
                limits=SandboxLimits(seconds=3, memory_bytes=1536 * 2**20))


def test_who_may_change_the_corpus() -> None:
    assert refusal(read_only=False, host="127.0.0.1", auth=None) is None
    assert refusal(read_only=False, host="::1", auth=None) is None
    assert refusal(read_only=False, host="0.0.0.0", auth=[("ann", "pw")]) is None
    assert "--auth" in refusal(read_only=False, host="0.0.0.0", auth=None)
    assert "read-only" in refusal(read_only=True, host="127.0.0.1", auth=None)


@pytest.mark.parametrize(("given", "kept"), [
    ("../../etc/passwd", "passwd"), ("C:\\Users\\ann\\report.pdf", "report.pdf"),
    ("/abs/path/page.html", "page.html"), ("..", "upload"), ("a<b>|c?.txt", "a_b_c_.txt"),
    ("x" * 300 + ".pdf", "x" * 80 + ".pdf"),
])
def test_upload_names_never_become_paths(given: str, kept: str) -> None:
    assert safe_name(given) == kept


def test_the_same_upload_twice_is_kept_once(manager: Manager, tmp_path: Path) -> None:
    first = manager.add([upload(tmp_path, "note.txt", b"The Velmar lighthouse has 212 steps.")],
                        [])
    again = manager.add([upload(tmp_path, "note.txt", b"The Velmar lighthouse has 212 steps.")],
                        [])
    assert first.done == again.done and first.articles == again.articles == 3
    assert len(list((tmp_path / "uploads").rglob("note.txt"))) == 1
