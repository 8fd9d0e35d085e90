"""The prompt: numbered passages and the question; the model must answer only from them and cite [n]."""

from __future__ import annotations

from qa.schema import Document, Hit

SYSTEM = (
    "你是严谨的政务文件问答助手。只根据用户给出的编号资料回答，不使用资料以外的知识。"
    "用简洁的中文回答，每句话末尾用方括号标注所依据资料的编号，例如：……[1]。"
    "数字、日期、名称必须与资料原文一致。资料中没有答案时，只回答：资料中没有相关内容。"
)


def messages(question: str, hits: list[Hit], documents: dict[str, Document]) -> list[dict[str, str]]:
    """Chat messages for `question`; passage n of the prompt is hit rank n, so [n] means what it means in /ask."""
    blocks = []
    for hit in hits:
        p = hit.passage
        doc = documents.get(p.doc_id)
        where = " › ".join(x for x in (doc.title if doc else p.doc_id, p.section) if x)
        blocks.append(f"[{hit.rank}]（{where}）\n{p.text}")
    user = "资料：\n" + "\n\n".join(blocks) + f"\n\n问题：{question}"
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]
