"""The cleanup ledger remembers created images until they are gone, across processes too."""

from __future__ import annotations

import json

from harness.ledger import Ledger

ID_1 = "3fa85f64-5717-4562-b3fc-2c963f66afa6"
ID_2 = "9c7e1a52-0d4b-4f4e-8a8e-2b9f1c3d5e7a"
ID_3 = "0b4d2f7e-61a3-4c59-9e08-7d1f5a2c3b64"


def line(event: str, image_id: str, user: str | None = None) -> str:
    """One entry as the ledger writes it: `user` only on "created"."""
    if user is None:
        return json.dumps({"event": event, "id": image_id}) + "\n"
    entry = {"event": event, "user": user, "id": image_id}
    return json.dumps(entry) + "\n"


# In memory (the preflight's throwaway ledger, and any run without a state file).


def test_in_memory_created_then_gone():
    ledger = Ledger()

    ledger.created("A", ID_1)
    ledger.created("B", ID_2)
    after_create = (ledger.pending(), ledger.owns(ID_1), ledger.owns(ID_2))
    ledger.gone(ID_1)

    assert after_create == ({ID_1: "A", ID_2: "B"}, True, True)
    assert ledger.pending() == {ID_2: "B"}
    assert (ledger.owns(ID_1), ledger.owns(ID_2)) == (False, True)


def test_in_memory_gone_for_an_unknown_image_changes_nothing():
    ledger = Ledger()
    ledger.created("A", ID_1)

    ledger.gone(ID_3)

    assert ledger.pending() == {ID_1: "A"}
    assert ledger.owns(ID_3) is False


def test_in_memory_pending_is_a_copy():
    ledger = Ledger()
    ledger.created("A", ID_1)

    ledger.pending().clear()

    assert ledger.pending() == {ID_1: "A"}


def test_in_memory_compact_keeps_everything():
    ledger = Ledger()
    ledger.created("A", ID_1)

    ledger.compact()

    assert ledger.pending() == {ID_1: "A"}
    assert ledger.path is None


# On a file.


def test_file_ledger_makes_its_folder_and_writes_nothing_until_something_happens(tmp_path):
    path = tmp_path / "state" / "ledger.jsonl"

    ledger = Ledger(path)

    assert path.parent.is_dir()
    assert path.exists() is False
    assert ledger.pending() == {}


def test_file_ledger_appends_one_json_line_per_event(tmp_path):
    path = tmp_path / "ledger.jsonl"
    ledger = Ledger(path)

    ledger.created("A", ID_1)
    ledger.created("B", ID_2)
    ledger.gone(ID_1)

    assert path.read_text(encoding="utf-8") == (
        line("created", ID_1, "A") + line("created", ID_2, "B") + line("gone", ID_1)
    )
    assert ledger.pending() == {ID_2: "B"}
    assert (ledger.owns(ID_1), ledger.owns(ID_2)) == (False, True)


def test_a_new_ledger_on_an_existing_file_owns_what_is_still_pending(tmp_path):
    path = tmp_path / "ledger.jsonl"
    earlier = Ledger(path)
    earlier.created("A", ID_1)
    earlier.created("A", ID_2)
    earlier.gone(ID_2)

    later = Ledger(path)

    assert later.pending() == {ID_1: "A"}
    assert (later.owns(ID_1), later.owns(ID_2)) == (True, False)


def test_two_ledgers_on_one_file_see_each_others_entries(tmp_path):
    path = tmp_path / "ledger.jsonl"
    worker_1 = Ledger(path)
    worker_2 = Ledger(path)

    worker_1.created("A", ID_1)
    worker_2.created("B", ID_2)
    seen_by_2 = worker_2.pending()
    worker_2.gone(ID_1)  # e.g. the end-of-run cleanup in another process deleted it

    assert seen_by_2 == {ID_1: "A", ID_2: "B"}
    assert worker_1.pending() == {ID_2: "B"}
    assert worker_2.pending() == {ID_2: "B"}


def test_a_truncated_last_line_is_ignored(tmp_path):
    path = tmp_path / "ledger.jsonl"
    cut = line("created", ID_3, "A")[:25]  # a process killed in the middle of its write
    whole = line("created", ID_1, "A") + line("created", ID_2, "B")
    path.write_text(whole + cut, encoding="utf-8")

    ledger = Ledger(path)

    assert ledger.pending() == {ID_1: "A", ID_2: "B"}
    assert ledger.owns(ID_3) is False


def test_an_entry_written_after_a_truncated_line_is_kept(tmp_path):
    path = tmp_path / "ledger.jsonl"
    cut = line("created", ID_1, "A")[:25]
    path.write_text(cut, encoding="utf-8")
    ledger = Ledger(path)

    ledger.created("B", ID_2)

    assert path.read_text(encoding="utf-8") == cut + "\n" + line("created", ID_2, "B")
    assert Ledger(path).pending() == {ID_2: "B"}


def test_blank_and_garbled_lines_in_the_middle_are_skipped(tmp_path):
    path = tmp_path / "ledger.jsonl"
    path.write_text(
        line("created", ID_1, "A") + "\n" + "{not json\n" + line("created", ID_2, "B"),
        encoding="utf-8",
    )

    assert Ledger(path).pending() == {ID_1: "A", ID_2: "B"}


def test_compact_keeps_only_what_is_pending(tmp_path):
    path = tmp_path / "ledger.jsonl"
    ledger = Ledger(path)
    ledger.created("A", ID_1)
    ledger.created("B", ID_2)
    ledger.created("A", ID_3)
    ledger.gone(ID_2)

    ledger.compact()

    expected = line("created", ID_1, "A") + line("created", ID_3, "A")
    assert path.read_text(encoding="utf-8") == expected
    assert Ledger(path).pending() == {ID_1: "A", ID_3: "A"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ledger.jsonl"]


def test_compact_removes_the_file_when_nothing_is_pending(tmp_path):
    path = tmp_path / "ledger.jsonl"
    ledger = Ledger(path)
    ledger.created("A", ID_1)
    ledger.gone(ID_1)

    ledger.compact()

    assert path.exists() is False
    assert ledger.pending() == {}


def test_compact_with_no_file_yet_does_nothing(tmp_path):
    path = tmp_path / "ledger.jsonl"
    ledger = Ledger(path)

    ledger.compact()

    assert list(tmp_path.iterdir()) == []


def test_entries_after_compact_append_to_the_compacted_file(tmp_path):
    path = tmp_path / "ledger.jsonl"
    ledger = Ledger(path)
    ledger.created("A", ID_1)
    ledger.compact()

    ledger.created("B", ID_2)

    assert Ledger(path).pending() == {ID_1: "A", ID_2: "B"}
