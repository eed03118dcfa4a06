"""Recommenders behind one interface (``make_recommender``)."""
