"""Chinese government web pages in four layouts, each around a known article, for main-text extraction.

Sites differ most in how they mark the article, so each layout marks it differently:

- `modern`: `<div class="article-content">` of `<p>`s, chrome in classed `<div>`s (tests/documents/office.py).
- `table_gbk`: a 2000s table layout declared `gb2312`, paragraphs as `<p>&nbsp;…<font>`, no semantic tags.
- `br_h3`: paragraphs split by `<br>` inside one `<div>`, numbered headings (一、…) as `<h3>`.
- `govcn`: gov.cn's article page, inline-styled `<p>`s and a data table that belongs to the article.

Every page carries the site's chrome around the article (navigation, breadcrumb, sidebar, date line, share
bar, a 相关文章 list, a footer with an ICP number, scripts and styles; see CHROME). `expected_lines` is what
a perfect extractor returns: the article's lines, and the data table's cells for `govcn`.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from pathlib import Path

from tests.documents.office import write_html

__all__ = ["CHROME", "DATA_TABLE", "LAYOUTS", "expected_lines", "write_br_page", "write_govcn_page", "write_table_page"]

# Text of the layouts' chrome (and of office.py's page); an extraction containing one that the article does not
# contain has indexed chrome.
CHROME = ("网站首页", "当前位置", "热点专题", "分享到", "打印", "相关文章", "版权所有", "ICP备", "公网安备",
          "网站标识码", "function", "getElementById", "font-family", "您是第", "发布时间", "发布日期", "责任编辑",
          "字体", "微信")  # fmt: skip
# The cells of the table the `govcn` layout puts in the article, row by row: part of the article's text.
DATA_TABLE = ("序号", "项目名称", "金额（万元）", "1", "智慧城市大脑一期", "1200")
_RELATED = "相关文章"
_NUMBERED_HEADING = re.compile(r"^[一二三四五六七八九十]+、")


def _lines(text: str) -> list[str]:
    """The non-empty lines of `text`, without a trailing 相关文章 line (as office.write_html)."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[:-1] if lines and lines[-1] == _RELATED else lines


def _escape(text: str) -> str:
    return html.escape(text, quote=False)


def write_table_page(path: Path, text: str, title: str) -> None:
    """Write `text` as a table-layout page declared `charset=gb2312` and written in GB18030 (as such sites
    serve it), each line a `<p>` indented by `&nbsp;` and wrapped in `<font>`."""
    body = "\n".join(f'<p>&nbsp;&nbsp;&nbsp;&nbsp;<font size="3">{_escape(line)}</font></p>' for line in _lines(text))
    page = f"""<html><head><meta http-equiv="Content-Type" content="text/html; charset=gb2312">
<title>{_escape(title)}</title><script language="javascript" src="/js/menu.js"></script>
<script>var pageTitle="网站首页"; function openWin(u){{window.open(u,"_blank");}}</script>
<style>td{{font-size:12px}}.bt{{font-weight:bold}}</style></head>
<body topmargin="0"><table width="1000" align="center"><tr><td><img src="/images/banner.jpg"></td></tr>
<tr><td class="menu"><a href="/">网站首页</a> | <a href="/zwgk/">政务公开</a> | <a href="/bsdt/">网上办事</a> | <a href="/gzcy/">公众参与</a> | <a href="/zcwj/">政策文件</a></td></tr></table>
<table width="1000" align="center"><tr>
<td width="220" valign="top" class="left"><table><tr><td class="bt">热点专题</td></tr>
<tr><td><a href="/zt/1">优化营商环境专题</a></td></tr><tr><td><a href="/zt/2">“放管服”改革专栏</a></td></tr>
<tr><td><a href="/zt/3">疫情防控信息发布</a></td></tr><tr><td><a href="/zt/4">政府信息公开年度报告</a></td></tr></table></td>
<td valign="top"><table width="100%"><tr><td class="position">当前位置：<a href="/">首页</a> &gt;&gt; <a href="/zwgk/">政务公开</a> &gt;&gt; 通知公告</td></tr>
<tr><td align="center" class="title"><b>{_escape(title)}</b></td></tr>
<tr><td align="center">发布日期：2019-06-05 &nbsp; 浏览次数：<span id="hits">1024</span> &nbsp;【<a href="javascript:window.print()">打印本页</a>】</td></tr>
<tr><td class="content"><div class="TRS_Editor">
{body}
</div></td></tr>
<tr><td><b>相关文章</b></td></tr>
<tr><td><a href="/a/1.html">关于印发《上海市促进工业互联网创新发展实施意见》的通知</a> 2019-06-12</td></tr>
<tr><td><a href="/a/2.html">市经济信息化委关于开展2019年度智慧城市体验周活动的通知</a> 2019-05-28</td></tr>
<tr><td><a href="/a/3.html">关于对市人大代表建议和市政协提案办理情况进行公开的说明</a> 2019-03-15</td></tr>
</table></td></tr></table>
<table width="1000" align="center" class="foot"><tr><td>版权所有：某某市人民政府办公厅 &nbsp; 主办单位：某某市人民政府办公厅<br>
<a href="http://beian.miit.gov.cn">沪ICP备05002341号</a> &nbsp; 沪公网安备 31010102002563号 &nbsp; 网站标识码：3100000014<br>您是第<span>1234567</span>位访问者</td></tr></table>
<script>document.getElementById("hits").innerHTML = "1025";</script></body></html>"""  # noqa: E501
    path.write_bytes(page.encode("gb18030"))


def write_br_page(path: Path, text: str, title: str) -> None:
    """Write `text` as a provincial portal's page: the article one `<div>` of lines ended by `<br>` and indented
    by `&emsp;`, short numbered lines (一、…) as `<h3>`."""

    def render(line: str) -> str:
        if _NUMBERED_HEADING.match(line) and len(line) <= 40:
            return f"<h3>{_escape(line)}</h3>"
        return f"&emsp;&emsp;{_escape(line)}<br>\n"

    body = "".join(render(line) for line in _lines(text))
    page = f"""<!DOCTYPE html><html><head><meta charset="utf-8"><title>{_escape(title)} - 某某省人民政府门户网站</title>
<script src="/js/jquery.min.js"></script><script>$(function(){{ $(".nav li").hover(function(){{}}); }});</script></head>
<body><header class="site-header"><div class="logo">某某省人民政府门户网站</div>
<nav><a href="/">网站首页</a><a href="/zwgk">政务公开</a><a href="/zwfw">政务服务</a><a href="/hdjl">互动交流</a></nav></header>
<div class="crumb"><span>当前位置：</span><a href="/">首页</a> &gt; <a href="/zwgk">政务公开</a> &gt; <span>正文</span></div>
<div class="wrap"><div class="detail">
<div class="detail-title">{_escape(title)}</div>
<div class="detail-meta">发布时间：2019-06-05 09:00 信息来源：省工业和信息化厅 字号：<a>大</a><a>中</a><a>小</a></div>
<div id="UCAP-CONTENT" class="detail-content">
{body}</div>
<div class="share">分享到：<a class="wx">微信</a><a class="wb">微博</a></div>
<div class="xgwz"><div class="xgwz-title">相关文章</div><ul>
<li><a href="/x/1">关于印发《上海市促进工业互联网创新发展实施意见》的通知</a></li>
<li><a href="/x/2">省政府办公厅关于印发数字政府建设实施方案的通知</a></li>
<li><a href="/x/3">省工业和信息化厅关于公布第二批智能制造示范项目的通知</a></li></ul></div>
</div><aside class="side"><h4>热点专题</h4><ul><li><a>营商环境</a></li><li><a>乡村振兴</a></li><li><a>数字政府</a></li></ul></aside></div>
<footer><p>版权所有：某某省人民政府办公厅 主办：某某省人民政府办公厅</p><p>沪ICP备11003325号-1 沪公网安备 44010402000151号 网站标识码：4400000114</p></footer>
<script>var _hmt=_hmt||[];(function(){{var hm=document.createElement("script");hm.src="https://hm.baidu.com/hm.js";}})();</script>
</body></html>"""  # noqa: E501
    path.write_bytes(page.encode("utf-8"))


def write_govcn_page(path: Path, text: str, title: str) -> None:
    """Write `text` as a gov.cn article page: each line a `<p>` with inline style, then a data table (DATA_TABLE,
    two rows of three cells) inside the article, as notices often carry one."""
    body = "\n".join(f'<p style="text-indent: 2em; font-family: 宋体;">{_escape(line)}</p>' for line in _lines(text))
    rows = (DATA_TABLE[:3], DATA_TABLE[3:])
    table = '<table border="1">' + "".join(
        "<tr>" + "".join(f"<td>{_escape(cell)}</td>" for cell in row) + "</tr>" for row in rows
    ) + "</table>"  # fmt: skip
    page = f"""<!DOCTYPE html><html><head><meta http-equiv="Content-Type" content="text/html; charset=utf-8">
<meta name="keywords" content="政策,文件"><title>{_escape(title)}_国务院部门文件_中国政府网</title>
<link href="/css/style.css" rel="stylesheet"><style>.pages_content p{{line-height:2em}}</style></head>
<body><div class="header_top"><a href="/">网站首页</a> <a href="/english">English</a> <a>登录</a></div>
<div class="menu"><ul><li><a>首页</a></li><li><a>简政</a></li><li><a>政策</a></li><li><a>服务</a></li><li><a>数据</a></li></ul></div>
<div class="BreadcrumbNav">当前位置：<a>首页</a> &gt; <a>政策</a> &gt; <a>国务院部门文件</a></div>
<div class="article oneColumn pub_border"><h1>{_escape(title)}</h1>
<div class="pages-date">2019-06-05 10:00 来源： 工业和信息化部<span class="font">【字体：<a>大</a> <a>中</a> <a>小</a>】</span><a>打印</a></div>
<div class="pages_content" id="UCAP-CONTENT">
{body}
{table}
</div>
<div class="editor">【我要纠错】 责任编辑：王某某</div>
<div class="mhide"><div class="related"><h2>相关文章</h2><ul><li><a>关于印发《上海市促进工业互联网创新发展实施意见》的通知</a></li><li><a>国务院关于深化“互联网+先进制造业”发展工业互联网的指导意见</a></li></ul></div>
<div class="share">分享到： <a>微信</a> <a>微博</a> 扫一扫在手机打开当前页</div></div></div>
<div class="footer"><p><a>关于本网</a> | <a>网站声明</a> | <a>联系我们</a> | <a>网站纠错</a></p>
<p>版权所有：中国政府网 | 中文域名：中国政府网.政务</p><p>网站标识码bm01000001 京ICP备05070218号 京公网安备11010202000001号</p></div>
<script>window._bd_share_config={{"common":{{"bdSnsKey":{{}},"bdText":""}}}};function font(s){{document.getElementById("UCAP-CONTENT").style.fontSize=s}}</script>
</body></html>"""  # noqa: E501
    path.write_bytes(page.encode("utf-8"))


# layout name -> writer(path, text, title)
LAYOUTS: dict[str, Callable[[Path, str, str], None]] = {
    "modern": write_html,
    "table_gbk": write_table_page,
    "br_h3": write_br_page,
    "govcn": write_govcn_page,
}


def expected_lines(layout: str, text: str) -> list[str]:
    """The lines a perfect extractor returns from the `layout` page of `text`: its non-empty lines (without a
    trailing 相关文章 line), then for `govcn` the data table's cells."""
    return _lines(text) + (list(DATA_TABLE) if layout == "govcn" else [])
