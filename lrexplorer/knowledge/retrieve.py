"""Retrieval over the fact documents with BM25 (the `bm25s` package), for the `rag` methods.

The paper retrieves with a dense embedder; BM25 is the classic sparse baseline and needs no model
download. The invented names are rare words, so a question about a person ranks that person's facts
first; the relation's words then order them.
"""

from __future__ import annotations


class Retriever:
    """Top-k of a fixed list of documents for each query."""

    def __init__(self, documents: list[str]) -> None:
        import bm25s

        if not documents:
            raise ValueError("documents: at least one document is needed to retrieve from")
        self.documents = list(documents)
        self.index = bm25s.BM25()
        self.index.index(bm25s.tokenize(self.documents, stopwords="en", show_progress=False), show_progress=False)

    def top_k(self, queries: list[str], k: int) -> list[list[int]]:
        """Indices of the k best documents per query, best first."""
        import bm25s

        if k < 1:
            raise ValueError(f"top_k must be at least 1, got {k}")
        k = min(k, len(self.documents))
        tokens = bm25s.tokenize(queries, stopwords="en", show_progress=False, return_ids=False)
        found, _ = self.index.retrieve(tokens, k=k, show_progress=False)
        return [[int(i) for i in row] for row in found]

    def contexts(self, queries: list[str], k: int) -> list[list[str]]:
        """The k best documents per query, best first."""
        return [[self.documents[i] for i in row] for row in self.top_k(queries, k)]
