"""A file to send knows its size and digest, whether its bytes are in memory or on disk."""

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


def test_size_and_sha256_of_a_file_on_disk(tmp_path):
    path = tmp_path / "photo.png"
    path.write_bytes(DATA)
    file = FileToSend("photo.png", "image/png", "png", path=path)

    assert (file.size, file.sha256) == (776, DATA_SHA256)
    assert file.read() == DATA
    with file.content() as stream:
        assert stream.read() == DATA


def test_a_file_bigger_than_one_read_block_is_digested_whole(tmp_path):
    data = b"\xab" * ((1 << 20) * 2 + 7)
    path = tmp_path / "big.png"
    path.write_bytes(data)

    file = FileToSend("big.png", "image/png", "png", path=path)

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
def test_exactly_one_of_data_and_path_is_required(tmp_path, given):
    sources = {} if given == "neither" else {"data": DATA, "path": tmp_path / "photo.png"}

    with pytest.raises(ValueError) as caught:
        FileToSend("photo.png", "image/png", "png", **sources)

    assert str(caught.value) == "FileToSend needs exactly one of data or path"
