"""A file to send knows its size and digest, whether its bytes are in memory or in pieces."""

from __future__ import annotations

import hashlib

import pytest

from harness.payload import FileToSend

DATA = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 3
DATA_SHA256 = hashlib.sha256(DATA).hexdigest()
EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def test_size_and_sha256_of_bytes_in_memory():
    file = FileToSend("photo.png", "image/png", "png", data=DATA)

    assert (file.size, file.sha256) == (776, DATA_SHA256)
    assert file.read() == DATA
    assert file.content() == DATA


def test_size_and_sha256_of_a_file_in_pieces():
    layout = [(DATA[:8], 1), (DATA[8:], 1)]
    file = FileToSend("photo.png", "image/png", "png", layout=layout)

    assert (file.size, file.sha256) == (776, DATA_SHA256)
    assert file.read() == DATA
    with file.content() as stream:
        assert stream.read() == DATA


def test_a_repeated_piece_is_digested_as_often_as_it_repeats():
    data = b"\xab" * ((1 << 20) * 2 + 7)
    layout = [(b"\xab" * (1 << 20), 2), (b"\xab" * 7, 1)]

    file = FileToSend("big.png", "image/png", "png", layout=layout)

    assert (file.size, file.sha256) == (2_097_159, hashlib.sha256(data).hexdigest())


def test_empty_bytes_count_as_data():
    file = FileToSend("empty.png", "image/png", "empty", data=b"")

    assert (file.size, file.sha256) == (0, EMPTY_SHA256)


def test_describe_names_file_kind_size_and_declared_type():
    file = FileToSend("photo.gif", "image/gif", "png", data=DATA)

    assert file.describe() == "'photo.gif' (png, 776 bytes, declared image/gif)"


def test_repr_leaves_the_bytes_out():
    assert "data=" not in repr(FileToSend("photo.png", "image/png", "png", data=DATA))


@pytest.mark.parametrize("given", ["neither", "both"])
def test_exactly_one_of_data_and_layout_is_required(given):
    sources = {} if given == "neither" else {"data": DATA, "layout": [(DATA, 1)]}

    with pytest.raises(ValueError) as caught:
        FileToSend("photo.png", "image/png", "png", **sources)

    assert str(caught.value) == "FileToSend needs exactly one of data or layout"
