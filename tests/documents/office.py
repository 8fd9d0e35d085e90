"""Write a text as the files people actually upload: a Word document, a government web page, a GBK text file.

Each writer keeps the text's lines as the document's paragraphs, so what a loader extracts can be compared
with the text it came from. The web page wraps the text in the boilerplate of a real Chinese government site
(navigation, breadcrumb, sidebar, share bar, a 相关文章 list, a footer with an ICP number, scripts and styles):
a loader that indexes any of that fails the comparison.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import docx

__all__ = ["BOILERPLATE", "write_docx", "write_gbk", "write_html"]

# Short numbered lines that Word authors mark as headings: 一、… → Heading 1, （一）… → Heading 2.
_HEADING_STYLES = (
    (re.compile(r"^[一二三四五六七八九十百]+[、．.]"), "Heading 1"),
    (re.compile(r"^[（(][一二三四五六七八九十百]+[）)]"), "Heading 2"),
)
_SHORT_LINE = 40  # as qa.chunking: a longer line is a paragraph that happens to start with a number
_RELATED = "相关文章"

# Text that appears on the page around the article and must never be extracted (each is unique to the chrome).
BOILERPLATE = (
    "网站首页",
    "当前位置",
    "热点专题",
    "分享到",
    "【打印本页】",
    "关于印发《上海市促进工业互联网创新发展实施意见》的通知",
    "版权所有",
    "沪ICP备",
    "沪公网安备",
    "网站标识码",
    "function",
    "document.getElementById",
    "font-family",
    "您是第",
)


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def write_docx(path: Path, text: str, title: str | None = None) -> None:
    """Write `text` as a .docx: one paragraph per non-empty line, short `一、`/`（一）` lines styled Heading 1/2,
    `title` (if given) in the core properties, as Word's File > Properties > Title."""
    document = docx.Document()
    for line in _lines(text):
        style = None
        if len(line) <= _SHORT_LINE:
            style = next((name for pattern, name in _HEADING_STYLES if pattern.match(line)), None)
        document.add_paragraph(line, style=style)
    document.core_properties.title = title or ""
    document.core_properties.author = "上海市经济和信息化委员会"
    document.save(str(path))


_RELATED_LINKS = (
    ("关于印发《上海市促进工业互联网创新发展实施意见》的通知", "2019-06-12"),
    ("市经济信息化委关于开展2019年度智慧城市体验周活动的通知", "2019-05-28"),
    ("上海市推进新一代信息基础设施建设助力提升城市能级和核心竞争力三年行动计划", "2019-04-30"),
    ("关于对市人大代表建议和市政协提案办理情况进行公开的说明", "2019-03-15"),
)

_PAGE = """<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="{charset}">
<meta http-equiv="X-UA-Compatible" content="IE=edge">
<meta name="SiteName" content="上海市经济和信息化委员会">
<meta name="ArticleTitle" content="{title}">
<meta name="PubDate" content="2019-06-05 10:30">
<meta name="ContentSource" content="上海市经济和信息化委员会">
<title>{title}_上海市经济和信息化委员会</title>
<link rel="stylesheet" href="/css/common.css">
<style type="text/css">
body {{ font-family: "Microsoft YaHei", "微软雅黑", sans-serif; margin: 0; }}
.nav li {{ float: left; }} .article-content p {{ text-indent: 2em; line-height: 2; }}
</style>
<script type="text/javascript">
var _hmt = _hmt || [];
function addFavorite() {{ alert("请使用Ctrl+D收藏本站"); }}
</script>
</head>
<body>
<div class="top-bar">
  <span>您好，欢迎访问上海市经济和信息化委员会网站！</span>
  <a href="/wza">无障碍浏览</a> | <a href="/en">English</a> | <a href="javascript:addFavorite()">加入收藏</a>
</div>
<div class="header"><a href="/"><img src="/images/logo.png" alt="上海市经济和信息化委员会"></a>
  <form class="search" action="/search"><input name="q" placeholder="请输入关键词"><button>搜索</button></form>
</div>
<div class="nav"><ul>
  <li><a href="/">网站首页</a></li><li><a href="/jgjs">机构概况</a></li><li><a href="/zwgk">政务公开</a></li>
  <li><a href="/zcfg">政策法规</a></li><li><a href="/bsfw">办事服务</a></li><li><a href="/hdjl">互动交流</a></li>
  <li><a href="/ztzl">专题专栏</a></li>
</ul></div>
<div class="breadcrumb">当前位置：<a href="/">首页</a> &gt; <a href="/zwgk">政务公开</a>
  &gt; <a href="/rddbta">建议提案办理</a></div>
<div class="main">
  <div class="sidebar">
    <h3>热点专题</h3>
    <ul>
      <li><a href="/zt/5g">5G网络建设专题</a></li>
      <li><a href="/zt/ywtb">“一网通办”改革专题</a></li>
      <li><a href="/zt/gyhlw">工业互联网创新发展专题</a></li>
      <li><a href="/zt/zhcs">智慧城市建设专题</a></li>
    </ul>
  </div>
  <div class="article">
    <h1 class="article-title">{title}</h1>
    <div class="article-info">
      <span>发布时间：2019-06-05</span><span>来源：上海市经济和信息化委员会</span>
      <span>【字体：<a href="#">大</a> <a href="#">中</a> <a href="#">小</a>】</span>
    </div>
    <div class="article-content" id="zoom">
{paragraphs}
    </div>
    <div class="article-tools">
      <span>分享到：<a href="#">微信</a> <a href="#">微博</a> <a href="#">QQ空间</a></span>
      <a href="javascript:window.print()">【打印本页】</a> <a href="javascript:window.close()">【关闭窗口】</a>
    </div>
    <div class="related">
      <h3>{related}</h3>
      <ul>
{related_links}
      </ul>
    </div>
  </div>
</div>
<div class="footer">
  <p><a href="/about">关于我们</a> | <a href="/map">网站地图</a> | <a href="/contact">联系我们</a></p>
  <p>版权所有：上海市经济和信息化委员会　地址：上海市世博村路300号　邮编：200125</p>
  <p><a href="https://beian.miit.gov.cn">沪ICP备12002734号-1</a>　沪公网安备 31010102002563号　网站标识码：3100000014</p>
  <p>您是第<span id="counter">1234567</span>位访问者</p>
</div>
<script type="text/javascript">
document.getElementById("counter").innerText = "1234568";
(function () {{ var hm = document.createElement("script"); hm.src = "https://hm.baidu.com/hm.js"; }})();
</script>
</body>
</html>
"""


def write_html(path: Path, text: str, title: str | None = None, *, encoding: str = "utf-8") -> None:
    """Write `text` as a government web page: each line a `<p>` in the article body, `title` in `<title>` and
    the article's `<h1>`, all around it the site's chrome (see BOILERPLATE) and a 相关文章 list.

    A trailing `相关文章` line of `text` (the letter ends with one: navigation scraped from the page) is left
    out, since the page carries its own 相关文章 list after the article. `encoding` is declared in
    `<meta charset>` and used to write the bytes (e.g. "gbk" for the many sites still served in GBK).
    """
    lines = _lines(text)
    if lines and lines[-1] == _RELATED:
        lines.pop()
    title = title or (lines[0] if lines else "")
    paragraphs = "\n".join(f"      <p>{html.escape(line, quote=False)}</p>" for line in lines)
    links = "\n".join(
        f'        <li><a href="/xxgk/{n}.htm" title="{html.escape(t)}">{html.escape(t)}</a><span>{d}</span></li>'
        for n, (t, d) in enumerate(_RELATED_LINKS, start=682950)
    )
    page = _PAGE.format(
        charset=encoding,
        title=html.escape(title),
        paragraphs=paragraphs,
        related=_RELATED,
        related_links=links,
    )
    path.write_bytes(page.encode(encoding))


def write_gbk(path: Path, text: str) -> None:
    """Write `text` encoded as GBK (no BOM: GBK has none), as Windows editors in China still save files."""
    path.write_bytes(text.encode("gbk"))
