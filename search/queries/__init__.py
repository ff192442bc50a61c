"""Queries: a query vector and filters in, ranked hits out.

``params`` and ``regions`` check request parameters at the edge; ``filters`` declares the
search filters and ``filtered`` ranks among the matching images only; ``vectors`` is the
vector arithmetic (normalisation, top-k, query expansion); ``preview`` draws the query
picture. The search services themselves are ``search/services.py``.
"""
