"""Personal ranking: feedback-trained linear models over tf-idf vectors of the stored papers.

`service.RankingService` is the entry point the commands and the delivery worker call
(rank a batch for a person, pick papers "for you", "more like this", explain). The pieces
underneath are plain synchronous functions over numpy/scipy arrays: `vectors` (the tf-idf
space), `person_model` (one person's model and its explanation), `similar` (cosine
neighbours), `ranker` (ordering and picking). `types` holds the results; it imports
nothing heavy, so `storage.feedback` can use it.
"""
