"""The `qa` command line: ask (human and JSON), invalid input, settings errors."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from qa import config
from qa.cli import app

pytestmark = pytest.mark.slow


@pytest.fixture
def cli(real_settings, monkeypatch):
    monkeypatch.setenv("QA_INDEX_DIR", str(real_settings.index_dir))
    config.get_settings.cache_clear()
    yield CliRunner()
    config.get_settings.cache_clear()


def test_ask_human_output_shows_answer_then_cited_passages(cli, real_service):
    result = cli.invoke(app, ["ask", "5G覆盖哪些区域", "--k", "2"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("简答：") and "虹桥商务区" in lines[0]  # the short answer first
    assert lines[1].startswith("原文：") and "虹桥商务区" in lines[1] and "[1]" in lines[1]
    assert any(line.startswith("[1] ") and "一、本市智慧城市建设主要工作进展情况" in line and "字符" in line
               for line in lines)
    assert not any(line.startswith("[3] ") for line in lines)


def test_ask_json_is_the_api_shape(cli, real_service):
    result = cli.invoke(app, ["ask", "4G用户占全市移动电话的比例是多少", "--json", "--mode", "bm25"])
    body = json.loads(result.output)
    assert body["answerable"] and "87%" in body["answer"]
    assert {"passages", "answer_citations", "timings", "took_ms", "index_version"} <= set(body)
    assert body["passages"][0]["scores"]["dense"] is None


@pytest.mark.parametrize("args", [["ask", "   "], ["ask", "问题", "--mode", "magic"], ["ask", "问" * 600]])
def test_invalid_input_exits_2_with_a_reason(cli, args):
    result = cli.invoke(app, args)
    assert result.exit_code == 2 and "invalid input" in result.output


def test_invalid_settings_exit_2_naming_the_variable(cli, monkeypatch):
    monkeypatch.setenv("QA_DENSE_WEIGHT", "7")
    config.get_settings.cache_clear()
    result = cli.invoke(app, ["ask", "问题"])
    assert result.exit_code == 2 and "dense_weight" in result.output


def test_a_follow_up_after_an_earlier_question(cli, real_service):
    result = cli.invoke(app, ["ask", "那4G呢？", "--after", "5G覆盖哪些区域", "--json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert body["resolved_question"] == "4G覆盖哪些区域" and "4G" in body["passages"][0]["text"]
    human = cli.invoke(app, ["ask", "那4G呢？", "--after", "5G覆盖哪些区域"])
    assert human.output.splitlines()[0] == "按“4G覆盖哪些区域”检索"
