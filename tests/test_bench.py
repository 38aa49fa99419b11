"""The benchmark's own pieces: the stats the suite writes, their parsing, the table, the docs.

Nothing here times anything: the speed targets live in the benchmark and docs/benchmarks.md.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import httpx
import pytest

from bench.measure import (
    PHASES,
    BenchError,
    ProcessStats,
    SuiteFigures,
    SuiteRun,
    child_env,
    read_stats,
    run_suite,
)
from bench.report import BEGIN, END, Figures, render_markdown, render_text, rows, write_section
from bench.report import _free_lines
from harness import images
from harness.config import SETTING_NAMES
from harness.payload import FileToSend, LayoutReader
from harness.plugin import BENCH_STATS_ENV

ONE_SCENARIO = ("-k", "an_empty_gallery_is_listed_as_an_empty_list")


def _write_lines(path: Path, *records: dict) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def _run(wall: float, busy: float, rss_kb: int = 120_000, spawned: float = 100.0) -> SuiteRun:
    main = ProcessStats(
        "main", rss_kb, 1.25, spawned + 0.5, spawned + 1.0, spawned + wall - 0.25,
        busy, 40, 80_000,
    )  # fmt: skip
    return SuiteRun(wall, rss_kb, 2.0, (main,), "40 passed", spawned, spawned + wall)


def _parallel_run(wall: float, busy_each: float) -> SuiteRun:
    workers = tuple(
        ProcessStats(name, 110_000, 1.0, busy_seconds=busy_each, requests=20, server_rss_kb=70_000)
        for name in ("gw0", "gw1")
    )
    controller = ProcessStats("main", 90_000, 0.5)
    return SuiteRun(wall, 110_000, 3.0, (controller, *workers), "40 passed", 0.0, wall)


def _figures() -> Figures:
    serial = SuiteFigures("serial", (), (_run(3.0, 1.5), _run(2.0, 1.0), _run(4.0, 2.0)))
    parallel = SuiteFigures("parallel", ("-n", "2"), (_parallel_run(4.5, 0.75),))
    smoke = SuiteFigures("smoke", ("-m", "smoke"), (_run(1.0, 0.25),))
    return Figures(serial, parallel, smoke, (0.5, 0.7, 0.6), "0.10 0.20 0.30", "0.40 0.50 0.60")


def test_read_stats_sums_what_each_process_wrote_and_ignores_unknown_keys(tmp_path):
    path = _write_lines(
        tmp_path / "stats.jsonl",
        {"process": "gw0", "test_rss_kb": 1000, "busy_seconds": 0.5, "requests": 7,
         "server_rss_kb": 900, "added_later": True},
        {"process": "gw1", "test_rss_kb": 3000, "busy_seconds": 0.25, "requests": 5},
        {"process": "main", "test_rss_kb": 2000},
    )  # fmt: skip

    processes = read_stats(path)
    run = SuiteRun(1.0, 3000, 1.0, processes, "")

    assert [p.process for p in processes] == ["gw0", "gw1", "main"], processes
    assert run.busy_seconds == 0.75, f"busy summed over both servers: got {run.busy_seconds}"
    assert run.requests == 12, f"requests summed over both servers: got {run.requests}"
    assert run.test_rss_kb == 3000, f"largest pytest process: got {run.test_rss_kb}"
    assert run.server_rss_kb == 900, f"only gw0 reported its server's RSS: got {run.server_rss_kb}"
    assert run.phases() is None, "a run with workers has no single timeline"


def test_read_stats_names_the_line_it_cannot_read(tmp_path):
    path = tmp_path / "stats.jsonl"
    path.write_text('{"process": "main", "test_rss_kb": 1, "busy_seconds": 0.1}\n{"proc\n')

    with pytest.raises(BenchError) as caught:
        read_stats(path)

    assert "line 2" in str(caught.value), f"expected the bad line named, got: {caught.value}"


def test_read_stats_refuses_a_run_without_an_embedded_server(tmp_path):
    path = _write_lines(tmp_path / "stats.jsonl", {"process": "main", "test_rss_kb": 1})

    with pytest.raises(BenchError) as caught:
        read_stats(path)

    assert "no process reported an embedded server" in str(caught.value), str(caught.value)


def test_a_missing_stats_file_is_an_error_naming_the_variable(tmp_path):
    with pytest.raises(BenchError) as caught:
        read_stats(tmp_path / "never-written.jsonl")

    assert BENCH_STATS_ENV in str(caught.value), str(caught.value)


def test_child_env_blanks_every_suite_setting_so_a_dotenv_cannot_point_elsewhere(monkeypatch):
    monkeypatch.setenv("STRETCH_BASE_URL", "https://staging.example.com/api/v1")
    monkeypatch.setenv("STRETCH_TOKEN", "a-token")
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")

    plain = child_env(Path("/tmp/stats.jsonl"))
    cached = child_env(Path("/tmp/stats.jsonl"), Path("/tmp/pycache"))

    assert {name: plain[name] for name in SETTING_NAMES} == dict.fromkeys(SETTING_NAMES, "")
    assert plain[BENCH_STATS_ENV] == "/tmp/stats.jsonl", plain[BENCH_STATS_ENV]
    assert plain["PYTHONDONTWRITEBYTECODE"] == "1", "without --pycache the environment is kept"
    assert "PYTHONDONTWRITEBYTECODE" not in cached, "--pycache lets the child cache bytecode"
    assert cached["PYTHONPYCACHEPREFIX"] == "/tmp/pycache", cached.get("PYTHONPYCACHEPREFIX")


def test_a_real_run_writes_stats_that_parse_into_one_timeline():
    run = run_suite(ONE_SCENARIO)

    assert [(p.process, p.has_server) for p in run.processes] == [("main", True)], run.processes
    main = run.processes[0]
    marks = [run.spawned_at, main.session_started_at, main.scenarios_from,
             main.scenarios_until, run.exited_at]  # fmt: skip
    assert marks == sorted(marks), f"phase marks out of order: {marks}"
    assert list(run.phases()) == list(PHASES), run.phases()
    assert run.busy_seconds > 0, f"the server was busy for {run.busy_seconds} s"
    assert main.server_rss_kb is not None and main.server_rss_kb > 0, main
    assert run.summary.startswith("1 passed"), run.summary


def test_a_run_with_two_workers_reports_both_servers_and_the_controller():
    run = run_suite(("-n", "2", *ONE_SCENARIO))

    reported = sorted((p.process, p.has_server) for p in run.processes)
    assert reported == [("gw0", True), ("gw1", True), ("main", False)], reported


def test_the_table_has_every_figure_with_its_verdict():
    table = rows(_figures(), repeat=3)
    by_name = {row.figure: row for row in table}

    expected = {
        "full run, serial (wall, median of 3)": ("3.00 s", "met"),
        "full run, -n 2 (wall)": ("4.50 s = 1.50× serial", "NOT met"),
        "smoke subset, -m smoke (wall)": ("1.00 s", "met"),
        "embedded server ready (median of 3)": ("0.60 s", "met"),
        "peak RSS, test process (full serial run, 20 MB uploads)": ("123 MB", "met"),
        "peak RSS, largest test process of -n 2": ("113 MB", ""),
        "peak RSS, embedded server (full serial run)": ("82 MB", ""),
        "server busy time, full serial run": ("1.50 s over 40 requests", ""),
        "overhead ratio, full serial run (wall ÷ busy)": ("2.00", "NOT met"),
        "overhead ratio, -n 2 (wall ÷ both servers' busy)": ("3.00", ""),
        "overhead ratio, smoke (wall ÷ busy)": ("4.00", ""),
        f"full serial run, {PHASES[0]}": ("0.50 s", ""),
        f"full serial run, {PHASES[1]}": ("0.50 s", ""),
        f"full serial run, {PHASES[2]}": ("1.75 s", ""),
        f"full serial run, {PHASES[3]}": ("0.25 s", ""),
        "overhead ratio of the scenarios alone (scenarios ÷ busy)": ("1.17", ""),
        "CPU time, full serial run: pytest / pytest + server": ("1.25 s / 2.00 s", ""),
        "CPU time, -n 2: pytest processes / all": ("2.50 s / 3.00 s", ""),
    }
    assert {name: (r.value, r.verdict) for name, r in by_name.items()} == expected


def test_every_row_is_rendered_in_the_terminal_table_and_the_markdown():
    figures = _figures()
    table = rows(figures, repeat=3)

    text = render_text(table)
    command = "python -m bench --repeat 3"
    markdown = render_markdown(table, figures, command, "2026-01-02 03:04 UTC")

    missing_text = [r.figure for r in table if r.figure not in text]
    missing_md = [r.figure for r in table if f"| {r.figure} | {r.value} |" not in markdown]
    assert (missing_text, missing_md) == ([], []), "rows missing from the text / the markdown"
    assert command in markdown
    assert "load average (1, 5, 15 min) before: 0.10 0.20 0.30; after: 0.40 0.50 0.60" in markdown
    assert "- `pytest -q -n 2`: 40 passed" in markdown, markdown


def test_write_section_replaces_only_what_lies_between_the_markers(tmp_path):
    path = tmp_path / "benchmarks.md"
    path.write_text(f"# Benchmarks\n\nBefore.\n\n{BEGIN}\nold figures\n{END}\n\nAfter.\n")

    write_section(path, "new figures")

    expected = f"# Benchmarks\n\nBefore.\n\n{BEGIN}\nnew figures\n{END}\n\nAfter.\n"
    assert path.read_text() == expected


def test_write_section_creates_the_file_or_appends_the_markers(tmp_path):
    fresh, plain = tmp_path / "docs" / "fresh.md", tmp_path / "plain.md"
    plain.write_text("# Notes\n")

    write_section(fresh, "figures")
    write_section(plain, "figures")

    assert fresh.read_text() == f"# Benchmarks\n\n{BEGIN}\nfigures\n{END}\n"
    assert plain.read_text() == f"# Notes\n\n{BEGIN}\nfigures\n{END}\n"


def test_free_lines_reads_the_header_and_the_mem_line():
    output = (
        "               total        used        free      shared  buff/cache   available\n"
        "Mem:            23Gi       666Mi        22Gi       9.3Mi       953Mi        22Gi\n"
        "Swap:             0B          0B          0B\n"
    )

    header, mem = _free_lines(output)

    assert header == ["total", "used", "free", "shared", "buff/cache", "available"], header
    assert mem == ["23Gi", "666Mi", "22Gi", "9.3Mi", "953Mi", "22Gi"], mem


# The pieces the speed-ups added: boundary files streamed from their layout.

LIMIT = 20 * 1_048_576


@pytest.mark.parametrize("size", [2_000, 1_048_600, LIMIT + 1])
def test_a_layout_joins_to_exactly_the_padded_image(size):
    for layout_of, bytes_of in ((images.png_layout, images.png_bytes),
                                (images.jpeg_layout, images.jpeg_bytes)):  # fmt: skip
        layout = layout_of(size, seed=5)

        joined = images.join_layout(layout)

        assert joined == bytes_of(size, seed=5), f"{layout_of.__name__}({size}) joined differs"
        assert (images.layout_size(layout), len(joined)) == (size, size)


def test_a_boundary_layout_is_a_few_pieces_whatever_its_size():
    layout = images.png_layout(LIMIT)

    assert len(layout) == 4, [(len(piece), count) for piece, count in layout]
    assert sum(len(piece) for piece, _ in layout) < 3 * 1_048_576, "pieces held in memory"


def test_a_file_from_a_layout_has_the_size_digest_and_bytes_of_the_joined_file():
    layout = images.png_layout(3_000_000)
    joined = images.join_layout(layout)

    file = FileToSend("limit.png", "image/png", "png", layout=layout)

    assert (file.size, file.sha256) == (3_000_000, hashlib.sha256(joined).hexdigest())
    assert file.read() == joined
    with file.content() as stream:
        assert stream.read() == joined


def test_the_layout_reader_seeks_and_reads_across_pieces_like_a_file():
    layout = ((b"head", 1), (b"ab", 3), (b"tail", 1))  # "headabababtail"
    raw = LayoutReader(layout)
    buffered = FileToSend("a.bin", "application/octet-stream", "text", layout=layout).content()

    assert raw.seek(0, os.SEEK_END) == 14
    assert (raw.seek(5), raw.read(4), raw.read(4)) == (5, b"b", b"ab"), "short reads end a piece"
    assert (raw.read(100), raw.read(100), raw.read(100)) == (b"ab", b"tail", b""), "then EOF"
    assert (raw.seek(-3, os.SEEK_END), raw.read()) == (11, b"ail")
    assert (buffered.seek(5), buffered.read(7)) == (5, b"bababta"), "buffered reads fill up"


def test_httpx_sizes_and_sends_a_layout_whole_in_a_multipart_body():
    layout = images.jpeg_layout(200_000)
    file = FileToSend("limit.jpg", "image/jpeg", "jpeg", layout=layout)

    request = httpx.Request(
        "POST", "http://127.0.0.1:9/upload", files={"file": (file.filename, file.content(), "x")}
    )
    body = request.read()

    assert int(request.headers["Content-Length"]) == len(body), request.headers
    assert images.join_layout(layout) in body, "the multipart body holds the whole file"
