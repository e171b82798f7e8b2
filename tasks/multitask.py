"""Multi-task mixtures of packaged classification tasks, for one shared adapter against one per
task (bench.data.mixture): each component keeps its own split, label ids and head."""

from __future__ import annotations

import tasks.rotten_tomatoes  # noqa: F401  (the components register first)
import tasks.sms_spam  # noqa: F401
import tasks.tweet_sentiment  # noqa: F401
from bench.data.mixture import register_mixture

THREE_TASKS = ("tweet_sentiment", "sms_spam", "rotten_tomatoes")
register_mixture(
    "tweets_sms_reviews",
    THREE_TASKS,
    "Tweet sentiment (3 classes), SMS spam (2) and movie-review polarity (2), each on its own "
    "split, one head per task.",
)
